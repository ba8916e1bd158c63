import ASTStrategy
import Foundation
import Testing

@testable import ASTRuntime

/// `time_stop`, `trailing_stop` and `staged_take_profit` need entry records ast-strategy does not
/// keep: the tree refuses them at start (they would silently hold), while the file still loads for
/// `ast backtest`, whose engine records the entries.
@Suite struct TreeExitSupportTests {
    static func load(exits: String) throws -> ASTConfig {
        try MarketDataConfigTests.withShipped(["ast.local.yaml": "strategy:\n  exits:\n\(exits)"]) {
            try $0.loader(environment: "test").load(ASTConfig.self)
        }
    }

    @Test func theTreeRefusesEveryExitRuleThatNeedsEntryRecordsAndNamesThem() throws {
        let config = try Self.load(
            exits: """
                    - name: stop_loss
                    - name: time_stop
                      params: {max_sessions: 5, extend_sessions: 2, extend_if_r: 1.5}
                    - name: trailing_stop
                    - name: staged_take_profit

                """)
        // The file is valid (ast backtest loads it the same way and runs the rules).
        #expect(config.strategy?.exits.map(\.name) == ["stop_loss", "time_stop", "trailing_stop", "staged_take_profit"])
        #expect(
            config.strategy?.exits[1].params == ["max_sessions": .number(5), "extend_sessions": .number(2), "extend_if_r": .number(1.5)])
        let refusal = try #require(BacktestOnlyExitRules.refusal(config), "a tree with a time_stop it never acts on was accepted")
        #expect(refusal.rules == ["time_stop", "trailing_stop", "staged_take_profit"])
        #expect(refusal.description.contains("time_stop, trailing_stop, staged_take_profit are backtest-only"), "\(refusal)")
        for rule in BacktestOnlyExitRules.names {
            let one = try Self.load(exits: "    - name: \(rule)\n")
            #expect(BacktestOnlyExitRules.refusal(one)?.rules == [rule])
        }
    }

    @Test func theTreeAcceptsTheExitRulesItRunsAndNoExits() throws {
        let config = try Self.load(exits: "    - name: stop_loss\n    - name: take_profit\n      params:\n        pct: 15\n")
        #expect(config.strategy?.exits.count == 2)
        #expect(config.strategy?.exits.last?.params == ["pct": .number(15)])
        #expect(BacktestOnlyExitRules.refusal(config) == nil)
        let shipped = try ConfigLoader(directory: MarketDataConfigTests.shipped, environment: "test", variables: [:]).load(ASTConfig.self)
        #expect(BacktestOnlyExitRules.refusal(shipped) == nil)
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
