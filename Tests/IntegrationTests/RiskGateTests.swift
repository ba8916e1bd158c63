import ASTBus
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

/// The risk gate in the running tree (M3): a crashed broker halts trading, resume waits for the
/// conditions, HALTED survives a crash of ast-risk, and only the risk gate can order.
@Suite(.serialized) struct RiskGateTests {
    /// A slow broker restart, so that the moment "broker down" lasts long enough to observe.
    static let slowRestart = """
        supervisor:
          restart_backoff_ms: 4000
          restart_backoff_max_ms: 8000
        """

    func safeMode(_ tree: SupervisedTree) throws -> RiskStatusReport? { try tree.status()?.0.safeMode }

    func submit(_ intent: IntentGroup, to tree: SupervisedTree) throws -> IntentDecision? {
        let peer = try RawBusPeer(path: tree.dir("run/risk@main.sock"), identity: ProcessIdentity(role: .strategy, instance: "test"))
        try peer.hello()
        guard try peer.receive()?.type == .welcome else { return nil }
        let sent = try peer.send(.intentSubmit(intent))
        guard try peer.receive()?.message == .ack(Ack(id: sent.id, duplicate: false)) else { return nil }
        guard case .intentDecision(let d)? = try peer.receive()?.message else { return nil }
        return d
    }

    static func intent(_ id: String) -> IntentGroup {
        IntentGroup(
            id: IntentID(stringLiteral: id), symbol: "AAPL", sector: "Tech", side: .buy, quantity: 10,
            entry: .limit(Price("100.00")!), stopLoss: Price("95.00"), takeProfit: Price("110.00"),
            createdAt: Timestamp(nanoseconds: 1))
    }

    @Test(.timeLimit(.minutes(2)))
    func aKilledBrokerHaltsTradingAndResumeWaitsForItsReturn() async throws {
        let tree = try await SupervisedTree(overlay: Self.slowRestart)
        let before = try await tree.waitAllReady()
        #expect(before.safeMode?.state == .active)
        let broker = try #require(tree.child("broker@paper", in: before)?.pid)
        kill(broker, SIGKILL)

        try await eventually(timeout: .seconds(10), "ast-risk to be HALTED") { try safeMode(tree)?.state == .halted }
        let halted = try #require(try safeMode(tree))
        #expect(halted.cause.contains("broker@paper") && halted.downBrokers == ["broker@paper"])
        // The transition is journaled (durably) by ast-risk.
        let transitions = try WorkerTree.entries(path: tree.dir("state/journal/risk@main.sqlite"), process: "risk@main")
            .filter { $0.record.type == "safe_mode.transition" }
            .map { try JSONDecoder().decode(SafeModeTransition.self, from: Data($0.record.body)) }
        #expect(transitions.last?.to == .halted && transitions.last?.cause.process?.description == "broker@paper")
        // ... and reaches the notifier as a P0 alert, journaled there before it was acknowledged.
        var alert: Alert?
        try await eventually(timeout: .seconds(10), "the P0 alert in the notifier's journal") {
            for e in try WorkerTree.entries(path: tree.dir("state/journal/notifier@main.sqlite"), process: "notifier@main")
            where e.record.type == "alert" {
                if case .alert(let a) = try EnvelopeCodec.decode(e.record.body).message { alert = a }
            }
            return alert != nil
        }
        #expect(alert?.priority == .p0 && alert?.text.contains("broker@paper") == true)
        // An intent now is blocked with TRADING_HALTED.
        let decision = try #require(try submit(Self.intent("after-halt"), to: tree))
        #expect(decision.decision.reason == .tradingHalted)
        // Resume is refused, with the reason, while the broker is down.
        let refused = try tree.astctl(["resume"])
        #expect(refused.code == 1 && refused.stdout.contains("broker broker@paper is down"), "\(refused.stdout)")
        // Every other process kept its pid.
        let (during, _) = try #require(try tree.status())
        for c in before.children where c.name != "broker@paper" {
            #expect(tree.child(c.name, in: during)?.pid == c.pid, "\(c.name) kept its pid")
        }
        // The broker comes back; once a reconciliation since the halt is clean (the reconciler runs
        // one when the broker starts; an operator checks with `astctl reconcile`), resume is accepted.
        _ = try await tree.waitAllReady(timeout: .seconds(30))
        try await eventually(timeout: .seconds(10), "ast-risk to see the broker ready") { try safeMode(tree)?.downBrokers.isEmpty == true }
        let reconcile = try tree.astctl(["reconcile"])
        #expect(reconcile.code == 0, "\(reconcile.stdout)\(reconcile.stderr)")
        try await eventually(timeout: .seconds(10), "the clean reconciliation at the risk gate") {
            try safeMode(tree)?.cleanReconciliationSinceHalt == true
        }
        let accepted = try tree.astctl(["resume", "--to", "active"])
        #expect(accepted.code == 0, "\(accepted.stdout)\(accepted.stderr)")
        #expect(try safeMode(tree)?.state == .active)
    }

