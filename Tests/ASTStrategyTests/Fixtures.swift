import ASTCalendar
import ASTCore
import ASTIndicators
import ASTRisk
import Synchronization

@testable import ASTStrategy

/// Monday 2026-03-02: the scan date of most tests; its previous session is Friday 2026-02-27.
let scanDate = LocalDate("2026-03-02")!

func d(_ text: String) -> LocalDate { LocalDate(text)! }
func px(_ x: Double) -> Price { Price(units: Int64((x * 10_000).rounded())) }

/// The `count` NYSE sessions before `date`, oldest first.
func sessions(before date: LocalDate, count: Int) -> [LocalDate] {
    var out: [LocalDate] = []
    var day = date
    while out.count < count {
        day = day.adding(days: -1)
        if TradingCalendar.nyse.isTradingDay(day) { out.append(day) }
    }
    return out.reversed()
}

func bar(_ symbol: Symbol, _ date: LocalDate, open: Double? = nil, high: Double, low: Double, close: Double, volume: Int64 = 200_000) -> Bar
{
    Bar(
        symbol: symbol, start: NewYorkTime.timestamp(date, LocalTime(hour: 9, minute: 30)), open: px(open ?? close), high: px(high),
        low: px(low), close: px(close), volume: volume)
}

/// Bars ending on the session before `date`, one per close, each `halfRange` dollars either side of
/// its close (so that with close-to-close moves of at most `2·halfRange`... the true range is
/// exactly `2·halfRange` when moves are at most `halfRange`).
func series(_ symbol: Symbol, closes: [Double], halfRange: Double = 1, volume: Int64 = 200_000, before date: LocalDate = scanDate) -> [Bar]
{
    let days = sessions(before: date, count: closes.count)
    return zip(days, closes).map { day, c in bar(symbol, day, high: c + halfRange, low: c - halfRange, close: c, volume: volume) }
}

/// Bars whose range is a percentage of the close (`rangePct` total, centred).
func pctSeries(_ symbol: Symbol, closes: [Double], rangePct: Double, volume: Int64 = 200_000, before date: LocalDate = scanDate) -> [Bar] {
    let days = sessions(before: date, count: closes.count)
    return zip(days, closes).map { day, c in
        bar(symbol, day, high: c * (1 + rangePct / 200), low: c * (1 - rangePct / 200), close: c, volume: volume)
    }
}

/// A steady trend: `count` closes from `start`, each `stepPct` % from the previous.
func trend(from start: Double, count: Int, stepPct: Double) -> [Double] {
    var c = start
    return (0..<count).map { _ in
        defer { c *= 1 + stepPct / 100 }
        return c
    }
}

func info(_ symbol: Symbol, exchange: String = "NASDAQ", sector: String? = "Technology", isIndex: Bool = false) -> SymbolInfo {
    SymbolInfo(symbol: symbol, exchange: exchange, sector: sector, isIndex: isIndex)
}

func portfolio(
    cash: Money = Money(dollars: 100_000)!, equity: Money = Money(dollars: 100_000)!,
    positions: [Symbol: PositionSnapshot] = [:]
) -> PortfolioSnapshot {
    PortfolioSnapshot(
        asOf: Timestamp(nanoseconds: 0), cash: cash, equity: equity, peakEquity: equity, startOfDayEquity: equity,
        positions: positions)
}

/// A context as the pipeline builds it.
func context(
    _ symbol: Symbol, _ bars: [Bar], specs: [IndicatorSpec], lookback: Int = 40, regime: MarketRegime = .bull,
    position: PositionSnapshot? = nil, date: LocalDate = scanDate
) -> SymbolContext {
    SymbolContext.build(
        date: date, info: info(symbol), bars: bars, plan: IndicatorPlan(specs), lookback: lookback, regime: regime,
        position: position)
}

/// The V-shaped path of the crossover tests: flat at 100 (the averages are equal, exactly), a
/// decline, then a rise, cut on the first bar where SMA(fast) closes above SMA(slow) after being
/// at or below it. Every close-to-close move is at most 1, so with ±1 bars the true range is
/// exactly 2 and ATR is 2.
func crossoverCloses(fast: Int = 5, slow: Int = 20) -> [Double] {
    var c: [Double] = Array(repeating: 100, count: 240)
    for _ in 0..<25 { c.append(c.last! - 0.5) }
    func sma(_ n: Int, at i: Int) -> Double { c[(i - n + 1)...i].reduce(0, +) / Double(n) }
    while true {
        c.append(c.last! + 1)
        let i = c.count - 1
        if sma(fast, at: i) > sma(slow, at: i) && sma(fast, at: i - 1) <= sma(slow, at: i - 1) { return c }
    }
}

/// Records the lifecycle calls of the test plugins.
final class LifecycleLog: Sendable {
    private let entries = Mutex<[String]>([])
    func record(_ s: String) { entries.withLock { $0.append(s) } }
    var all: [String] { entries.withLock { $0 } }
}

/// A detector that records init, validate, execute and cleanup, and fires on every symbol.
struct RecordingDetector: PatternDetector {
    let log: LifecycleLog
    var name: String { "recorder" }
    init(log: LifecycleLog) {
        self.log = log
        log.record("init")
    }
    mutating func validate(_ parameters: PluginParameters) throws(PluginConfigError) {
        log.record("validate")
        var r = ParameterReader(plugin: "detector recorder", parameters)
        _ = r.string("mode", default: "ok", oneOf: ["ok"])
        try r.finish()
    }
    var indicators: [IndicatorSpec] { [] }
    var lookback: Int { 1 }
    func detect(_ context: SymbolContext) -> Detection? {
        log.record("execute \(context.symbol)")
        return nil
    }
    func cleanup() { log.record("cleanup") }
}
