import ASTWire

/// The bus's tunables, taken from the `bus:` section of the configuration.
public struct BusSettings: Sendable, Equatable {
    public var maxFrameBytes: Int
    public var helloTimeout: Duration
    public var ackTimeout: Duration
    public var backoffInitial: Duration
    public var backoffMaximum: Duration
    /// Uids besides our own that may connect.
    public var allowedUIDs: Set<UInt32>
    /// Most connections one listening socket serves at once (before and after hello); one more
    /// is closed as soon as it is accepted, so that a flood of connections cannot take the
    /// process's descriptors (and with them its watchdog pings).
    public var maxConnections: Int
    /// A connection that sent nothing for this long after its hello is closed. Clients ping
    /// every ``keepaliveInterval``, so a live peer never reaches it.
    public var idleTimeout: Duration
    /// Refusals journaled and logged in full per peer uid and refusal code within each
    /// ``refusalInterval``; the rest are counted and summarised once per interval.
    public var refusalBudget: Int
    public var refusalInterval: Duration

    public init(
        maxFrameBytes: Int = Framing.defaultMaximum, helloTimeout: Duration = .seconds(2), ackTimeout: Duration = .seconds(2),
        backoffInitial: Duration = .milliseconds(50), backoffMaximum: Duration = .seconds(5), allowedUIDs: Set<UInt32> = [],
        maxConnections: Int = 256, idleTimeout: Duration = .seconds(300), refusalBudget: Int = 20,
        refusalInterval: Duration = .seconds(60)
    ) {
        self.maxFrameBytes = maxFrameBytes
        self.helloTimeout = helloTimeout
        self.ackTimeout = ackTimeout
        self.backoffInitial = backoffInitial
        self.backoffMaximum = backoffMaximum
        self.allowedUIDs = allowedUIDs
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.refusalBudget = refusalBudget
        self.refusalInterval = refusalInterval
    }

    /// How often a client pings an established connection: a quarter of the idle timeout, so
    /// that three pings may be lost or late before the server gives up on it.
    public var keepaliveInterval: Duration { idleTimeout / 4 }
}

extension Duration {
    var timeAmountNanoseconds: Int64 { totalNanoseconds }
}
