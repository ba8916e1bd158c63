import ASTCore

/// One bar of ADX with its two directional indicators.
public struct ADXValue: IndicatorOutput {
    public var adx: Double
    /// +DI: 100 · smoothed +DM / smoothed TR.
    public var plusDI: Double
    /// −DI: 100 · smoothed −DM / smoothed TR.
    public var minusDI: Double

    public init(adx: Double, plusDI: Double, minusDI: Double) {
        self.adx = adx
        self.plusDI = plusDI
        self.minusDI = minusDI
    }

    public var columnValues: [Double] { [adx, plusDI, minusDI] }
}

/// Directional movement of a bar against the previous one (Wilder): +DM is the rise of the high
/// when it exceeds the fall of the low (else 0), −DM the other way round.
func directionalMovement(high: Double, low: Double, previousHigh: Double, previousLow: Double) -> (plus: Double, minus: Double) {
    let up = high - previousHigh, down = previousLow - low
    return (up > down && up > 0 ? up : 0, down > up && down > 0 ? down : 0)
}

/// DX from the smoothed TR and ±DM: 100 · |+DI − −DI| / (+DI + −DI); 0 when both DIs are 0.
func directionalIndex(tr: Double, plusDM: Double, minusDM: Double) -> (dx: Double, plusDI: Double, minusDI: Double) {
    let p = tr == 0 ? 0 : 100 * plusDM / tr
    let m = tr == 0 ? 0 : 100 * minusDM / tr
    return (p + m == 0 ? 0 : 100 * abs(p - m) / (p + m), p, m)
}

/// The part of ADX past the true range: the registry feeds it a shared true-range node.
struct ADXCore: Sendable {
    private var previous: (high: Double, low: Double)?
    private var tr: WilderAverage
    private var plusDM: WilderAverage
    private var minusDM: WilderAverage
    private var adx: WilderAverage

    init(period: Int) {
        tr = WilderAverage(period: period)
        plusDM = WilderAverage(period: period)
        minusDM = WilderAverage(period: period)
        adx = WilderAverage(period: period)
    }

    mutating func update(_ bar: Bar, trueRange: Double?) -> ADXValue? {
        let h = bar.high.indicatorValue, l = bar.low.indicatorValue
        defer { previous = (h, l) }
        guard let previous, let trueRange else { return nil }
        let dm = directionalMovement(high: h, low: l, previousHigh: previous.high, previousLow: previous.low)
        let t = tr.update(trueRange), p = plusDM.update(dm.plus), m = minusDM.update(dm.minus)
        guard let t, let p, let m else { return nil }
        let di = directionalIndex(tr: t, plusDM: p, minusDM: m)
        guard let a = adx.update(di.dx) else { return nil }
        return ADXValue(adx: a, plusDI: di.plusDI, minusDI: di.minusDI)
    }
}

/// Average Directional Index (Wilder): TR, +DM and −DM smoothed with Wilder's method (seeded
/// with the sum — equivalently the average — of their first `period` values, from the second bar
/// on), DX from the resulting +DI and −DI, and ADX as Wilder's smoothing of DX seeded with the
/// average of the first `period` DX values. This is Wilder's and StockCharts' seeding; TA-Lib
/// seeds the first smoothed sums with `period − 1` values and converges to the same series.
///
/// Warm-up: `2 · period` bars.
public struct ADX: Indicator {
    public let period: Int
    private var trueRange = TrueRangeState()
    private var core: ADXCore

    public init(period: Int) {
        self.period = period
        core = ADXCore(period: period)
    }

    public var warmUp: Int { 2 * period }

    public mutating func update(_ bar: Bar) -> ADXValue? {
        core.update(bar, trueRange: trueRange.update(bar))
    }

    public func batch(_ bars: [Bar]) -> [ADXValue?] {
        let n = period
        var out = [ADXValue?](repeating: nil, count: bars.count)
        guard bars.count >= 2 * n else { return out }
        let tr = trueRanges(bars)
        var plus = [Double](repeating: 0, count: bars.count), minus = plus
        for i in 1..<bars.count {
            let dm = directionalMovement(
                high: bars[i].high.indicatorValue, low: bars[i].low.indicatorValue,
                previousHigh: bars[i - 1].high.indicatorValue, previousLow: bars[i - 1].low.indicatorValue)
            plus[i] = dm.plus
            minus[i] = dm.minus
        }
        // Wilder's running sums: the first is a plain sum over bars 1...n.
        var sTR = (1...n).reduce(0) { $0 + tr[$1]! }
        var sP = (1...n).reduce(0) { $0 + plus[$1] }
        var sM = (1...n).reduce(0) { $0 + minus[$1] }
        var dx = [Double](repeating: 0, count: bars.count)
        var pdi = dx, mdi = dx
        for i in n..<bars.count {
            if i > n {
                sTR = sTR - sTR / Double(n) + tr[i]!
                sP = sP - sP / Double(n) + plus[i]
                sM = sM - sM / Double(n) + minus[i]
            }
            (dx[i], pdi[i], mdi[i]) = directionalIndex(tr: sTR, plusDM: sP, minusDM: sM)
        }
        var adx = dx[n...(2 * n - 1)].reduce(0, +) / Double(n)
        out[2 * n - 1] = ADXValue(adx: adx, plusDI: pdi[2 * n - 1], minusDI: mdi[2 * n - 1])
        for i in stride(from: 2 * n, to: bars.count, by: 1) {
            adx = (adx * Double(n - 1) + dx[i]) / Double(n)
            out[i] = ADXValue(adx: adx, plusDI: pdi[i], minusDI: mdi[i])
        }
        return out
    }
}

