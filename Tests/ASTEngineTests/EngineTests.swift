import ASTCalendar
import ASTCore
import ASTEngine
import ASTEngineData
import ASTExecution
import ASTMarketData
import ASTRisk
import ASTRuntime
import ASTStrategy
import Foundation
import Testing

/// The bundled universe (generated once per process) and a run of the engine over it.
enum Fixture {
    static let universe = BundledData.universe()
    static let market = EngineMarketData.make(universe)
    /// The shipped configuration (etc/ast.yaml): the demo's strategy, risk limits and paper broker.
    static let config: EngineConfig = {
        let etc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("etc").path
        let c = try! ConfigLoader(directory: etc, variables: [:]).load(ASTConfig.self)
        return EngineConfig(
            pipeline: c.strategy ?? PipelineConfig(), limits: c.risk.limits, paper: c.paperBroker ?? .standard,
            brokerName: c.risk.broker)
    }()

    static func sessions(_ n: Int, from: String = "2025-07-01") -> [Session] {
        market.sessions(from: LocalDate(from)!, count: n)
    }

    static let run30: EngineOutput = try! Engine(config: config, market: market).run(sessions: sessions(30))

    static func encoded(_ o: EngineOutput) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return try e.encode(o)
    }
}

@Suite struct EngineTests {
    @Test func theEngineTradesTheBundledUniverse() throws {
        let o = Fixture.run30
        #expect(o.sessions.count == 30)
        #expect(o.equity.count == 30)
        #expect(!o.intents.isEmpty, "the scans produced intents")
        #expect(o.decisions.count == o.intents.count, "every intent got exactly one decision")
        #expect(o.decisions.contains { $0.decision.approval != nil }, "some were approved")
        #expect(!o.fills.isEmpty, "approved brackets filled at the paper exchange")
        #expect(o.reconciliations.allSatisfy { !$0.requiresHalt }, "\(o.reconciliations.filter(\.requiresHalt).map(\.summary))")
        #expect(o.anomalies.isEmpty, "\(o.anomalies)")
    }

    @Test func theFirstSessionIsBlockedForWantOfMarketData() throws {
        // Marks reach the risk gate only with the first session's bars, as in the tree.
        let o = Fixture.run30
        let firstDay = Fixture.sessions(1)[0]
        let early = o.decisions.filter { $0.at < firstDay.close }
        #expect(early.allSatisfy { $0.decision.reason == .noMarketData })
    }

    @Test func theEngineIsAPureFunctionOfItsInputs() throws {
        let sessions = Fixture.sessions(30)
        let a = try Engine(config: Fixture.config, market: Fixture.market).run(sessions: sessions)
        let b = try Engine(config: Fixture.config, market: EngineMarketData.make(BundledData.universe())).run(sessions: sessions)
        #expect(try Fixture.encoded(a) == Fixture.encoded(b))
        #expect(try Fixture.encoded(a) == Fixture.encoded(Fixture.run30))
    }

    @Test func theEquitySeriesDrawdownIsConsistent() throws {
        let o = Fixture.run30
        var peak: Money?
        var maxDrawdown: Int64 = 0
        for p in o.equity {
            let expected = max(peak ?? p.equity, p.equity)
            #expect(p.peak == expected, "\(p.date): peak \(p.peak), running max \(expected)")
            #expect(p.drawdown == p.peak - p.equity && p.drawdown.units >= 0)
            #expect(p.drawdownBps == Int64(Int128(p.drawdown.units) * 10_000 / Int128(p.peak.units)))
            peak = expected
            maxDrawdown = max(maxDrawdown, p.drawdownBps)
        }
        // The series is the after-market equity of each session.
        #expect(o.equity.map(\.equity) == o.sessions.map(\.equity))
        #expect(maxDrawdown < 10_000)
    }

