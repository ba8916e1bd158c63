// ast-strategy: the daily pipeline. On the NYSE schedule (market time in replay) it scans the
// universe at 09:00 and sends bracket intent groups to the risk gate, asks for reconciliations
// through the day, cancels the day's resting entries before the close, and journals every scan.
import ASTCore
import ASTRuntime
import ASTWire
import Foundation

var permissions = WorkerDefinition.diagnosticPermissions
permissions[.reconciler] = [.portfolioSnapshot, .executionReport]
permissions[.marketdata] = [.bar]
let definition = WorkerDefinition(role: .strategy, permissions: permissions) { context in
    try StrategyShell(context: context)
}
exit(await WorkerRuntime.main(definition))
