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

    public init(mode: ClockMode, offsetSeconds: Int64? = nil) {
        self.mode = mode
        self.offsetSeconds = offsetSeconds
    }

    public static let wall = ClockConfig(mode: .wall)

    enum CodingKeys: String, CodingKey {
        case mode
        case offsetSeconds = "offset_seconds"
    }

    /// Ten years either way is more than any test needs and keeps nanosecond sums far from overflow.
    public static let maximumOffsetSeconds: Int64 = 10 * 366 * 86_400

    public func validate(_ v: inout ConfigValidator) {
        if let offsetSeconds {
            v.range(offsetSeconds, -Self.maximumOffsetSeconds...Self.maximumOffsetSeconds, key: CodingKeys.offsetSeconds)
            v.check(
                offsetSeconds == 0 || mode == .wall, key: CodingKeys.offsetSeconds, must: "be 0 unless mode is wall", got: offsetSeconds)
        }
    }
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

/// See ``ClockConfig/mode``.
public enum ClockMode: String, ConfigEnum, Equatable {
    case wall
    case replay
}
