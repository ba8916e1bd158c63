import ASTCore

/// marketdata -> broker: the session ended; DAY orders still open expire.
public struct SessionClose: Sendable, Equatable, Codable {
    public var at: Timestamp
    public init(at: Timestamp) { self.at = at }
}

/// reconciler or astctl -> broker: the broker's own account of the truth, answered by
/// ``Message/brokerState(_:)``.
///
/// A large account does not fit in one frame: the answer comes in pages of one consistent
/// snapshot. Page 0 takes the snapshot (and answers with its ``BrokerAccountState/page``); the
/// asker then asks for pages 1, 2 ... of that snapshot until ``BrokerAccountState/page`` says
/// there are no more. ``BrokerAccountState/merging(_:)`` puts the pages back together.
public struct BrokerQuery: Sendable, Equatable, Codable {
    /// Executions at or after this moment are included.
    public var executionsSince: Timestamp
    /// 0: take a new snapshot; n > 0: page n of ``snapshot``.
    public var page: Int
    public var snapshot: String?

    public init(executionsSince: Timestamp, page: Int = 0, snapshot: String? = nil) {
        self.executionsSince = executionsSince
        self.page = page
        self.snapshot = snapshot
    }

    enum CodingKeys: String, CodingKey {
        case page, snapshot
        case executionsSince = "executions_since"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        executionsSince = try c.decode(Timestamp.self, forKey: .executionsSince)
        page = try c.decodeIfPresent(Int.self, forKey: .page) ?? 0
        snapshot = try c.decodeIfPresent(String.self, forKey: .snapshot)
    }
}

/// The answer to an operator command that is not about Safe Mode (`astctl broker inject`).
public struct OperatorReply: Sendable, Equatable, Codable {
    public var accepted: Bool
    public var message: String
    public init(accepted: Bool, message: String) {
        self.accepted = accepted
        self.message = message
    }
}

/// astctl -> reconciler: run a reconciliation now (`astctl reconcile`), or only report the last one.
public struct ReconcileRequest: Sendable, Equatable, Codable {
    public var run: Bool
    public var reason: String
    public init(run: Bool, reason: String) {
        self.run = run
        self.reason = reason
    }
}

/// marketdata -> the trading processes, in replay: the market time is now `now`. Acknowledged
/// once the receiver has done what is due at that time (the strategy's scheduled work), so the
/// replay feed never runs ahead of the pipeline.
public struct MarketTime: Sendable, Equatable, Codable {
    public var now: Timestamp
    public init(now: Timestamp) { self.now = now }
}
