import ASTCore

/// marketdata -> broker: the session ended; DAY orders still open expire.
public struct SessionClose: Sendable, Equatable, Codable {
    public var at: Timestamp
    public init(at: Timestamp) { self.at = at }
}

/// reconciler or astctl -> broker: the broker's own account of the truth, answered by
/// ``Message/brokerState(_:)``.
public struct BrokerQuery: Sendable, Equatable, Codable {
    /// Executions at or after this moment are included.
    public var executionsSince: Timestamp
    public init(executionsSince: Timestamp) { self.executionsSince = executionsSince }

    enum CodingKeys: String, CodingKey { case executionsSince = "executions_since" }
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
