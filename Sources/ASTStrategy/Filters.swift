import ASTCore
import ASTIndicators

/// A filter's answer for one candidate.
public enum FilterVerdict: Sendable, Equatable {
    case pass
    /// Why the candidate may not become an entry, with the numbers.
    case reject(String)
}

/// One link of the scanner's filter chain: a rule every candidate must pass.
public protocol CandidateFilter: Sendable {
    /// Its name in reports (`regime`, `rsi`, `min_atr_pct`).
    var name: String { get }
    /// The indicators ``evaluate(_:_:)`` reads.
    var indicators: [IndicatorSpec] { get }
    func evaluate(_ candidate: Candidate, _ context: SymbolContext) -> FilterVerdict
}

/// Long entries only in the regimes listed.
public struct RegimeFilter: CandidateFilter {
    public var allowed: [MarketRegime]
    public init(allowed: [MarketRegime]) { self.allowed = allowed }
    public var name: String { "regime" }
    public var indicators: [IndicatorSpec] { [] }
    public func evaluate(_ candidate: Candidate, _ context: SymbolContext) -> FilterVerdict {
        allowed.contains(context.regime) && context.regime != .undetermined
            ? .pass
            : .reject("regime \(context.regime) does not allow long entries (allowed: \(allowed.map(\.rawValue).joined(separator: ", ")))")
    }
}

/// No entry when RSI says overbought.
public struct RSIFilter: CandidateFilter {
    public var period: Int
    public var maximum: Double
    public init(period: Int, maximum: Double) {
        self.period = period
        self.maximum = maximum
    }
    public var name: String { "max_rsi" }
    public var indicators: [IndicatorSpec] { [.rsi(period: period)] }
    public func evaluate(_ candidate: Candidate, _ context: SymbolContext) -> FilterVerdict {
        guard let rsi = context.indicators.value(.rsi(period: period)) else {
            return .reject("RSI\(period) is not available yet (too little history)")
        }
        return rsi > maximum ? .reject("RSI\(period) \(f(rsi)) is above \(f(maximum)) (overbought)") : .pass
    }
}

/// Enough daily movement to be worth a bracket: ATR as a percentage of the close.
public struct ATRPercentFilter: CandidateFilter {
    public var period: Int
    public var minimumPct: Double
    public init(period: Int, minimumPct: Double) {
        self.period = period
        self.minimumPct = minimumPct
    }
    public var name: String { "min_atr_pct" }
    public var indicators: [IndicatorSpec] { [.atr(period: period)] }
    public func evaluate(_ candidate: Candidate, _ context: SymbolContext) -> FilterVerdict {
        guard let atr = context.indicators.value(.atr(period: period)), let close = context.lastClose, close.isPositive else {
            return .reject("ATR\(period) is not available yet (too little history)")
        }
        let pct = atr / close.indicatorValue * 100
        return pct < minimumPct ? .reject("ATR\(period) is \(f(pct))% of the close, below \(f(minimumPct))%") : .pass
    }
}

/// No new entry in a symbol already held (adding to a position is not the scanner's call).
public struct NotHeldFilter: CandidateFilter {
    public init() {}
    public var name: String { "not_held" }
    public var indicators: [IndicatorSpec] { [] }
    public func evaluate(_ candidate: Candidate, _ context: SymbolContext) -> FilterVerdict {
        guard let p = context.position, !p.quantity.isZero else { return .pass }
        return .reject("already holds \(p.quantity) shares of \(context.symbol)")
    }
}

