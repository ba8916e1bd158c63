// ast-marketdata: the bar store and, with the replay clock, the replay feed that drives the
// whole tree through simulated trading days (market time, bars, marks, session closes).
import ASTCore
import ASTRuntime
import ASTWire
import Foundation

let definition = WorkerDefinition(role: .marketdata, permissions: WorkerDefinition.diagnosticPermissions) { context in
    try MarketDataShell(context: context)
}
exit(await WorkerRuntime.main(definition))
