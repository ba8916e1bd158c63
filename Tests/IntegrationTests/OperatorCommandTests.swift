import ASTBus
import ASTCore
import ASTJournal
import ASTRisk
import ASTRuntime
import ASTTestKit
import ASTWire
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The operator's commands for a halted book, in a real tree: `astctl protect` places the
/// missing stop and `astctl flatten` closes the position while the gate stays HALTED; each goes
/// through the gate, reaches the paper broker, is reconciled, journaled, alerted, and replays
/// IDENTICAL. And `astctl status` never wakes a stopped astd.
@Suite(.serialized) struct OperatorCommandTests {
    /// The runbook's situation (runbooks/unprotected-position.md): a position whose stop the
    /// broker cancelled behind the system's back, found by reconciliation, trading HALTED.
    /// Returns the tree and its market-data peer (one peer per test: the broker deduplicates
    /// message ids, and a second peer of the same identity would start its ids again).
    static func unprotectedPosition(_ symbol: Symbol, intent: String) async throws -> (SupervisedTree, RawBusPeer) {
        let tree = try await SupervisedTree(overlay: ExecutionTests.looseLimits)
        _ = try await tree.waitAllReady()
        try await ExecutionTests.markAll(tree)
        #expect(try ExecutionTests.submit([ExecutionTests.intent(intent, symbol)], to: tree) == [IntentID(stringLiteral: intent)])
        try await eventually(timeout: .seconds(10), "the bracket at the broker") {
            try ExecutionTests.brokerState(tree)?.openOrders.count == 3
        }
        let md = try ExecutionTests.peer(tree, "broker@paper", role: .marketdata)
        try ExecutionTests.sendAcked(md, .bar(ExecutionTests.entryBar(symbol)))
        try await eventually(timeout: .seconds(10), "the position") { try ExecutionTests.brokerState(tree)?.positions.count == 1 }
        let inject = try tree.astctl(["broker", "inject", "cancel-silently", "\(intent).S"])
        #expect(inject.code == 0, "\(inject.stdout)\(inject.stderr)")
        let reconcile = try tree.astctl(["reconcile"])
        #expect(reconcile.code == 2 && reconcile.stdout.contains("unprotected"), "\(reconcile.stdout)\(reconcile.stderr)")
        try await eventually(timeout: .seconds(10), "HALTED") { try tree.status()?.0.safeMode?.state == .halted }
        return (tree, md)
    }

    static func operatorAlerts(_ tree: SupervisedTree) throws -> [Alert] {
        try WorkerTree.entries(path: tree.dir("state/journal/notifier@main.sqlite"), process: "notifier@main").compactMap { e in
            guard e.record.type == "alert", case .alert(let a) = try EnvelopeCodec.decode(e.record.body).message else { return nil }
            return a.key.hasPrefix("risk:operator:") ? a : nil
        }
    }

    static func riskDecisions(_ tree: SupervisedTree) throws -> [IntentDecision] {
        try WorkerTree.entries(path: tree.dir("state/journal/risk@main.sqlite"), process: "risk@main")
            .filter { $0.record.type == "risk.decision" }
            .map { try JSONDecoder().decode(IntentDecision.self, from: Data($0.record.body)) }
    }

