import ASTCalendar
import ASTCore

/// Which symbols the scanner looks at at all. Codable with snake_case keys; every key has a default.
public struct UniverseConfig: Sendable, Equatable, Codable {
    /// Listing exchanges allowed (compared case-insensitively). Empty allows none.
    public var exchanges: [String] = ["AMEX", "NASDAQ", "NYSE"]
    /// The last close must be at least this.
    public var minPrice: Price = Price(dollars: 5)!
    /// The last close must be at most this; `nil` for no ceiling.
    public var maxPrice: Price? = nil
    /// The mean of close × volume over the last ``dollarVolumeSessions`` bars must be at least this.
    public var minAverageDollarVolume: Money = Money(dollars: 10_000_000)!
    public var dollarVolumeSessions: Int = 20
    /// At least this many daily bars before the scan date.
    public var minHistorySessions: Int = 250
    /// The last bar must be the previous NYSE session's: stale data is no basis for an entry.
    public var requireCurrentData: Bool = true

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case exchanges
        case minPrice = "min_price"
        case maxPrice = "max_price"
        case minAverageDollarVolume = "min_average_dollar_volume"
        case dollarVolumeSessions = "dollar_volume_sessions"
        case minHistorySessions = "min_history_sessions"
        case requireCurrentData = "require_current_data"
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self, section: "strategy.universe")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = UniverseConfig()
        exchanges = try c.value(.exchanges, default: d.exchanges)
        minPrice = try c.amount(.minPrice, default: d.minPrice)
        maxPrice = try c.optionalAmount(.maxPrice, default: d.maxPrice)
        minAverageDollarVolume = try c.amount(.minAverageDollarVolume, default: d.minAverageDollarVolume)
        dollarVolumeSessions = try c.value(.dollarVolumeSessions, default: d.dollarVolumeSessions)
        minHistorySessions = try c.value(.minHistorySessions, default: d.minHistorySessions)
        requireCurrentData = try c.value(.requireCurrentData, default: d.requireCurrentData)
    }

    /// What is wrong with the values, in the words of the configuration file; empty when valid.
    public func problems() -> [String] {
        var p: [String] = []
        if exchanges.isEmpty { p.append("strategy.universe.exchanges must list at least one exchange") }
        if !minPrice.isPositive { p.append("strategy.universe.min_price must be above 0 (got \(minPrice))") }
        if let maxPrice, maxPrice < minPrice {
            p.append("strategy.universe.max_price must be at least min_price (got \(maxPrice) < \(minPrice))")
        }
        if minAverageDollarVolume.isNegative {
            p.append("strategy.universe.min_average_dollar_volume must not be negative (got \(minAverageDollarVolume))")
        }
        if !(1...1000).contains(dollarVolumeSessions) {
            p.append("strategy.universe.dollar_volume_sessions must be between 1 and 1000 (got \(dollarVolumeSessions))")
        }
        if !(1...100_000).contains(minHistorySessions) {
            p.append("strategy.universe.min_history_sessions must be between 1 and 100000 (got \(minHistorySessions))")
        }
        return p
    }
}

/// Why a symbol is not in today's universe: a stable code and the numbers behind it.
///
/// The filter records the numbers and ``detail`` words them when read (encoded, printed,
/// compared): a scan excludes thousands of symbols whose texts nobody reads in a backtest.
public struct ExclusionReason: Sendable, Equatable, Codable, CustomStringConvertible {
    /// `EXCHANGE_NOT_ALLOWED`, `INDEX_NOT_TRADABLE`, `NO_BARS`, `BARS_OUT_OF_ORDER`, `STALE_DATA`,
    /// `PRICE_BELOW_MIN`, `PRICE_ABOVE_MAX`, `DOLLAR_VOLUME_BELOW_MIN`, `HISTORY_TOO_SHORT`,
    /// `DUPLICATE_SYMBOL`.
    public var code: String
    /// The numbers behind ``detail``, worded only when it is read.
    enum Detail: Sendable {
        case text(String)
        case index(Symbol)
        case exchange(String, allowed: [String])
        case outOfOrder(Timestamp, previous: Timestamp)
        case stale(LocalDate, expected: LocalDate?)
        case priceBelow(Price, min: Price)
        case priceAbove(Price, max: Price)
        case dollarVolume(Money, over: Int, of: Int, min: Money)
        case history(Int, need: Int)
    }
    var numbers: Detail

