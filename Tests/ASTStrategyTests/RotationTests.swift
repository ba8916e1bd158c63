import ASTCalendar
import ASTCore
import ASTIndicators
import ASTMessages
import Testing

@testable import ASTStrategy

/// Position rotation (`strategy.rotation`) against hand-computed numbers. Every series has 21
/// closes: 100, then twenty equal closes X, so ROC20 = (X / 100 − 1) × 100 exactly. Holdings:
/// AAA (X 102: ROC 2) and BBB (X 95: ROC −5), 100 shares each at an average of 100. Candidates:
/// CCC (X 120: ROC 20) and DDD (X 108: ROC 8). The bracket strategy enters at the last close;
/// sizing is fixed_percent, 10 % of the equity.
@Suite struct RotationTests {
    static func closes(_ x: Double) -> [Double] { [100] + Array(repeating: x, count: 20) }
    static let held: [Symbol: Double] = ["AAA": 102, "BBB": 95]
    static let candidates: [Symbol: Double] = ["CCC": 120, "DDD": 108]

    func rule(_ params: PluginParameters) throws -> RotationRule {
        var r = RotationRule()
        try r.validate(params)
        return r
    }

    func ctx(_ symbol: Symbol, _ x: Double) -> SymbolContext {
        context(symbol, series(symbol, closes: Self.closes(x)), specs: [.atr(period: 14)])
    }

    /// The scan's rotation with `cash` and `equity` (dollars), the rule's `params`, and the
    /// holdings held `sessionsHeld` sessions; the strategy engine runs first, as in the scan.
    func rotate(
        _ params: PluginParameters, cash: Int64 = 0, equity: Int64 = 20_000, sessionsHeld: Int = 3
    ) throws -> (RotationOutcome, StrategyOutput) {
        var positions: [Symbol: PositionSnapshot] = [:]
        var contexts: [Symbol: SymbolContext] = [:]
        var holdings: [Symbol: Holding] = [:]
        for (s, x) in Self.held {
            let p = PositionSnapshot(quantity: 100, averagePrice: px(100), sector: "Technology", lastMark: px(x))
            positions[s] = p
            contexts[s] = ctx(s, x)
            holdings[s] = Holding(entryDate: d("2026-02-20"), sessionsHeld: sessionsHeld, initialQuantity: 100, initialStop: px(96))
        }
        var input = ScanInput(
            date: scanDate, universe: [], index: [], volatilityIndex: [],
            portfolio: portfolio(cash: Money(dollars: cash)!, equity: Money(dollars: equity)!, positions: positions))
        input.holdings = holdings
        let survivors = Self.candidates.sorted { $0.key < $1.key }.map { s, x in
            StrategyEngine.Input(candidate: Candidate(symbol: s, detector: "test", close: px(x), summary: "test"), context: ctx(s, x))
        }
        var strategy = BracketStrategy()
        try strategy.validate([:])
        var sizing = SizingConfig()
        sizing.method = .fixedPercent
        let sizer = PositionSizer(config: sizing)
        let output = StrategyEngine.run(
            strategy: strategy, inputs: survivors, sizer: sizer, portfolio: input.portfolio, date: scanDate, now: input.now)
        let r = try rule(params)
        let out = PipelineRun().rotation(
            input, rule: r, strategy: strategy, sizer: sizer, survivors: survivors, output: output, exiting: [], contexts: contexts)
        return (out, output)
    }

    @Test func theScoreIsTheRateOfChangeOverItsPeriod() throws {
        let r = try rule(["enabled": .bool(true)])
        #expect(r.score(series("AAA", closes: Self.closes(102))[...]) == (102.0 / 100 - 1) * 100)
        #expect(r.score(series("AAA", closes: Array(Self.closes(102).dropFirst()))[...]) == nil, "20 bars: no ROC20")
    }

