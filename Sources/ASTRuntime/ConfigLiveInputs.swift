import ASTCore

/// `marketdata.live.inputs`: what the 09:00 scan needs from Polygon besides the day's bars (the
/// regime's index and volatility index, the sectors of the universe) and where marks come from.
/// One struct, so that the keys move together.
public struct LiveInputsConfig: ConfigSection, Equatable {
    /// The market index of the regime: a stock or ETF ticker (SPY) taken from the grouped-daily
    /// bars, stored under its own symbol and flagged as an index (never traded).
    public var index: String
    /// The volatility index of the regime: a Polygon indices ticker (`I:VIX`), fetched from the
    /// indices aggregates endpoint and stored as `VOLX`, the symbol the scan reads it under.
    public var volatilityIndex: String
    /// A symbol's sector (from its SIC code in Polygon's ticker overview) is fetched again after
    /// this many days.
    public var sectorRefreshDays: Int
    /// At most this many ticker-overview requests per refresh (the most liquid symbols first);
    /// the rest follow at the next refresh.
    public var sectorMaxPerRound: Int
    /// `last_close` (marks are the store's last closes) or `snapshot` (at each schedule point,
    /// Polygon's full-market snapshot: the last trade, else the last close).
    public var marks: String

    public init(index: String, volatilityIndex: String, sectorRefreshDays: Int, sectorMaxPerRound: Int, marks: String) {
        self.index = index
        self.volatilityIndex = volatilityIndex
        self.sectorRefreshDays = sectorRefreshDays
        self.sectorMaxPerRound = sectorMaxPerRound
        self.marks = marks
    }

    /// What etc/ast.yaml ships.
    public static let standard = LiveInputsConfig(
        index: "SPY", volatilityIndex: "I:VIX", sectorRefreshDays: 30, sectorMaxPerRound: 500, marks: "last_close")

    enum CodingKeys: String, CodingKey {
        case index
        case volatilityIndex = "volatility_index"
        case sectorRefreshDays = "sector_refresh_days"
        case sectorMaxPerRound = "sector_max_per_round"
        case marks
    }

    /// ``index`` as a symbol (validated).
    public var indexSymbol: Symbol? { Symbol(validating: index) }

    /// Whether `ticker` is a Polygon indices ticker: `I:` then 1 to 15 uppercase letters or digits.
    public static func isIndicesTicker(_ ticker: String) -> Bool {
        guard ticker.hasPrefix("I:") else { return false }
        let name = ticker.dropFirst(2)
        return (1...15).contains(name.count) && name.utf8.allSatisfy { (65...90).contains($0) || (48...57).contains($0) }
    }

    public func validate(_ v: inout ConfigValidator) {
        v.check(indexSymbol != nil, key: CodingKeys.index, must: "be a stock or ETF ticker such as SPY", got: index)
        v.check(
            Self.isIndicesTicker(volatilityIndex), key: CodingKeys.volatilityIndex, must: "be a Polygon indices ticker such as I:VIX",
            got: volatilityIndex)
        v.range(sectorRefreshDays, 1...365, key: CodingKeys.sectorRefreshDays)
        v.range(sectorMaxPerRound, 1...20_000, key: CodingKeys.sectorMaxPerRound)
        v.check(["last_close", "snapshot"].contains(marks), key: CodingKeys.marks, must: "be last_close or snapshot", got: marks)
    }
}
