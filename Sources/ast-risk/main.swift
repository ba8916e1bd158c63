// ast-risk: the risk gate and Safe Mode. Every intent group is approved, downgraded or blocked
// by the pure RiskGate core; approved brackets go to the broker (the only role the broker takes
// orders from), Safe Mode transitions are journaled durably and alerted, and the gate comes back
// in the state it was in after any restart (HALTED after an unclean exit).
import ASTCore
import ASTRuntime
import ASTWire
import Foundation

let definition = WorkerDefinition(
    role: .risk,
    permissions: [
        .strategy: [.intentSubmit, .orderCancel, .riskCommand],
        .supervisor: [.probe, .lifecycle],
        .control: [.probe, .riskCommand, .quarantineAck],
        .reconciler: [.portfolioSnapshot, .reconciliationResult],
        .marketdata: [.mark],
        .broker: [.brokerConnection],
    ]
) { context in
    try RiskShell(context: context)
}
exit(await WorkerRuntime.main(definition))
