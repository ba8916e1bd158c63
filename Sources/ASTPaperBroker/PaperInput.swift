import ASTCore

/// One input to the simulated exchange. The broker shell journals every input it hands to
/// ``PaperExchange/handle(_:now:)`` and restores by replaying them.
public enum PaperInput: Sendable, Equatable, Codable {
    /// A bracket group (or a standalone entry) from the risk gate. Idempotent on client order id.
    case submit(BracketOrder)
    /// A market data bar: every eligible working order of its symbol is matched against it.
    /// A bar that does not start after the last bar seen for its symbol is ignored.
    case bar(Bar)
    /// The session closed at this time: DAY orders accepted at or before it expire.
    case sessionClose(Timestamp)
    /// A cancel request from the system.
    case cancel(ClientOrderID, reason: String)
    /// A request to reduce an open order's total quantity (fills included) to `quantity`: a
    /// protective leg resized to a smaller position (see `ProtectiveResize` in ASTExecution).
    /// Only a reduction above the filled quantity is taken; to drop an order, cancel it.
    case modify(ClientOrderID, quantity: Quantity, reason: String)
    /// A fault or broker action injected by an operator drill or a test.
    case inject(PaperInjection)
    /// Nothing but the passage of time: lets the exchange notice that a disconnection ended.
    case tick
}

/// Faults and broker-side actions for drills and tests (``BrokerInjection``, which travels on the
/// bus from `astctl broker inject`). Each is visible to the operator in the journal of the broker
/// process.
public typealias PaperInjection = BrokerInjection

/// A change in the connection between the broker process and the exchange.
public enum ConnectionChange: Sendable, Equatable, Codable {
    /// The exchange is unreachable until this time (a later `.tick` at or after it reconnects).
    case lost(until: Timestamp)
    /// The exchange is reachable again; reports produced meanwhile were lost and must be
    /// recovered by reconciliation (``PaperExchange/accountState(executionsSince:now:)``).
    case restored
}

/// Why a cancel request (from the system or an injected broker cancel) changed nothing.
public enum CancelRefusal: Sendable, Equatable, Codable, CustomStringConvertible {
    /// No order with that client order id reached the exchange.
    case unknownOrder
    /// The order is already final (filled, cancelled, rejected or expired).
    case alreadyFinal(BrokerOrderStatus)
    /// The request could not reach the exchange.
    case brokerUnreachable(until: Timestamp)

    public var description: String {
        switch self {
        case .unknownOrder: "the broker does not know this order"
        case .alreadyFinal(let status): "the order is already \(status.rawValue)"
        case .brokerUnreachable(let until): "the broker is unreachable until \(until)"
        }
    }
}

/// Something the broker process should know about an input that is not an order event.
public enum PaperNotice: Sendable, Equatable, Codable, CustomStringConvertible {
    /// A submit whose client order ids are already known was ignored (nothing new was created);
    /// the listed ids are the known ones.
    case duplicateSubmitIgnored([ClientOrderID])
    /// A cancel had no effect.
    case cancelRefused(ClientOrderID, CancelRefusal)
    /// A modify had no effect; the text says why.
    case modifyRefused(ClientOrderID, String)
    /// A bar that does not start after the last bar of its symbol was ignored.
    case staleBarIgnored(Symbol, start: Timestamp)
    /// The input was refused by ``PaperInput/validate()`` and changed nothing (the shell
    /// refuses such an input before it is journaled; this is the core's own guard).
    case inputRefused(InputRefusal)
    /// A fill was not made because the account's numbers would not fit 64 bits.
    case fillSkipped(ClientOrderID, detail: String)
    /// A cancel requested during the session that opened at `session`, whose bar of the order's
    /// symbol has not been matched yet: it takes effect right after that bar is matched (the
    /// order may fill on it first), at that session's close without a bar, or at `deadline`
    /// (the next session's open) when neither came.
    case cancelDeferred(ClientOrderID, session: Timestamp, deadline: Timestamp)

    public var description: String {
        switch self {
        case .duplicateSubmitIgnored(let ids):
            "submit ignored: \(ids.map(\.rawValue).joined(separator: ", ")) already known to the broker"
        case .cancelRefused(let id, let why): "cancel of \(id) refused: \(why)"
        case .modifyRefused(let id, let why): "modify of \(id) refused: \(why)"
        case .staleBarIgnored(let symbol, let start): "bar \(symbol) \(start) ignored: not newer than the last bar"
        case .inputRefused(let refusal): "input refused: \(refusal)"
        case .fillSkipped(let id, let detail): "fill of \(id) skipped: \(detail)"
        case .cancelDeferred(let id, let session, let deadline):
            "cancel of \(id) held until the bar of the session opened at \(session) is matched (at the latest \(deadline))"
        }
    }
}

/// Everything one input produced: the execution reports to forward to the reconciler, a
/// connection change, and notices for the log and the journal.
public struct PaperOutcome: Sendable, Equatable, Codable {
    /// In the order they happened.
    public var reports: [ExecutionReport]
    /// Set when the input lost or restored the connection.
    public var connection: ConnectionChange?
    public var notices: [PaperNotice]

    public init(reports: [ExecutionReport] = [], connection: ConnectionChange? = nil, notices: [PaperNotice] = []) {
        self.reports = reports
        self.connection = connection
        self.notices = notices
    }

    /// The events of ``reports``, for tests and logs.
    public var events: [ExecutionEvent] { reports.map(\.event) }

    /// The broker's answers: ``events`` without the broker process's own `submitting` notes.
    public var answers: [ExecutionEvent] {
        events.filter { if case .submitting = $0 { false } else { true } }
    }
}
