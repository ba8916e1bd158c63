import ASTCalendar
import ASTCore
import ASTIndicators

/// The market's state as the regime classifier reads it from the index and the volatility index.
public enum MarketRegime: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case bull
    case bear
    case choppy
    /// Not enough (or stale) index or volatility data to tell: no filter allows entries in it.
    case undetermined

    public var description: String { rawValue }
}

/// Thresholds of the regime rules (see ``RegimeClassifier``). Codable with snake_case keys.
public struct RegimeConfig: Sendable, Equatable, Codable {
    /// The long trend: the index's close against SMA(`long_sma`).
    public var longSMA: Int = 200
    /// The medium trend: the slope of SMA(`short_sma`) ...
    public var shortSMA: Int = 50
    /// ... over this many sessions, as a percentage change.
    public var slopeSessions: Int = 20
    public var adxPeriod: Int = 14
    /// ADX at or above this is a trending market; below it the market is choppy.
    public var minTrendADX: Double = 20
    /// A bull market needs the volatility index below this level.
    public var maxBullVolatility: Double = 25
    /// The volatility index at or above this level is a bear market whatever the trend.
    public var bearVolatility: Double = 35

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case longSMA = "long_sma"
        case shortSMA = "short_sma"
        case slopeSessions = "slope_sessions"
        case adxPeriod = "adx_period"
        case minTrendADX = "min_trend_adx"
        case maxBullVolatility = "max_bull_volatility"
        case bearVolatility = "bear_volatility"
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self, section: "strategy.regime")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = RegimeConfig()
        longSMA = try c.value(.longSMA, default: d.longSMA)
        shortSMA = try c.value(.shortSMA, default: d.shortSMA)
        slopeSessions = try c.value(.slopeSessions, default: d.slopeSessions)
        adxPeriod = try c.value(.adxPeriod, default: d.adxPeriod)
        minTrendADX = try c.value(.minTrendADX, default: d.minTrendADX)
        maxBullVolatility = try c.value(.maxBullVolatility, default: d.maxBullVolatility)
        bearVolatility = try c.value(.bearVolatility, default: d.bearVolatility)
    }

    /// What is wrong with the values; empty when valid.
    public func problems() -> [String] {
        var p: [String] = []
        for (key, v) in [("long_sma", longSMA), ("short_sma", shortSMA), ("slope_sessions", slopeSessions), ("adx_period", adxPeriod)]
        where !(1...IndicatorSpec.maximumPeriod).contains(v) {
            p.append("strategy.regime.\(key) must be between 1 and \(IndicatorSpec.maximumPeriod) (got \(v))")
        }
        if !(minTrendADX.isFinite && (0...100).contains(minTrendADX)) {
            p.append("strategy.regime.min_trend_adx must be between 0 and 100 (got \(minTrendADX))")
        }
        if !(maxBullVolatility.isFinite && maxBullVolatility > 0) {
            p.append("strategy.regime.max_bull_volatility must be above 0 (got \(maxBullVolatility))")
        }
        if !(bearVolatility.isFinite && bearVolatility >= maxBullVolatility) {
            p.append("strategy.regime.bear_volatility must be at least max_bull_volatility (got \(bearVolatility) < \(maxBullVolatility))")
        }
        return p
    }
}

/// The numbers the regime was decided on; `nil` where the data did not suffice.
public struct RegimeMeasures: Sendable, Equatable, Codable {
    public var close: Double?
    public var longSMA: Double?
    public var shortSMASlopePct: Double?
    public var adx: Double?
    public var volatility: Double?

    public init(
        close: Double? = nil, longSMA: Double? = nil, shortSMASlopePct: Double? = nil, adx: Double? = nil, volatility: Double? = nil
    ) {
        self.close = close
        self.longSMA = longSMA
        self.shortSMASlopePct = shortSMASlopePct
        self.adx = adx
        self.volatility = volatility
    }

    enum CodingKeys: String, CodingKey {
        case close, adx, volatility
        case longSMA = "long_sma"
        case shortSMASlopePct = "short_sma_slope_pct"
    }
}

/// The regime with the reasons, in words and numbers, that decided it.
public struct RegimeAssessment: Sendable, Equatable, Codable {
    public var regime: MarketRegime
    public var reasons: [String]
    public var measures: RegimeMeasures

    public init(regime: MarketRegime, reasons: [String], measures: RegimeMeasures = RegimeMeasures()) {
        self.regime = regime
        self.reasons = reasons
        self.measures = measures
    }
}

