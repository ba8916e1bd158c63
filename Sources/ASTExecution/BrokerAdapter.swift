import ASTCore

/// What a broker process needs from one broker connection: the paper exchange today, a real
/// broker (IBKR, Alpaca) later. Every answer comes from the broker's own account of the truth.
///
/// Execution reports a broker produces on its own (fills, expiries, its own cancels) reach the
/// process through the adapter's delivery callback, in order; the methods here return the
/// reports their request produced, already delivered.
public protocol BrokerAdapter: Sendable {
    /// `broker@paper`, `broker@ibkr`: the process the adapter runs in.
    var name: String { get }

    /// Submits a bracket group (entry, stop loss, take profit as an OCA group). Each leg ends
    /// acknowledged and accepted, rejected, or unacknowledged when no answer came; an
    /// unacknowledged order is resolved by asking the broker, never by submitting again.
    /// Submitting a client order id the broker already knows creates nothing new.
    /// `messageID` is the bus message that asked for it (kept so a restart can tell whether
    /// that message was handled).
    func submit(_ bracket: BracketOrder, messageID: String?) async throws -> [ExecutionReport]

    /// Cancels one open order; an order already final is left as it is and the answer says so.
    func cancel(_ id: ClientOrderID, reason: String, messageID: String?) async throws -> CancelAnswer

    /// Reduces one open order to `quantity` shares in all (fills included): a protective leg
    /// resized to a smaller position (``ProtectiveResize``). Anything but a reduction above the
    /// filled quantity is refused and the answer says why.
    func modify(_ id: ClientOrderID, quantity: Quantity, reason: String, messageID: String?) async throws -> CancelAnswer

    /// Open orders, positions, account values and executions at or after `executionsSince`.
    func accountState(executionsSince: Timestamp) async throws -> BrokerAccountState

    /// Whether the broker is reachable now.
    func isConnected() async -> Bool
}

/// A broker's answer to a cancel or a modify request.
public struct CancelAnswer: Sendable, Equatable {
    public var accepted: Bool
    public var message: String
    public var reports: [ExecutionReport]

    public init(accepted: Bool, message: String, reports: [ExecutionReport]) {
        self.accepted = accepted
        self.message = message
        self.reports = reports
    }
}
