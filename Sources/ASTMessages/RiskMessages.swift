import ASTCore

/// `astctl halt|resume|status` to ast-risk: an operator command or a question about Safe Mode.
public enum RiskCommand: Sendable, Equatable, Codable {
    case halt(reason: String)
    case resume(to: ResumeTarget)
    case status
    /// `astctl journal verify` found a damaged journal: data corruption halts trading.
    case journalVerificationFailed(detail: String)
    /// `astctl protect|flatten`: an operator order for a held position, allowed while HALTED.
    /// ast-risk replaces ``OperatorOrder/operatorUID`` with the uid `SO_PEERCRED` reported.
    case operatorOrder(OperatorOrder)
}

/// ast-risk's answer to a ``RiskCommand``: whether a command was accepted, why not, and the
/// Safe Mode state after it.
public struct RiskStatusReport: Sendable, Equatable, Codable {
    /// `ACTIVE`, `SAFE_REDUCING` or `HALTED`.
    public var state: TradingState
    public var since: Timestamp
    /// Why the gate is in this state, in words.
    public var cause: String
    public var downBrokers: [String]
    public var disconnectedBrokers: [String]
    public var cleanReconciliationSinceHalt: Bool
    /// For halt and resume: whether it was accepted, and the gate's message (refusal reasons).
    public var accepted: Bool?
    public var message: String?

    public init(
        state: TradingState, since: Timestamp, cause: String, downBrokers: [String], disconnectedBrokers: [String],
        cleanReconciliationSinceHalt: Bool, accepted: Bool? = nil, message: String? = nil
    ) {
        self.state = state
        self.since = since
        self.cause = cause
        self.downBrokers = downBrokers
        self.disconnectedBrokers = disconnectedBrokers
        self.cleanReconciliationSinceHalt = cleanReconciliationSinceHalt
        self.accepted = accepted
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case state, since, cause, accepted, message
        case downBrokers = "down_brokers"
        case disconnectedBrokers = "disconnected_brokers"
        case cleanReconciliationSinceHalt = "clean_reconciliation_since_halt"
    }
}
