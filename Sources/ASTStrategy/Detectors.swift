import ASTCore
import ASTIndicators

/// The demo detector: a fast moving average crossing above a slow one on the last bar.
///
/// Fires when, on the last bar before the scan date, fast > slow, and on the bar before it
/// fast ≤ slow (both defined on both bars). Parameters: `fast` (default 10), `slow` (30),
/// `average` (`sma` or `ema`, default `sma`); `fast` must be below `slow`.
public struct MACrossoverDetector: PatternDetector {
    public static let pluginName = "ma_crossover"
    public var name: String { Self.pluginName }
    public private(set) var fast: IndicatorSpec = .sma(period: 10)
    public private(set) var slow: IndicatorSpec = .sma(period: 30)

    public init() {}

    public mutating func validate(_ parameters: PluginParameters) throws(PluginConfigError) {
        var r = ParameterReader(plugin: "detector \(name)", parameters)
        let f = r.int("fast", default: 10, in: 1...IndicatorSpec.maximumPeriod)
        let s = r.int("slow", default: 30, in: 1...IndicatorSpec.maximumPeriod)
        let kind = r.string("average", default: "sma", oneOf: ["sma", "ema"])
        if f >= s { r.problem("fast must be below slow (got fast \(f), slow \(s))") }
        try r.finish()
        fast = kind == "ema" ? .ema(period: f) : .sma(period: f)
        slow = kind == "ema" ? .ema(period: s) : .sma(period: s)
    }

    public var indicators: [IndicatorSpec] { [fast, slow] }
    public var lookback: Int { 2 }

    public func detect(_ context: SymbolContext) -> Detection? {
        let w = context.indicators
        guard let f0 = w.value(fast), let s0 = w.value(slow), let f1 = w.value(fast, barsAgo: 1),
            let s1 = w.value(slow, barsAgo: 1), f0 > s0, f1 <= s1
        else { return nil }
        return Detection(
            summary: "\(fast) \(f(f0)) crossed above \(slow) \(f(s0)) (previous bar \(f(f1)) ≤ \(f(s1)))",
            metrics: [Metric("fast", f0), Metric("slow", s0), Metric("fast_previous", f1), Metric("slow_previous", s1)])
    }
}

/// A platform-consolidation breakout: a tight sideways platform on contracting volatility, then a
/// close above its high on heavy volume.
///
/// With `N` = `platform_sessions`, the platform is the `N` bars before the last bar. The pattern
/// is there when
/// - the platform's range, (highest high − lowest low) / lowest low, is at most `max_range_pct`;
/// - ATR(`atr_period`) contracted over the platform: ATR on its last bar ≤ `max_atr_ratio` × ATR
///   on the bar before it began;
/// - the last bar closes above the platform's highest high;
/// - the last bar's volume is above `volume_multiple` × the mean volume of the
///   `volume_sessions` bars before it.
///
/// Defaults: N 15, 8 %, ATR 14, ratio 0.9, 1.5 × the 20-session mean.
public struct PlatformBreakoutDetector: PatternDetector {
    public static let pluginName = "platform_breakout"
    public var name: String { Self.pluginName }
    public private(set) var platformSessions = 15
    public private(set) var maxRangePct = 8.0
    public private(set) var atrPeriod = 14
    public private(set) var maxATRRatio = 0.9
    public private(set) var volumeMultiple = 1.5
    public private(set) var volumeSessions = 20

    public init() {}

    public mutating func validate(_ parameters: PluginParameters) throws(PluginConfigError) {
        var r = ParameterReader(plugin: "detector \(name)", parameters)
        platformSessions = r.int("platform_sessions", default: 15, in: 2...500)
        maxRangePct = r.double("max_range_pct", default: 8, in: 0.01...100)
        atrPeriod = r.int("atr_period", default: 14, in: 1...IndicatorSpec.maximumPeriod)
        maxATRRatio = r.double("max_atr_ratio", default: 0.9, in: 0.01...10)
        volumeMultiple = r.double("volume_multiple", default: 1.5, in: 0...100)
        volumeSessions = r.int("volume_sessions", default: 20, in: 1...500)
        try r.finish()
    }

    var atr: IndicatorSpec { .atr(period: atrPeriod) }
    public var indicators: [IndicatorSpec] { [atr] }
    /// The last bar, the platform, and the bar before the platform.
    public var lookback: Int { platformSessions + 2 }

    public func detect(_ context: SymbolContext) -> Detection? {
        let bars = context.bars
        guard bars.count >= max(platformSessions, volumeSessions) + 1, let last = bars.last else { return nil }
        let platform = bars[(bars.endIndex - 1 - platformSessions)..<(bars.endIndex - 1)]
        var high = Int64.min, low = Int64.max
        for b in platform {
            high = max(high, b.high.units)
            low = min(low, b.low.units)
        }
        guard low > 0, last.close.units > high else { return nil }
        let rangePct = Double(high - low) / Double(low) * 100
        guard rangePct <= maxRangePct else { return nil }
        guard let atrEnd = context.indicators.value(atr, barsAgo: 1),
            let atrStart = context.indicators.value(atr, barsAgo: platformSessions + 1), atrStart > 0,
            atrEnd <= maxATRRatio * atrStart
        else { return nil }
        var volumeSum: Int64 = 0
        for b in bars[(bars.endIndex - 1 - volumeSessions)..<(bars.endIndex - 1)] { volumeSum &+= max(b.volume, 0) }
        let averageVolume = Double(volumeSum) / Double(volumeSessions)
        guard Double(last.volume) > volumeMultiple * averageVolume else { return nil }
        let platformHigh = Price(units: high), platformLow = Price(units: low)
        return Detection(
            summary: "close \(last.close) above the \(platformSessions)-session platform \(platformLow)–\(platformHigh) "
                + "(range \(f(rangePct))%, \(atr) \(f(atrStart)) -> \(f(atrEnd))) on volume \(last.volume) "
                + "vs \(f(averageVolume)) average",
            metrics: [
                Metric("platform_high", platformHigh.indicatorValue), Metric("platform_low", platformLow.indicatorValue),
                Metric("range_pct", rangePct), Metric("atr_start", atrStart), Metric("atr_end", atrEnd),
                Metric("volume", Double(last.volume)), Metric("average_volume", averageVolume),
            ])
    }
}
