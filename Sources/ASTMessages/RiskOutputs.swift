import ASTCore

/// The risk gate's permission for one intent group, which every order of the bracket carries
/// to the broker. Its ``id`` is derived from the intent id, so replay reproduces it.
public struct Approval: Sendable, Equatable, Codable {
    public var id: ApprovalID
    public var intent: IntentID
    public var symbol: Symbol
    public var side: Side
    /// The approved quantity for every leg of the bracket.
    public var quantity: Quantity
    /// What the strategy asked for; larger than ``quantity`` after a downgrade.
    public var requestedQuantity: Quantity
    public var entry: EntryOrder
    public var stopLoss: Price?
    public var takeProfit: Price?
    /// The Safe Mode state the approval was given in.
    public var state: TradingState
    public var at: Timestamp
    /// HMAC-SHA256 of every other field under the tree's approval key (hex), set by ast-risk
    /// as it sends the approval to a broker; nil in the risk gate's own decision. Transport
    /// authentication, not part of the decision: ``==`` ignores it.
    public var signature: String?

    public init(
        id: ApprovalID, intent: IntentID, symbol: Symbol, side: Side, quantity: Quantity, requestedQuantity: Quantity,
        entry: EntryOrder, stopLoss: Price?, takeProfit: Price?, state: TradingState, at: Timestamp
    ) {
        self.id = id
        self.intent = intent
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.requestedQuantity = requestedQuantity
        self.entry = entry
        self.stopLoss = stopLoss
        self.takeProfit = takeProfit
        self.state = state
        self.at = at
    }

    enum CodingKeys: String, CodingKey {
        case id, intent, symbol, side, quantity, entry, state, at
        case requestedQuantity = "requested_quantity"
        case stopLoss = "stop_loss"
        case takeProfit = "take_profit"
        case signature
    }

    public static func == (lhs: Approval, rhs: Approval) -> Bool {
        lhs.id == rhs.id && lhs.intent == rhs.intent && lhs.symbol == rhs.symbol && lhs.side == rhs.side
            && lhs.quantity == rhs.quantity && lhs.requestedQuantity == rhs.requestedQuantity && lhs.entry == rhs.entry
            && lhs.stopLoss == rhs.stopLoss && lhs.takeProfit == rhs.takeProfit && lhs.state == rhs.state && lhs.at == rhs.at
    }
}

/// What the gate decided for an intent group.
public enum RiskDecision: Sendable, Equatable, Codable {
    /// Approved as asked.
    case approve(Approval)
    /// Approved with a smaller quantity because of `rule` (a size limit: notional per order,
    /// concentration, leverage, the loss budgets); `detail` says by how much.
    case downgrade(Approval, rule: ReasonCode, detail: String)
    /// Refused as a whole.
    case block(ReasonCode, detail: String)

    /// The approval, unless blocked.
    public var approval: Approval? {
        switch self {
        case .approve(let a), .downgrade(let a, _, _): a
        case .block: nil
        }
    }

    /// The rule that blocked or downgraded; `nil` for a plain approval.
    public var reason: ReasonCode? {
        switch self {
        case .approve: nil
        case .downgrade(_, let rule, _): rule
        case .block(let code, _): code
        }
    }
}

/// A decision with the intent it answers.
public struct IntentDecision: Sendable, Equatable, Codable {
    public var intent: IntentID
    public var decision: RiskDecision
    public var at: Timestamp

    public init(intent: IntentID, decision: RiskDecision, at: Timestamp) {
        self.intent = intent
        self.decision = decision
        self.at = at
    }
}

/// Whether a working order may be cancelled in the current state.
public struct CancelDecision: Sendable, Equatable, Codable {
    public var orderID: String
    public var kind: CancelKind
    public var allowed: Bool
    /// Why it was refused; `nil` when allowed.
    public var reason: ReasonCode?
    public var detail: String

    public init(orderID: String, kind: CancelKind, allowed: Bool, reason: ReasonCode?, detail: String) {
        self.orderID = orderID
        self.kind = kind
        self.allowed = allowed
        self.reason = reason
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case kind, allowed, reason, detail
        case orderID = "order_id"
    }
}

/// One reason `astctl resume` is refused.
public enum ResumeRefusal: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The gate is ACTIVE, or already where the resume asks to go.
    case nothingToResume(TradingState)
    /// A broker process is down (`reason` from its last lifecycle event).
    case brokerDown(ProcessIdentity, reason: String)
    /// A broker reported a lost connection and has not reported it back.
    case brokerDisconnected(ProcessIdentity, detail: String)
    /// No clean reconciliation since the halt (``RiskLimits/resumeRequiresCleanReconciliation``).
    case noCleanReconciliationSinceHalt(haltedAt: Timestamp)
    /// SAFE_REDUCING to ACTIVE while the portfolio is still over a limit.
    case portfolioViolation(ReasonCode, detail: String)

    public var description: String {
        switch self {
        case .nothingToResume(let state): "already \(state): nothing to resume"
        case .brokerDown(let id, let reason): "broker \(id) is down (\(reason))"
        case .brokerDisconnected(let id, let detail):
            detail.isEmpty ? "broker \(id) is disconnected" : "broker \(id) is disconnected (\(detail))"
        case .noCleanReconciliationSinceHalt(let at):
            "no clean reconciliation has completed since the halt at \(at)"
        case .portfolioViolation(let code, let detail): "the portfolio is still over a limit: \(code): \(detail)"
        }
    }
}

/// The answer to an operator command, for `astctl`.
public struct CommandResult: Sendable, Equatable, Codable {
    public var command: OperatorCommand
    public var accepted: Bool
    /// One line for the operator: what happened, or every reason it did not.
    public var message: String
    /// Every reason a resume was refused, in a stable order; empty when accepted.
    public var refusals: [ResumeRefusal]

    public init(command: OperatorCommand, accepted: Bool, message: String, refusals: [ResumeRefusal] = []) {
        self.command = command
        self.accepted = accepted
        self.message = message
        self.refusals = refusals
    }
}

/// What the shell must do after an input, in order: journal a transition `durable` before
/// anything else, send an approval to the broker only after journaling it, hand alerts to the
/// notifier, answer decisions and command results to whoever asked.
public enum RiskOutput: Sendable, Equatable, Codable {
    case decision(IntentDecision)
    case transition(SafeModeTransition)
    case alert(Alert)
    case cancel(CancelDecision)
    case commandResult(CommandResult)
}

/// A portfolio limit the book is currently over: the cause of ACTIVE -> SAFE_REDUCING.
public struct PortfolioViolation: Sendable, Equatable, Codable {
    public var code: ReasonCode
    public var detail: String

    public init(code: ReasonCode, detail: String) {
        self.code = code
        self.detail = detail
    }
}
