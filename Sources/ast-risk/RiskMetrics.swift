import ASTMessages
import CoreMetrics

/// The risk gate's metrics (README, "Metrics"): the Safe Mode state as gauges, and its decisions
/// by outcome and reason code.
enum RiskMetrics {
    /// `ast_safe_mode{state}`: 1 for the state the gate is in, 0 for the others; and
    /// `ast_safe_mode_level`: 0 ACTIVE, 1 SAFE_REDUCING, 2 HALTED.
    static func safeMode(_ state: TradingState) {
        for s in TradingState.allCases {
            Gauge(label: "ast_safe_mode", dimensions: [("state", s.rawValue)]).record(s == state ? 1 : 0)
        }
        let level = TradingState.allCases.firstIndex(of: state) ?? 2
        Gauge(label: "ast_safe_mode_level").record(level)
    }

    /// `ast_risk_decisions_total{outcome, reason}`: approved, or blocked with its reason code.
    static func decided(approved: Bool, reason: String?) {
        Counter(
            label: "ast_risk_decisions_total", dimensions: [("outcome", approved ? "approved" : "blocked"), ("reason", reason ?? "")]
        ).increment()
    }
}
