/// How far the system's orders go.
public enum TradingMode: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// The whole pipeline runs and the risk gate decides, but no order leaves the risk gate.
    case dryRun = "DRY_RUN"
    /// Orders go to the paper broker (the simulated exchange).
    case paper = "PAPER"
    /// Orders go to a real broker with real money.
    case live = "LIVE"

    public var description: String { rawValue }

    /// Whether approved orders are sent on to a broker process.
    public var ordersLeaveRiskGate: Bool { self != .dryRun }
}