    /// M8 item 4 on the wire: a sector a peer sends empty is missing reference data, blocked with
    /// its own reason code, never a sector named "" whose concentration the gate computes.
    @Test(.timeLimit(.minutes(2)))
    func anIntentWithAnEmptySectorFromAPeerIsBlockedAsMissingReferenceData() async throws {
        let tree = try await SupervisedTree()
        _ = try await tree.waitAllReady()
        try await ExecutionTests.markAll(tree)
        let strategy = try ExecutionTests.peer(tree, "risk@main", role: .strategy)
        var empty = Self.intent("empty-sector")
        empty.sector = ""
        guard case .intentDecision(let d)? = try ExecutionTests.sendAcked(strategy, .intentSubmit(empty)) else {
            throw HarnessError("no decision for \(empty.id)")
        }
        #expect(d.decision.reason == .referenceDataMissing, "\(d.decision)")
        // The same intent with its sector passes that rule (whatever the other rules then say).
        guard case .intentDecision(let known)? = try ExecutionTests.sendAcked(strategy, .intentSubmit(Self.intent("known-sector"))) else {
            throw HarnessError("no decision for known-sector")
        }
        #expect(known.decision.reason != .referenceDataMissing, "\(known.decision)")
    }

    @Test(.timeLimit(.minutes(2)))
    func aKilledRiskGateComesBackHalted() async throws {
        let tree = try await SupervisedTree()
        let before = try await tree.waitAllReady()
        let halt = try tree.astctl(["halt", "--reason", "drill"])
        #expect(halt.code == 0 && halt.stdout.contains("HALTED"))
        let risk = try #require(tree.child("risk@main", in: before)?.pid)
        kill(risk, SIGKILL)
        try await eventually(timeout: .seconds(20), "ast-risk to be restarted") {
            guard let (s, _) = try tree.status(), let c = tree.child("risk@main", in: s) else { return false }
            return c.pid != risk && c.ready && s.safeMode != nil
        }
        let after = try #require(try safeMode(tree))
        #expect(after.state == .halted && after.cause.contains("drill"))
        #expect(try submit(Self.intent("after-restart"), to: tree)?.decision.reason == .tradingHalted)
    }

