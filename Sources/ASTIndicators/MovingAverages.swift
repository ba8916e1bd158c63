import ASTCore

/// Simple moving average of the close over `period` bars.
///
/// Warm-up: `period` bars (the first value is the mean of the first `period` closes).
public struct SMA: Indicator {
    public let period: Int
    private var window: ExactWindow

    public init(period: Int) {
        self.period = period
        window = ExactWindow(period: period)
    }

    public var warmUp: Int { period }

    public mutating func update(_ bar: Bar) -> Double? {
        window.push(bar.close.units)
        return window.isFull ? window.mean : nil
    }

    public func batch(_ bars: [Bar]) -> [Double?] {
        let c = bars.map(\.close.indicatorValue)
        return c.indices.map { i in
            guard i >= period - 1 else { return nil }
            return c[(i - period + 1)...i].reduce(0, +) / Double(period)
        }
    }
}

/// Exponential moving average of the close: smoothing 2/(period+1), seeded with the simple
/// average of the first `period` closes.
///
/// Warm-up: `period` bars.
public struct EMA: Indicator {
    public let period: Int
    private var average: ExponentialAverage

    public init(period: Int) {
        self.period = period
        average = ExponentialAverage(period: period)
    }

    public var warmUp: Int { period }

    public mutating func update(_ bar: Bar) -> Double? {
        average.update(bar.close.indicatorValue)
    }

    public func batch(_ bars: [Bar]) -> [Double?] {
        Self.batch(bars.map(\.close.indicatorValue), period: period)
    }

    /// The EMA over a plain series, written as the textbook recurrence
    /// `ema[i] = α·x[i] + (1 − α)·ema[i−1]`; `nil` entries in `xs` are leading gaps, skipped.
    static func batch(_ xs: [Double?], period: Int) -> [Double?] {
        var out = [Double?](repeating: nil, count: xs.count)
        guard let first = xs.firstIndex(where: { $0 != nil }), xs.count - first >= period else { return out }
        let alpha = 2.0 / Double(period + 1)
        let seedEnd = first + period - 1
        var prev = xs[first...seedEnd].reduce(0) { $0 + $1! } / Double(period)
        out[seedEnd] = prev
        for i in (seedEnd + 1)..<xs.count {
            prev = alpha * xs[i]! + (1 - alpha) * prev
            out[i] = prev
        }
        return out
    }
}

/// Relative Strength Index (Wilder): 100 · avgGain / (avgGain + avgLoss), where the average
/// gain and loss of the close-to-close changes use Wilder's smoothing seeded with the simple
/// averages of the first `period` changes. 50 when there was neither gain nor loss.
///
/// Warm-up: `period + 1` bars (`period` changes).
public struct RSI: Indicator {
    public let period: Int
    private var previousClose: Double?
    private var gains: WilderAverage
    private var losses: WilderAverage

    public init(period: Int) {
        self.period = period
        gains = WilderAverage(period: period)
        losses = WilderAverage(period: period)
    }

    public var warmUp: Int { period + 1 }

    public mutating func update(_ bar: Bar) -> Double? {
        let close = bar.close.indicatorValue
        defer { previousClose = close }
        guard let pc = previousClose else { return nil }
        let change = close - pc
        // Both averages see every change (no short-circuit between them).
        let g = gains.update(max(change, 0)), l = losses.update(max(-change, 0))
        guard let g, let l else { return nil }
        return Self.rsi(gain: g, loss: l)
    }

    static func rsi(gain: Double, loss: Double) -> Double {
        gain + loss == 0 ? 50 : 100 * gain / (gain + loss)
    }

    public func batch(_ bars: [Bar]) -> [Double?] {
        let c = bars.map(\.close.indicatorValue)
        var out = [Double?](repeating: nil, count: c.count)
        guard c.count > period else { return out }
        var avgGain = 0.0, avgLoss = 0.0
        for i in 1...period {
            avgGain += max(c[i] - c[i - 1], 0)
            avgLoss += max(c[i - 1] - c[i], 0)
        }
        avgGain /= Double(period)
        avgLoss /= Double(period)
        out[period] = Self.rsi(gain: avgGain, loss: avgLoss)
        let n = Double(period)
        for i in stride(from: period + 1, to: c.count, by: 1) {
            avgGain = (avgGain * (n - 1) + max(c[i] - c[i - 1], 0)) / n
            avgLoss = (avgLoss * (n - 1) + max(c[i - 1] - c[i], 0)) / n
            out[i] = Self.rsi(gain: avgGain, loss: avgLoss)
        }
        return out
    }
}