    @Test(.timeLimit(.minutes(4)))
    func protectThenFlattenWhileHaltedReachTheBrokerAreReconciledAndReplayIdentical() async throws {
        let (tree, md) = try await Self.unprotectedPosition("MSFT", intent: "naked-op-1")

        // protect: the stop of the position's bracket (95.00), for the 10 shares no stop covers.
        let protect = try tree.astctl(["protect", "MSFT", "--reason", "stop cancelled at the broker"])
        #expect(protect.code == 0, "\(protect.stdout)\(protect.stderr)")
        #expect(protect.stdout.contains("approved"), "\(protect.stdout)")
        try await eventually(timeout: .seconds(10), "the operator's stop at the broker") {
            try ExecutionTests.brokerState(tree)?.openOrders.contains { $0.spec.intent.rawValue.hasPrefix("op-protect-MSFT-") } == true
        }
        let withStop = try #require(try ExecutionTests.brokerState(tree))
        let stop = try #require(withStop.openOrders.first { $0.spec.intent.rawValue.hasPrefix("op-protect-MSFT-") })
        #expect(stop.spec.type == .stop && stop.spec.side == .sell && stop.spec.quantity == 10)
        #expect(stop.spec.stopPrice == Price("95.00") && stop.spec.timeInForce == .gtc && stop.status == .working)
        // Protected again: reconciliation is clean; trading stays HALTED until the operator resumes.
        let clean = try tree.astctl(["reconcile"])
        #expect(clean.code == 0, "\(clean.stdout)\(clean.stderr)")
        #expect(try tree.status()?.0.safeMode?.state == .halted)
        // A second protect finds nothing uncovered and places nothing.
        let again = try tree.astctl(["protect", "MSFT"])
        #expect(again.code == 0 && again.stdout.contains("already covered"), "\(again.stdout)\(again.stderr)")

        // flatten: a market sell of the 10 shares; the next bar fills it, and the broker cancels
        // the operator's stop with it (one OCA group).
        let flatten = try tree.astctl(["flatten", "MSFT", "--reason", "close it for the night"])
        #expect(flatten.code == 0, "\(flatten.stdout)\(flatten.stderr)")
        try ExecutionTests.sendAcked(md, .bar(ExecutionTests.entryBar("MSFT", minutesAhead: 2)))
        do {
            try await eventually(timeout: .seconds(10), "MSFT flat at the broker") {
                try ExecutionTests.brokerState(tree)?.positions.allSatisfy { $0.symbol != "MSFT" || $0.quantity.isZero } == true
            }
        } catch {
            print("flatten: \(flatten.stdout)\nbroker: \(String(describing: try ExecutionTests.brokerState(tree)))")
            throw error
        }
        let flat = try #require(try ExecutionTests.brokerState(tree))
        #expect(!flat.openOrders.contains { $0.spec.intent.rawValue.hasPrefix("op-") }, "\(flat.openOrders)")
        // The bracket's take profit still worked the 10 shares: the broker process cancelled it with
        // the position (ProtectiveResize), so no leg is left to sell shares that are not held.
        #expect(!flat.openOrders.contains { $0.spec.symbol == "MSFT" }, "\(flat.openOrders)")
        // A flat book refuses another flatten: never more than the held quantity.
        try await eventually(timeout: .seconds(10), "the flat portfolio at the risk gate") {
            try ExecutionTests.riskPortfolios(tree).last?.positions["MSFT"] == nil
        }
        let more = try tree.astctl(["flatten", "MSFT"])
        #expect(more.code == 1 && more.stdout.contains("OPERATOR_NO_POSITION"), "\(more.stdout)\(more.stderr)")

        // Reconciled, journaled, alerted, still HALTED, and the journals replay IDENTICAL.
        let after = try tree.astctl(["reconcile"])
        #expect(after.code == 0, "\(after.stdout)\(after.stderr)")
        #expect(try tree.status()?.0.safeMode?.state == .halted)
        let decisions = try Self.riskDecisions(tree).filter { $0.intent.rawValue.hasPrefix("op-") }
        #expect(decisions.map { $0.decision.approval != nil } == [true, true, false], "\(decisions)")
        try await eventually(timeout: .seconds(10), "the operator alerts at the notifier") { try Self.operatorAlerts(tree).count == 3 }
        let alerts = try Self.operatorAlerts(tree)
        #expect(alerts.allSatisfy { $0.text.contains("operator uid \(getuid())") }, "\(alerts)")
        let verify = try tree.astctl(["replay", tree.dir("state/journal"), "--verify"], timeout: .seconds(120))
        #expect(verify.code == 0 && verify.stdout.contains("replay: IDENTICAL"), "\(verify.stdout)\(verify.stderr)")
    }

    @Test(.timeLimit(.minutes(2)))
    func flattenAllWhileHaltedClosesEveryPositionThroughTheGate() async throws {
        let (tree, md) = try await Self.unprotectedPosition("NVDA", intent: "naked-op-2")
        let flatten = try tree.astctl(["flatten", "--all"])
        #expect(flatten.code == 0 && flatten.stdout.contains("flatten NVDA: approved"), "\(flatten.stdout)\(flatten.stderr)")
        try ExecutionTests.sendAcked(md, .bar(ExecutionTests.entryBar("NVDA", minutesAhead: 2)))
        try await eventually(timeout: .seconds(10), "NVDA flat at the broker") {
            try ExecutionTests.brokerState(tree)?.positions.allSatisfy(\.quantity.isZero) == true
        }
        #expect(try tree.status()?.0.safeMode?.state == .halted)
        let verify = try tree.astctl(["replay", tree.dir("state/journal"), "--verify"], timeout: .seconds(120))
        #expect(verify.code == 0 && verify.stdout.contains("replay: IDENTICAL"), "\(verify.stdout)\(verify.stderr)")
    }

