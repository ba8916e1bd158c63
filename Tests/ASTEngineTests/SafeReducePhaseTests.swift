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
        // Once a reduction filled, no bracket kept protective legs for more shares than were held.
        let over = Self.overProtected(o.reports)
        #expect(over.isEmpty, "protective legs above their position: \(over.prefix(5))")
        // The same run with the shipped limits never leaves ACTIVE and proposes nothing.
        let calm = try Engine(config: Fixture.config, market: Fixture.market).run(sessions: sessions)
        #expect(calm.transitions.isEmpty)
        #expect(!calm.intents.contains { $0.id.rawValue.contains(".\(SafeReducing.strategyName).") })
    }

    /// Every moment (the reports of one input) at which a symbol's working protective legs cover
    /// more shares than its position: each OCA group covers at most what its entry filled less
    /// what the group sold, and at most what its largest leg has left.
    static func overProtected(_ reports: [ExecutionReport]) -> [String] {
        var specs: [ClientOrderID: OrderSpec] = [:]
        var filled: [ClientOrderID: Int64] = [:]
        var closed: Set<ClientOrderID> = []
        var position: [Symbol: Int64] = [:]
        var found: [String] = []
        func check(at: Timestamp) {
            var cover: [Symbol: Int64] = [:]
            var groups: [ClientOrderID: [OrderSpec]] = [:]
            for spec in specs.values where spec.parent != nil && !closed.contains(spec.clientOrderID) {
                groups[spec.parent!, default: []].append(spec)
            }
            for (parent, legs) in groups {
                let sold = legs.reduce(Int64(0)) { $0 + filled[$1.clientOrderID, default: 0] }
                let left = legs.map { $0.quantity.shares - filled[$0.clientOrderID, default: 0] }.max() ?? 0
                cover[legs[0].symbol, default: 0] += max(0, min(left, filled[parent, default: 0] - sold))
            }
            for (symbol, c) in cover where c > abs(position[symbol, default: 0]) {
                found.append("\(symbol) at \(at): \(c) covered, \(position[symbol, default: 0]) held")
            }
        }
        var i = 0
        while i < reports.count {
            let at = reports[i].at
            while i < reports.count && reports[i].at == at {
                switch reports[i].event {
                case .submitting(let spec): specs[spec.clientOrderID] = spec
                case .fill(let f):
                    filled[f.clientOrderID, default: 0] += f.quantity.shares
                    position[f.symbol, default: 0] += f.side.signed(f.quantity).shares
                    if let spec = specs[f.clientOrderID], filled[f.clientOrderID]! >= spec.quantity.shares {
                        closed.insert(f.clientOrderID)
                    }
                case .modified(let id, let quantity, _): specs[id]?.quantity = quantity
                case .cancelled(let id, _), .rejected(let id, _), .expired(let id): closed.insert(id)
                default: break
                }
                i += 1
            }
            check(at: at)
        }
        return found
    }
}
