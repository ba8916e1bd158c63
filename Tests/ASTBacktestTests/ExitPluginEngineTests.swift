import ASTBacktest
import ASTCalendar
import ASTCore
import ASTEngine
import ASTRisk
import ASTStrategy
import Testing

/// Exit plugins in the engine: their closing intents go through the risk gate like every entry,
/// are filled by the exchange at the next open, and show in the backtest's trades.
@Suite struct ExitPluginEngineTests {
    /// A 3-session time stop over the demo's 30 sessions: every position the stop closes was held
    /// exactly 3 sessions (entered during session e, sold at session e + 3's open), every exit
    /// intent was decided by the risk gate (and approved: it only reduces), and no trade outlives it.
    @Test func aTimeStopClosesEveryPositionAfterItsSessionsThroughTheRiskGate() throws {
        var config = EngineFixture.config
        config.pipeline.exits = [PluginConfig(name: "time_stop", params: ["max_sessions": .number(3)])]
        let out = try Engine(config: config, market: EngineFixture.market).run(sessions: EngineFixture.sessions)
        let r = EngineBacktest.result(
            output: out, market: EngineFixture.market, sessions: EngineFixture.sessions, capital: config.paper.startingCash,
            parameters: [])
        let exits = out.intents.filter { $0.id.rawValue.contains(".exit-time_stop.") }
        #expect(!exits.isEmpty)
        for e in exits {
            let decision = out.decisions.first { $0.intent == e.id }
            #expect(decision?.decision.approval != nil, "\(e.id): \(String(describing: decision))")
            #expect(e.side == .sell && e.stopLoss == nil && e.takeProfit == nil)
        }
        let timed = r.trades.filter { $0.exitReason == .timeStop }
        #expect(!timed.isEmpty)
        #expect(timed.allSatisfy { $0.barsHeld == 3 }, "\(timed.map(\.barsHeld))")
        #expect(r.trades.allSatisfy { $0.barsHeld <= 3 }, "\(r.trades.map { ($0.symbol, $0.barsHeld, $0.exitReason) })")
        // The accounting still closes: the trades' P&L is the final equity minus the capital.
        #expect(r.trades.reduce(Int64(0)) { $0 + $1.pnl.units } == (out.equity.last!.equity - config.paper.startingCash).units)
    }

    /// Without exits configured the engine's intents are the entries alone (the default trades,
    /// which the parity test holds equal to the tree's, are untouched).
    @Test func withoutExitsNoExitIntentIsMade() {
        #expect(EngineFixture.config.pipeline.exits.isEmpty)
        #expect(!EngineFixture.output.intents.contains { $0.id.rawValue.contains(".exit-") })
    }
}
