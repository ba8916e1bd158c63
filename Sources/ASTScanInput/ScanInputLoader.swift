import ASTCalendar
import ASTCore
import ASTMarketData
import ASTRisk
import ASTStrategy
import Logging

/// Reads what the 09:00 scan of a date may know from the bar store: the one place where
/// ast-strategy's scheduled scan and `ast scan --date` build their ``ScanInput``.
///
/// No look-ahead: bars strictly before the date (about 400 calendar days of them for the
/// universe filter and the detectors; the indicators, carried in ``ScanIndicators``, cover every
/// bar since the symbol's first), split adjustments only for splits with an ex-date on or before the date, and the events calendar
/// 30 days either side. Symbols flagged as indexes are the regime's inputs (`VOLX` the
/// volatility index, any other the market index), never part of the tradable universe.
public enum ScanInputLoader {
    /// Calendar days of history read before the date (enough for a 200-session SMA and more).
    public static let historyDays = 400
    /// Calendar days of events read on each side of the date.
    public static let eventDays = 30
    /// The index symbol read as the volatility index.
    public static let volatilitySymbol: Symbol = "VOLX"

    /// Opens the store at `storePath`, reads the input of the scan of `date`, closes the store.
    public static func load(storePath: String, date: LocalDate, now: Timestamp, portfolio: PortfolioSnapshot, logger: Logger) throws
        -> ScanInput
    {
        let store = try BarStore(path: storePath, logger: logger)
        defer { try? store.close() }
        return try load(from: store, date: date, now: now, portfolio: portfolio)
    }

    /// Reads the input of the scan of `date` from an open store.
    public static func load(from store: BarStore, date: LocalDate, now: Timestamp, portfolio: PortfolioSnapshot) throws -> ScanInput {
        let infos = try store.symbolInfo()
        let from = date.adding(days: -historyDays)
        let to = date.adding(days: -1)
        var universe: [SymbolHistory] = []
        var index: [Bar] = []
        var volatility: [Bar] = []
        for info in infos {
            // Only what was known before the session: bars before it, corporate actions up to it.
            let raw = try store.bars(info.symbol, from: from, to: to)
            let actions = try store.corporateActions(info.symbol).filter { $0.exDate <= date }
            let bars = BackAdjustment.apply(raw, actions: actions, mode: .splits)
            let splits = actions.filter { if case .split = $0.kind { true } else { false } }.count
            if info.isIndex {
                if info.symbol == volatilitySymbol { volatility = bars } else { index = bars }
            } else {
                universe.append(SymbolHistory(info: info, bars: bars, splits: splits))
            }
        }
        let events = try store.events(from: date.adding(days: -eventDays), to: date.adding(days: eventDays)).map {
            CorporateEvent(symbol: $0.symbol, date: $0.date, kind: CorporateEventKind(rawValue: $0.kind.rawValue) ?? .earnings)
        }
        return ScanInput(
            date: date, now: now, universe: universe, index: index, volatilityIndex: volatility, portfolio: portfolio, events: events)
    }

    /// Advances `indicators` (carried from earlier scans, or new: `pipeline`'s) to `input`, reading
    /// from the store the whole history of a symbol whose track must be rebuilt (its first scan,
    /// a new split): every bar before the date since the symbol's first, split-adjusted as the
    /// input's bars. Sets `input.indicators`. Nil when the pipeline's configuration is refused.
    public static func advance(
        _ indicators: ScanIndicators?, for input: inout ScanInput, pipeline: PipelineRun, store: BarStore
    ) throws -> ScanIndicators? {
        guard var carried = indicators ?? pipeline.scanIndicators() else { return nil }
        let date = input.date
        try carried.advance(input) { i in
            let symbol = input.universe[i].info.symbol
            let raw = try store.bars(symbol, to: date.adding(days: -1))
            let actions = try store.corporateActions(symbol).filter { $0.exDate <= date }
            return BackAdjustment.apply(raw, actions: actions, mode: .splits)
        }
        input.indicators = carried
        return carried
    }

    /// ``load(from:date:now:portfolio:)`` and ``advance(_:for:pipeline:store:)`` on one store.
    public static func load(
        storePath: String, date: LocalDate, now: Timestamp, portfolio: PortfolioSnapshot, pipeline: PipelineRun,
        indicators: inout ScanIndicators?, logger: Logger
    ) throws -> ScanInput {
        let store = try BarStore(path: storePath, logger: logger)
        defer { try? store.close() }
        var input = try load(from: store, date: date, now: now, portfolio: portfolio)
        indicators = try advance(indicators, for: &input, pipeline: pipeline, store: store)
        return input
    }
}
