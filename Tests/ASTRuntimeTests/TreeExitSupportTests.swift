import ASTStrategy
import Foundation
import Testing

@testable import ASTRuntime

/// The tree runs every exit rule the backtest runs (ast-strategy keeps the entry records the
/// rules read: ``HoldingsLedger``), so a file enabling them loads for both alike, with every
/// parameter, and passes the start-up checks ast-strategy makes.
@Suite struct TreeExitSupportTests {
    static func load(exits: String) throws -> ASTConfig {
        try MarketDataConfigTests.withShipped(["ast.local.yaml": "strategy:\n  exits:\n\(exits)"]) {
            try $0.loader(environment: "test").load(ASTConfig.self)
        }
    }

    @Test func everyExitRuleLoadsWithItsParametersAndPassesTheStartUpChecks() throws {
        let config = try Self.load(
            exits: """
                    - name: stop_loss
                    - name: time_stop
                      params: {max_sessions: 5, extend_sessions: 2, extend_if_r: 1.5}
                    - name: trailing_stop
                    - name: staged_take_profit
                    - name: weak_exit

                """)
        #expect(config.strategy?.exits.map(\.name) == ["stop_loss", "time_stop", "trailing_stop", "staged_take_profit", "weak_exit"])
        #expect(
            config.strategy?.exits[1].params == ["max_sessions": .number(5), "extend_sessions": .number(2), "extend_if_r": .number(1.5)])
        #expect(StartupChecks.refusal(config) == nil)
        // The pipeline validates the rules (a refused one would stop every scan).
        #expect(PipelineRun(config: try #require(config.strategy)).scanIndicators() != nil)
    }
}

/// Plugin parameters in the configuration file: numbers, booleans and strings as written
/// (numbers were refused as "must be true or false" before PluginValue read the scalar's text).
@Suite struct PluginParametersConfigTests {
    @Test func numbersBooleansAndStringsInTheFileBecomeTheirValues() throws {
        let text = """
            strategy:
              detectors:
                - name: ma_crossover
                  params: {fast: 10, slow: 30, average: ema}
              exits:
                - name: staged_take_profit
                  params: {stages: "1:0.5,2:0.25"}

            """
        let config = try MarketDataConfigTests.withShipped(["ast.local.yaml": text]) {
            try $0.loader(environment: "test").load(ASTConfig.self)
        }
        #expect(config.strategy?.detectors.first?.params == ["fast": .number(10), "slow": .number(30), "average": .string("ema")])
        #expect(config.strategy?.exits.first?.params == ["stages": .string("1:0.5,2:0.25")])
        // JSON keeps its types, strings that are no numbers stay strings.
        let json = try JSONDecoder().decode(PluginParameters.self, from: Data(#"{"a": 1.5, "b": true, "c": "sma", "d": "1e"}"#.utf8))
        #expect(json == ["a": .number(1.5), "b": .bool(true), "c": .string("sma"), "d": .string("1e")])
    }
}
