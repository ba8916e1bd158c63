import ASTBacktest
import ASTCalendar
import ASTCore
import Foundation
import Testing

/// Dollars as money (exact: the literals have at most four decimals).
func usd(_ text: String) -> Money { Money(text)! }
func px(_ text: String) -> Price { Price(units: Money(text)!.units) }
func day(_ text: String) -> LocalDate { LocalDate(text)! }

@Suite struct TradeLedgerTests {
    @Test func anEntryClosedByTwoExitsIsOneTradeAtTheVolumeWeightedExit() {
        var l = TradeLedger()
        l.apply(
            symbol: "AAA", side: .buy, quantity: 100, price: px("10"), commission: usd("1"), date: day("2025-01-02"), session: 0,
            key: "i1", reason: .stopLoss)
        l.apply(
            symbol: "AAA", side: .sell, quantity: 60, price: px("12"), commission: usd("0.6"), date: day("2025-01-06"), session: 2,
            key: "i1", reason: .takeProfit)
        l.apply(
            symbol: "AAA", side: .sell, quantity: 40, price: px("9"), commission: usd("0.4"), date: day("2025-01-08"), session: 4,
            key: "i1", reason: .stopLoss)
        let trades = l.finish { _ in nil }
        // Exit VWAP (60×12 + 40×9) / 100 = 10.80; P&L 1,080 − 1,000 − 1 − 0.6 − 0.4 = 78.
        #expect(
            trades == [
                BacktestTrade(
                    symbol: "AAA", side: .buy, entryDate: day("2025-01-02"), entryPrice: px("10"), exitDate: day("2025-01-08"),
                    exitPrice: px("10.8"), quantity: 100, pnl: usd("78"), commission: usd("2"), returnFraction: 0.078, barsHeld: 4,
                    exitReason: .stopLoss)
            ])
        #expect(l.commissions == usd("2"))
    }

    @Test func partialEntryFillsJoinOneLotAndAnExitSplitsItsCommissionFirstInFirstOut() {
        var l = TradeLedger()
        // Intent a fills 30 + 20 at 20 and 21; intent b fills 50 at 22.
        l.apply(
            symbol: "B", side: .buy, quantity: 30, price: px("20"), commission: usd("1"), date: day("2025-03-03"), session: 0, key: "a",
            reason: .reduce)
        l.apply(
            symbol: "B", side: .buy, quantity: 20, price: px("21"), commission: usd("1"), date: day("2025-03-04"), session: 1, key: "a",
            reason: .reduce)
        l.apply(
            symbol: "B", side: .buy, quantity: 50, price: px("22"), commission: usd("1"), date: day("2025-03-04"), session: 1, key: "b",
            reason: .reduce)
        // One sell of 70 at 25, commission 0.70: 50 close lot a (0.50), 20 go to lot b (the remaining 0.20).
        l.apply(
            symbol: "B", side: .sell, quantity: 70, price: px("25"), commission: usd("0.7"), date: day("2025-03-05"), session: 2, key: "x",
            reason: .reduce)
        let trades = l.finish { _ in (day("2025-03-06"), 3, px("23")) }
        #expect(trades.count == 2)
        // Lot a: 50 shares, cost 30×20 + 20×21 = 1,020 (VWAP 20.40), sold 1,250: 1,250 − 1,020 − 2 − 0.50 = 227.50.
        #expect(trades[0].entryPrice == px("20.4") && trades[0].quantity == 50 && trades[0].pnl == usd("227.5"))
        #expect(trades[0].exitReason == .reduce && trades[0].barsHeld == 2 && trades[0].commission == usd("2.5"))
        // Lot b: 20 sold at 25 (0.20 commission), 30 marked at 23 (none): 500 + 690 − 1,100 − 1 − 0.20 = 88.80.
        #expect(trades[1].exitPrice == px("23.8") && trades[1].pnl == usd("88.8") && trades[1].exitReason == .endOfData)
        #expect(trades[1].exitDate == day("2025-03-06") && trades[1].barsHeld == 2)
        // Every commission counted once: 3 + 0.70.
        #expect(l.commissions == usd("3.7"))
    }
}

@Suite struct StatisticsTests {
    func result(_ equity: [String], exposure: [String]? = nil, trades: [String] = [], capital: String = "100") -> BacktestResult {
        var d = day("2025-01-02")
        var days: [BacktestDay] = []
        for (i, e) in equity.enumerated() {
            let x = exposure.map { usd($0[i]) } ?? .zero
            days.append(BacktestDay(date: d, equity: usd(e), cash: usd(e) - x, exposure: x))
            d = d.adding(days: 1)
        }
        let t = trades.enumerated().map { i, p in
            BacktestTrade(
                symbol: "X", side: .buy, entryDate: day("2025-01-02"), entryPrice: px("1"), exitDate: day("2025-01-03"), exitPrice: px("1"),
                quantity: 1, pnl: usd(p), commission: usd("0.5"), returnFraction: 0, barsHeld: i + 1, exitReason: .signal)
        }
        let bench = PriceSeries(symbol: "IDX", dates: [], opens: [px("50")], closes: [px("40"), px("55")])
        return BacktestResult(
            parameters: [], capital: usd(capital), days: days, trades: t, commissions: usd("1.5"), benchmark: bench, charts: [])
    }

