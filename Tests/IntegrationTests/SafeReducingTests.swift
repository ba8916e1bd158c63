import ASTCore
import ASTJournal
import ASTRisk
import ASTTestKit
import ASTWire
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// M10.2 in the running tree: a symbol limit that the bundled data breaks at the third session's
/// marks (a position held since the second) puts the gate in SAFE_REDUCING; at the next session's 14:30 the strategy plans reduce-only orders,
/// the gate approves them and the broker gets them, every step journaled; the journals replay
/// IDENTICAL and the in-process engine trades the same.
@Suite(.serialized) struct SafeReducingIntegrationTests {
    static let sessions = 4
    /// Entries are sized to 5 % of equity (max_order_notional_pct); a 5.3 % symbol limit is broken
    /// when a position rises 6 % (LUMN on 2025-07-03, a revaluation by marks, which reach the gate at
    /// the same point in the tree and the engine; a violation by a day's own fills is seen at that
    /// day's bars beat in both: the replay sends the bars only after the marks were handled).
    static let overlay = SupervisedTree.replay(
        sessions: sessions,
        """
        risk:
          limits:
            max_symbol_concentration_pct: 5.3
        """)

    @Test(.timeLimit(.minutes(6)))
    func aViolatedLimitIsReducedAtTwoThirtyThroughTheGateAndReplaysIdentically() async throws {
        let tree = try await SupervisedTree(overlay: Self.overlay)
        _ = try await tree.waitAllReady(timeout: .seconds(60))
        try await tree.waitForTheReplayToFinish(timeout: .seconds(240))
        #expect(try tree.status()?.0.safeMode?.state == .safeReducing)

        // The strategy journaled a plan in SAFE_REDUCING with proposals, and each decision.
        let decoder = JSONDecoder()
        let strategy = try WorkerTree.entries(path: tree.dir("state/journal/strategy@main.sqlite"), process: "strategy@main")
        let entry = try #require(
            strategy.first { $0.record.type == EntryTypes.Strategy.reduction },
            "no strategy.reduction entry; schedule: \(Self.schedule(strategy))")
        let plan = try decoder.decode(ReductionPlan.self, from: Data(entry.record.body))
        #expect(plan.state == .safeReducing && !plan.proposals.isEmpty, "\(plan.summary)")
        let day = try #require(entry.record.correlationID)
        #expect(day == "2025-07-07")
        let reduceIDs = Set(plan.proposals.map { "\(day).\(SafeReducing.strategyName).\($0.symbol)" })

        // The risk gate received them as intents and approved each: a sell of part of a long.
        let risk = try WorkerTree.entries(path: tree.dir("state/journal/risk@main.sqlite"), process: "risk@main")
        var approved: [Approval] = []
        for e in risk where e.record.type == EntryTypes.Risk.decision {
            let d = try decoder.decode(IntentDecision.self, from: Data(e.record.body))
            guard reduceIDs.contains(d.intent.rawValue) else { continue }
            let a = try #require(d.decision.approval, "\(d.intent) was not approved: \(d.decision)")
            approved.append(a)
        }
        #expect(Set(approved.map(\.intent.rawValue)) == reduceIDs, "approved \(approved.map(\.intent)), planned \(reduceIDs)")
        for a in approved {
            let p = try #require(plan.proposals.first { $0.symbol == a.symbol })
            #expect(a.side == .sell && a.quantity == p.quantity && a.stopLoss == nil && a.state == .safeReducing)
            #expect(p.quantity <= p.position.magnitude)
        }
        // ... and the broker got the orders.
        let broker = try WorkerTree.entries(path: tree.dir("state/journal/broker@paper.sqlite"), process: "broker@paper")
        for id in reduceIDs {
            #expect(
                broker.contains { String(decoding: $0.record.body, as: UTF8.self).contains("\(id).E") },
                "the broker's journal has no order \(id).E")
        }

        // Replay re-executes every journal to the same outputs.
        let replay = try tree.astctl(["replay", "--verify"], timeout: .seconds(120))
        #expect(replay.code == 0 && replay.stdout.contains("replay: IDENTICAL"), "\(replay.stdout.suffix(3000))\(replay.stderr)")

        // The in-process engine, same configuration and bars, trades the same (reductions included).
        let (code, out, err) = try await tree.stopAndCompareWithTheEngine(sessions: Self.sessions, timeout: .seconds(120))
        #expect(
            code == 0 && out.contains("parity: the tree matched the engine trade for trade"), "\(out.suffix(4000))\n\(err.suffix(2000))")
    }

    /// The 14:30 task asks ast-risk for its Safe Mode state; that is all the strategy may ask:
    /// a halt or resume from the strategy is refused before it is journaled.
    @Test(.timeLimit(.minutes(2)))
    func theStrategyMayAskTheGateForItsStateButNeverCommandIt() async throws {
        let tree = try await SupervisedTree()
        _ = try await tree.waitAllReady()
        let peer = try RawBusPeer(path: tree.dir("run/risk@main.sock"), identity: ProcessIdentity(role: .strategy, instance: "test"))
        try peer.hello()
        #expect(try peer.receive()?.type == .welcome)
        func ask(_ message: Message) throws -> Message? {
            _ = try peer.send(message)
            while let env = try peer.receive(timeoutMs: 10_000) {
                if case .ack = env.message { continue }
                return env.message
            }
            return nil
        }
        guard case .riskStatus(let status)? = try ask(.riskCommand(.status)) else {
            Issue.record("no status for the strategy")
            return
        }
        #expect(status.state == .active)
        for command in [RiskCommand.halt(reason: "from the strategy"), .resume(to: .active), .journalVerificationFailed(detail: "x")] {
            let answer = try ask(.riskCommand(command))
            guard case .commandResult(let r)? = answer else {
                Issue.record("\(command): expected a refusal, got \(String(describing: answer))")
                continue
            }
            #expect(!r.accepted && r.message.hasPrefix("INPUT_INVALID"), "\(command): \(r.message)")
        }
        #expect(try tree.status()?.0.safeMode?.state == .active)
        let risk = try WorkerTree.entries(path: tree.dir("state/journal/risk@main.sqlite"), process: "risk@main")
        #expect(
            !risk.contains {
                $0.record.kind == .received && $0.record.type == MessageType.riskCommand.rawValue
                    && String(decoding: $0.record.body, as: UTF8.self).contains("from the strategy")
            }, "the refused halt was journaled as an input")
    }

    static func schedule(_ entries: [JournalEntry]) -> String {
        entries.filter { $0.record.type == EntryTypes.Strategy.schedule }.suffix(8)
            .map { String(decoding: $0.record.body, as: UTF8.self) }.joined(separator: "\n")
    }
}
