import ASTCore

/// The true range of each bar from the second on (the first has no previous close): a plain
/// loop, shared by the batch forms of ATR, ADX and SuperTrend.
func trueRanges(_ bars: [Bar]) -> [Double?] {
    bars.indices.map { i in
        guard i > 0 else { return nil }
        let h = bars[i].high.indicatorValue, l = bars[i].low.indicatorValue
        let pc = bars[i - 1].close.indicatorValue
        return max(h - l, abs(h - pc), abs(l - pc))
    }
}

/// Wilder's smoothing over a series whose first `start` entries are undefined: the simple average
/// of the first `period` defined values, then `(prev·(n−1) + x)/n`. For batch forms.
func wilderBatch(_ xs: [Double?], period: Int) -> [Double?] {
    var out = [Double?](repeating: nil, count: xs.count)
    guard let first = xs.firstIndex(where: { $0 != nil }), xs.count - first >= period else { return out }
    let seedEnd = first + period - 1
    var prev = xs[first...seedEnd].reduce(0) { $0 + $1! } / Double(period)
    out[seedEnd] = prev
    let n = Double(period)
    for i in stride(from: seedEnd + 1, to: xs.count, by: 1) {
        prev = (prev * (n - 1) + xs[i]!) / n
        out[i] = prev
    }
    return out
}

/// Average True Range (Wilder): Wilder's smoothing of the true range, seeded with the simple
/// average of the first `period` true ranges. The true range starts on the second bar (it needs
/// a previous close), as in TA-Lib; StockCharts instead counts high − low on the first bar, which
/// shifts the seed by one bar.
///
/// Warm-up: `period + 1` bars.
public struct ATR: Indicator {
    public let period: Int
    private var trueRange = TrueRangeState()
    private var average: WilderAverage

    public init(period: Int) {
        self.period = period
        average = WilderAverage(period: period)
    }

    public var warmUp: Int { period + 1 }

    public mutating func update(_ bar: Bar) -> Double? {
        guard let tr = trueRange.update(bar) else { return nil }
        return average.update(tr)
    }

    public func batch(_ bars: [Bar]) -> [Double?] {
        wilderBatch(trueRanges(bars), period: period)
    }
}

/// One bar of Bollinger Bands.
public struct BollingerValue: IndicatorOutput {
    /// SMA(period) of the close.
    public var middle: Double
    /// middle + multiplier · σ.
    public var upper: Double
    /// middle − multiplier · σ.
    public var lower: Double

    public init(middle: Double, upper: Double, lower: Double) {
        self.middle = middle
        self.upper = upper
        self.lower = lower
    }

    public var columnValues: [Double] { [middle, upper, lower] }
}

/// Bollinger Bands: SMA(period) of the close ± multiplier × the population standard deviation
/// of the same `period` closes (Bollinger's definition; TA-Lib's BBANDS and StockCharts agree).
///
/// Warm-up: `period` bars.
public struct BollingerBands: Indicator {
    public let period: Int
    public let multiplier: Double
    private var window: ExactWindow

    public init(period: Int, multiplier: Double) {
        self.period = period
        self.multiplier = multiplier
        window = ExactWindow(period: period)
    }

    public var warmUp: Int { period }

    public mutating func update(_ bar: Bar) -> BollingerValue? {
        window.push(bar.close.units)
        guard window.isFull else { return nil }
        return Self.bands(mean: window.mean, deviation: window.populationStandardDeviation, multiplier: multiplier)
    }

    static func bands(mean: Double, deviation: Double, multiplier: Double) -> BollingerValue {
        BollingerValue(middle: mean, upper: mean + multiplier * deviation, lower: mean - multiplier * deviation)
    }

    public func batch(_ bars: [Bar]) -> [BollingerValue?] {
        let c = bars.map(\.close.indicatorValue)
        return c.indices.map { i in
            guard i >= period - 1 else { return nil }
            let w = c[(i - period + 1)...i]
            let mean = w.reduce(0, +) / Double(period)
            let variance = w.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(period)
            return Self.bands(mean: mean, deviation: variance.squareRoot(), multiplier: multiplier)
        }
    }
}
