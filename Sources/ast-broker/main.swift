// ast-broker: one process per broker connection (`--instance paper`; real brokers plug in as
// further BrokerAdapters). It accepts orders only from the risk gate, cancels from the risk
// gate and the reconciler, bars from market data (the paper exchange fills against them),
// account queries from the reconciler and astctl, and broker-side injections from astctl for
// drills. Every input is journaled durably before it is handled; the paper account is rebuilt
// from the journal at every start.
import ASTCore
import ASTRuntime
import ASTWire
import Foundation

var permissions = WorkerDefinition.diagnosticPermissions
permissions[.risk] = [.orderSubmit, .orderCancel]
permissions[.reconciler] = [.orderCancel, .brokerQuery]
permissions[.marketdata] = [.bar, .sessionClose]
permissions[.control, default: []].formUnion([.brokerQuery, .brokerInject, .quarantineAck])
let definition = WorkerDefinition(role: .broker, permissions: permissions) { context in
    try BrokerShell(context: context)
}
exit(await WorkerRuntime.main(definition))
