import ASTCore

/// A technical indicator that consumes one bar at a time.
///
/// Every indicator keeps constant-size state, so ``update(_:)`` costs the same on bar ten and on
/// bar ten million. It returns `nil` until the indicator has seen ``warmUp`` bars, then a value
/// for every bar. ``batch(_:)`` computes the same series from scratch for a whole history; it
/// is written independently of ``update(_:)`` (a plain loop over the definition), so that tests
/// comparing the two can catch a mistake in either.
public protocol Indicator: Sendable {
    /// What one bar produces: a `Double`, or a small struct of several lines (MACD, bands ...).
    associatedtype Output: IndicatorOutput

    /// The number of bars that go in before the first non-`nil` output.
    var warmUp: Int { get }

    /// Feeds the next bar and returns the indicator's value after it, or `nil` during warm-up.
    mutating func update(_ bar: Bar) -> Output?

    /// The indicator over `bars` from a fresh start, one element per bar. Uses only this value's
    /// parameters, never its incremental state.
    func batch(_ bars: [Bar]) -> [Output?]
}

/// An indicator output that can be flattened into numeric columns (for CSV output and the
/// registry), in the order of ``IndicatorSpec/columns``.
public protocol IndicatorOutput: Sendable, Equatable {
    var columnValues: [Double] { get }
}

extension Double: IndicatorOutput {
    public var columnValues: [Double] { [self] }
}

extension Price {
    /// The price in dollars as a `Double`, for indicator arithmetic only.
    @inlinable
    public var indicatorValue: Double { Double(units) / Double(Price.unitsPerDollar) }
}

/// Which way a trend-following indicator (``SuperTrend``) points.
public enum TrendDirection: Int, Sendable, Equatable {
    case up = 1
    case down = -1
}
