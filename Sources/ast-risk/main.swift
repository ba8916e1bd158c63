// ast-risk: the risk worker of the AST supervision tree. Its trading logic arrives with its
// milestone; until then it runs the shared worker runtime and answers diagnostics probes.
import ASTCore
import ASTRuntime
import Foundation

let definition = WorkerDefinition(role: .risk, permissions: WorkerDefinition.lifecyclePermissions) { context in
    ProbeInbox(logger: context.logger)
}
exit(await WorkerRuntime.main(definition))
