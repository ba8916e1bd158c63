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