    @Test(.timeLimit(.minutes(2)))
    func onlyTheRiskGateMayOrderFromTheBrokerAndEveryOrderCarriesItsApproval() async throws {
        let tree = try await SupervisedTree(
            overlay: """
                risk:
                  limits:
                    max_mark_age_seconds: 3600
                """)
        _ = try await tree.waitAllReady()
        let brokerSocket = tree.dir("run/broker@paper.sock")
        // A strategy may not even connect to the broker; astctl's role may connect but not order.
        let strategy = try RawBusPeer(path: brokerSocket, identity: ProcessIdentity(role: .strategy, instance: "rogue"))
        try strategy.hello()
        guard case .refused(let r1)? = try strategy.receive()?.message else {
            Issue.record("strategy not refused")
            return
        }
        #expect(r1.code == .roleNotAllowed)
        let control = try RawBusPeer(path: brokerSocket, identity: ProcessIdentity(role: .control, instance: "rogue"))
        try control.hello()
        #expect(try control.receive()?.type == .welcome)
        let forged = Approval(
            id: ApprovalID(for: "forged"), intent: "forged", symbol: "AAPL", side: .buy, quantity: 1, requestedQuantity: 1,
            entry: .market, stopLoss: Price("1.00"), takeProfit: nil, state: .active, at: Timestamp(nanoseconds: 1))
        try control.send(.orderSubmit(forged))
        guard case .refused(let r2)? = try control.receive()?.message else {
            Issue.record("order from control not refused")
            return
        }
        #expect(r2.code == .messageTypeNotAllowed)

        // The risk gate approves a bracket once it has a portfolio and a fresh mark; the broker
        // receives the order with the approval id ast-risk journaled before sending it.
        let riskSocket = tree.dir("run/risk@main.sock")
        let reconciler = try RawBusPeer(path: riskSocket, identity: ProcessIdentity(role: .reconciler, instance: "test"))
        try reconciler.hello()
        _ = try reconciler.receive()
        let now = Timestamp(nanoseconds: Int64(Date().timeIntervalSince1970 * 1e9))
        let equity = Money("100000.00")!
        try reconciler.send(
            .portfolioSnapshot(PortfolioSnapshot(asOf: now, cash: equity, equity: equity, peakEquity: equity, startOfDayEquity: equity)))
        _ = try reconciler.receive()
        let marketdata = try RawBusPeer(path: riskSocket, identity: ProcessIdentity(role: .marketdata, instance: "test"))
        try marketdata.hello()
        _ = try marketdata.receive()
        let mark = try marketdata.send(.mark(MarketMark(symbol: "AAPL", price: Price("100.00")!, at: now)))
        // The mark is acknowledged once the risk gate has it.
        #expect(try marketdata.receive()?.message == .ack(Ack(id: mark.id, duplicate: false)))
        let decision = try #require(try submit(Self.intent("ok-1"), to: tree))
        let approval = try #require(decision.decision.approval, "\(decision.decision)")
        #expect(approval.id == ApprovalID(for: "ok-1"))

        let brokerJournal = tree.dir("state/journal/broker@paper.sqlite")
        var received: Approval?
        try await eventually(timeout: .seconds(10), "the order at the broker") {
            for e in try WorkerTree.entries(path: brokerJournal, process: "broker@paper") where e.record.type == "order.submit" {
                if case .orderSubmit(let a) = try EnvelopeCodec.decode(e.record.body).message { received = a }
            }
            return received != nil
        }
        #expect(received?.id == approval.id && received?.quantity == approval.quantity)
        // In ast-risk's journal the decision precedes the order that left for the broker.
        let riskEntries = try WorkerTree.entries(path: tree.dir("state/journal/risk@main.sqlite"), process: "risk@main")
        let decided = try #require(riskEntries.first { $0.record.type == "risk.decision" && $0.record.correlationID == "ok-1" })
        let sent = try #require(riskEntries.first { $0.record.kind == .sent && $0.record.type == "order.submit" })
        #expect(decided.seq < sent.seq)
        // Both refusals at the broker are journaled with their reasons.
        let refusals = try WorkerTree.entries(path: brokerJournal, process: "broker@paper")
            .filter { $0.record.type == BusEvent.protocolError.rawValue }.map { String(decoding: $0.record.body, as: UTF8.self) }
        #expect(refusals.contains { $0.contains("ROLE_NOT_ALLOWED") } && refusals.contains { $0.contains("MESSAGE_TYPE_NOT_ALLOWED") })
    }

    @Test(.timeLimit(.minutes(2)))
    func aJournalFailingVerificationHaltsTrading() async throws {
        let tree = try await SupervisedTree()
        _ = try await tree.waitAllReady()
        #expect(try tree.astctl(["journal", "verify"]).code == 0)
        // Edit one recorded entry of astd's journal behind its back (with Python's sqlite3).
        let edit = try ChildProcess(
            "/usr/bin/env",
            [
                "python3", "-c",
                """
                import sqlite3, sys
                c = sqlite3.connect(sys.argv[1]); c.execute("UPDATE entries SET body = X'7b7d' WHERE seq = 2"); c.commit()
                """, tree.dir("state/journal/supervisor@main.sqlite"),
            ], environment: tree.environment, name: "edit", outputDirectory: tree.dir.path)
        #expect(ChildProcess.exitCode(try await edit.waitForExit()) == 0, "\(edit.stderr)")
        let verify = try tree.astctl(["journal", "verify"])
        #expect(verify.code == 1)
        #expect(verify.stdout.contains("supervisor@main.sqlite") && verify.stdout.contains("editedEntry"), "\(verify.stdout)")
        let report = try #require(try safeMode(tree))
        #expect(report.state == .halted && report.cause.contains("journal"), "\(report)")
    }
}