    public init(code: String, detail: String) {
        self.code = code
        numbers = .text(detail)
    }

    init(code: String, _ numbers: Detail) {
        self.code = code
        self.numbers = numbers
    }

    /// The reason in words, with its numbers.
    public var detail: String {
        get {
            switch numbers {
            case .text(let t): t
            case .index(let symbol): "\(symbol) is an index"
            case .exchange(let exchange, let allowed): "exchange '\(exchange)' is not among \(allowed.joined(separator: ", "))"
            case .outOfOrder(let start, let previous): "bar at \(start) does not follow the bar at \(previous)"
            case .stale(let lastDate, let previousSession):
                "last bar is from \(lastDate), expected the previous session \(previousSession.map(String.init(describing:)) ?? "(unknown)")"
            case .priceBelow(let close, let min): "last close \(close) is below \(min)"
            case .priceAbove(let close, let max): "last close \(close) is above \(max)"
            case .dollarVolume(let adv, let over, let of, let min):
                "average dollar volume \(adv) over \(over) of \(of) sessions is below \(min)"
            case .history(let count, let need): "\(count) sessions of history, need \(need)"
            }
        }
        set { numbers = .text(newValue) }
    }

    public var description: String { "\(code): \(detail)" }

    public static func == (a: ExclusionReason, b: ExclusionReason) -> Bool { a.code == b.code && a.detail == b.detail }

    enum CodingKeys: String, CodingKey { case code, detail }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        code = try c.decode(String.self, forKey: .code)
        numbers = .text(try c.decode(String.self, forKey: .detail))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(code, forKey: .code)
        try c.encode(detail, forKey: .detail)
    }
}

/// One excluded symbol with every criterion it failed.
public struct UniverseExclusion: Sendable, Equatable, Codable {
    public var symbol: Symbol
    public var reasons: [ExclusionReason]
}

/// The universe stage's output: what went in, what stayed, and why the rest did not.
public struct UniverseResult: Sendable, Equatable, Codable {
    public var considered: Int
    /// Sorted by symbol.
    public var included: [Symbol]
    /// Sorted by symbol.
    public var excluded: [UniverseExclusion]

    public init(considered: Int = 0, included: [Symbol] = [], excluded: [UniverseExclusion] = []) {
        self.considered = considered
        self.included = included
        self.excluded = excluded
    }
}

/// The universe filter: exchange, price, average dollar volume, history length and fresh data.
/// O(bars) per symbol (the order check; O(1) when the caller vouches for the order) and
/// O(``UniverseConfig/dollarVolumeSessions``) for the liquidity.
public struct UniverseFilter: Sendable {
    public let config: UniverseConfig
    private let exchanges: Set<String>

    public init(config: UniverseConfig) {
        self.config = config
        exchanges = Set(config.exchanges.map { $0.uppercased() })
    }

    /// Every criterion `bars` (the symbol's bars before the scan date) fails, in a fixed order;
    /// empty when the symbol is in. `previousSession` is the session the last bar must be from
    /// when ``UniverseConfig/requireCurrentData`` is set. `ascending`: the caller has established
    /// that `bars` ascend strictly by start (``SymbolHistory/ascending``), so the O(bars) order
    /// check, which could only pass, is skipped.
    public func exclusions(info: SymbolInfo, bars: ArraySlice<Bar>, previousSession: LocalDate?, ascending: Bool = false)
        -> [ExclusionReason]
    {
        exclusions(info: info, bars: bars, previousSession: previousSession, span: nil, ascending: ascending)
    }

