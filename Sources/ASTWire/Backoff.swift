/// Capped exponential back-off with jitter, for reconnecting clients.
///
/// Attempt n waits a random time in `[d/2, d]` where `d = min(maximum, initial * 2^n)`
/// ("equal jitter"), so peers that lost the same server do not return in lockstep.
public struct Backoff: Sendable, Equatable {
    public let initial: Duration
    public let maximum: Duration
    public private(set) var attempt: Int = 0

    public init(initial: Duration, maximum: Duration) {
        precondition(initial > .zero && maximum >= initial, "backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
    }

    /// The ceiling for the next attempt, before jitter.
    public var ceiling: Duration {
        let factor = Int64(1) << Int64(min(attempt, 30))
        let d = initial.totalNanoseconds.multipliedReportingOverflow(by: factor)
        return d.overflow ? maximum : min(maximum, .nanoseconds(d.partialValue))
    }

    /// The delay before the next attempt; advances the attempt counter.
    public mutating func next(using rng: inout some RandomNumberGenerator) -> Duration {
        let ceilingNs = ceiling.totalNanoseconds
        attempt += 1
        let half = ceilingNs / 2
        return .nanoseconds(half + Int64.random(in: 0...(ceilingNs - half), using: &rng))
    }

    /// Call after a successful connection.
    public mutating func reset() { attempt = 0 }
}