    /// Full book (2 held, max_positions 2), no cash: CCC (ROC 20) replaces the weakest, BBB
    /// (ROC −5): 25 ≥ 5 points. BBB's 100 shares sold at the open by `exit-rotation`; CCC sized
    /// with BBB's value at its last close (100 × 95.00 = 9,500.00) as its cash: 10 % of 20,000 =
    /// 2,000 / 120.00 = 16 shares (no cap binds).
    @Test func aFullBookSwapsTheWeakestHoldingForTheStrongestCandidate() throws {
        let (out, engine) = try rotate(["enabled": .bool(true), "max_positions": .number(2)])
        #expect(engine.intents.isEmpty && engine.skipped.map(\.code) == ["ZERO_SHARES", "ZERO_SHARES"])
        #expect(out.intents.map(\.id.rawValue) == ["2026-03-02.bracket.CCC", "2026-03-02.exit-rotation.BBB"])
        let buy = try #require(out.intents.first), sell = try #require(out.intents.last)
        #expect(buy.side == .buy && buy.quantity == 16 && buy.entry == .limit(px(120)) && buy.stopLoss != nil)
        #expect(sell.side == .sell && sell.quantity == 100 && sell.entry == .market && sell.stopLoss == nil)
        #expect(out.sizing.first?.availableCash == Money(dollars: 9_500)!)
        #expect(out.sizing.first?.cappedBy == [])
        #expect(out.bought == ["CCC"])
        #expect(out.rationales.last?.rationale.contains("beats BBB's") == true, "\(out.rationales)")
    }

    /// max_per_session bounds the swaps: at 2, DDD (ROC 8) then replaces AAA (ROC 2), 6 ≥ 5. The
    /// sells come in the order of the swaps: the weakest holding (BBB) first.
    @Test func theLimitPerSessionBoundsTheSwaps() throws {
        let one = try rotate(["enabled": .bool(true), "max_positions": .number(2)]).0
        let two = try rotate(["enabled": .bool(true), "max_positions": .number(2), "max_per_session": .number(2)]).0
        #expect(one.bought == ["CCC"])
        #expect(two.bought == ["CCC", "DDD"])
        #expect(two.intents.filter { $0.side == .sell }.map(\.symbol) == ["BBB", "AAA"])
    }

    /// The advantage must reach min_score_advantage: CCC beats BBB by 25 points, not by 30.
    @Test func noSwapWithoutTheMarginOfAdvantage() throws {
        #expect(try rotate(["enabled": .bool(true), "max_positions": .number(2), "min_score_advantage": .number(24)]).0.bought == ["CCC"])
        #expect(try rotate(["enabled": .bool(true), "max_positions": .number(2), "min_score_advantage": .number(30)]).0.intents.isEmpty)
    }

    /// A book with free slots and cash: the strategy engine enters both candidates, nothing rotates;
    /// disabled, or holdings younger than min_sessions_held: nothing rotates either.
    @Test func noRotationWhenTheBookIsNotFullOrTheRuleIsOff() throws {
        let (free, engine) = try rotate(["enabled": .bool(true), "max_positions": .number(10)], cash: 100_000, equity: 120_000)
        #expect(engine.intents.count == 2 && free.intents.isEmpty)
        #expect(try rotate(["enabled": .bool(false), "max_positions": .number(2)]).0.intents.isEmpty)
        #expect(try rotate(["enabled": .bool(true), "max_positions": .number(2), "min_sessions_held": .number(4)]).0.intents.isEmpty)
    }

    /// One free slot (max_positions 3, 2 held) and cash for both candidates: the strategy engine
    /// enters both, rotation keeps the stronger (CCC, ROC 20) and withdraws DDD (ROC 8), which
    /// then replaces BBB (ROC −5): 13 ≥ 5.
    @Test func entriesBeyondTheFreeSlotsAreWithdrawnAndMayRotateIn() throws {
        let (out, engine) = try rotate(["enabled": .bool(true), "max_positions": .number(3)], cash: 100_000, equity: 120_000)
        #expect(engine.intents.map(\.symbol) == ["CCC", "DDD"])
        #expect(out.withdrawn == ["DDD"] && out.bought == ["DDD"])
        #expect(out.intents.map(\.id.rawValue) == ["2026-03-02.bracket.DDD", "2026-03-02.exit-rotation.BBB"])
    }

    /// A book not full by count whose cash is spent (the candidates got no shares) is full by
    /// exposure: it rotates.
    @Test func aBookWithoutCashIsFullByExposure() throws {
        #expect(try rotate(["enabled": .bool(true), "max_positions": .number(10)]).0.bought == ["CCC"])
    }

