import ASTRuntime
import ASTWire

extension BrokerShell {
    /// The causal clock's settle barrier: every execution report is acknowledged by the
    /// reconciler (which acknowledges after applying it), every connection change by the risk gate.
    func settle() async -> SettleReport {
        let reports = await reconciler.drain()
        let connection = await risk.drain()
        return SettleReport(hadPending: reports || connection, detail: reports ? "reports to the reconciler" : "")
    }
}
