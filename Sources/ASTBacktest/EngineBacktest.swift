import ASTCalendar
import ASTCore
import ASTEngine

/// `ast backtest` over the engine: the engine's run (the tree's strategy, risk gate, sizing and
/// fill rules, unchanged) read as a backtest: its fills as trades, its 16:40 portfolios as the
/// daily equity, the market index as the benchmark.
public enum EngineBacktest {
    /// The backtest of `output`, an ``Engine`` run of `sessions` over `market` from `capital`.
    /// Exits are named by the leg that filled (`<intent>.S` stop loss, `.T` take profit, an entry
    /// leg on the closing side a reduction); positions still open at the end are valued at their
    /// last close. `charts`: how many of the most traded symbols get a price chart.
    public static func result(
        output: EngineOutput, market: EngineMarket, sessions: [Session], capital: Money, parameters: [(String, String)],
        charts: Int = 4
    ) -> BacktestResult {
        var index: [LocalDate: Int] = [:]
        for (i, s) in sessions.enumerated() { index[s.date] = i }
        func session(_ d: LocalDate) -> Int {
            if let i = index[d] { return i }
            return sessions.lastIndex { $0.date <= d } ?? 0
        }
        var ledger = TradeLedger()
        for report in output.reports {
            guard case .fill(let f) = report.event else { continue }
            let date = NewYorkTime.local(f.at).date
            let id = f.clientOrderID.rawValue
            let (key, leg) = id.count > 2 && id.dropLast().hasSuffix(".") ? (String(id.dropLast(2)), id.last) : (id, nil)
            let reason: ExitReason = leg == "S" ? .stopLoss : leg == "T" ? .takeProfit : ExitReason.ofExitIntent(key) ?? .reduce
            ledger.apply(
                symbol: f.symbol, side: f.side, quantity: f.quantity.shares, price: f.price, commission: f.commission, date: date,
                session: session(date), key: key, reason: reason)
        }
        let last = sessions.last?.date
        let position = Dictionary(market.symbols.enumerated().map { ($1.symbol, $0) }, uniquingKeysWith: { a, _ in a })
        let trades = ledger.finish { symbol in
            guard let last, let i = position[symbol], let j = market.dates[i].lastIndex(where: { $0 <= last }) else { return nil }
            return (last, sessions.count - 1, market.bars[i][j].close)
        }
        let days = output.sessions.map { BacktestDay(date: $0.date, equity: $0.equity, cash: $0.cash, exposure: $0.equity - $0.cash) }
        let first = sessions.first?.date
        func series(_ i: Int) -> PriceSeries {
            var s = PriceSeries(symbol: market.symbols[i].symbol, dates: [], opens: [], closes: [])
            guard let first, let last else { return s }
            for (j, d) in market.dates[i].enumerated() where d >= first && d <= last {
                s.dates.append(d)
                s.opens.append(market.bars[i][j].open)
                s.closes.append(market.bars[i][j].close)
            }
            return s
        }
        let benchmark = market.symbols.indices.first {
            market.symbols[$0].isIndex && market.symbols[$0].symbol != EngineScan.volatilitySymbol
        }
        .map(series)
        var counts: [Symbol: Int] = [:]
        for t in trades { counts[t.symbol, default: 0] += 1 }
        let chartSymbols = counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.prefix(max(0, charts)).map(\.key)
        return BacktestResult(
            parameters: parameters, capital: capital, days: days, trades: trades, commissions: ledger.commissions, benchmark: benchmark,
            charts: chartSymbols.compactMap { position[$0] }.map(series))
    }
}
