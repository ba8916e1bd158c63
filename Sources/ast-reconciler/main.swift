// ast-reconciler: the order state machine, the portfolio derived from fills, and reconciliation
// against the broker's own account of the truth. Reports come from the broker process; the
// portfolio goes to the risk gate and the strategy; a position mismatch or an unprotected
// position halts trading (through the risk gate) with a P0 alert.
import ASTCore
import ASTRuntime
import ASTWire
import Foundation

var permissions = WorkerDefinition.diagnosticPermissions
permissions[.broker] = [.executionReport, .brokerConnection]
permissions[.marketdata] = [.mark]
permissions[.control, default: []].formUnion([.reconcileRequest, .quarantineAck])
permissions[.strategy] = [.reconcileRequest, .openEntriesQuery]
let definition = WorkerDefinition(role: .reconciler, permissions: permissions) { context in
    try ReconcilerShell(context: context)
}
exit(await WorkerRuntime.main(definition))
