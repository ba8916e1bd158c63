/// The `clock:` section: where the trading processes take the time from.
public struct ClockConfig: ConfigSection, Equatable {
    /// `wall`: the system clock (production). `replay`: market time as ast-marketdata's replay
    /// feed publishes it (`market.time`), so that simulated days pass in seconds in demos and tests.
    public var mode: ClockMode

    public init(mode: ClockMode) { self.mode = mode }

    public static let wall = ClockConfig(mode: .wall)

    enum CodingKeys: String, CodingKey { case mode }

    public func validate(_ v: inout ConfigValidator) {}
}

/// See ``ClockConfig/mode``.
public enum ClockMode: String, ConfigEnum, Equatable {
    case wall
    case replay
}
