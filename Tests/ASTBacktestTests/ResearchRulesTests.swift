import ASTBacktest
import ASTCalendar
import ASTCore
import ASTPaperBroker
import Testing

/// The research loop's fill realism (``ResearchRules``): stops and targets by the exchange's
/// rules, the volume cap and Reg T margin, each against hand-computed numbers. The bars are
/// ResearchTests' fixture: sma_cross 2/3 buys 100 at bar 5's open (11.50) and its sell signal
/// fills at bar 8's open (9.50); each bar's high is max(open, close) + 0.05, its low
/// min(open, close) − 0.05 (bar 6: open 12.50, high 12.55, low 10.95, close 11; bar 7: open
/// 11.50, low 8.95, close 9).
@Suite struct ResearchRulesTests {
    static var opens: [String] { ResearchTests.opens }
    static var closes: [String] { ResearchTests.closes }

    func run(_ rules: ResearchRules, opens: [String] = opens, slippage: SlippageModel = .none, size: ResearchSpec.Size = .shares(100))
        -> BacktestResult
    {
        var s = ResearchSpec(
            strategy: .smaCross(fast: 2, slow: 3), size: size, fill: .nextOpen, commission: .zero, capital: usd("10000"),
            slippage: slippage)
        s.rules = rules
        return ResearchBacktest.run(researchBars(opens: opens, closes: Self.closes), s)
    }

    @Test func aStopBelowTheEntryFillsAtTheStopWhenTheBarTradesThroughIt() {
        // Stop 5 % below 11.50 = 10.925: bar 6's low 10.95 stays above, bar 7 (low 8.95) trades
        // through it from 11.50: sold at 10.925, 100 × (10.925 − 11.50) = −57.50.
        let r = run(ResearchRules(stopPct: 5))
        #expect(r.trades.count == 1)
        let t = r.trades[0]
        #expect(t.exitReason == .stopLoss && t.exitPrice == px("10.925") && t.pnl == usd("-57.5") && t.barsHeld == 2)
        #expect(r.days.last?.equity == usd("9942.5"))
    }

    @Test func aGapThroughTheStopFillsAtTheOpen() {
        // Stop 10 % below 11.50 = 10.35; bar 7 opens at 10.00, below it: sold at 10.00, −150.
        var opens = Self.opens
        opens[7] = "10"
        let t = run(ResearchRules(stopPct: 10), opens: opens).trades
        #expect(t.first?.exitReason == .stopLoss && t.first?.exitPrice == px("10") && t.first?.pnl == usd("-150"))
    }

    @Test func aTargetFillsAtTheLimitOrTheBetterOpen() {
        // Target 5 % above 11.50 = 12.075; bar 6 opens at 12.50, already above: sold at 12.50, +100.
        let t = run(ResearchRules(targetPct: 5)).trades
        #expect(t.first?.exitReason == .takeProfit && t.first?.exitPrice == px("12.5") && t.first?.pnl == usd("100"))
        // Target 9 % = 12.535: bar 6's high 12.55 reaches it after an open below: at 12.535.
        let u = run(ResearchRules(targetPct: 9)).trades
        #expect(u.first?.exitReason == .takeProfit && u.first?.exitPrice == px("12.535") && u.first?.pnl == usd("103.5"))
    }

    @Test func theTieBreakDecidesABarThatReachesStopAndTarget() {
        // Stop 4.5 % = 10.9825 (bar 6's low 10.95 reaches it), target 8 % = 12.42 (its high 12.55
        // reaches it). worst_case: the stop, 100 × (10.9825 − 11.50) = −51.75; best_case: the
        // target at the better open 12.50, +100; open_proximity: the target is 0.08 from the
        // open 12.50, the stop 1.5175: the target.
        func exit(_ rule: BothTouchedRule) -> BacktestTrade? {
            run(ResearchRules(stopPct: Percent("4.5")!, targetPct: 8, bothTouched: rule)).trades.first
        }
        #expect(exit(.worstCase)?.exitReason == .stopLoss && exit(.worstCase)?.pnl == usd("-51.75"))
        #expect(exit(.bestCase)?.exitReason == .takeProfit && exit(.bestCase)?.pnl == usd("100"))
        #expect(exit(.openProximity)?.exitReason == .takeProfit)
    }

    @Test func aTriggeredStopSlipsAndTheStopIsSetFromTheSlippedEntry() {
        // ticks:5: bought at 11.55; stop 5 % below = 11.55 − 0.5775 = 10.9725 (bar 6's low 10.95
        // reaches it); sold 5 ticks lower at 10.9225: 100 × (10.9225 − 11.55) = −62.75.
        let t = run(ResearchRules(stopPct: 5), slippage: .ticks(5)).trades
        #expect(t.first?.entryPrice == px("11.55") && t.first?.exitPrice == px("10.9225") && t.first?.pnl == usd("-62.75"))
    }

    @Test func theVolumeCapLimitsEveryFillAndAnExitsRestSellsAtTheNextOpen() {
        // 10 % of the volume: bar 5 trades 1,000 (the entry: 100 shares), bar 8 trades 300 (the
        // sell signal: 30 shares at 9.50), bar 9 the rest (70 at 8.50). One trade of 100, exit
        // price (30 × 9.50 + 70 × 8.50) / 100 = 8.80, P&L 100 × (8.80 − 11.50) = −270.
        var bars = researchBars(opens: Self.opens, closes: Self.closes)
        bars.volumes = [1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 300, 1_000]
        var s = ResearchSpec(
            strategy: .smaCross(fast: 2, slow: 3), size: .shares(500), fill: .nextOpen, commission: .zero, capital: usd("10000"))
        s.rules = ResearchRules(volumeCapPct: 10)
        let r = ResearchBacktest.run(bars, s)
        #expect(r.trades.count == 1)
        let t = r.trades[0]
        #expect(t.quantity == 100 && t.exitDate == bars.dates[9] && t.exitPrice == px("8.8") && t.pnl == usd("-270"))
        #expect(t.exitReason == .signal)
        #expect(r.days[8].exposure == usd("560"))  // 70 shares still held at bar 8's close (8.00)
    }

