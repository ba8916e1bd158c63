// ast-broker: one process per broker connection (`--instance paper`, `--instance ibkr`, `--instance alpaca`; further
// brokers plug in as BrokerAdapters). It accepts orders only from the risk gate, cancels from the risk
// gate and the reconciler, bars from market data (the paper exchange fills against them),
// account queries from the reconciler and astctl, and broker-side injections from astctl for
// drills. Every input is journaled durably before it is handled; the paper account is rebuilt
// from the journal at every start.
import ASTCore
import ASTIBKR
import ASTRuntime
import ASTWire
import Foundation

var permissions = WorkerDefinition.diagnosticPermissions
permissions[.risk] = [.orderSubmit, .orderCancel]
permissions[.reconciler] = [.orderCancel, .brokerQuery]
permissions[.marketdata] = [.bar, .sessionClose]
permissions[.control, default: []].formUnion([.brokerQuery, .brokerInject, .quarantineAck])
let definition = WorkerDefinition(role: .broker, permissions: permissions) { context in
    // `--instance ibkr`: Interactive Brokers through the TWS API; `--instance alpaca`: Alpaca over REST and its
    // trade-updates stream; any other instance: the paper exchange.
    if context.identity.instance == "ibkr" { return try BrokerShell(context: context) { try IBKRAdapter.make(context: $0, outlet: $1) } }
    if context.identity.instance == "alpaca" {
        return try BrokerShell(context: context) { try AlpacaAdapter.make(context: $0, outlet: $1) }
    }
    return try BrokerShell(context: context)
}
exit(await WorkerRuntime.main(definition))
