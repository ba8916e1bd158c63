import ASTCore
import ASTStrategy
import Foundation
import Testing

@testable import ASTRuntime

/// `strategy.regime_overrides` in the YAML as the workers load it: decoded over the shipped base,
/// and an overlay whose effective configuration could not run refuses the file (exit 78 at start).
@Suite struct RegimeOverlayConfigTests {
    @Test func aRegimeOverlayInTheYAMLLoadsOverTheShippedBase() throws {
        let yaml = """
            strategy:
              regime_overrides:
                bear:
                  filters: {allowed_regimes: [bear]}
                  sizing: {risk_pct: 0.5}

            """
        let config = try MarketDataConfigTests.withShipped(["ast.local.yaml": yaml]) {
            try $0.loader(environment: "test").load(ASTConfig.self)
        }
        let strategy = try #require(config.strategy)
        let bear = strategy.effective(for: .bear)
        #expect(bear.sizing.riskPct == Percent("0.5")!)
        #expect(bear.sizing.maxPositionPct == strategy.sizing.maxPositionPct)
        #expect(bear.filters.allowedRegimes == [.bear])
        #expect(strategy.effective(for: .bull) == strategy)
    }

    @Test func anOverlayThatCouldNotRunRefusesTheFile() throws {
        let yaml = "strategy:\n  regime_overrides:\n    choppy:\n      sizing: {method: quality_scaled}\n"
        try MarketDataConfigTests.withShipped(["ast.local.yaml": yaml]) { dir in
            let text = try #require(dir.errorText(ASTConfig.self, environment: "test"), "an overlay that cannot size was accepted")
            #expect(text.contains("strategy.regime_overrides.choppy: strategy.sizing.quality_me"), "\(text)")  // the detail is shortened
        }
    }

    @Test func anOverlaysExitRulesLoadForTheTreeAsTheBasesDo() throws {
        let yaml = "strategy:\n  regime_overrides:\n    bear:\n      exits:\n        - name: stop_loss\n        - name: time_stop\n"
        let config = try MarketDataConfigTests.withShipped(["ast.local.yaml": yaml]) {
            try $0.loader(environment: "test").load(ASTConfig.self)
        }
        let strategy = try #require(config.strategy)
        // The tree keeps the entry records every exit rule reads, so an overlay's time_stop acts there as in the engine.
        #expect(strategy.effective(for: .bear).exits.map(\.name) == ["stop_loss", "time_stop"])
        #expect(StartupChecks.refusal(config) == nil)
    }
}
