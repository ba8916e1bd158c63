import ASTCore

/// One bar of MACD: the MACD line, its signal line and their difference.
public struct MACDValue: IndicatorOutput {
    /// EMA(fast) − EMA(slow) of the close.
    public var macd: Double
    /// EMA(signal) of the MACD line.
    public var signal: Double
    /// `macd − signal`.
    public var histogram: Double

    public init(macd: Double, signal: Double, histogram: Double) {
        self.macd = macd
        self.signal = signal
        self.histogram = histogram
    }

    public var columnValues: [Double] { [macd, signal, histogram] }
}

/// The part of MACD past its two EMAs: turns EMA(fast) and EMA(slow) into the three lines.
/// The registry feeds it shared EMA nodes; ``MACD`` feeds it its own.
struct MACDCore: Sendable {
    private var signalAverage: ExponentialAverage

    init(signal: Int) { signalAverage = ExponentialAverage(period: signal) }

    mutating func update(fast: Double?, slow: Double?) -> MACDValue? {
        guard let fast, let slow else { return nil }
        let line = fast - slow
        guard let signal = signalAverage.update(line) else { return nil }
        return MACDValue(macd: line, signal: signal, histogram: line - signal)
    }
}

/// Moving Average Convergence/Divergence (Appel): EMA(fast) − EMA(slow) of the close, each EMA
/// seeded with its own simple average from the first bar; the signal line is the EMA(signal) of
/// the MACD line, seeded with the simple average of its first `signal` values.
///
/// Warm-up: `slow + signal − 1` bars (the output appears once the signal line exists).
public struct MACD: Indicator {
    public let fast: Int
    public let slow: Int
    public let signal: Int
    private var fastAverage: ExponentialAverage
    private var slowAverage: ExponentialAverage
    private var core: MACDCore

    /// `fast` must be shorter than `slow` (``IndicatorSpec`` checks this for parsed input).
    public init(fast: Int, slow: Int, signal: Int) {
        precondition(fast < slow, "MACD fast period must be shorter than the slow one")
        self.fast = fast
        self.slow = slow
        self.signal = signal
        fastAverage = ExponentialAverage(period: fast)
        slowAverage = ExponentialAverage(period: slow)
        core = MACDCore(signal: signal)
    }

    public var warmUp: Int { slow + signal - 1 }

    public mutating func update(_ bar: Bar) -> MACDValue? {
        let c = bar.close.indicatorValue
        let f = fastAverage.update(c)
        let s = slowAverage.update(c)
        return core.update(fast: f, slow: s)
    }

    public func batch(_ bars: [Bar]) -> [MACDValue?] {
        let c: [Double?] = bars.map(\.close.indicatorValue)
        let f = EMA.batch(c, period: fast)
        let s = EMA.batch(c, period: slow)
        let line: [Double?] = zip(f, s).map { a, b in a.flatMap { a in b.map { a - $0 } } }
        let sig = EMA.batch(line, period: signal)
        return line.indices.map { i in
            guard let m = line[i], let g = sig[i] else { return nil }
            return MACDValue(macd: m, signal: g, histogram: m - g)
        }
    }
}
