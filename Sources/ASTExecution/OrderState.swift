import ASTCore

/// Where one order is in its life, as the reconciler tracks it.
public enum OrderState: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Approved and handed to a broker process, not yet sent to the broker.
    case pendingSubmit = "PendingSubmit"
    /// Sent to the broker (acknowledged or not yet).
    case submitted = "Submitted"
    /// Working (or held, for a bracket child) at the broker.
    case accepted = "Accepted"
    case partiallyFilled = "PartiallyFilled"
    case filled = "Filled"
    case cancelled = "Cancelled"
    case rejected = "Rejected"
    case expired = "Expired"
    /// A submit went unacknowledged: the order may or may not exist at the broker. Only asking
    /// the broker resolves it, never submitting again.
    case unknown = "Unknown"

    /// Filled, Cancelled, Rejected or Expired: the order will not work again.
    public var isTerminal: Bool {
        switch self {
        case .filled, .cancelled, .rejected, .expired: true
        case .pendingSubmit, .submitted, .accepted, .partiallyFilled, .unknown: false
        }
    }

    /// Not terminal: the order may still execute.
    public var isOpen: Bool { !isTerminal }

    public var description: String { rawValue }

    /// The state a broker's own status for an order corresponds to.
    public init(_ status: BrokerOrderStatus) {
        switch status {
        case .held, .working: self = .accepted
        case .partiallyFilled: self = .partiallyFilled
        case .filled: self = .filled
        case .cancelled: self = .cancelled
        case .rejected: self = .rejected
        case .expired: self = .expired
        }
    }
}

/// What can happen to an order, as input to ``OrderStateMachine``.
public enum OrderEvent: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The broker process is sending the order.
    case submitSent
    /// The broker acknowledged receipt (and gave its id).
    case acknowledged
    /// The broker reports the order working or held.
    case accepted
    /// No acknowledgement came for a submit.
    case unacknowledged
    /// A fill that leaves part of the order unfilled.
    case partialFill
    /// A fill that completes the order.
    case completeFill
    case cancelled
    case rejected
    case expired
    /// The broker's answer when asked about an ``OrderState/unknown`` order: its status, or
    /// `nil` when it does not know the order (it never reached the broker).
    case resolved(BrokerOrderStatus?)

    /// Every event, each broker answer to a resolution included (17 in all).
    public static let allCases: [OrderEvent] =
        [
            .submitSent, .acknowledged, .accepted, .unacknowledged, .partialFill, .completeFill, .cancelled, .rejected, .expired,
            .resolved(nil),
        ] + BrokerOrderStatus.allCases.map { .resolved($0) }

    public var description: String {
        switch self {
        case .submitSent: "submitSent"
        case .acknowledged: "acknowledged"
        case .accepted: "accepted"
        case .unacknowledged: "unacknowledged"
        case .partialFill: "partialFill"
        case .completeFill: "completeFill"
        case .cancelled: "cancelled"
        case .rejected: "rejected"
        case .expired: "expired"
        case .resolved(let status): "resolved(\(status.map(\.rawValue) ?? "not at broker"))"
        }
    }
}

/// The order state machine as a transition table.
///
/// Decisions (pinned one by one in the tests):
/// - Brokers may skip steps: from PendingSubmit and Submitted every broker outcome is legal
///   (accepted, fills, cancelled, rejected, expired), as is `unacknowledged` (-> Unknown).
/// - `acknowledged` moves PendingSubmit/Unknown to Submitted; on an order already working
///   (Accepted, PartiallyFilled) it and a repeated `accepted` only carry information and
///   keep the state.
/// - PartiallyFilled never goes back to Accepted; a partial fill on it stays PartiallyFilled.
/// - Accepted cannot be rejected (a broker that drops a working order reports it cancelled;
///   if it does not, reconciliation finds the order missing and marks it).
/// - Unknown accepts whatever the broker reports, and `resolved(_)` only applies to Unknown:
///   held/working -> Accepted, `nil` (the broker does not know it) -> Rejected.
/// - Terminal states accept nothing, with one exception, a real-world race: a fill that
///   arrives after Cancelled or Expired ("fill after cancel") is legal and counts; a partial
///   one keeps the terminal state, a complete one makes the order Filled. Fills on Filled
///   (overfill) or Rejected are illegal.
/// - `submitSent` is legal only from PendingSubmit: an order is never submitted twice.
public enum OrderStateMachine {
    /// The state after `event`, or `nil` when the event is illegal in `state`.
    public static func next(_ state: OrderState, _ event: OrderEvent) -> OrderState? {
        switch (state, event) {
        case (.pendingSubmit, .submitSent): .submitted
        case (.pendingSubmit, .acknowledged), (.submitted, .acknowledged), (.unknown, .acknowledged): .submitted
        case (.pendingSubmit, .unacknowledged), (.submitted, .unacknowledged), (.unknown, .unacknowledged): .unknown

        case (.pendingSubmit, .accepted), (.submitted, .accepted), (.unknown, .accepted): .accepted
        case (.accepted, .accepted), (.accepted, .acknowledged): .accepted
        case (.partiallyFilled, .acknowledged), (.partiallyFilled, .accepted): .partiallyFilled

        case (.pendingSubmit, .partialFill), (.submitted, .partialFill), (.accepted, .partialFill),
            (.partiallyFilled, .partialFill), (.unknown, .partialFill):
            .partiallyFilled
        case (.pendingSubmit, .completeFill), (.submitted, .completeFill), (.accepted, .completeFill),
            (.partiallyFilled, .completeFill), (.unknown, .completeFill):
            .filled

        case (.pendingSubmit, .cancelled), (.submitted, .cancelled), (.accepted, .cancelled), (.partiallyFilled, .cancelled),
            (.unknown, .cancelled):
            .cancelled
        case (.pendingSubmit, .rejected), (.submitted, .rejected), (.unknown, .rejected): .rejected
        case (.pendingSubmit, .expired), (.submitted, .expired), (.accepted, .expired), (.partiallyFilled, .expired),
            (.unknown, .expired):
            .expired

        case (.unknown, .resolved(let status)): status.map(OrderState.init) ?? .rejected

        // Fill after cancel (or expiry): the execution happened, so it counts.
        case (.cancelled, .partialFill): .cancelled
        case (.expired, .partialFill): .expired
        case (.cancelled, .completeFill), (.expired, .completeFill): .filled

        default: nil
        }
    }
}