    @Test func regTBuysWithHalfMarginAndLiquidatesAtTheCloseOnAMaintenanceBreach() {
        // percent:200 with Reg T: 20,000 of buying power buys 1,739 shares at 11.50 (19,998.50):
        // cash −9,998.50. Bar 6's low is set to 7.00: worst-case value 1,739 × 7 = 12,173, equity
        // 2,174.50 < 25 % × 12,173 = 3,043.25: sold at bar 6's close 11.00: cash 9,130.50, P&L
        // 1,739 × (11.00 − 11.50) = −869.50.
        var bars = researchBars(opens: Self.opens, closes: Self.closes)
        bars.lows[6] = usd("7").units
        var s = ResearchSpec(
            strategy: .smaCross(fast: 2, slow: 3), size: .percent(200), fill: .nextOpen, commission: .zero, capital: usd("10000"))
        s.rules = ResearchRules(margin: .regt)
        let r = ResearchBacktest.run(bars, s)
        let t = r.trades.first
        #expect(t?.quantity == 1_739 && t?.exitReason == .marginCall && t?.exitDate == bars.dates[6] && t?.pnl == usd("-869.5"))
        #expect(r.days[5].cash == usd("-9998.5") && r.days[6].cash == usd("9130.5") && r.days[6].exposure == .zero)
        // A cash account buys at most what the cash buys: 869 shares (9,993.50).
        s.rules = ResearchRules()
        #expect(ResearchBacktest.run(bars, s).trades.first?.quantity == 869)
    }

    @Test func regTRequirementsAreHalfAndAQuarter() {
        #expect(RegT.buyingPower(equity: 100_000, positionsValue: 0) == 200_000)
        #expect(RegT.buyingPower(equity: 100_000, positionsValue: 50_000) == 150_000)
        #expect(RegT.buyingPower(equity: -1, positionsValue: 0) == 0)
        // 100 shares, cash −7,500: at a low of 100.00 equity is 2,500 = 25 % of 10,000 (no breach);
        // at 99.99 it is 2,499 < 2,499.75.
        let cash = Int128(usd("-7500").units)
        #expect(!RegT.breachesMaintenance(cash: cash, shares: 100, low: usd("100").units))
        #expect(RegT.breachesMaintenance(cash: cash, shares: 100, low: usd("99.99").units))
    }

    @Test func theOptionsParseOrNameWhatIsAccepted() throws {
        let r = try ResearchRules.parse(stop: "2.5", target: "10", bothTouched: "open_proximity", volumeCap: "10", margin: "regt")
        #expect(r == ResearchRules(stopPct: Percent("2.5")!, targetPct: 10, bothTouched: .openProximity, volumeCapPct: 10, margin: .regt))
        #expect(throws: ResearchError.self) { try ResearchRules.parse(stop: "0", target: nil, volumeCap: nil) }
        #expect(throws: ResearchError.self) { try ResearchRules.parse(stop: nil, target: nil, bothTouched: "coin", volumeCap: nil) }
        #expect(throws: ResearchError.self) { try ResearchRules.parse(stop: nil, target: nil, volumeCap: "101") }
        #expect(throws: ResearchError.self) { try ResearchRules.parse(stop: nil, target: nil, volumeCap: nil, margin: "portfolio") }
        // The default changes nothing: the same result as without rules.
        #expect(
            run(ResearchRules())
                == ResearchBacktest.run(
                    researchBars(opens: Self.opens, closes: Self.closes),
                    ResearchSpec(
                        strategy: .smaCross(fast: 2, slow: 3), size: .shares(100), fill: .nextOpen, commission: .zero, capital: usd("10000")
                    )))
    }
}

@Suite struct ResearchRiskSizingTests {
    /// risk:1 with a 5 % stop: 1 % of 10,000 = 100 at risk; the entry at 11.50 risks 0.575 a
    /// share (stop 10.925): ⌊100 / 0.575⌋ = 173 shares; the stop at bar 7 loses 173 × 0.575 =
    /// 99.475, within the 100 risked.
    @Test func fixedRiskSizesByTheDistanceToTheStop() throws {
        var s = try ResearchSpec.parse(strategy: "sma_cross:2,3", size: "risk:1", fill: "next_open", commission: "0", capital: usd("10000"))
        s.rules = ResearchRules(stopPct: 5)
        let t = ResearchBacktest.run(researchBars(opens: ResearchTests.opens, closes: ResearchTests.closes), s).trades.first
        #expect(t?.quantity == 173 && t?.exitReason == .stopLoss && t?.pnl == usd("-99.475"))
        // Without a stop nothing is risked, so nothing is bought.
        s.rules = ResearchRules()
        #expect(ResearchBacktest.run(researchBars(opens: ResearchTests.opens, closes: ResearchTests.closes), s).trades.isEmpty)
        #expect(throws: ResearchError.self) {
            try ResearchSpec.parse(strategy: "sma_cross:2,3", size: "risk:11", fill: "next_open", commission: "0", capital: usd("1"))
        }
    }
}