    /// Ties go by symbol: among equal scores the first symbol is the strongest candidate and the
    /// first symbol the weakest holding; a candidate refused by `accept` is passed over.
    @Test func tiesAreBrokenBySymbolAndARefusedCandidateIsPassedOver() throws {
        let r = try rule(["enabled": .bool(true), "max_per_session": .number(2)])
        let held: [RotationRule.Ranked] = [.init(symbol: "HB", score: -3), .init(symbol: "HA", score: -3), .init(symbol: "HC", score: 2)]
        let cands: [RotationRule.Ranked] = [.init(symbol: "CZ", score: 10), .init(symbol: "CX", score: 10), .init(symbol: "CY", score: 4)]
        let swaps = r.swaps(holdings: held, contenders: cands) { _, _ in true }
        #expect(swaps.map { "\($0.buy.symbol)>\($0.sell.symbol)" } == ["CX>HA", "CZ>HB"])
        let refused = r.swaps(holdings: held, contenders: cands) { buy, _ in buy.symbol != "CX" }
        #expect(refused.map { "\($0.buy.symbol)>\($0.sell.symbol)" } == ["CZ>HA", "CY>HB"])
    }

    @Test func badParametersAreRefused() throws {
        #expect(throws: PluginConfigError.self) { try rule(["enabled": .number(1)]) }
        #expect(throws: PluginConfigError.self) { try rule(["max_positions": .number(0)]) }
        #expect(throws: PluginConfigError.self) { try rule(["min_score_advantage": .number(-1)]) }
        #expect(throws: PluginConfigError.self) { try rule(["max_per_sesion": .number(1)]) }
        var config = PipelineConfig()
        config.rotation = ["enabled": .bool(true), "max_positions": .number(0)]
        #expect(config.problems().contains { $0.hasPrefix("strategy.rotation: max_positions") }, "\(config.problems())")
    }
}

/// `strategy.sizing.margin`: what a scan may spend.
@Suite struct MarginSizingTests {
    /// A cash account spends its cash; a `regt` account its buying power: equity 100,000.00 with
    /// 50,000.00 held buys 100,000 / 0.5 − 50,000 = 150,000.00 (at 40 % initial: 200,000.00).
    @Test func aMarginAccountSpendsItsBuyingPower() {
        var c = SizingConfig()
        let cash = Money(dollars: 50_000)!, equity = Money(dollars: 100_000)!, held = Money(dollars: 50_000)!
        #expect(c.spendable(cash: cash, equity: equity, exposure: held) == cash)
        c.margin = .regt
        #expect(c.marginRequirements == .regT)
        #expect(c.spendable(cash: cash, equity: equity, exposure: held) == Money(dollars: 150_000)!)
        c.initialMarginPct = 40
        #expect(c.spendable(cash: cash, equity: equity, exposure: held) == Money(dollars: 200_000)!)
        c.maintenanceMarginPct = 45
        #expect(c.problems().contains { $0.contains("maintenance_margin_pct must not exceed initial_margin_pct") })
    }

    /// The strategy engine sizes a margin account's entries against the buying power: 100 % of
    /// equity 20,000.00 at 100.00 is 200 shares, which a cash account of 10,000.00 caps at 100.
    @Test func theStrategyEngineCapsEntriesAtTheBuyingPower() throws {
        var strategy = BracketStrategy()
        try strategy.validate([:])
        var sizing = SizingConfig()
        sizing.method = .fixedPercent
        sizing.positionPct = 100
        sizing.maxPositionPct = nil
        let bars = series("CCC", closes: Array(repeating: 100, count: 21))
        let input = StrategyEngine.Input(
            candidate: Candidate(symbol: "CCC", detector: "test", close: px(100), summary: "test"),
            context: context("CCC", bars, specs: [.atr(period: 14)]))
        let account = portfolio(cash: Money(dollars: 10_000)!, equity: Money(dollars: 20_000)!)
        func shares(_ s: SizingConfig) -> Quantity? {
            StrategyEngine.run(
                strategy: strategy, inputs: [input], sizer: PositionSizer(config: s), portfolio: account, date: scanDate,
                now: Timestamp(nanoseconds: 0)
            ).intents.first?.quantity
        }
        #expect(shares(sizing) == 100)
        sizing.margin = .regt
        #expect(shares(sizing) == 200)
    }
}
