import ASTCalendar
import ASTCore
import Foundation
import Testing

@testable import ASTStrategy

/// `strategy.regime_overrides`: per-regime overlays of filters, sizing, strategy, detectors and exits.
@Suite struct RegimeOverlays {
    static let overlaid = #"""
        {"detectors": [{"name": "ma_crossover", "params": {"fast": 5, "slow": 20}}],
         "strategy": {"name": "bracket", "params": {"id": "macross", "reward_multiple": 2}},
         "sizing": {"risk_pct": 1, "max_position_pct": 30},
         "regime_overrides": {
           "bear": {"filters": {"allowed_regimes": ["bear"]},
                    "sizing": {"risk_pct": 0.5},
                    "strategy": {"params": {"reward_multiple": 3}}},
           "choppy": {"detectors": [{"name": "platform_breakout"}]}}}
        """#

    func decode(_ json: String) throws -> PipelineConfig {
        try JSONDecoder().decode(PipelineConfig.self, from: Data(json.utf8))
    }

    @Test func anOverlayChangesOnlyTheKeysItGivesWhileItsRegimeHolds() throws {
        let c = try decode(Self.overlaid)
        #expect(c.problems() == [])
        let bear = c.effective(for: .bear)
        #expect(bear.sizing.riskPct == Percent("0.5")!)
        #expect(bear.sizing.maxPositionPct == 30, "a key the overlay does not give keeps the base's value")
        #expect(bear.filters.allowedRegimes == [.bear])
        #expect(bear.filters.maxRSI == 70)
        #expect(bear.strategy == PluginConfig(name: "bracket", params: ["id": "macross", "reward_multiple": 3]))
        #expect(bear.detectors == c.detectors)
        #expect(bear.regimeOverrides.isEmpty)
        #expect(c.effective(for: .choppy).detectors == [PluginConfig(name: "platform_breakout")])
        #expect(c.effective(for: .choppy).sizing == c.sizing)
        #expect(c.effective(for: .bull) == c, "no overlay: the base as it is")
        #expect(try decode(String(decoding: JSONEncoder().encode(c), as: UTF8.self)) == c)
    }

    @Test func unknownRegimesAndSectionsAreRefusedByName() throws {
        let regime = #"{"regime_overrides": {"crash": {"sizing": {"risk_pct": 0.5}}}}"#
        #expect {
            _ = try decode(regime)
        } throws: { "\($0)".contains("unknown regime 'crash' (known: bull, bear, choppy, undetermined)") }
        // The risk gate's limits are not a regime's to change (see RegimeOverlay).
        let risk = #"{"regime_overrides": {"bear": {"risk": {"max_positions": 3}}}}"#
        #expect {
            _ = try decode(risk)
        } throws: { "\($0)".contains("strategy.regime_overrides.bear: unknown key 'risk'") }
        let typo = #"{"regime_overrides": {"bear": {"sizing": {"risk_pc": 0.5}}}}"#
        #expect {
            _ = try decode(typo)
        } throws: { "\($0)".contains("strategy.regime_overrides.bear.sizing: unknown key 'risk_pc'") }
    }

    @Test func anOverlayThatWouldNotRunRefusesTheWholeConfiguration() throws {
        let c = try decode(
            #"""
            {"regime_overrides": {"bear": {"sizing": {"risk_pct": 50}, "detectors": [{"name": "cup_and_handle"}],
                                           "strategy": {"params": {"stop_atr_multiple": 99}}}}}
            """#)
        let problems = c.problems()
        #expect(problems.contains("strategy.regime_overrides.bear: strategy.sizing.risk_pct must be above 0 and at most 10 (got 50)"))
        #expect(problems.contains { $0.hasPrefix("strategy.regime_overrides.bear: unknown detector 'cup_and_handle'") })
        #expect(problems.contains { $0.hasPrefix("strategy.regime_overrides.bear: strategy bracket: stop_atr_multiple") })
        // A scan refuses to run at all, whatever regime the day is in.
        let result = PipelineRun(config: c).scan(Market.input)
        #expect(result.regime.regime == .undetermined)
        #expect(result.configProblems == problems)
        #expect(result.intents.isEmpty)
        // A base problem is named once, not again for every overlay.
        var bad = c
        bad.regimeOverrides = [:]
        bad.sizing.positionPct = 0
        bad.regimeOverrides[.choppy] = RegimeOverlay(detectors: [PluginConfig(name: "platform_breakout")])
        #expect(bad.problems() == ["strategy.sizing.position_pct must be above 0 and at most 100 (got 0)"])
    }

    @Test func theBearOverlayTradesWhereTheBaseFiltersEveryCandidate() throws {
        var input = Market.input
        input.volatilityIndex = series("VIX", closes: Array(repeating: 45, count: 300), halfRange: 0.5)
        var c = Market.config
        let base = PipelineRun(config: c).scan(input)
        #expect(base.regime.regime == .bear)
        #expect(base.intents.isEmpty)
        var bear = c.sizing
        bear.riskPct = Percent("0.5")!
        var filters = c.filters
        filters.allowedRegimes = [.bear]
        c.regimeOverrides[.bear] = RegimeOverlay(filters: filters, sizing: bear)
        let run = PipelineRun(config: c)
        let r = run.scan(input)
        // 0.5 % of 100,000 = 500 at risk over 4.00 a share = 125 shares (the base's 250, halved).
        #expect(r.intents.map(\.symbol) == ["AAPL"])
        #expect(r.intents.map(\.quantity) == [125])
        #expect(r.notes == ["regime bear: strategy.regime_overrides.bear in effect"])
        #expect(r.indicatorPlan == base.indicatorPlan)
        // In a bull market the same configuration is the base's.
        let bull = run.scan(Market.input)
        #expect(bull == PipelineRun(config: Market.config).scan(Market.input))
        // Indicators carried from scan to scan serve the overlaid scan too (same plan, same result).
        var carried = input
        carried.indicators = run.scanIndicators()
        #expect(carried.indicators != nil)
        #expect(run.scan(carried) == r)
    }

    @Test func theCarriedPlanCoversEveryOverlaysIndicators() throws {
        var c = Market.config
        c.regimeOverrides[.choppy] = RegimeOverlay(
            detectors: [PluginConfig(name: "ma_crossover", params: ["fast": 7, "slow": 40])])
        let plain = try #require(PipelineRun(config: Market.config).scanIndicators())
        let overlaid = try #require(PipelineRun(config: c).scanIndicators())
        #expect(plain.plan.computedNodes == ["sma:5", "sma:20", "true_range", "atr:14", "rsi:14"])
        #expect(overlaid.plan.computedNodes.contains("sma:40") && overlaid.plan.computedNodes.contains("sma:7"))
        #expect(Set(plain.plan.computedNodes).isSubset(of: Set(overlaid.plan.computedNodes)))
        // Whichever regime the scan finds, it computes the same (carried) plan.
        var choppy = Market.input
        choppy.index = pctSeries("SPY", closes: Array(repeating: 400, count: 300), rangePct: 1)
        let a = PipelineRun(config: c).scan(choppy), b = PipelineRun(config: c).scan(Market.input)
        #expect(a.regime.regime == .choppy && b.regime.regime == .bull)
        #expect(a.indicatorPlan == overlaid.plan.computedNodes && b.indicatorPlan == overlaid.plan.computedNodes)
    }
}