    @Test(.timeLimit(.minutes(2)))
    func statusShowsEachProcesssBusLinksAndTheMessagesWaitingForAnAcknowledgement() async throws {
        let tree = try await SupervisedTree()
        let ready = try await tree.waitAllReady()
        let table = try tree.astctl(["status"])
        #expect(table.stdout.contains("risk@main -> broker@paper: connected"), "\(table.stdout)")
        #expect(table.stdout.contains("Queues: 0 order message(s) waiting for the broker"), "\(table.stdout)")
        let (json, _) = try #require(try tree.status())
        let risk = try #require(json.children.first { $0.name == "risk@main" }?.bus)
        #expect(risk.links.map(\.target) == ["broker@paper", "notifier@main"])
        #expect(risk.links.allSatisfy { $0.connected && $0.unacknowledged == 0 })
        // astd's own links too: its lifecycle events go, acknowledged, to the risk gate and the notifier.
        let astd = try #require(json.supervisorBus, "astd reported no bus links")
        #expect(astd.links.map(\.target) == ["notifier@main", "risk@main"])
        #expect(table.stdout.contains("astd -> risk@main: connected"), "\(table.stdout)")
        #expect(table.stdout.contains("astd -> notifier@main: connected"), "\(table.stdout)")

        // A notifier that does not answer: the halt's alert waits at the risk gate, and status says so.
        let notifier = try #require(tree.child("notifier@main", in: ready)?.pid)
        kill(notifier, SIGSTOP)
        defer { kill(notifier, SIGCONT) }
        #expect(try tree.astctl(["halt", "--reason", "queue depth test"]).code == 0)
        var seen = ""
        do {
            try await eventually(timeout: .seconds(8), "an unacknowledged alert from risk@main to the notifier in astctl status") {
                seen = try tree.astctl(["status"], timeout: .seconds(30)).stdout
                return seen.split(separator: "\n").contains {
                    $0.contains("risk@main -> notifier@main") && !$0.contains(" 0 unacknowledged")
                }
            }
        } catch {
            print("astctl status said:\n\(seen)")
            throw error
        }
        #expect(seen.contains("message(s) waiting for the notifier on the bus"), "\(seen)")
        #expect(!seen.contains(" 0 message(s) waiting for the notifier"), "\(seen)")
    }

    /// Under systemd control.sock belongs to ast.socket: a connection to it while astd is stopped
    /// starts ast.service. Here the test holds the socket as systemd would, with no astd.
    @Test(.timeLimit(.minutes(1)))
    func statusOfAStoppedTreeSaysNotRunningAndNeverConnects() throws {
        let dir = try TemporaryDirectory(prefix: "ast-status")
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir("run"), withIntermediateDirectories: true)
        let listener = try UnixSocket.listen(path: dir("run/control.sock"))
        defer { close(listener) }
        let environment = [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "AST_CONFIG_DIR": BuildProducts.packageRoot + "/etc", "AST_ENV": "test",
            "AST_RUNTIME_DIR": dir("run"), "AST_STATE_DIR": dir("state"),
        ]
        let ctl = try ChildProcess(
            try BuildProducts.executable("astctl"), ["status"], environment: environment, name: "astctl-status", outputDirectory: dir.path)
        let deadline = ContinuousClock.now + .seconds(20)
        while ctl.exitStatus == nil && ContinuousClock.now < deadline { usleep(10_000) }
        let code = ctl.exitStatus.flatMap(ChildProcess.exitCode)
        #expect(code == 1, "astctl status: \(ctl.stdout)\(ctl.stderr)")
        #expect(ctl.stderr.contains("astd is not running"), "\(ctl.stderr)")
        // Nothing connected: a connection is what socket activation starts the service on.
        let flags = fcntl(listener, F_GETFL)
        _ = fcntl(listener, F_SETFL, flags | O_NONBLOCK)
        let accepted = accept(listener, nil, nil)
        if accepted >= 0 { close(accepted) }
        #expect(accepted < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "astctl status connected to control.sock")
    }
}
