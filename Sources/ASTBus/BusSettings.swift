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

    public init(maxFrameBytes: Int = Framing.defaultMaximum, helloTimeout: Duration = .seconds(2), ackTimeout: Duration = .seconds(2),
                backoffInitial: Duration = .milliseconds(50), backoffMaximum: Duration = .seconds(5), allowedUIDs: Set<UInt32> = []) {
        self.maxFrameBytes = maxFrameBytes
        self.helloTimeout = helloTimeout
        self.ackTimeout = ackTimeout
        self.backoffInitial = backoffInitial
        self.backoffMaximum = backoffMaximum
        self.allowedUIDs = allowedUIDs
    }
}

extension Duration {
    var timeAmountNanoseconds: Int64 { totalNanoseconds }
}
