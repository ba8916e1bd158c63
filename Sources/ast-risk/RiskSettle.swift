import ASTRuntime
import ASTWire

extension RiskShell {
    /// The causal clock's settle barrier: every approved order and cancel sent to the broker is
    /// acknowledged (the broker acknowledges after handling it). Reports the Safe Mode state, so
    /// that the replay holds while the gate is HALTED.
    func settle() async -> SettleReport {
        let pending = await broker.drain()
        return SettleReport(hadPending: pending, tradingState: gate.state.rawValue, detail: pending ? "orders to the broker" : "")
    }
}
