import ASTCalendar
import ASTCore
import ASTMarketData

/// The production data set of SystemdProductionDayTests and scripts/chaos-systemd (served by
/// `ast-testpeer fake-polygon`), generated from a seed.
public enum ProductionData {
    /// A session of the standard universe whose 09:00 scan proposes an entry that the gate
    /// approves and that session's bar fills (`ast engine --from 2025-03-03 --sessions 2` over
    /// `ast ingest --bundled`: the 2025-03-04 entry fills that day).
    public static let tradedDay = "2025-03-04"

    public static func ms(_ date: LocalDate) -> Int64 {
        NewYorkTime.timestamp(date, LocalTime(hour: 0, minute: 0)).nanoseconds / 1_000_000
    }

    /// The ``UniverseGenerator``'s standard universe (seed 3) as Polygon would serve it, the
    /// `sessions` sessions through `last`: the stocks in the grouped-daily bars with a SIC code of
    /// their sector in their overview, the index IDX as the ETF SPY, the volatility index VOLX as
    /// the indices ticker I:VIX (no volume), its splits and dividends.
    public static func served(through last: LocalDate, sessions: Int) -> (
        data: [String: [FakePolygonServer.Aggregate]], tickers: [FakePolygonServer.Ticker], splits: [FakePolygonServer.Split],
        dividends: [FakePolygonServer.Dividend], stocks: Int
    ) {
        let u = BundledData.universe(UniverseGenerator.Configuration.standard)
        let dates = TradingCalendar.nyse.sessions(from: last.adding(days: -sessions * 2), to: last).suffix(sessions)
        let window = Set(dates.map(\.date))
        let sic = [
            "Technology": "3674", "Healthcare": "2834", "Financials": "6022", "Energy": "1311", "Industrials": "3721",
            "Consumer Discretionary": "5812", "Consumer Staples": "2080", "Utilities": "4911",
        ]
        let mic = ["NYSE": "XNYS", "NASDAQ": "XNAS", "AMEX": "XASE", "ARCA": "ARCX"]
        var data: [String: [FakePolygonServer.Aggregate]] = [:]
        var tickers: [FakePolygonServer.Ticker] = []
        var stocks = 0
        for (info, series) in zip(u.symbols, u.series) {
            let ticker = info.symbol == "IDX" ? "SPY" : info.symbol == "VOLX" ? "I:VIX" : info.symbol.rawValue
            data[ticker] = series.filter { window.contains($0.date) }.map { b in
                FakePolygonServer.Aggregate(
                    t: ms(b.date), o: "\(b.open)", h: "\(b.high)", l: "\(b.low)", c: "\(b.close)",
                    v: "\(b.volume == 0 && ticker == "SPY" ? 80_000_000 : b.volume)")
            }
            if ticker == "SPY" {
                tickers.append(.init(ticker: "SPY", name: "SPDR S&P 500 ETF Trust", primaryExchange: "ARCX", type: "ETF"))
            } else if !info.isIndex {
                stocks += 1
                tickers.append(
                    .init(
                        ticker: ticker, name: info.name, primaryExchange: mic[info.exchange] ?? "XNYS",
                        sicCode: info.sector.flatMap { sic[$0] }))
            }
        }
        var splits: [FakePolygonServer.Split] = []
        var dividends: [FakePolygonServer.Dividend] = []
        for a in u.actions where a.exDate <= last.adding(days: 60) {
            switch a.kind {
            case .split(let new, let old):
                splits.append(.init(ticker: a.symbol.rawValue, executionDate: a.exDate.description, splitFrom: "\(old)", splitTo: "\(new)"))
            case .dividend(let cash):
                dividends.append(.init(ticker: a.symbol.rawValue, exDividendDate: a.exDate.description, cashAmount: "\(cash)"))
            }
        }
        return (data, tickers, splits, dividends, stocks)
    }
}
