import ASTCalendar
import ASTCore
import ASTIndicators
import ASTMessages
import Testing

@testable import ASTStrategy

/// The exit plugins, each against hand-computed numbers. The position: 100 shares at an average
/// of 100.00, entered with its stop at 96.00 (R = 4.00).
@Suite struct ExitRulesTests {
    static let entryDay = sessions(before: scanDate, count: 20)[0]

    func position(close: Double, quantity: Int64 = 100, held: Int = 5, initial: Int64 = 100, holding: Bool = true) -> ExitPosition {
        ExitPosition(
            symbol: "AAA", quantity: Quantity(quantity), averagePrice: px(100), lastClose: px(close),
            holding: holding
                ? Holding(entryDate: Self.entryDay, sessionsHeld: held, initialQuantity: Quantity(initial), initialStop: px(96)) : nil)
    }

    func make<E: ExitRule>(_ e: E, _ params: PluginParameters = [:]) throws -> E {
        var e = e
        try e.validate(params)
        return e
    }

    let flat = context("AAA", series("AAA", closes: Array(repeating: 100, count: 40)), specs: [.atr(period: 14)])

    @Test func stopLossAndTakeProfitCloseAtTheirPercentOfTheAveragePrice() throws {
        let stop = try make(StopLossExit(), ["pct": .number(8)])  // 92.00
        #expect(stop.review(position(close: 92), flat) != .hold)
        #expect(stop.review(position(close: 92.01), flat) == .hold)
        let target = try make(TakeProfitExit(), ["pct": .number(20)])  // 120.00
        guard case .close(let q, _) = target.review(position(close: 120), flat) else {
            Issue.record("no close at 120")
            return
        }
        #expect(q == 100)
        #expect(target.review(position(close: 119.99), flat) == .hold)
    }

    @Test func theTimeStopClosesAfterMaxSessionsUnlessExtendedByProfit() throws {
        let plain = try make(TimeStopExit(), ["max_sessions": .number(5)])
        #expect(plain.review(position(close: 100, held: 4), flat) == .hold)
        #expect(plain.review(position(close: 100, held: 5), flat) != .hold)
        #expect(plain.review(position(close: 100, held: 5, holding: false), flat) == .hold)  // no entry known: hold
        let extending = try make(
            TimeStopExit(), ["max_sessions": .number(5), "extend_sessions": .number(3), "extend_if_r": .number(1)])
        // 104.00 is 1 R over 100.00: extended at 5 sessions, closed at 5 + 3.
        #expect(extending.review(position(close: 104, held: 5), flat) == .hold)
        #expect(extending.review(position(close: 104, held: 7), flat) == .hold)
        #expect(extending.review(position(close: 104, held: 8), flat) != .hold)
        // 103.99 is below 1 R: no extension.
        #expect(extending.review(position(close: 103.99, held: 5), flat) != .hold)
    }

    /// Flat at 100 (ATR(14) = 2: every bar ±1), then up by 1 a session to 110 from the entry
    /// day, then down: activated (110 − 100 = 10 ≥ 1 R = 4), trail 110 − 3 × 2 = 104.
    @Test func theTrailingStopActivatesAtAnRMultipleAndTrailsByATR() throws {
        let rule = try make(TrailingStopExit(), ["activation_r": .number(1), "atr_multiple": .number(3), "atr_period": .number(14)])
        func ctx(_ tail: [Double]) -> SymbolContext {
            let closes = Array(repeating: 100.0, count: 20) + (1...10).map { 100 + Double($0) } + tail
            let bars = series("AAA", closes: closes)
            // The entry day: the first bar above 100.
            return SymbolContext.build(
                date: scanDate, info: info("AAA"), bars: bars, plan: IndicatorPlan([.atr(period: 14)]), lookback: 40, regime: .bull)
        }
        let entry = NewYorkTime.local(series("AAA", closes: Array(repeating: 100.0, count: 20 + 10 + 7))[20].start).date
        func pos(_ close: Double) -> ExitPosition {
            ExitPosition(
                symbol: "AAA", quantity: 100, averagePrice: px(100), lastClose: px(close),
                holding: Holding(entryDate: entry, sessionsHeld: 17, initialQuantity: 100, initialStop: px(96)))
        }
        #expect(ctx([109, 108, 107, 106, 105, 104, 103.5]).indicators.value(.atr(period: 14)) == 2)
        #expect(rule.review(pos(103.5), ctx([109, 108, 107, 106, 105, 104, 103.5])) != .hold)  // below 104
        #expect(rule.review(pos(104.5), ctx([109, 108, 107, 106, 105, 105, 104.5])) == .hold)  // above 104
        // Never activated: the highest close 103 is under 1 R above 100: the bracket's stop rules.
        let low = SymbolContext.build(
            date: scanDate, info: info("AAA"),
            bars: series("AAA", closes: Array(repeating: 100.0, count: 30) + [101, 102, 103, 102, 101, 100, 99]),
            plan: IndicatorPlan([.atr(period: 14)]), lookback: 40, regime: .bull)
        #expect(rule.review(pos(99), low) == .hold)
    }