/// Classifies the market as bull, bear or choppy from the index and the volatility index.
///
/// The rules, in order (the first that applies decides):
/// 1. **undetermined** if the index has fewer bars than SMA(long), the SMA(short) slope or
///    ADX need, if either series is empty, or if either's last bar is not from the previous
///    session (when one is given).
/// 2. **bear** if the volatility index closes at or above `bear_volatility`.
/// 3. **bear** if the index is in a down-trend (close below SMA(long) and SMA(short) falling
///    over `slope_sessions`) and ADX(`adx_period`) is at or above `min_trend_adx`.
/// 4. **bull** if the index is in an up-trend (close above SMA(long) and SMA(short) rising),
///    ADX is at or above `min_trend_adx` and the volatility index is below `max_bull_volatility`.
/// 5. **choppy** otherwise: no clear trend, a trend without strength, or an up-trend with
///    elevated volatility.
public enum RegimeClassifier {
    /// `index` and `volatility` are daily bars before the scan date, oldest first. O(bars).
    public static func classify(
        index: ArraySlice<Bar>, volatility: ArraySlice<Bar>, previousSession: LocalDate? = nil,
        config: RegimeConfig = RegimeConfig()
    ) -> RegimeAssessment {
        let long = IndicatorSpec.sma(period: config.longSMA)
        let short = IndicatorSpec.sma(period: config.shortSMA)
        let adxSpec = IndicatorSpec.adx(period: config.adxPeriod)
        var engine = IndicatorEngine(plan: IndicatorPlan([long, short, adxSpec]))
        // The short SMA of the last slope_sessions + 1 bars, oldest first.
        let keep = config.slopeSessions + 1
        var shortTail: [Double?] = []
        shortTail.reserveCapacity(keep)
        var last: IndicatorValues?
        for (i, bar) in index.enumerated() {
            guard let v = engine.update(bar) else {
                return RegimeAssessment(regime: .undetermined, reasons: ["index bars are out of order at \(bar.start)"])
            }
            if i >= index.count - keep { shortTail.append(v.value(short)) }
            last = v
        }
        var m = RegimeMeasures()
        m.close = index.last?.close.indicatorValue
        m.volatility = volatility.last?.close.indicatorValue
        m.longSMA = last?.value(long)
        m.adx = last?.value(adxSpec)
        if shortTail.count == keep, let then = shortTail.first ?? nil, let now = shortTail.last ?? nil, then != 0 {
            m.shortSMASlopePct = (now / then - 1) * 100
        }
        var missing: [String] = []
        if let previousSession {
            if let l = index.last, sessionDate(of: l) != previousSession {
                missing.append("index data is stale (last bar \(sessionDate(of: l)), expected \(previousSession))")
            }
            if let l = volatility.last, sessionDate(of: l) != previousSession {
                missing.append("volatility index data is stale (last bar \(sessionDate(of: l)), expected \(previousSession))")
            }
        }
        if m.close == nil { missing.append("no index bars") }
        if m.volatility == nil { missing.append("no volatility index bars") }
        if m.close != nil {
            if m.longSMA == nil { missing.append("\(index.count) index bars are too few for SMA\(config.longSMA)") }
            if m.shortSMASlopePct == nil {
                missing.append(
                    "\(index.count) index bars are too few for the SMA\(config.shortSMA) slope over \(config.slopeSessions) sessions")
            }
            if m.adx == nil { missing.append("\(index.count) index bars are too few for ADX\(config.adxPeriod)") }
        }
        guard missing.isEmpty, let close = m.close, let sma = m.longSMA, let slope = m.shortSMASlopePct, let adx = m.adx,
            let vol = m.volatility
        else {
            return RegimeAssessment(regime: .undetermined, reasons: missing, measures: m)
        }
        let trendUp = close > sma && slope > 0
        let trendDown = close < sma && slope < 0
        let trending = adx >= config.minTrendADX
        var reasons = [
            "index close \(f(close)) \(close > sma ? "above" : close < sma ? "below" : "at") SMA\(config.longSMA) \(f(sma))",
            "SMA\(config.shortSMA) slope over \(config.slopeSessions) sessions \(slope >= 0 ? "+" : "")\(f(slope))%",
            "ADX\(config.adxPeriod) \(f(adx)) \(trending ? "≥" : "<") \(f(config.minTrendADX)) (\(trending ? "trending" : "not trending"))",
        ]
        let regime: MarketRegime
        if vol >= config.bearVolatility {
            reasons.append("volatility index \(f(vol)) ≥ \(f(config.bearVolatility)) (stress)")
            regime = .bear
        } else if trendDown && trending {
            reasons.append("volatility index \(f(vol))")
            reasons.append("down-trend with strength")
            regime = .bear
        } else if trendUp && trending && vol < config.maxBullVolatility {
            reasons.append("volatility index \(f(vol)) < \(f(config.maxBullVolatility))")
            reasons.append("up-trend with strength and calm volatility")
            regime = .bull
        } else {
            if trendUp && trending {
                reasons.append("volatility index \(f(vol)) ≥ \(f(config.maxBullVolatility)) (elevated)")
                reasons.append("up-trend but volatility too high for a bull market")
            } else {
                reasons.append("volatility index \(f(vol))")
                reasons.append(trendUp || trendDown ? "trend without strength" : "no clear trend")
            }
            regime = .choppy
        }
        return RegimeAssessment(regime: regime, reasons: reasons, measures: m)
    }
}

/// Two decimals, for reasons and reports.
func f(_ x: Double) -> String {
    guard x.isFinite else { return "\(x)" }
    let scaled = (x * 100).rounded()
    let neg = scaled < 0
    let a = Int64(abs(scaled))
    let frac = a % 100
    return "\(neg ? "-" : "")\(a / 100).\(frac < 10 ? "0" : "")\(frac)"
}