    /// As above; `span`, when given, is the previous session's day in New York (its
    /// ``dayStart(_:)`` up to the next day's), computed once per scan: the freshness check then
    /// compares the last bar's start with it instead of converting it to a date.
    func exclusions(
        info: SymbolInfo, bars: ArraySlice<Bar>, previousSession: LocalDate?, span: Range<Timestamp>?, ascending: Bool
    ) -> [ExclusionReason] {
        var r: [ExclusionReason] = []
        if info.isIndex { r.append(.init(code: "INDEX_NOT_TRADABLE", .index(info.symbol))) }
        if !allowedExchange(info.exchange) {
            r.append(.init(code: "EXCHANGE_NOT_ALLOWED", .exchange(info.exchange, allowed: config.exchanges)))
        }
        guard let last = bars.last else {
            r.append(.init(code: "NO_BARS", detail: "no daily bars before the scan date"))
            return r
        }
        // By index, reading only `start`: this runs over every bar of every symbol at every scan.
        var i = ascending ? bars.endIndex : bars.startIndex + 1
        while i < bars.endIndex {
            let start = bars[i].start, previous = bars[i - 1].start
            if start <= previous {
                r.append(.init(code: "BARS_OUT_OF_ORDER", .outOfOrder(start, previous: previous)))
                break
            }
            i += 1
        }
        if config.requireCurrentData {
            let current =
                if let span, previousSession != nil { span.contains(last.start) } else { sessionDate(of: last) == previousSession }
            if !current {
                r.append(.init(code: "STALE_DATA", .stale(sessionDate(of: last), expected: previousSession)))
            }
        }
        if last.close < config.minPrice {
            r.append(.init(code: "PRICE_BELOW_MIN", .priceBelow(last.close, min: config.minPrice)))
        }
        if let maxPrice = config.maxPrice, last.close > maxPrice {
            r.append(.init(code: "PRICE_ABOVE_MAX", .priceAbove(last.close, max: maxPrice)))
        }
        let adv = Self.averageDollarVolume(bars, sessions: config.dollarVolumeSessions)
        if bars.count < config.dollarVolumeSessions || adv < config.minAverageDollarVolume {
            let over = min(bars.count, config.dollarVolumeSessions)
            r.append(
                .init(
                    code: "DOLLAR_VOLUME_BELOW_MIN",
                    .dollarVolume(adv, over: over, of: config.dollarVolumeSessions, min: config.minAverageDollarVolume)))
        }
        if bars.count < config.minHistorySessions {
            r.append(.init(code: "HISTORY_TOO_SHORT", .history(bars.count, need: config.minHistorySessions)))
        }
        return r
    }

    /// Whether `exchange`, upper-cased, is one of the configured exchanges. A code of ASCII
    /// without lower-case letters (the usual `NYSE`) is its own upper case: looked up as it is,
    /// without building the upper-cased text (this runs for every symbol at every scan).
    func allowedExchange(_ exchange: String) -> Bool {
        var upper = true
        for b in exchange.utf8 where b >= 0x80 || (b >= 0x61 && b <= 0x7A) {
            upper = false
            break
        }
        return exchanges.contains(upper ? exchange : exchange.uppercased())
    }

    /// The mean of close × volume over the last `sessions` bars (fewer if there are fewer),
    /// exact and rounded toward zero to 1/10,000 of a dollar.
    public static func averageDollarVolume(_ bars: ArraySlice<Bar>, sessions: Int) -> Money {
        let from = bars.endIndex - min(max(sessions, 0), bars.count)
        guard from < bars.endIndex else { return .zero }
        // By index, reading two fields: no copy of each bar (and of its symbol) per session.
        var sum: Int128 = 0
        for i in from..<bars.endIndex { sum += Int128(bars[i].close.units) * Int128(max(bars[i].volume, 0)) }
        return Money(units: Int64(clamping: sum / Int128(bars.endIndex - from)))
    }
}