    /// Stages 1 R: half, 2 R: a quarter more, of the initial 100 shares.
    @Test func theStagedTakeProfitSellsEachStageOnce() throws {
        let rule = try make(StagedTakeProfitExit(), ["stages": .string("1:0.5,2:0.25")])
        #expect(rule.review(position(close: 104), flat) == .close(50, reason: rule.reasonFor(position(close: 104))))
        #expect(rule.review(position(close: 104, quantity: 50), flat) == .hold)  // stage 1 already taken
        // 2 R: keep 100 − 75 = 25.
        if case .close(let q, _) = rule.review(position(close: 108, quantity: 50), flat) { #expect(q == 25) } else { Issue.record("2 R") }
        if case .close(let q, _) = rule.review(position(close: 108), flat) { #expect(q == 75) } else { Issue.record("both stages") }
        #expect(rule.review(position(close: 103.99), flat) == .hold)
        // 101 shares: floor(50.5) = 50 sold at 1 R, 51 kept.
        if case .close(let q, _) = rule.review(position(close: 104, quantity: 101, initial: 101), flat) {
            #expect(q == 50)
        } else {
            Issue.record("101 shares")
        }
        #expect(rule.review(position(close: 110, holding: false), flat) == .hold)
    }

    @Test func exitConfigurationsAreValidatedByName() {
        var c = PipelineConfig()
        c.exits = [PluginConfig(name: "time_stop", params: ["max_sessions": .number(0)]), PluginConfig(name: "moon_exit")]
        let problems = c.problems()
        #expect(problems.contains { $0.contains("max_sessions") })
        #expect(problems.contains { $0.contains("unknown exit 'moon_exit'") })
        c.exits = [PluginConfig(name: "staged_take_profit", params: ["stages": .string("2:0.5,1:0.5")])]
        #expect(c.problems().contains { $0.contains("stages") })
    }

    /// The pipeline turns a close into a reduce-only market intent `<date>.exit-<rule>.<symbol>`
    /// for the risk gate (the largest of several rules' quantities).
    @Test func thePipelineMakesReduceOnlyExitIntents() throws {
        var c = PipelineConfig()
        c.exits = [
            PluginConfig(name: "time_stop", params: ["max_sessions": .number(5)]),
            PluginConfig(name: "staged_take_profit", params: ["stages": .string("1:0.5")]),
        ]
        let bars = series("AAA", closes: Array(repeating: 100.0, count: 300) + [104])
        let held = PositionSnapshot(quantity: 100, averagePrice: px(100), sector: "Technology", lastMark: px(104))
        var input = ScanInput(
            date: scanDate, universe: [SymbolHistory(info: info("AAA"), bars: bars)],
            index: series("IDX", closes: trend(from: 100, count: 300, stepPct: 0.1)),
            volatilityIndex: [], portfolio: portfolio(positions: ["AAA": held]))
        let none = PipelineRun(config: c).scan(input)
        #expect(none.intents.filter { $0.id.rawValue.contains(".exit-") }.isEmpty, "no holdings: the rules hold")
        input.holdings = ["AAA": Holding(entryDate: Self.entryDay, sessionsHeld: 6, initialQuantity: 100, initialStop: px(96))]
        let r = PipelineRun(config: c).scan(input)
        let exit = r.intents.first { $0.id.rawValue.contains(".exit-") }
        // The time stop closes 100 (staged: 50): the whole position.
        #expect(exit?.id.rawValue == "\(scanDate).exit-time_stop.AAA")
        #expect(exit?.side == .sell && exit?.quantity == 100 && exit?.entry == .market && exit?.stopLoss == nil)
        #expect(exit.map { OrderSpec.isReduceOnlyIntent($0.id) } == true)
        #expect(r.rationales.contains { $0.intent == exit?.id && $0.detector == "exit time_stop" })
    }
}

extension StagedTakeProfitExit {
    /// The reason the rule gives for `p` (for comparing a whole verdict).
    func reasonFor(_ p: ExitPosition) -> String {
        if case .close(_, let reason) = review(p, context("AAA", series("AAA", closes: [100]), specs: [])) { return reason }
        return ""
    }
}
