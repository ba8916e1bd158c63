import ASTBacktest
import ASTCalendar
import ASTCore
import ASTEngine
import ASTRisk
import ASTStrategy
import Testing

/// Rotation and Reg T margin in the engine, over the demo's 30 sessions: their intents go
/// through the risk gate like every other, and trades.csv names their exits.
@Suite struct RotationMarginEngineTests {
    func run(_ config: EngineConfig) throws -> (EngineOutput, BacktestResult) {
        let out = try Engine(config: config, market: EngineFixture.market).run(sessions: EngineFixture.sessions)
        let r = EngineBacktest.result(
            output: out, market: EngineFixture.market, sessions: EngineFixture.sessions, capital: config.paper.startingCash,
            parameters: [])
        // The accounting still closes: the trades' P&L is the final equity minus the capital.
        #expect(r.trades.reduce(Int64(0)) { $0 + $1.pnl.units } == (out.equity.last!.equity - config.paper.startingCash).units)
        return (out, r)
    }

    /// A book of at most two positions rotates: each `exit-rotation` sell was approved by the
    /// risk gate, made at a scan with a buy of another symbol beside it, and its trade's exit
    /// reason is `rotation`.
    @Test func aFullBookRotatesThroughTheRiskGate() throws {
        var config = EngineFixture.config
        config.pipeline.rotation = [
            "enabled": .bool(true), "max_positions": .number(2), "min_score_advantage": .number(0), "min_sessions_held": .number(0),
        ]
        let (out, r) = try run(config)
        let exits = out.intents.filter { $0.id.rawValue.contains(".exit-rotation.") }
        #expect(!exits.isEmpty)
        for e in exits {
            #expect(out.decisions.first { $0.intent == e.id }?.decision.approval != nil, "\(e.id)")
            #expect(e.side == .sell && e.entry == .market)
            let date = String(e.id.rawValue.prefix(10))
            #expect(out.intents.contains { $0.side == .buy && $0.id.rawValue.hasPrefix(date) && $0.symbol != e.symbol }, "\(e.id)")
        }
        #expect(r.trades.contains { $0.exitReason == .rotation }, "\(r.trades.map { ($0.symbol, $0.exitReason) })")
    }

    /// The risk limits that let an account borrow (leverage, concentration, order size).
    static func marginConfig(maintenance: Percent) -> EngineConfig {
        var config = EngineFixture.config
        config.pipeline.sizing.method = .fixedPercent
        config.pipeline.sizing.positionPct = 100
        config.pipeline.sizing.maxPositionPct = nil
        config.pipeline.sizing.margin = .regt
        config.pipeline.sizing.maintenanceMarginPct = maintenance
        config.limits.maxGrossLeveragePct = 200
        config.limits.maxSymbolConcentrationPct = 200
        config.limits.maxSectorConcentrationPct = 200
        config.limits.maxOrderNotionalPct = 200
        config.limits.maxDrawdownPct = 100
        config.limits.dailyLossLimitPct = 100
        config.paper.slippageBps = 0
        return config
    }

    /// At 50 % maintenance an account borrowing its whole buying power is called at the first
    /// dip: every `exit-margin_call` sells the whole position (what the fills before it left),
    /// at the session's close (no slippage here), and its trade's exit reason is `margin_call`.
    @Test func aMaintenanceBreachLiquidatesAtTheClose() throws {
        let (out, r) = try run(Self.marginConfig(maintenance: 50))
        let calls = out.intents.filter { $0.id.rawValue.contains(".exit-margin_call.") }
        #expect(!calls.isEmpty)
        for c in calls {
            #expect(out.decisions.first { $0.intent == c.id }?.decision.approval != nil, "\(c.id)")
            // Every fill of the symbol up to the call (the session's own, at the same instant), but the call's.
            let before = out.fills.filter {
                $0.symbol == c.symbol && $0.at <= c.createdAt && !$0.clientOrderID.rawValue.hasPrefix(c.id.rawValue)
            }
            let held = before.reduce(Int64(0)) {
                $0 + ($1.side == .buy ? $1.quantity.shares : -$1.quantity.shares)
            }
            #expect(c.quantity.shares == held, "\(c.id)")
            let fill = try #require(out.fills.first { $0.clientOrderID.rawValue == "\(c.id.rawValue).E" })
            let date = NewYorkTime.local(c.createdAt).date
            let i = try #require(EngineFixture.market.symbols.firstIndex { $0.symbol == c.symbol })
            let j = try #require(EngineFixture.market.dates[i].firstIndex(of: date))
            #expect(fill.quantity == c.quantity && fill.price == EngineFixture.market.bars[i][j].close, "\(fill)")
            #expect(NewYorkTime.local(fill.at).date == date)
        }
        #expect(r.trades.contains { $0.exitReason == .marginCall })
        // The buying power was used: the account borrowed (its cash went below zero).
        #expect(out.snapshots.contains { $0.cash.units < 0 })
    }

    /// At Reg T's 25 % the same borrowing is never called over these sessions, and a cash
    /// account (the default) never makes a margin intent.
    @Test func noBreachNoLiquidation() throws {
        #expect(!(try run(Self.marginConfig(maintenance: 25))).0.intents.contains { $0.id.rawValue.contains(".exit-margin_call.") })
        #expect(!EngineFixture.output.intents.contains { $0.id.rawValue.contains(".exit-margin_call.") })
    }
}
