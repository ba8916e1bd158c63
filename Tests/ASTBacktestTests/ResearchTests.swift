import ASTBacktest
import ASTCalendar
import ASTCore
import Foundation
import Testing

/// Bars from dollar texts; dates are consecutive NYSE sessions from 2025-01-02.
func researchBars(opens: [String], closes: [String], symbol: Symbol = "SMA") -> ResearchBars {
    let dates = Array(TradingCalendar.nyse.sessions(from: day("2025-01-02"), to: day("2026-12-31")).prefix(closes.count).map(\.date))
    let o = opens.map { usd($0).units }, c = closes.map { usd($0).units }
    return ResearchBars(
        symbol: symbol, dates: dates, opens: o, highs: zip(o, c).map { max($0, $1) + 500 }, lows: zip(o, c).map { min($0, $1) - 500 },
        closes: c)
}

@Suite struct ResearchTests {
    // Fast 2, slow 3. Closes 10 9 8 9 11 12 11 9 8 8: fast − slow is −0.5, −0.17, +0.67 (bar 4: the
    // cross above), +0.83, +0.17, −0.67 (bar 7: the cross below), −0.83, −0.33.
    static let closes = ["10", "9", "8", "9", "11", "12", "11", "9", "8", "8"]
    static let opens = ["10", "10.5", "9.5", "8.5", "9.5", "11.5", "12.5", "11.5", "9.5", "8.5"]

    func spec(_ fill: ResearchSpec.Fill = .nextOpen, commission: CommissionModel = .zero) -> ResearchSpec {
        ResearchSpec(strategy: .smaCross(fast: 2, slow: 3), size: .shares(100), fill: fill, commission: commission, capital: usd("10000"))
    }

    @Test func smaCrossBuysAtTheNextOpenAfterTheCrossAboveAndSellsAfterTheCrossBelow() {
        let bars = researchBars(opens: Self.opens, closes: Self.closes)
        let r = ResearchBacktest.run(bars, spec())
        // Buy 100 at bar 5's open (11.50), sell at bar 8's open (9.50): −200, held 3 sessions.
        #expect(r.trades.count == 1)
        let t = r.trades[0]
        #expect(t.entryDate == bars.dates[5] && t.entryPrice == px("11.5") && t.exitDate == bars.dates[8] && t.exitPrice == px("9.5"))
        #expect(t.quantity == 100 && t.pnl == usd("-200") && t.barsHeld == 3 && t.exitReason == .signal)
        // Equity: 10,000 until bar 4; cash 8,850 + 100 × close on bars 5–7; 9,800 after the sale.
        #expect(r.days.map(\.equity) == ["10000", "10000", "10000", "10000", "10000", "10050", "9950", "9750", "9800", "9800"].map(usd))
        #expect(r.days[6].cash == usd("8850") && r.days[6].exposure == usd("1100"))
    }

    @Test func aPerShareCommissionWithAMinimumIsChargedOnBothFills() {
        let r = ResearchBacktest.run(
            researchBars(opens: Self.opens, closes: Self.closes),
            spec(commission: .perShare(rate: usd("0.005"), minimum: usd("1"), maximumBps: 0)))
        // 100 × 0.005 = 0.50, raised to the 1.00 minimum, on the buy and on the sell.
        #expect(r.trades.first?.pnl == usd("-202") && r.commissions == usd("2"))
        #expect(r.days.last?.equity == usd("9798"))
    }

    @Test func slippageMovesEveryFillAgainstTheTrader() throws {
        let bars = researchBars(opens: Self.opens, closes: Self.closes)
        var s = spec()
        s.slippage = try SlippageModel.parse("ticks:5")
        // Buy at 11.50 + 0.05, sell at 9.50 − 0.05: 100 × (9.45 − 11.55) = −210.
        let ticks = ResearchBacktest.run(bars, s).trades
        #expect(ticks.first?.entryPrice == px("11.55") && ticks.first?.exitPrice == px("9.45") && ticks.first?.pnl == usd("-210"))
        s.slippage = try SlippageModel.parse("bps:100")
        // 1%: 11.615 and 9.405: 100 × (9.405 − 11.615) = −221.
        let bps = ResearchBacktest.run(bars, s).trades
        #expect(bps.first?.entryPrice == px("11.615") && bps.first?.exitPrice == px("9.405") && bps.first?.pnl == usd("-221"))
        #expect(throws: ResearchError.self) { try SlippageModel.parse("pct:1") }
    }

