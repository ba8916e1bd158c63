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
                    - name: trailing_stop
                    - name: staged_take_profit

                """)
        // The file is valid (ast backtest loads it the same way and runs the rules).
        #expect(config.strategy?.exits.map(\.name) == ["stop_loss", "time_stop", "trailing_stop", "staged_take_profit"])
        let refusal = try #require(BacktestOnlyExitRules.refusal(config), "a tree with a time_stop it never acts on was accepted")
        #expect(refusal.rules == ["time_stop", "trailing_stop", "staged_take_profit"])
        #expect(refusal.description.contains("time_stop, trailing_stop, staged_take_profit are backtest-only"), "\(refusal)")
        for rule in BacktestOnlyExitRules.names {
            let one = try Self.load(exits: "    - name: \(rule)\n")
            #expect(BacktestOnlyExitRules.refusal(one)?.rules == [rule])
        }
    }

    @Test func theTreeAcceptsTheExitRulesItRunsAndNoExits() throws {
        let config = try Self.load(exits: "    - name: stop_loss\n    - name: take_profit\n")
        #expect(config.strategy?.exits.count == 2)
        #expect(BacktestOnlyExitRules.refusal(config) == nil)
        let shipped = try ConfigLoader(directory: MarketDataConfigTests.shipped, environment: "test", variables: [:]).load(ASTConfig.self)
        #expect(BacktestOnlyExitRules.refusal(shipped) == nil)
    }
}
