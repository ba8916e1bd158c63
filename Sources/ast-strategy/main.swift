// ast-strategy: the strategy worker of the AST supervision tree. Its pipeline arrives with M5;
// until then it answers diagnostics probes and receives (journals) the portfolio the
// reconciler publishes and the bars market data publishes.
import ASTCore
import ASTRuntime
import ASTWire
import Foundation

var permissions = WorkerDefinition.diagnosticPermissions
permissions[.reconciler] = [.portfolioSnapshot]
permissions[.marketdata] = [.bar]
let definition = WorkerDefinition(role: .strategy, permissions: permissions) { context in
    ProbeInbox(logger: context.logger)
}
exit(await WorkerRuntime.main(definition))
