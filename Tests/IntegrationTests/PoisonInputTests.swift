import ASTBus
import ASTCore
import ASTJournal
import ASTRisk
import ASTRuntime
import ASTTestKit
import ASTWire
import Foundation
import Logging
import Testing

/// M9.2 with real processes: a well-formed message with an absurd number is refused before it
/// is journaled and never kills the broker; a journaled input that cannot be replayed brings the
/// broker up refusing orders, with the entry named, until the operator acknowledges it.
@Suite(.serialized) struct PoisonInputTests {
    static let broker = ProcessIdentity(role: .broker, instance: "paper")

    /// A control peer, welcomed.
    static func control(_ tree: WorkerTree) throws -> RawBusPeer {
        let p = try RawBusPeer(path: tree.socketPath(broker))
        try p.hello()
        guard try p.receive()?.type == .welcome else { throw HarnessError("control was not welcomed") }
        return p
    }

    /// Sends `message` and returns the first answer that is not an ack.
    static func ask(_ peer: RawBusPeer, _ message: Message) throws -> Message? {
        _ = try peer.send(message)
        while let env = try peer.receive(timeoutMs: 10_000) {
            if case .ack = env.message { continue }
            return env.message
        }
        return nil
    }

    static func refusalCode(_ answer: Message?) -> String? {
        guard case .commandResult(let r)? = answer, !r.accepted else { return nil }
        return r.message.components(separatedBy: ":").first
    }

    /// Runs astctl against `tree`; returns the exit code and the output.
    static func astctl(_ tree: WorkerTree, _ arguments: [String]) async throws -> (code: Int32, out: String) {
        let ctl = try ChildProcess(
            try BuildProducts.executable("astctl"), arguments, environment: tree.environment(),
            name: "astctl-\(UUID().uuidString.prefix(8))", outputDirectory: tree.dir.path)
        let status = try await ctl.waitForExit(timeout: .seconds(30))
        return (ChildProcess.exitCode(status) ?? -1, ctl.stdout + ctl.stderr)
    }

    @Test(.timeLimit(.minutes(2)))
    func absurdNumbersAreRefusedBeforeTheJournalAndTheBrokerLivesOn() async throws {
        let tree = try WorkerTree()
        let process = try await tree.start(Self.broker)
        defer { process.stop(graceSeconds: 5) }
        let pid = process.pid
        let control = try Self.control(tree)

        let poison: [Message] = [
            .brokerInject(.disconnect(seconds: 10_000_000_000)),
            .brokerInject(.disconnect(seconds: Int.max)),
            .brokerInject(.disconnect(seconds: -1)),
            .brokerQuery(BrokerQuery(executionsSince: Timestamp(nanoseconds: 0), page: -1, snapshot: "x")),
            .brokerQuery(BrokerQuery(executionsSince: Timestamp(nanoseconds: 0), page: Int.max, snapshot: "x")),
            .brokerQuery(BrokerQuery(executionsSince: Timestamp(nanoseconds: .min))),
        ]
        for message in poison {
            let answer = try Self.ask(control, message)
            #expect(Self.refusalCode(answer) == "INPUT_OUT_OF_RANGE", "\(message.type): \(String(describing: answer))")
        }
        // Market data's acknowledged messages with absurd numbers: acknowledged (not re-sent), refused.
        let md = try RawBusPeer(path: tree.socketPath(Self.broker), identity: ProcessIdentity(role: .marketdata))
        try md.hello()
        #expect(try md.receive()?.type == .welcome)
        let badBar = Bar(
            symbol: "AAPL", start: Timestamp(nanoseconds: .max), open: Price("1")!, high: Price(units: .max),
            low: Price("1")!, close: Price("1")!, volume: -5)
        for message in [Message.bar(badBar), .sessionClose(SessionClose(at: Timestamp(nanoseconds: .max)))] {
            let sent = try md.send(message)
            var acked = false
            var refused: String?
            while !(acked && refused != nil), let env = try md.receive(timeoutMs: 10_000) {
                if case .ack(let a) = env.message, a.id == sent.id { acked = true }
                if case .commandResult(let r) = env.message, !r.accepted { refused = r.message }
            }
            #expect(acked && refused?.hasPrefix("INPUT_OUT_OF_RANGE") == true, "\(message.type): \(refused ?? "no refusal")")
        }

        // The broker still answers, under the same pid.
        guard case .brokerState(let state)? = try Self.ask(control, .brokerQuery(BrokerQuery(executionsSince: Timestamp(nanoseconds: 0))))
        else {
            Issue.record("no broker state after the poison")
            return
        }
        #expect(state.connected)
        #expect(process.isRunning && process.pid == pid)

        // Nothing of it was journaled as an input; each refusal is one bounded entry (batched
        // entries become visible at the next flush).
        try await eventually(timeout: .seconds(10), "the refusals in the broker's journal") {
            try tree.entries(Self.broker).filter { $0.record.type == "bus.input_refused" }.count >= poison.count + 2
        }
        let entries = try tree.entries(Self.broker)
        let inputTypes: Set<String> = ["broker.inject", "broker.query", "bar", "session.close", "paper.input"]
        let received = entries.filter { $0.record.kind == .received && inputTypes.contains($0.record.type) }
        #expect(
            received.allSatisfy { $0.record.type == "broker.query" } && received.count <= 1,
            "at most the last, valid query: \(received.map(\.record.type))")
        let refusals = entries.filter { $0.record.type == "bus.input_refused" }
        #expect(refusals.count == poison.count + 2)
        #expect(refusals.allSatisfy { $0.record.body.count < 1_024 })