    @Test func theStatisticsMatchTheirFormulasComputedByHand() {
        let s = BacktestStatistics.compute(
            result(["110", "99", "121", "121"], exposure: ["50", "0", "60", "0"], trades: ["30", "-10", "5"]))
        // Returns: 110/100−1 = 0.1, 99/110−1 = −0.1, 121/99−1 = 2/9, 0.
        let r = [0.1, -0.1, 2.0 / 9.0, 0.0]
        let mean = (0.1 - 0.1 + 2.0 / 9.0 + 0) / 4
        let variance = r.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 3
        let sd = variance.squareRoot()
        let downside = (0.01 / 4).squareRoot()  // only −0.1 is below zero
        #expect(s.sessions == 4)
        #expect(abs(s.totalReturn - 0.21) < 1e-12)
        #expect(abs(s.cagr! - (pow(1.21, 252.0 / 4) - 1)) < 1e-9)
        #expect(abs(s.volatility! - sd * 252.0.squareRoot()) < 1e-12)
        #expect(abs(s.sharpe! - mean / sd * 252.0.squareRoot()) < 1e-12)
        #expect(abs(s.sortino! - mean / downside * 252.0.squareRoot()) < 1e-12)
        // Peak 110, trough 99: 10%, one session under water.
        #expect(abs(s.maxDrawdown - 0.1) < 1e-12)
        #expect(s.maxDrawdownDuration == 1)
        #expect(abs(s.calmar! - s.cagr! / 0.1) < 1e-9)
        #expect(s.trades == 3)
        #expect(abs(s.winRate! - 2.0 / 3) < 1e-12)
        #expect(abs(s.profitFactor! - 3.5) < 1e-12)  // 35 / 10
        #expect(abs(s.expectancy! - 25.0 / 3) < 1e-12)
        #expect(s.averageWin == 17.5 && s.averageLoss == -10)
        #expect(s.exposureTime == 0.5)
        #expect(abs(s.averageExposure! - (50.0 / 110 + 60.0 / 121) / 4) < 1e-12)
        #expect(s.averageBarsHeld == 2)
        #expect(s.commissions == 1.5)
        #expect(abs(s.benchmarkReturn! - 0.1) < 1e-12)  // 55 / 50 − 1
    }

    @Test func undefinedStatisticsAreNilNotZeroOrInfinite() {
        let s = BacktestStatistics.compute(result(["100", "100"]))
        #expect(s.sharpe == nil && s.sortino == nil && s.calmar == nil && s.profitFactor == nil && s.winRate == nil)
        #expect(s.maxDrawdown == 0 && s.maxDrawdownDuration == 0 && s.totalReturn == 0)
        let json = BacktestFiles.summaryJSON(result(["100", "100"]), s)
        #expect(json.contains("\"sharpe\": null") && !json.contains("inf") && !json.contains("nan"))
    }

    @Test func theDrawdownDurationCountsTheLongestRunBelowTheLastPeak() {
        // Peaks: 105, then under water 3 sessions, new peak 106, under water 2 sessions to the end.
        let s = BacktestStatistics.compute(result(["105", "100", "101", "104", "106", "90", "95"]))
        #expect(s.maxDrawdownDuration == 3)
        #expect(abs(s.maxDrawdown - 16.0 / 106) < 1e-12)
    }
}

@Suite struct BacktestFilesTests {
    @Test func theCSVFilesHaveTheDocumentedColumns() {
        let r = BacktestResult(
            parameters: [("mode", "research")], capital: usd("1000"),
            days: [
                BacktestDay(date: day("2025-01-02"), equity: usd("1000"), cash: usd("1000"), exposure: .zero),
                BacktestDay(date: day("2025-01-03"), equity: usd("950"), cash: usd("400"), exposure: usd("550")),
            ],
            trades: [
                BacktestTrade(
                    symbol: "AAA", side: .buy, entryDate: day("2025-01-03"), entryPrice: px("12"), exitDate: day("2025-01-03"),
                    exitPrice: px("11"), quantity: 50, pnl: usd("-50"), commission: .zero, returnFraction: -50.0 / 600, barsHeld: 0,
                    exitReason: .endOfData)
            ], commissions: .zero, benchmark: nil, charts: [])
        #expect(
            BacktestFiles.tradesCSV(r)
                == "symbol,side,entry_date,entry_price,exit_date,exit_price,quantity,pnl,return_pct,bars_held,exit_reason,commission\n"
                + "AAA,long,2025-01-03,12.00,2025-01-03,11.00,50,-50.00,-8.3333,0,end_of_data,0.00\n")
        #expect(
            BacktestFiles.equityCSV(r)
                == "date,equity,cash,exposure,drawdown,drawdown_pct\n2025-01-02,1000.00,1000.00,0.00,0.00,0.0000\n"
                + "2025-01-03,950.00,400.00,550.00,50.00,5.0000\n")
    }
}
