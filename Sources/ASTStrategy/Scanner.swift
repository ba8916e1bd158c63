import ASTCalendar
import ASTCore
import ASTIndicators
import ASTMessages

/// A named number behind a detection or a decision, for reports (`fast_sma` = 101.25).
public struct Metric: Sendable, Equatable, Codable {
    public var name: String
    public var value: Double

    public init(_ name: String, _ value: Double) {
        self.name = name
        self.value = value.isFinite ? value : 0
    }
}

/// The indicator values of one symbol over its most recent bars, aligned with the bars: index 0
/// of ``barsAgo`` is the last bar before the scan date.
public struct IndicatorWindow: Sendable {
    /// The values as a ring whose oldest element is at `head` (a carried track's ring, handed
    /// over without rotating it into a new array at every scan).
    let ring: [IndicatorValues]
    let head: Int

    public init(rows: [IndicatorValues]) {
        ring = rows
        head = 0
    }

    init(ring: [IndicatorValues], head: Int) {
        self.ring = ring
        self.head = ring.isEmpty ? 0 : head % ring.count
    }

    /// Oldest first; the last element belongs to the last bar.
    var rows: [IndicatorValues] { head == 0 ? ring : Array(ring[head...]) + ring[..<head] }

    /// How many bars of values the window holds.
    public var count: Int { ring.count }

    /// The row `barsAgo` bars back (0 is the last bar); `barsAgo` in `0..<count`.
    private func row(_ barsAgo: Int) -> IndicatorValues { ring[(head + ring.count - 1 - barsAgo) % ring.count] }

    /// The main value of `spec` `barsAgo` bars back (0 is the last bar), or `nil` if the indicator
    /// is still warming up there, was not requested, or the window is not that deep.
    public func value(_ spec: IndicatorSpec, barsAgo: Int = 0) -> Double? {
        guard barsAgo >= 0, barsAgo < ring.count else { return nil }
        return row(barsAgo).value(spec)
    }

    /// Every column of `spec` `barsAgo` bars back (MACD line, signal, histogram ...).
    public func columns(_ spec: IndicatorSpec, barsAgo: Int = 0) -> [Double]? {
        guard barsAgo >= 0, barsAgo < ring.count else { return nil }
        return row(barsAgo)[spec]
    }
}

/// What a detector, a filter and a strategy see of one symbol at the scan.
public struct SymbolContext: Sendable {
    /// The session the scan is for.
    public let date: LocalDate
    public let info: SymbolInfo
    /// Every bar before ``date``, oldest first.
    public let bars: ArraySlice<Bar>
    /// The plan's indicators over the last bars.
    public let indicators: IndicatorWindow
    public let regime: MarketRegime
    /// The position held in the symbol, if any.
    public let position: PositionSnapshot?

    public init(
        date: LocalDate, info: SymbolInfo, bars: ArraySlice<Bar>, indicators: IndicatorWindow, regime: MarketRegime,
        position: PositionSnapshot? = nil
    ) {
        self.date = date
        self.info = info
        self.bars = bars
        self.indicators = indicators
        self.regime = regime
        self.position = position
    }

    /// The context of `info` on `date`: runs `plan`'s indicators over every bar before `date`
    /// once (O(bars)) and keeps the last `lookback` bars of values. Bars must be in order (the
    /// universe filter checks it); if they are not, the window is empty.
    public static func build(
        date: LocalDate, info: SymbolInfo, bars all: [Bar], plan: IndicatorPlan, lookback: Int,
        regime: MarketRegime, position: PositionSnapshot? = nil
    ) -> SymbolContext {
        build(date: date, info: info, usable: barsBefore(date, all), plan: plan, lookback: lookback, regime: regime, position: position)
    }

    static func build(
        date: LocalDate, info: SymbolInfo, usable: ArraySlice<Bar>, plan: IndicatorPlan, lookback: Int,
        regime: MarketRegime, position: PositionSnapshot?
    ) -> SymbolContext {
        var engine = IndicatorEngine(plan: plan)
        var rows: [IndicatorValues] = []
        rows.reserveCapacity(max(lookback, 0))
        let keepFrom = usable.count - lookback
        for (j, bar) in usable.enumerated() {
            guard let v = engine.update(bar) else {
                rows = []  // out of order: no values rather than values of the wrong bars
                break
            }
            if j >= keepFrom { rows.append(v) }
        }
        return SymbolContext(
            date: date, info: info, bars: usable, indicators: IndicatorWindow(rows: rows), regime: regime,
            position: position)
    }

    public var symbol: Symbol { info.symbol }
    /// The last close before the scan date.
    public var lastClose: Price? { bars.last?.close }
}

/// A detector's finding on one symbol.
public struct Detection: Sendable, Equatable {
    /// One line for the report: what was seen.
    public var summary: String
    public var metrics: [Metric]

    public init(summary: String, metrics: [Metric] = []) {
        self.summary = summary
        self.metrics = metrics
    }
}

/// A pattern detector: a plugin (see ``PipelinePlugin``) that looks at one symbol's bars and
/// indicators on the last bar before the scan date and says whether its pattern is there.
///
/// It declares the indicators it reads so that the pipeline's ``IndicatorPlan`` computes exactly
/// what the active detectors, filters and strategy need, each once per bar per symbol.
public protocol PatternDetector: PipelinePlugin {
    /// The indicators ``detect(_:)`` reads (valid after `validate`).
    var indicators: [IndicatorSpec] { get }
    /// How many of the most recent bars of indicator values ``detect(_:)`` reads (at least 1).
    var lookback: Int { get }
    /// The lifecycle's execute: the pattern on the context's last bar, or `nil`.
    func detect(_ context: SymbolContext) -> Detection?
}

/// A symbol a detector found its pattern on.
public struct Candidate: Sendable, Equatable, Codable {
    public var symbol: Symbol
    public var detector: String
    /// The last close before the scan date.
    public var close: Price
    public var summary: String
    public var metrics: [Metric]

    public init(symbol: Symbol, detector: String, close: Price, summary: String, metrics: [Metric] = []) {
        self.symbol = symbol
        self.detector = detector
        self.close = close
        self.summary = summary
        self.metrics = metrics
    }
}

/// One detector's candidates, sorted by symbol.
public struct DetectorCandidates: Sendable, Equatable, Codable {
    public var detector: String
    public var candidates: [Candidate]
}
