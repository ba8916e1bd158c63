import ASTCalendar
import ASTCore
import ASTEngine
import ASTRisk
import Foundation
import Testing

/// The engine's 14:30 phase: reduce-only intents from ``SafeReducing`` only while the gate is
/// SAFE_REDUCING, each approved as a reduction of a held position, never an increase.
@Suite struct SafeReducePhaseTests {
    @Test func theEngineReducesAtTwoThirtyOnlyWhileSafeReducing() throws {
        var config = Fixture.config
        config.limits.maxSymbolConcentrationPct = Percent("5.3")!
        let sessions = Fixture.sessions(8)
        let o = try Engine(config: config, market: Fixture.market).run(sessions: sessions)
        let into = try #require(o.transitions.first { $0.to == .safeReducing }, "the tight limit was never broken")
        let reductions = o.intents.filter { $0.id.rawValue.contains(".\(SafeReducing.strategyName).") }
        #expect(!reductions.isEmpty)
        for r in reductions {
            // Made at a 14:30 task (the early close's 12:30), after the gate went SAFE_REDUCING.
            let time = NewYorkTime.local(r.createdAt).time
            #expect(time == LocalTime(hour: 14, minute: 30) || time == LocalTime(hour: 12, minute: 30), "\(r.id) at \(time)")
            #expect(r.createdAt > into.at)
            #expect(r.entry == .market && r.stopLoss == nil && r.takeProfit == nil)
            let d = try #require(o.decisions.first { $0.intent == r.id })
            let a = try #require(d.decision.approval, "\(r.id): \(d.decision)")
            #expect(a.state == .safeReducing && a.quantity == r.quantity)
        }
        // The same run with the shipped limits never leaves ACTIVE and proposes nothing.
        let calm = try Engine(config: Fixture.config, market: Fixture.market).run(sessions: sessions)
        #expect(calm.transitions.isEmpty)
        #expect(!calm.intents.contains { $0.id.rawValue.contains(".\(SafeReducing.strategyName).") })
    }
}