/// The built-in filter chain's settings. Codable with snake_case keys; a `null` threshold turns
/// its filter off.
public struct FilterChainConfig: Sendable, Equatable, Codable {
    /// Regimes that allow long entries. `undetermined` never does.
    public var allowedRegimes: [MarketRegime] = [.bull]
    /// Reject when RSI(`rsi_period`) is above this; `nil` for no RSI filter.
    public var maxRSI: Double? = 70
    public var rsiPeriod: Int = 14
    /// Reject when ATR(`atr_period`) is below this percentage of the close; `nil` for none.
    public var minATRPct: Double? = 1
    public var atrPeriod: Int = 14
    /// Reject symbols the portfolio already holds.
    public var skipHeldSymbols: Bool = true

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case allowedRegimes = "allowed_regimes"
        case maxRSI = "max_rsi"
        case rsiPeriod = "rsi_period"
        case minATRPct = "min_atr_pct"
        case atrPeriod = "atr_period"
        case skipHeldSymbols = "skip_held_symbols"
    }

    public init(from decoder: any Decoder) throws {
        try self.init(from: decoder, over: FilterChainConfig(), section: "strategy.filters")
    }

    /// Decodes the keys present over `d` (a regime overlay's filters over the base's).
    init(from decoder: any Decoder, over d: FilterChainConfig, section: String) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self, section: section)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        allowedRegimes = try c.value(.allowedRegimes, default: d.allowedRegimes)
        maxRSI = c.contains(.maxRSI) ? try c.decodeIfPresent(Double.self, forKey: .maxRSI) : d.maxRSI
        rsiPeriod = try c.value(.rsiPeriod, default: d.rsiPeriod)
        minATRPct = c.contains(.minATRPct) ? try c.decodeIfPresent(Double.self, forKey: .minATRPct) : d.minATRPct
        atrPeriod = try c.value(.atrPeriod, default: d.atrPeriod)
        skipHeldSymbols = try c.value(.skipHeldSymbols, default: d.skipHeldSymbols)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(allowedRegimes, forKey: .allowedRegimes)
        try c.encode(maxRSI, forKey: .maxRSI)
        try c.encode(rsiPeriod, forKey: .rsiPeriod)
        try c.encode(minATRPct, forKey: .minATRPct)
        try c.encode(atrPeriod, forKey: .atrPeriod)
        try c.encode(skipHeldSymbols, forKey: .skipHeldSymbols)
    }

    /// What is wrong with the values; empty when valid.
    public func problems() -> [String] {
        var p: [String] = []
        if let maxRSI, !(maxRSI.isFinite && (0...100).contains(maxRSI)) {
            p.append("strategy.filters.max_rsi must be between 0 and 100 (got \(maxRSI))")
        }
        if let minATRPct, !(minATRPct.isFinite && minATRPct >= 0) {
            p.append("strategy.filters.min_atr_pct must not be negative (got \(minATRPct))")
        }
        for (key, v) in [("rsi_period", rsiPeriod), ("atr_period", atrPeriod)] where !(1...IndicatorSpec.maximumPeriod).contains(v) {
            p.append("strategy.filters.\(key) must be between 1 and \(IndicatorSpec.maximumPeriod) (got \(v))")
        }
        return p
    }

    /// The chain in evaluation order: regime, held, RSI, ATR %.
    public func makeFilters() -> [any CandidateFilter] {
        var chain: [any CandidateFilter] = [RegimeFilter(allowed: allowedRegimes)]
        if skipHeldSymbols { chain.append(NotHeldFilter()) }
        if let maxRSI { chain.append(RSIFilter(period: rsiPeriod, maximum: maxRSI)) }
        if let minATRPct { chain.append(ATRPercentFilter(period: atrPeriod, minimumPct: minATRPct)) }
        return chain
    }
}

/// A candidate the chain stopped, with every filter that rejected it.
public struct FilterRejection: Sendable, Equatable, Codable {
    public var symbol: Symbol
    public var detector: String
    public var rejections: [FilterReason]
}

/// One filter's reason.
public struct FilterReason: Sendable, Equatable, Codable {
    public var filter: String
    public var reason: String
}

/// Runs a candidate through a filter chain. Every filter is asked (the report shows all reasons,
/// not only the first); the candidate passes only if none rejects it.
public struct FilterChain: Sendable {
    public let filters: [any CandidateFilter]
    public init(_ filters: [any CandidateFilter]) { self.filters = filters }

    /// `nil` if the candidate passes, else the rejection with every reason in chain order.
    public func apply(_ candidate: Candidate, _ context: SymbolContext) -> FilterRejection? {
        var reasons: [FilterReason] = []
        for filter in filters {
            if case .reject(let why) = filter.evaluate(candidate, context) {
                reasons.append(FilterReason(filter: filter.name, reason: why))
            }
        }
        return reasons.isEmpty ? nil : FilterRejection(symbol: candidate.symbol, detector: candidate.detector, rejections: reasons)
    }
}
