import ASTCore

/// The `clock:` section: where the trading processes take the time from.
public struct ClockConfig: ConfigSection, Equatable {
    /// `wall`: the system clock (production). `replay`: market time as ast-marketdata's replay
    /// feed publishes it (`market.time`), so that simulated days pass in seconds in demos and tests.
    public var mode: ClockMode
    /// `offset_seconds` (wall clock only; absent: 0): added to the system clock, so that a test
    /// tree lives at another instant (16:09:50 of a session, say) without touching the host's
    /// clock. Refused in production.
    public var offsetSeconds: Int64?
    /// `rate` (wall clock only; absent: 1): how many seconds of trading time pass per second of
    /// the system clock, counted from `rate_epoch`, so that a chaos run lives through several
    /// trading days in minutes without restarting anything (scripts/chaos-systemd). Every
    /// process of a tree reads the same configuration and so keeps the same time. Refused in
    /// production.
    public var rate: Int64?
    /// `rate_epoch` (unix seconds; required with a rate other than 1): the system time at which
    /// the trading clock reads the system time plus `offset_seconds`.
    public var rateEpoch: Int64?

    public init(mode: ClockMode, offsetSeconds: Int64? = nil, rate: Int64? = nil, rateEpoch: Int64? = nil) {
        self.mode = mode
        self.offsetSeconds = offsetSeconds
        self.rate = rate
        self.rateEpoch = rateEpoch
    }

    public static let wall = ClockConfig(mode: .wall)

    enum CodingKeys: String, CodingKey {
        case mode
        case offsetSeconds = "offset_seconds"
        case rate
        case rateEpoch = "rate_epoch"
    }

    /// Ten years either way is more than any test needs and keeps nanosecond sums far from overflow.
    public static let maximumOffsetSeconds: Int64 = 10 * 366 * 86_400
    /// A day in under 9 s: faster than any schedule point can be seen.
    public static let maximumRate: Int64 = 10_000
    /// The rate in effect (1 unless configured).
    public var effectiveRate: Int64 { rate ?? 1 }

    /// `interval` of trading time as system time, for the shells' polling loops: a loop that
    /// looks at the schedule every 5 s must look every 5 ms at a rate of 1,000 (never more often
    /// than every 20 ms).
    public func systemInterval(_ interval: Duration) -> Duration {
        let rate = effectiveRate
        guard rate > 1 else { return interval }
        return max(interval / Int(rate), .milliseconds(20))
    }

    /// The trading clock this section describes over `system`.
    public func wallClock(over system: any WallClock) -> any WallClock {
        let offset = offsetSeconds ?? 0
        if effectiveRate > 1, let rateEpoch {
            return ScaledClock(base: system, offsetSeconds: offset, rate: effectiveRate, epochSeconds: rateEpoch)
        }
        return offset == 0 ? system : OffsetClock(base: system, offsetSeconds: offset)
    }

    public func validate(_ v: inout ConfigValidator) {
        if let offsetSeconds {
            v.range(offsetSeconds, -Self.maximumOffsetSeconds...Self.maximumOffsetSeconds, key: CodingKeys.offsetSeconds)
            v.check(
                offsetSeconds == 0 || mode == .wall, key: CodingKeys.offsetSeconds, must: "be 0 unless mode is wall", got: offsetSeconds)
        }
        if let rate {
            v.range(rate, 1...Self.maximumRate, key: CodingKeys.rate)
            v.check(rate == 1 || mode == .wall, key: CodingKeys.rate, must: "be 1 unless mode is wall", got: rate)
            v.check(rate == 1 || rateEpoch != nil, key: CodingKeys.rateEpoch, must: "be set when clock.rate is not 1", got: "nothing")
        }
        if let rateEpoch {
            v.range(rateEpoch, 0...Self.maximumEpochSeconds, key: CodingKeys.rateEpoch)
        }
    }

    /// The year 2100: a later epoch is a typo.
    public static let maximumEpochSeconds: Int64 = 4_102_444_800
}

/// The system clock moved by a fixed offset (``ClockConfig/offsetSeconds``), for test trees.
public struct OffsetClock: WallClock {
    let base: any WallClock
    let offsetNanoseconds: Int64

    public init(base: any WallClock, offsetSeconds: Int64) {
        self.base = base
        let bounded = max(-ClockConfig.maximumOffsetSeconds, min(ClockConfig.maximumOffsetSeconds, offsetSeconds))
        offsetNanoseconds = bounded * 1_000_000_000
    }

    public func now() -> Timestamp { Timestamp(nanoseconds: base.now().nanoseconds + offsetNanoseconds) }
}

/// The system clock run `rate` times faster from `epochSeconds` on (and moved by the offset),
/// for chaos runs that must see several trading days (``ClockConfig/rate``). Refused in
/// production; the arithmetic saturates instead of trapping.
public struct ScaledClock: WallClock {
    let base: any WallClock
    let offsetNanoseconds: Int64
    let rate: Int64
    let epochNanoseconds: Int64

    public init(base: any WallClock, offsetSeconds: Int64, rate: Int64, epochSeconds: Int64) {
        self.base = base
        let bounded = max(-ClockConfig.maximumOffsetSeconds, min(ClockConfig.maximumOffsetSeconds, offsetSeconds))
        offsetNanoseconds = bounded * 1_000_000_000
        self.rate = max(1, min(ClockConfig.maximumRate, rate))
        epochNanoseconds = max(0, min(ClockConfig.maximumEpochSeconds, epochSeconds)) * 1_000_000_000
    }

    public func now() -> Timestamp {
        let system = base.now().nanoseconds
        let (elapsed, o1) = system.subtractingReportingOverflow(epochNanoseconds)
        let (scaled, o2) = elapsed.multipliedReportingOverflow(by: rate)
        let (t1, o3) = epochNanoseconds.addingReportingOverflow(scaled)
        let (t2, o4) = t1.addingReportingOverflow(offsetNanoseconds)
        guard !(o1 || o2 || o3 || o4) else { return Timestamp(nanoseconds: elapsed < 0 ? 0 : .max) }
        return Timestamp(nanoseconds: t2)
    }
}

/// See ``ClockConfig/mode``.
public enum ClockMode: String, ConfigEnum, Equatable {
    case wall
    case replay
}