        // A restart replays nothing poisonous: the broker comes up and answers.
        process.stop(graceSeconds: 5)
        let again = try await tree.start(Self.broker)
        defer { again.stop(graceSeconds: 5) }
        let control2 = try Self.control(tree)
        guard case .brokerState(let s2)? = try Self.ask(control2, .brokerQuery(BrokerQuery(executionsSince: Timestamp(nanoseconds: 0))))
        else {
            Issue.record("no broker state after the restart")
            return
        }
        #expect(s2.connected)
        #expect(try tree.entries(Self.broker).filter { $0.record.type == QuarantineJournal.entryType }.isEmpty)
    }

    /// The body an older ast-broker journaled for `astctl broker inject disconnect 10000000000`
    /// (the same shape as its `PaperJournalInput`).
    struct OldInput: Codable {
        enum Input: Codable { case inject(BrokerInjection) }
        var input: Input
    }

    @Test(.timeLimit(.minutes(3)))
    func aJournaledPoisonInputBringsTheBrokerUpRefusingOrdersUntilTheOperatorAcknowledgesIt() async throws {
        let tree = try WorkerTree()
        try FileManager.default.createDirectory(atPath: tree.stateDir + "/journal", withIntermediateDirectories: true)
        let poisonSeq: Int64
        do {
            let j = try Journal(path: tree.journalPath(Self.broker), process: Self.broker.description, logger: Logger(label: "test"))
            let body = try JSONEncoder().encode(OldInput(input: .inject(.disconnect(seconds: 10_000_000_000))))
            poisonSeq = try j.append(
                JournalRecord(kind: .received, type: "paper.input", timestamp: SystemClock().now(), body: Array(body)),
                durability: .durable)
            try j.close()
        }

        // Before M9.2 this start trapped in Timestamp.advanced, on every restart.
        let process = try await tree.start(Self.broker)
        defer { process.stop(graceSeconds: 5) }
        let control = try Self.control(tree)
        guard case .brokerState? = try Self.ask(control, .brokerQuery(BrokerQuery(executionsSince: Timestamp(nanoseconds: 0))))
        else {
            Issue.record("the quarantined broker does not answer queries")
            return
        }
        let quarantined = try tree.entries(Self.broker).filter { $0.record.type == QuarantineJournal.entryType }
        #expect(quarantined.count == 1)
        let entry = try JSONDecoder().decode(QuarantinedEntry.self, from: Data(try #require(quarantined.first).record.body))
        #expect(entry.seq == poisonSeq && entry.type == "paper.input")
        #expect(entry.cause.contains("INPUT_OUT_OF_RANGE"), "\(entry.cause)")
        #expect(entry.journal == tree.journalPath(Self.broker))

        // New orders are refused before they are journaled.
        let risk = try RawBusPeer(path: tree.socketPath(Self.broker), identity: ProcessIdentity(role: .risk))
        try risk.hello()
        #expect(try risk.receive()?.type == .welcome)
        let approval = Approval(
            id: ApprovalID(for: "q-1"), intent: "q-1", symbol: "AAPL", side: .buy, quantity: 10, requestedQuantity: 10,
            entry: .limit(Price("100")!), stopLoss: Price("95"), takeProfit: Price("110"), state: .active,
            at: SystemClock().now())
        #expect(Self.refusalCode(try Self.ask(risk, .orderSubmit(approval))) == "PROCESS_NOT_READY")
        #expect(try tree.entries(Self.broker).filter { $0.record.type == "order.submit" }.isEmpty)

        // The operator sees it, and acknowledges it with a reason.
        let list = try await Self.astctl(tree, ["quarantine", "list"])
        #expect(list.code == 3 && list.out.contains("PENDING") && list.out.contains("seq \(poisonSeq)"), "\(list.out)")
        let wrong = try Self.ask(control, .quarantineAck(QuarantineAck(process: "broker@paper", seq: poisonSeq + 100, reason: "typo")))
        #expect(Self.refusalCode(wrong) == "INPUT_INVALID")
        let ack = try await Self.astctl(
            tree,
            [
                "quarantine", "ack", "--process", "broker@paper", "--seq", "\(poisonSeq)",
                "--reason", "poison inject journaled before M9.2",
            ])
        #expect(ack.code == 0, "\(ack.out)")
        #expect(try tree.entries(Self.broker).contains { $0.record.type == QuarantineJournal.acknowledgedType })

        // Orders are taken again, and after a restart the entry stays skipped without a new quarantine.
        let sent = try risk.send(.orderSubmit(approval))
        #expect(try risk.receive(timeoutMs: 10_000)?.message == .ack(Ack(id: sent.id, duplicate: false)))
        try await eventually(timeout: .seconds(10), "the order at the broker after the acknowledgement") {
            guard case .brokerState(let s)? = try Self.ask(control, .brokerQuery(BrokerQuery(executionsSince: Timestamp(nanoseconds: 0))))
            else { return false }
            return s.openOrders.count == 3
        }
        process.stop(graceSeconds: 5)
        let again = try await tree.start(Self.broker)
        defer { again.stop(graceSeconds: 5) }
        let control2 = try Self.control(tree)
        guard case .brokerState(let s)? = try Self.ask(control2, .brokerQuery(BrokerQuery(executionsSince: Timestamp(nanoseconds: 0))))
        else {
            Issue.record("no broker state after the restart")
            return
        }
        #expect(s.openOrders.count == 3)
        #expect(try tree.entries(Self.broker).filter { $0.record.type == QuarantineJournal.entryType }.count == 1)
        let after = try await Self.astctl(tree, ["quarantine", "list"])
        #expect(after.code == 0 && after.out.contains("ACKNOWLEDGED"), "\(after.out)")
    }
}

/// The same for ast-risk: a journaled input that the gate's validation now refuses brings the
/// gate up HALTED with the journal and seq in its cause, instead of replaying it.
@Suite(.serialized) struct RiskQuarantineTests {
    static let risk = ProcessIdentity(role: .risk)

    static func status(_ peer: RawBusPeer) throws -> RiskStatusReport? {
        _ = try peer.send(.riskCommand(.status))
        while let env = try peer.receive(timeoutMs: 10_000) {
            if case .riskStatus(let r) = env.message { return r }
        }
        return nil
    }

    @Test(.timeLimit(.minutes(2)))
    func aJournaledAbsurdMarkBringsTheRiskGateUpHaltedWithTheEntryNamed() async throws {
        let tree = try WorkerTree()
        try FileManager.default.createDirectory(atPath: tree.stateDir + "/journal", withIntermediateDirectories: true)
        let poisonSeq: Int64
        do {
            let j = try Journal(path: tree.journalPath(Self.risk), process: Self.risk.description, logger: Logger(label: "test"))
            let now = SystemClock().now()
            _ = try j.append(
                JournalRecord(
                    kind: .state, type: "safe_mode.initial", timestamp: now,
                    body: Array(try JSONEncoder().encode(SafeModeRecord.firstStart(at: now)))), durability: .durable)
            let mark = RiskInput.mark(MarketMark(symbol: "AAPL", price: Price(units: .max), at: now))
            poisonSeq = try j.append(
                JournalRecord(
                    kind: .received, type: "risk.input", timestamp: now,
                    body: Array(try JSONEncoder().encode(mark))), durability: .durable)
            _ = try j.append(JournalRecord(kind: .state, type: "risk.stopped", timestamp: now, body: []), durability: .durable)
            try j.close()
        }
        let process = try await tree.start(Self.risk)
        defer { process.stop(graceSeconds: 5) }
        let control = try RawBusPeer(path: tree.socketPath(Self.risk))
        try control.hello()
        #expect(try control.receive()?.type == .welcome)
        var report: RiskStatusReport?
        try await eventually(timeout: .seconds(10), "the risk gate HALTED by the quarantine") {
            report = try Self.status(control)
            return report?.state == .halted
        }
        let cause = try #require(report).cause
        #expect(cause.contains("seq \(poisonSeq)") && cause.contains(tree.journalPath(Self.risk)), "\(cause)")

        _ = try control.send(.quarantineAck(QuarantineAck(process: "risk@main", seq: poisonSeq, reason: "mark from a broken feed")))
        var answer: OperatorReply?
        while let env = try control.receive(timeoutMs: 10_000) {
            if case .commandResult(let r) = env.message {
                answer = r
                break
            }
        }
        #expect(answer?.accepted == true, "\(String(describing: answer))")

        // Restarted, the entry stays skipped and no new quarantine is raised; HALTED stays until resume.
        process.stop(graceSeconds: 5)
        let again = try await tree.start(Self.risk)
        defer { again.stop(graceSeconds: 5) }
        let control2 = try RawBusPeer(path: tree.socketPath(Self.risk))
        try control2.hello()
        #expect(try control2.receive()?.type == .welcome)
        #expect(try Self.status(control2)?.state == .halted)
        #expect(try tree.entries(Self.risk).filter { $0.record.type == QuarantineJournal.entryType }.count == 1)
        let halts = try tree.entries(Self.risk).filter { $0.record.type == "risk.input" }.filter {
            String(decoding: $0.record.body, as: UTF8.self).contains("quarantined")
        }
        #expect(halts.count == 1, "the quarantine halts once, not again after the acknowledgement")
    }
}
