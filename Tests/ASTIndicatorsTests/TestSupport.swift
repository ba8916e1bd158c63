import ASTCore
import Foundation

@testable import ASTIndicators

/// The seeded generator (ASTCore's SplitMix64), so every "random" series is the same on every run.
typealias SeededGenerator = SplitMix64

/// A daily bar at day `index` with prices in dollars (rounded to 1/10,000).
func bar(
    _ index: Int, open: Double, high: Double, low: Double, close: Double, volume: Int64 = 1_000,
    symbol: Symbol = "TEST"
) -> Bar {
    func p(_ x: Double) -> Price { Price(units: Int64((x * 10_000).rounded())) }
    return Bar(
        symbol: symbol, start: Timestamp(nanoseconds: Int64(index) * 86_400_000_000_000),
        open: p(open), high: p(high), low: p(low), close: p(close), volume: volume)
}

/// Bars whose close is each of `closes` (open = high = low = close).
func closeBars(_ closes: [Double]) -> [Bar] {
    closes.enumerated().map { bar($0.offset, open: $0.element, high: $0.element, low: $0.element, close: $0.element) }
}

/// A random walk of `count` consistent OHLC bars: gaps, trends, flat stretches and jumps, with
/// prices at 1/10,000 of a dollar.
func randomBars(count: Int, seed: UInt64, start: Double = 50) -> [Bar] {
    var rng = SeededGenerator(seed: seed)
    var close = start
    var bars: [Bar] = []
    bars.reserveCapacity(count)
    for i in 0..<count {
        let drift = Double.random(in: -1...1, using: &rng) < -0.9 ? -0.08 : 0
        let open = max(0.5, close * (1 + Double.random(in: -0.01...0.01, using: &rng)))
        close = max(0.5, open * (1 + drift + Double.random(in: -0.04...0.04, using: &rng)))
        if Int.random(in: 0..<50, using: &rng) == 0 { close = open }  // doji / flat bar
        let high = max(open, close) * (1 + Double.random(in: 0...0.02, using: &rng))
        let low = min(open, close) * (1 - Double.random(in: 0...0.02, using: &rng))
        bars.append(bar(i, open: open, high: high, low: low, close: close))
    }
    return bars
}

/// Whether `a` and `b` agree to `tolerance`, relative to their size (absolute below 1).
func close(_ a: Double, _ b: Double, tolerance: Double = 1e-9) -> Bool {
    abs(a - b) <= tolerance * max(1, abs(a), abs(b))
}

/// Runs `indicator` bar by bar.
func incremental<I: Indicator>(_ indicator: I, _ bars: [Bar]) -> [I.Output?] {
    var x = indicator
    return bars.map { x.update($0) }
}