    @Test func theCleanupNeverCancelsAFilledEntry() throws {
        for o in [
            Fixture.run30,
            try Engine(config: Fixture.config, market: Fixture.market).run(sessions: Fixture.sessions(60, from: "2025-03-03")),
        ] {
            let entries = Set(o.intents.map { ClientOrderID(intent: $0.id, leg: .entry) })
            var filled = Set<ClientOrderID>()
            var cancelledEntries = 0
            for r in o.reports {
                switch r.event {
                case .fill(let f): filled.insert(f.clientOrderID)
                case .cancelled(let id, _) where entries.contains(id):
                    cancelledEntries += 1
                    #expect(!filled.contains(id), "\(id) was cancelled after a fill")
                default: break
                }
            }
            for c in o.cancels where c.kind == .restingUnfilledEntry {
                #expect(!filled.contains(ClientOrderID(validating: c.orderID)!), "the cleanup asked to cancel \(c.orderID), already filled")
            }
            // Every allowed cleanup cancel took effect at the exchange (the entry was still resting).
            #expect(o.cancels.filter(\.allowed).count == cancelledEntries, "\(o.cancels)")
            #expect(cancelledEntries > 0, "the runs exercise the cleanup")
        }
    }

    @Test func anExpiredIntentIsNeverApproved() throws {
        let o = Fixture.run30
        let sessions = Dictionary(Fixture.sessions(30).map { ($0.date, $0) }, uniquingKeysWith: { a, _ in a })
        for intent in o.intents {
            let session = try #require(sessions[NewYorkTime.local(intent.createdAt).date])
            for d in o.decisions where d.intent == intent.id && d.decision.approval != nil {
                #expect(d.at < session.close, "\(intent.id) approved at \(d.at), after its session closed")
                #expect(!EngineSemantics.isExpired(intentCreatedAt: intent.createdAt, session: session, now: d.at))
            }
        }
        #expect(Set(o.expired).isDisjoint(with: o.decisions.filter { $0.decision.approval != nil }.map(\.intent)))
        // The rule itself: undecided at the close is expired.
        let s = Fixture.sessions(1)[0]
        #expect(EngineSemantics.isExpired(intentCreatedAt: s.open, session: s, now: s.close))
        #expect(!EngineSemantics.isExpired(intentCreatedAt: s.open, session: s, now: s.open))
    }

    @Test func everyIntentExpiresAtItsSessionsCloseAsTheTreesStrategySendsIt() throws {
        let o = Fixture.run30
        let sessions = Dictionary(Fixture.sessions(30).map { ($0.date, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(!o.intents.isEmpty)
        for intent in o.intents {
            let session = try #require(sessions[NewYorkTime.local(intent.createdAt).date])
            #expect(intent.expiresAt == session.close, "\(intent.id) expires at \(intent.expiresAt.map { "\($0)" } ?? "never")")
        }
    }

    @Test func theRunEndsWithTheReconcilersPortfolio() throws {
        let o = Fixture.run30
        let p = try #require(o.portfolio)
        #expect(p.cash == o.snapshots.last?.cash)
        #expect(p.commissions == o.fills.reduce(Money.zero) { $0 + $1.commission })
    }

    @Test func theScanSplitAdjustmentIsTheBarStoresBackAdjustment() throws {
        let u = Fixture.universe
        let splits = u.actions.filter { if case .split = $0.kind { true } else { false } }
        let split = try #require(splits.first, "the bundled universe has a split")
        let i = try #require(u.symbols.firstIndex { $0.symbol == split.symbol })
        let bars = u.series[i]
        let m = Fixture.market
        let j = try #require(m.symbols.firstIndex { $0.symbol == split.symbol })
        for through in [split.exDate.adding(days: -1), split.exDate, split.exDate.adding(days: 200)] {
            let expected = BackAdjustment.apply(
                bars, actions: splits.filter { $0.symbol == split.symbol && $0.exDate <= through }, mode: .splits)
            var got = bars
            EngineScan.adjustForSplits(&got, dates: m.dates[j][...], splits: m.splits[j], through: through)
            #expect(got == expected, "through \(through)")
        }
    }

    @Test func everySessionFollowsTheDailyScheduleWithBarsBeforeTheCleanup() throws {
        let early = try #require(TradingCalendar.nyse.session(on: LocalDate("2025-07-03")!))
        let beats = EngineSemantics.beats(of: early)
        let cleanup = try #require(beats.first { $0.beat == .task(.preCloseCleanup) })
        let bars = try #require(beats.first { $0.beat == .bars })
        #expect(cleanup.time.nanoseconds - bars.time.nanoseconds == 60_000_000_000)
        #expect(NewYorkTime.format(cleanup.time).contains("12:55"), "\(NewYorkTime.format(cleanup.time))")
        #expect(beats.map(\.time) == beats.map(\.time).sorted())
    }
}
