import ASTCalendar
import ASTCore
import ASTEngine
import ASTMarketData
import ASTStrategy

/// Builds the engine's ``EngineMarket`` from market data: a bar store (what the tree reads) or
/// a generated universe (the bundled data set, synthetic benchmarks), with the same mapping the
/// tree's scan input and reconciler use (strategy symbol info from the store's reference data,
/// splits only, events as the event guard's corporate events, sectors by symbol).
public enum EngineMarketData {
    /// Everything in `store` (daily bars, reference data, splits, events).
    public static func load(from store: BarStore) throws -> EngineMarket {
        let infos = try store.symbolInfo()
        let events = try store.events(from: LocalDate(year: 1900, month: 1, day: 1)!, to: LocalDate(year: 2200, month: 12, day: 31)!)
        return make(symbols: infos, bars: try store.allBars(), actions: try store.corporateActions(), events: events)
    }

    /// A generated universe, as it would be installed into a store.
    public static func make(_ universe: GeneratedUniverse) -> EngineMarket {
        make(symbols: universe.symbols, bars: universe.allBars, actions: universe.actions, events: universe.events)
    }

    public static func make(symbols infos: [SymbolInfo], bars: [Bar], actions: [CorporateAction], events: [MarketEvent])
        -> EngineMarket
    {
        let splits: [EngineSplit] = actions.compactMap {
            if case .split(let new, let old) = $0.kind {
                EngineSplit(symbol: $0.symbol, exDate: $0.exDate, newShares: new, oldShares: old)
            } else {
                nil
            }
        }
        let corporate = events.map {
            CorporateEvent(symbol: $0.symbol, date: $0.date, kind: CorporateEventKind(rawValue: $0.kind.rawValue) ?? .earnings)
        }
        let sectors = Dictionary(infos.map { ($0.symbol.rawValue, $0.sector ?? "") }, uniquingKeysWith: { a, _ in a })
        return EngineMarket(symbols: infos, bars: bars, splits: splits, events: corporate, sectors: sectors)
    }
}
