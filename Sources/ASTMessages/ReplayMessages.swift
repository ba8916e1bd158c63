import ASTCore

/// marketdata -> a trading process, in replay: "answer once every consequence of what you have
/// received so far has been handed on and handled downstream". The causal clock's settle barrier
/// (see `MarketDataShell`) asks strategy, risk, broker and reconciler in that order and moves to
/// the next schedule point only after a full pass in which nobody had anything pending.
public struct MarketSettle: Sendable, Equatable, Codable {
    /// The market time being settled (for logs and the journal).
    public var at: Timestamp
    /// Which pass of the barrier this is (1, 2 ...), for logs.
    public var round: Int

    public init(at: Timestamp, round: Int) {
        self.at = at
        self.round = round
    }
}

/// A trading process's answer to ``MarketSettle`` (a reply), sent once its own consequences are
/// done: its outboxes acknowledged by their receivers (which acknowledge only after handling).
public struct SettleReport: Sendable, Equatable, Codable {
    /// Whether anything was still in flight when the request arrived (then the barrier makes
    /// another pass, since handling it may have caused more work downstream).
    public var hadPending: Bool
    /// The risk gate's Safe Mode state (`ACTIVE`, `SAFE_REDUCING`, `HALTED`); nil elsewhere.
    /// The replay holds while the gate is HALTED, so that a halt never changes which schedule
    /// point an intent meets.
    public var tradingState: String?
    /// What was waited for, in words (bounded: for logs).
    public var detail: String

    public init(hadPending: Bool, tradingState: String? = nil, detail: String = "") {
        self.hadPending = hadPending
        self.tradingState = tradingState
        self.detail = String(detail.prefix(200))
    }

    enum CodingKeys: String, CodingKey {
        case detail
        case hadPending = "had_pending"
        case tradingState = "trading_state"
    }
}

/// strategy -> reconciler: which of these entry orders are still working and unfilled (the
/// pre-close cleanup cancels only those). Answered by ``OpenEntriesReport``.
public struct OpenEntriesQuery: Sendable, Equatable, Codable {
    /// Client order ids of entry legs (at most ``OpenEntriesQuery/maxOrders``).
    public var orders: [ClientOrderID]
    public static let maxOrders = 1000

    public init(orders: [ClientOrderID]) { self.orders = Array(orders.prefix(Self.maxOrders)) }
}

/// reconciler -> strategy: the queried entries that are open at the broker with nothing filled.
public struct OpenEntriesReport: Sendable, Equatable, Codable {
    public var unfilled: [ClientOrderID]
    public init(unfilled: [ClientOrderID]) { self.unfilled = unfilled }
}
