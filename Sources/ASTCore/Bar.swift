/// The period a bar covers.
public enum BarResolution: String, Sendable, Codable, CaseIterable {
    case day = "1d"
    case minute = "1m"
}

/// Open, high, low, close and volume of one symbol over one period, as market data publishes it.
public struct Bar: Sendable, Equatable, Codable {
    public var symbol: Symbol
    public var resolution: BarResolution
    /// The start of the period (for a daily bar: the session's open).
    public var start: Timestamp
    public var open: Price
    public var high: Price
    public var low: Price
    public var close: Price
    /// Shares traded in the period.
    public var volume: Int64

    public init(
        symbol: Symbol, resolution: BarResolution = .day, start: Timestamp, open: Price, high: Price, low: Price,
        close: Price, volume: Int64
    ) {
        self.symbol = symbol
        self.resolution = resolution
        self.start = start
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
    }
}