    /// Prices at the edge of what a CSV can hold, a 100% commission and slippage: the run ends,
    /// at once (sizing is not a loop per share), with numbers (saturated where they must be),
    /// never a trap.
    @Test func absurdPricesAndCommissionsNeverTrap() throws {
        let huge = Int64.max / 2
        var o = Array(repeating: Int64(10_000), count: 40)
        var c = o
        // Up from 1 to 2 at bar 5 (a buy at bar 6's open of 1), to the edge at bar 12, down to 1
        // at bar 20: the sale at bar 21's open is worth ~10^33 units, its commission saturates.
        for k in 0..<5 { c[k] = 14_000 - 1_000 * Int64(k) }
        for k in 5..<12 { c[k] = 20_000 }
        for k in 12..<40 { o[k] = huge }
        for k in 12..<20 { c[k] = huge + Int64(k) }
        let dates = Array(TradingCalendar.nyse.sessions(from: day("2025-01-02"), to: day("2025-12-31")).prefix(40).map(\.date))
        let bars = ResearchBars(symbol: "BIG", dates: dates, opens: o, highs: c, lows: o, closes: c)
        for commission in ["percent:100", "per_share:999999,999999,0"] {
            let s = try ResearchSpec.parse(
                strategy: "sma_cross:2,3", size: "percent:100", fill: "next_open", commission: commission, capital: usd("900000000000000"),
                slippage: "bps:10000")
            let r = ResearchBacktest.run(bars, s)
            #expect(r.days.count == 40)
            #expect(r.trades.first?.exitDate == dates[21], "\(r.trades)")
            let stats = BacktestStatistics.compute(r)
            _ = BacktestFiles.equityCSV(r)
            _ = BacktestFiles.tradesCSV(r)
            _ = BacktestFiles.summaryJSON(r, stats)
            _ = BacktestFiles.reportMarkdown(r, stats)
            _ = BacktestHTML.report(r, stats)
        }
    }

    @Test func closeFillsTradeAtTheDecidingBarsClose() {
        let bars = researchBars(opens: Self.opens, closes: Self.closes)
        let r = ResearchBacktest.run(bars, spec(.close))
        #expect(r.trades.count == 1)
        #expect(r.trades[0].entryDate == bars.dates[4] && r.trades[0].entryPrice == px("11") && r.trades[0].exitPrice == px("9"))
        #expect(r.trades[0].pnl == usd("-200"))
    }

    @Test func aPositionOpenAtTheEndIsValuedAtTheLastClose() {
        let bars = researchBars(opens: Array(Self.opens.prefix(7)), closes: Array(Self.closes.prefix(7)))
        let r = ResearchBacktest.run(bars, spec())
        // Bought at 11.50 on bar 5, the data ends at bar 6's close of 11: −50, not sold.
        #expect(r.trades.count == 1 && r.trades[0].exitReason == .endOfData && r.trades[0].pnl == usd("-50"))
        #expect(r.trades[0].exitDate == bars.dates[6] && r.trades[0].barsHeld == 1)
        #expect(r.days.last?.equity == usd("9950"))
    }

    @Test func anEntryNeverBuysMoreThanTheCashDoes() {
        var s = spec(commission: .perShare(rate: usd("1"), minimum: .zero, maximumBps: 0))
        s.capital = usd("500")  // 11.50 + 1 a share: 40 shares cost 500
        let r = ResearchBacktest.run(researchBars(opens: Self.opens, closes: Self.closes), s)
        #expect(r.trades.first?.quantity == 40)
        #expect(r.days.allSatisfy { $0.cash.units >= 0 })
    }

