import ASTCalendar
import ASTCore
import ASTIndicators
import ASTRisk
import Testing

@testable import ASTStrategy

@Suite struct BracketMath {
    func plan(_ params: PluginParameters = [:], closes: [Double] = Array(repeating: 100, count: 30), high: Double = 1, low: Double = 1)
        throws -> TradePlan
    {
        var s = BracketStrategy()
        try s.validate(params)
        let days = sessions(before: scanDate, count: closes.count)
        let bars = zip(days, closes).map { day, c in bar("AAPL", day, high: c + high, low: c - low, close: c) }
        let ctx = context("AAPL", bars, specs: s.indicators)
        guard case .trade(let p) = s.plan(Candidate(symbol: "AAPL", detector: "x", close: px(100), summary: ""), ctx) else {
            Issue.record("no trade")
            throw CancellationError()
        }
        return p
    }

    @Test func stopIsKATRBelowTheEntryAndTargetRTimesTheRiskAbove() throws {
        // ±1 bars on a flat close: ATR14 = 2.00. Stop 100 − 2 × 2 = 96, target 100 + 2 × 4 = 108.
        let p = try plan()
        #expect(p.entry == px(100))
        #expect(p.stopLoss == px(96))
        #expect(p.takeProfit == px(108))
        #expect(p.atr == 2)
    }

    @Test func multiplesAndEntryOffsetAreParameters() throws {
        // entry 100 × 1.005 = 100.50; stop 100.50 − 1.5 × 2 = 97.50; target 100.50 + 3 × 3 = 109.50.
        let p = try plan(["stop_atr_multiple": .number(1.5), "reward_multiple": 3, "entry_offset_pct": .number(0.5)])
        #expect(p.entry == px(100.5))
        #expect(p.stopLoss == px(97.5))
        #expect(p.takeProfit == px(109.5))
    }

    @Test func pricesLandOnTheCentGridWithTheStopRoundedAway() throws {
        // True range 2.0001: stop distance 4.0002 -> 95.9998 -> 95.99; risk 4.01 -> target 108.02.
        let p = try plan(high: 1.0001)
        #expect(p.stopLoss == px(95.99))
        #expect(p.takeProfit == px(108.02))
        #expect(PriceGrid.isOnGrid(p.entry) && PriceGrid.isOnGrid(p.stopLoss) && PriceGrid.isOnGrid(p.takeProfit!))
    }

    @Test func priceGridRounding() {
        #expect(PriceGrid.nearestCent(Price("10.005")!) == Price("10.01")!)
        #expect(PriceGrid.nearestCent(Price("10.0049")!) == Price("10.00")!)
        #expect(PriceGrid.centBelow(Price("10.0099")!) == Price("10.00")!)
        #expect(PriceGrid.centAbove(Price("10.0001")!) == Price("10.01")!)
    }
}

@Suite struct IntentIDs {
    @Test func idsAreDateStrategyAndSymbol() {
        #expect(IntentNaming.intentID(date: d("2026-03-02"), strategy: "macross", symbol: "AAPL") == "2026-03-02.macross.AAPL")
        #expect(IntentNaming.intentID(date: d("2026-03-02"), strategy: "macross", symbol: "BRK.B") == "2026-03-02.macross.BRK.B")
    }

    @Test(arguments: ["", "MACROSS", "ma cross", "a.b", String(repeating: "x", count: 33)])
    func strategyIDsThatCannotFormAnIntentIDAreRefused(id: String) {
        #expect(IntentNaming.intentID(date: scanDate, strategy: id, symbol: "AAPL") == nil)
    }

    @Test func theLongestIDsFit() {
        let id = IntentNaming.intentID(date: scanDate, strategy: String(repeating: "x", count: 32), symbol: "ABCDEFGHIJKL")
        #expect(id != nil)
    }
}

@Suite struct StrategyEngineBehaviour {
    struct FixedStrategy: Strategy {
        var fixed: TradePlan?
        var name: String { "fixed" }
        var id: String { "fixed" }
        mutating func validate(_ parameters: PluginParameters) throws(PluginConfigError) {}
        var indicators: [IndicatorSpec] { [] }
        func plan(_ candidate: Candidate, _ context: SymbolContext) -> StrategyVerdict {
            fixed.map { .trade($0) } ?? .pass("nothing to do")
        }
    }

    func input(_ s: Symbol, detector: String = "a", rank: Int = 0) -> StrategyEngine.Input {
        StrategyEngine.Input(
            candidate: Candidate(symbol: s, detector: detector, close: px(50), summary: ""),
            context: context(s, series(s, closes: [50, 50]), specs: []), detectorRank: rank)
    }

    func run(_ strategy: FixedStrategy, _ inputs: [StrategyEngine.Input], cash: Money = Money(dollars: 100_000)!) -> StrategyOutput {
        StrategyEngine.run(
            strategy: strategy, inputs: inputs, sizer: PositionSizer(config: SizingConfig()), portfolio: portfolio(cash: cash),
            date: scanDate, now: Timestamp(nanoseconds: 42))
    }

    let plan = TradePlan(entry: px(50), stopLoss: px(47.5), takeProfit: px(55), atr: 1.25, rationale: "r")

    @Test func oneIntentPerSymbolFromTheFirstDetectorInOrder() {
        let out = run(
            FixedStrategy(fixed: plan), [input("MSFT"), input("AAPL", detector: "b", rank: 1), input("AAPL", detector: "a", rank: 0)])
        #expect(out.intents.map(\.id) == ["2026-03-02.fixed.AAPL", "2026-03-02.fixed.MSFT"])
        #expect(out.rationales.map(\.detector) == ["a", "a"])
        #expect(out.skipped.map(\.code) == ["DUPLICATE_SYMBOL"])
        let i = out.intents[0]
        #expect(i.side == .buy && i.entry == .limit(px(50)) && i.stopLoss == px(47.5) && i.takeProfit == px(55))
        #expect(i.quantity == 400 && i.sector == "Technology" && i.createdAt == Timestamp(nanoseconds: 42))
    }

    @Test func earlierIntentsCommitCashAgainstLaterOnes() {
        // 400 shares at 50 = 20,000 each; 30,000 of cash: the second gets 200.
        let out = run(FixedStrategy(fixed: plan), [input("AAPL"), input("MSFT")], cash: Money(dollars: 30_000)!)
        #expect(out.intents.map(\.quantity) == [400, 200])
        #expect(out.sizing.map(\.cappedBy) == [[], ["cash"]])
    }

    @Test func zeroSharesMeansNoIntentAndSaysWhy() {
        let out = run(FixedStrategy(fixed: plan), [input("AAPL")], cash: Money(dollars: 10)!)
        #expect(out.intents.isEmpty)
        #expect(out.skipped.map(\.code) == ["ZERO_SHARES"])
    }

    @Test func invalidBracketsAndShortPlansAreSkipped() {
        let inverted = TradePlan(entry: px(50), stopLoss: px(51), takeProfit: px(55), atr: nil, rationale: "")
        let short = TradePlan(side: .sell, entry: px(50), stopLoss: px(52), takeProfit: px(45), atr: nil, rationale: "")
        #expect(run(FixedStrategy(fixed: inverted), [input("AAPL")]).skipped.map(\.code) == ["INVALID_PLAN"])
        #expect(
            run(FixedStrategy(fixed: short), [input("AAPL")]).skipped.map(\.reason) == [
                "the pipeline is long-only: a sell plan is not accepted"
            ])
        #expect(run(FixedStrategy(fixed: nil), [input("AAPL")]).skipped.map(\.reason) == ["nothing to do"])
    }
}
