import ASTBacktest
import ASTCalendar
import ASTCore
import ASTEngine
import ASTEngineData
import ASTMarketData
import ASTStrategy
import Testing

/// No look-ahead in the engine, phase by phase: changing the bars of session D itself (and every
/// later one) changes nothing decided before D's bars are played — D's 09:00 scan (entries and
/// the exit plugins' closing intents), the risk gate's decisions on them, and every report up to
/// the bars beat — with exit rules configured, so that their reviews are covered too.
@Suite struct NoLookAheadTests {
    @Test func noDecisionReadsABarOfItsOwnSessionBeforeTheBarsPhase() throws {
        var config = EngineFixture.config
        config.pipeline.exits = [
            PluginConfig(name: "time_stop", params: ["max_sessions": .number(2)]),
            PluginConfig(name: "trailing_stop", params: ["activation_r": .number(0.5), "atr_multiple": .number(1)]),
        ]
        let sessions = Array(EngineFixture.sessions.prefix(14))
        let u = BundledData.universe()
        let base = try Engine(config: config, market: EngineFixture.market).run(sessions: sessions)
        #expect(base.intents.contains { $0.id.rawValue.contains(".exit-") }, "the exit rules closed something")
        for cut in [sessions[5], sessions[9]] {
            let changed = u.allBars.map { b -> Bar in
                guard NewYorkTime.local(b.start).date >= cut.date else { return b }
                var x = b
                x.open = Price(units: b.open.units * 3)
                x.high = Price(units: b.high.units * 4)
                x.low = Price(units: b.low.units / 3)
                x.close = Price(units: b.close.units / 2)
                x.volume = b.volume * 7
                return x
            }
            let m2 = EngineMarketData.make(symbols: u.symbols, bars: changed, actions: u.actions, events: u.events)
            let other = try Engine(config: config, market: m2).run(sessions: sessions)
            // The bars beat of D: one minute before its pre-close cleanup.
            let barsAt = EngineSemantics.beats(of: cut).first { $0.beat == .bars }!.time
            let before = { (t: Timestamp) in t < barsAt }
            #expect(base.intents.filter { before($0.createdAt) } == other.intents.filter { before($0.createdAt) }, "\(cut.date)")
            #expect(base.decisions.filter { before($0.at) } == other.decisions.filter { before($0.at) }, "\(cut.date)")
            #expect(base.reports.filter { before($0.at) } == other.reports.filter { before($0.at) }, "\(cut.date)")
            #expect(base.reports != other.reports, "the changed bars did change what came after")
        }
    }
}