    @Test func theOptionsParseAndRefuseWithTheAcceptedForms() throws {
        let s = try ResearchSpec.parse(
            strategy: "sma_cross:10,20", size: "percent:50", fill: "next_open", commission: "per_share:0.005,1,50", capital: usd("1"))
        #expect(s.strategy == .smaCross(fast: 10, slow: 20) && s.size == .percent(50))
        #expect(s.commission == .perShare(rate: usd("0.005"), minimum: usd("1"), maximumBps: 50))
        #expect(try CommissionModel.parse("percent:0.1") == .proportional(ppm: 1000))
        #expect(throws: ResearchError.self) {
            try ResearchSpec.parse(strategy: "sma_cross:20,10", size: "shares:1", fill: "close", commission: "0", capital: usd("1"))
        }
        #expect(throws: ResearchError.self) {
            try ResearchSpec.parse(strategy: "rsi:14", size: "shares:1", fill: "close", commission: "0", capital: usd("1"))
        }
        #expect(throws: ResearchError.self) {
            try ResearchSpec.parse(strategy: "sma_cross:2,3", size: "shares:0", fill: "close", commission: "0", capital: usd("1"))
        }
        #expect(throws: ResearchError.self) { try CommissionModel.parse("per_share:-1") }
    }

    @Test func commissionsFollowTheirSchedules() {
        let ibkr = CommissionModel.perShare(rate: usd("0.0035"), minimum: usd("0.35"), maximumBps: 100)
        #expect(ibkr.charge(quantity: 50, price: usd("20").units) == usd("0.35").units)  // 0.175 → the minimum
        #expect(ibkr.charge(quantity: 1000, price: usd("20").units) == usd("3.5").units)  // 3.50
        #expect(ibkr.charge(quantity: 1000, price: usd("0.2").units) == usd("2").units)  // 3.50 capped at 1% of 200
        #expect(CommissionModel.proportional(ppm: 1000).charge(quantity: 100, price: usd("12.34").units) == usd("1.234").units)
    }

    /// No look-ahead: for every bar t, changing every later bar (and bar t+1 except its open)
    /// changes nothing the run did through bar t, nor a fill at bar t+1's open.
    @Test func noDecisionReadsABarOfItsOwnOrALaterSessionBeforeThatPhase() {
        var rng = SplitMix64(seed: 7)
        var c: [Int64] = [], o: [Int64] = []
        var p = 1_000_000.0
        for _ in 0..<160 {
            o.append(Int64(p * (1 + 0.01 * rng.normal())))
            p *= 1 + 0.02 * rng.normal()
            c.append(Int64(p))
        }
        let dates = Array(TradingCalendar.nyse.sessions(from: day("2020-01-02"), to: day("2021-12-31")).prefix(160).map(\.date))
        func bars(_ o: [Int64], _ c: [Int64]) -> ResearchBars {
            ResearchBars(
                symbol: "RW", dates: dates, opens: o, highs: zip(o, c).map { max($0, $1) }, lows: zip(o, c).map { min($0, $1) }, closes: c)
        }
        for fill in [ResearchSpec.Fill.nextOpen, .close] {
            let s = ResearchSpec(
                strategy: .smaCross(fast: 3, slow: 8), size: .shares(10), fill: fill, commission: .zero, capital: usd("100000"))
            let base = ResearchBacktest.run(bars(o, c), s)
            #expect(base.trades.count >= 3, "the walk crosses: \(base.trades.count) trades")
            for t in stride(from: 8, to: 158, by: 5) {
                var o2 = o, c2 = c
                for k in (t + 1)..<160 {
                    c2[k] = c[k] * 3 + Int64(k)  // every later close
                    if k > t + 1 { o2[k] = o[k] / 2 }  // every later open but the next one
                }
                let changed = ResearchBacktest.run(bars(o2, c2), s)
                #expect(Array(changed.days.prefix(t + 1)) == Array(base.days.prefix(t + 1)), "bar \(t), \(fill)")
                // A next-open fill at bar t+1 was decided at t; a close fill at t+1 reads bar t+1's close.
                let through = fill == .nextOpen ? dates[t + 1] : dates[t]
                #expect(
                    changed.trades.filter { $0.entryDate <= through }.map { [$0.entryDate.description, $0.entryPrice.description] }
                        == base.trades.filter { $0.entryDate <= through }.map { [$0.entryDate.description, $0.entryPrice.description] },
                    "bar \(t), \(fill)")
            }
        }
    }
}
