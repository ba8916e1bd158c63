// ast-broker: one process per broker connection (`--instance paper`, `--instance ibkr`). It
// accepts orders only from the risk gate (each carries the approval id ast-risk journaled
// before sending it); every order is journaled durably before it is acknowledged. The paper
// exchange and real broker adapters arrive with milestone M4.
import ASTCore
import ASTRuntime
import Foundation

var permissions = WorkerDefinition.diagnosticPermissions
permissions[.risk] = [.orderSubmit]
let definition = WorkerDefinition(role: .broker, permissions: permissions) { context in
    ProbeInbox(logger: context.logger)
}
exit(await WorkerRuntime.main(definition))