/// One bar of SuperTrend.
public struct SuperTrendValue: IndicatorOutput {
    /// The trailing line: the final lower band in an up-trend, the final upper band in a
    /// down-trend.
    public var value: Double
    public var direction: TrendDirection

    public init(value: Double, direction: TrendDirection) {
        self.value = value
        self.direction = direction
    }

    /// The line, then the direction as +1 (up) or −1 (down).
    public var columnValues: [Double] { [value, Double(direction.rawValue)] }
}

/// The part of SuperTrend past the ATR: the registry feeds it a shared ATR node.
struct SuperTrendCore: Sendable {
    let multiplier: Double
    private var previousClose: Double?
    private var previous: (upper: Double, lower: Double, direction: TrendDirection)?

    init(multiplier: Double) { self.multiplier = multiplier }

    mutating func update(_ bar: Bar, atr: Double?) -> SuperTrendValue? {
        let close = bar.close.indicatorValue
        defer { previousClose = close }
        guard let atr else { return nil }
        let mid = (bar.high.indicatorValue + bar.low.indicatorValue) / 2
        let step = SuperTrend.step(
            basicUpper: mid + multiplier * atr, basicLower: mid - multiplier * atr, close: close,
            previousClose: previousClose, previous: previous)
        previous = (step.upper, step.lower, step.value.direction)
        return step.value
    }
}

/// SuperTrend (Olivier Seban), as TradingView's built-in `ta.supertrend` defines it:
/// basic bands (high + low)/2 ± multiplier · ATR(period); the final upper band only moves down
/// (it keeps its previous value unless the new basic band is lower or the previous close broke
/// above it), the final lower band only moves up (likewise); the trend turns up when the close
/// rises above the final upper band and down when it falls below the final lower band. On its
/// first bar the trend is down (the line is the upper band), as in TradingView.
///
/// Warm-up: `period + 1` bars (the ATR's).
public struct SuperTrend: Indicator {
    public let period: Int
    public let multiplier: Double
    private var atr: ATR
    private var core: SuperTrendCore

    public init(period: Int, multiplier: Double) {
        self.period = period
        self.multiplier = multiplier
        atr = ATR(period: period)
        core = SuperTrendCore(multiplier: multiplier)
    }

    public var warmUp: Int { period + 1 }

    public mutating func update(_ bar: Bar) -> SuperTrendValue? {
        core.update(bar, atr: atr.update(bar))
    }

    /// One step of the band-carrying rules.
    static func step(
        basicUpper: Double, basicLower: Double, close: Double, previousClose: Double?,
        previous: (upper: Double, lower: Double, direction: TrendDirection)?
    ) -> (upper: Double, lower: Double, value: SuperTrendValue) {
        guard let previous, let previousClose else {
            return (basicUpper, basicLower, SuperTrendValue(value: basicUpper, direction: .down))
        }
        let upper = basicUpper < previous.upper || previousClose > previous.upper ? basicUpper : previous.upper
        let lower = basicLower > previous.lower || previousClose < previous.lower ? basicLower : previous.lower
        let direction: TrendDirection =
            switch previous.direction {
            case .down: close > upper ? .up : .down
            case .up: close < lower ? .down : .up
            }
        return (upper, lower, SuperTrendValue(value: direction == .up ? lower : upper, direction: direction))
    }

    public func batch(_ bars: [Bar]) -> [SuperTrendValue?] {
        let atr = wilderBatch(trueRanges(bars), period: period)
        var out = [SuperTrendValue?](repeating: nil, count: bars.count)
        var upper = 0.0, lower = 0.0
        var started = false
        for i in bars.indices {
            guard let a = atr[i] else { continue }
            let mid = (bars[i].high.indicatorValue + bars[i].low.indicatorValue) / 2
            let close = bars[i].close.indicatorValue
            var bu = mid + multiplier * a, bl = mid - multiplier * a
            let direction: TrendDirection
            if !started {
                direction = .down
                started = true
            } else {
                let pc = bars[i - 1].close.indicatorValue
                if !(bu < upper || pc > upper) { bu = upper }
                if !(bl > lower || pc < lower) { bl = lower }
                direction = out[i - 1]!.direction == .down ? (close > bu ? .up : .down) : (close < bl ? .down : .up)
            }
            upper = bu
            lower = bl
            out[i] = SuperTrendValue(value: direction == .up ? lower : upper, direction: direction)
        }
        return out
    }
}
