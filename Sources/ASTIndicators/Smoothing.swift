import ASTCore

// Building blocks shared by the indicators and by the registry's nodes. Each takes one input per
// bar in O(1) (amortised O(1) for the rolling extremum).

/// A rolling window of exact price units with exact running sums (of values and of their
/// squares), so that a moving average or standard deviation over a million bars carries no
/// accumulated floating-point error: only the final division rounds.
struct ExactWindow: Sendable {
    let period: Int
    private var ring: [Int64]
    private var next = 0
    private(set) var count = 0
    private var sum: Int128 = 0
    private var sumOfSquares: Int128 = 0

    init(period: Int) {
        precondition(period >= 1, "period must be at least 1")
        self.period = period
        ring = Array(repeating: 0, count: period)
    }

    var isFull: Bool { count == period }

    mutating func push(_ units: Int64) {
        if count == period {
            let old = Int128(ring[next])
            sum -= old
            sumOfSquares -= old * old
        } else {
            count += 1
        }
        ring[next] = units
        next = (next + 1) % period
        let v = Int128(units)
        sum += v
        sumOfSquares += v * v
    }

    /// The mean of the window in dollars.
    var mean: Double { Self.double(sum) / Double(count) / Double(Price.unitsPerDollar) }

    /// The population standard deviation of the window in dollars.
    var populationStandardDeviation: Double {
        // n²·variance = n·Σx² − (Σx)², exactly, in units².
        let n = Int128(count)
        let scaled = n * sumOfSquares - sum * sum
        return Self.double(scaled).squareRoot() / Double(count) / Double(Price.unitsPerDollar)
    }

    /// `Double(v)`, through the hardware's Int64 conversion when `v` fits one (both round to
    /// nearest, so the result is the same; the generic `Int128` conversion costs far more).
    @inline(__always)
    static func double(_ v: Int128) -> Double {
        if let small = Int64(exactly: v) { return Double(small) }
        return Double(v)
    }
}

/// An average seeded with the simple average of its first `period` inputs, then smoothed by
/// `Rule` (one seeding for the exponential and Wilder's averages).
struct SeededAverage<Rule: SmoothingRule>: Sendable {
    let period: Int
    let alpha: Double
    private var seedCount = 0
    private var seedSum = 0.0
    private(set) var value: Double?

    init(period: Int) {
        precondition(period >= 1, "period must be at least 1")
        self.period = period
        alpha = Rule.alpha(period: period)
    }

    mutating func update(_ x: Double) -> Double? {
        if let v = value {
            value = Rule.next(v, x, period: period, alpha: alpha)
        } else {
            seedSum += x
            seedCount += 1
            if seedCount == period { value = seedSum / Double(period) }
        }
        return value
    }
}

/// How a ``SeededAverage`` moves with each input once seeded.
protocol SmoothingRule: Sendable {
    static func alpha(period: Int) -> Double
    static func next(_ value: Double, _ x: Double, period: Int, alpha: Double) -> Double
}

/// Smoothing 2/(n+1), the convention of TA-Lib and StockCharts.
enum ExponentialSmoothing: SmoothingRule {
    static func alpha(period: Int) -> Double { 2.0 / Double(period + 1) }
    static func next(_ v: Double, _ x: Double, period: Int, alpha: Double) -> Double { v + alpha * (x - v) }
}

/// Wilder's smoothing 1/n, as in "New Concepts in Technical Trading Systems" (1978).
enum WilderSmoothing: SmoothingRule {
    static func alpha(period: Int) -> Double { 1.0 / Double(period) }
    static func next(_ v: Double, _ x: Double, period: Int, alpha: Double) -> Double { (v * Double(period - 1) + x) / Double(period) }
}

/// An exponential moving average with smoothing 2/(n+1), seeded with the simple average of its
/// first `n` inputs.
typealias ExponentialAverage = SeededAverage<ExponentialSmoothing>

/// Wilder's smoothing (an exponential average with smoothing 1/n), seeded with the simple
/// average of its first `n` inputs.
typealias WilderAverage = SeededAverage<WilderSmoothing>

/// The true range: the greatest of high − low, |high − previous close| and |low − previous
/// close|. Undefined (`nil`) on the first bar, which has no previous close (as in TA-Lib).
struct TrueRangeState: Sendable {
    private var previousClose: Double?

    mutating func update(_ bar: Bar) -> Double? {
        let h = bar.high.indicatorValue, l = bar.low.indicatorValue
        defer { previousClose = bar.close.indicatorValue }
        guard let pc = previousClose else { return nil }
        return max(h - l, abs(h - pc), abs(l - pc))
    }
}

/// The maximum (or minimum) of the last `period` inputs, as a monotonic queue: amortised O(1)
/// per input.
struct RollingExtremum: Sendable {
    let period: Int
    let isMaximum: Bool
    private var queue: [(index: Int, value: Int64)] = []
    private var head = 0
    private var index = -1

    init(period: Int, maximum: Bool) {
        precondition(period >= 1, "period must be at least 1")
        self.period = period
        isMaximum = maximum
    }

    /// Pushes `value` and returns the extremum of the window ending with it.
    mutating func push(_ value: Int64) -> Int64 {
        index += 1
        while queue.count > head,
            isMaximum ? queue[queue.count - 1].value <= value : queue[queue.count - 1].value >= value
        {
            queue.removeLast()
        }
        queue.append((index, value))
        while queue[head].index <= index - period { head += 1 }
        if head >= 64, head * 2 >= queue.count {
            queue.removeFirst(head)
            head = 0
        }
        return queue[head].value
    }
}
