import ASTCore
import ASTExecution
import ASTJournal
import ASTPaperBroker
import ASTRisk
import ASTTestKit
import ASTWire
import Foundation
import Logging
import Testing

@testable import ASTReplay

/// Journals written the way the shells write them, with a crash (SIGKILL) between one input and
/// its outputs: the outputs are never journaled and the next entry is the restarted process's
/// start marker. Replay must call that a note, not a divergence, for every process kind, and
/// must still call the same journal without the marker a divergence.
@Suite struct IncidentReplayTests {
    let logger = Logger(label: "test")

    /// Appends `process.started` (and, for ast-risk, its own `risk.started`, as the shell does).
    func restart(_ journal: Journal, at time: Timestamp, role: String) throws {
        try journal.append(
            JournalRecord(kind: .state, type: EntryTypes.processStarted, timestamp: time, body: Array(#"{"pid":1}"#.utf8)),
            durability: .batched)
        if role == "risk" {
            try journal.append(JournalRecord(kind: .state, type: EntryTypes.Risk.started, timestamp: time, body: []), durability: .batched)
        }
    }

    // MARK: risk

    func riskInputs() -> [(RiskInput, Timestamp)] {
        let snapshot = PortfolioSnapshot(
            asOf: at(1), cash: Money("100000.00")!, equity: Money("100000.00")!,
            peakEquity: Money("100000.00")!, startOfDayEquity: Money("100000.00")!)
        return [(.portfolio(snapshot), at(1)), (.mark(MarketMark(symbol: "AAPL", price: Price("100.00")!, at: at(2))), at(2))]
            + (0..<6).map { i in
                (.intent(intentGroup("2025-07-01.breakout.S\(i)", Symbol(validating: "S\(i)")!, quantity: 10)), at(3 + Int64(i)))
            }
    }

    /// ast-risk's journal: initial record, then every input and its outputs; after input
    /// `crashAfter` the process dies (no outputs) and restarts (markers when `marker`).
    func recordRiskWithCrash(_ path: String, crashAfter: Int, marker: Bool) throws {
        let journal = try Journal(path: path, process: "risk@main", logger: logger)
        defer { try? journal.close() }
        let record = SafeModeRecord.firstStart(at: t0)
        try journal.append(
            JournalRecord(kind: .state, type: EntryTypes.Risk.initial, timestamp: t0, body: Array(sorted.encode(record))),
            durability: .batched)
        var gate = try RiskGate(limits: .cautiousDefaults, restoring: record)
        for (i, (input, now)) in riskInputs().enumerated() {
            try journal.append(
                JournalRecord(kind: .received, type: EntryTypes.Risk.input, timestamp: now, body: Array(sorted.encode(input))),
                durability: .batched)
            let outputs = gate.handle(input, now: now)
            if i == crashAfter {
                #expect(outputs.contains { if case .decision = $0 { true } else { false } }, "the crash must lose a real output")
                if marker { try restart(journal, at: now, role: "risk") }
                continue
            }
            for case .decision(let d) in outputs {
                try journal.append(
                    JournalRecord(
                        kind: .decision, type: EntryTypes.Risk.decision, timestamp: now, correlationID: d.intent.rawValue,
                        body: Array(try sorted.encode(d))), durability: .batched)
            }
        }
    }

    @Test func riskCrashBetweenInputAndOutputIsANoteAndTheRestIsChecked() throws {
        let dir = try TemporaryDirectory(prefix: "replay-crash")
        defer { dir.remove() }
        try recordRiskWithCrash(dir("risk@main.sqlite"), crashAfter: 4, marker: true)
        let report = ReplayVerifier.verify(try JournalDirectory(path: dir.path), config: ReplaySettings())
        let risk = report.processes[0]
        #expect(report.identical, "\(report.text())")
        #expect(risk.inputs == riskInputs().count, "every input re-executed, after the crash too")
        #expect(risk.outputsCompared == riskInputs().count - 3, "each intent's decision but the lost one")
        #expect(
            risk.notes.contains { $0.contains("a crash between input and output") && $0.contains(EntryTypes.processStarted) },
            "\(risk.notes)")
    }

    @Test func riskLostOutputWithoutAStartMarkerIsADivergence() throws {
        let dir = try TemporaryDirectory(prefix: "replay-crash")
        defer { dir.remove() }
        try recordRiskWithCrash(dir("risk@main.sqlite"), crashAfter: 4, marker: false)
        let report = ReplayVerifier.verify(try JournalDirectory(path: dir.path), config: ReplaySettings())
        #expect(!report.identical)
        #expect(report.processes[0].divergenceCount == 1, "\(report.text())")
    }

    // MARK: reconciler

    /// ast-reconciler's journal: inputs, summaries as decisions, snapshots as sent messages;
    /// input `crashAfter` (an incomplete reconciliation, whose summary is its output) loses its outputs.
    func recordReconcilerWithCrash(_ path: String, crashAfter: Int?, marker: Bool) throws -> Int {
        let journal = try Journal(path: path, process: "reconciler@main", logger: logger)
        defer { try? journal.close() }
        let me = ProcessIdentity(role: .reconciler)
        var inputs: [ReconcilerInput] = [.initial(cash: Money("100000.00")!)]
        for i in 0..<5 {
            inputs.append(.reconciliationIncomplete(trigger: "14:30", broker: "broker@paper", detail: "broker unreachable \(i)"))
            inputs.append(.startDay)
        }
        var core = ReconcilerCore()
        var n = 0
        for (i, input) in inputs.enumerated() {
            let now = at(Int64(10 * i))
            try journal.append(
                JournalRecord(kind: .received, type: EntryTypes.Reconciler.input, timestamp: now, body: Array(sorted.encode(input))),
                durability: .batched)
            let outputs = core.handle(input, now: now)
            if i == crashAfter {
                if marker { try restart(journal, at: now, role: "reconciler") }
                continue
            }
            for output in outputs {
                n += 1
                switch output {
                case .summary(let s):
                    try journal.append(
                        JournalRecord(
                            kind: .decision, type: EntryTypes.Reconciler.summary, timestamp: now,
                            body: Array(try sorted.encode(s))), durability: .batched)
                case .snapshot(let s):
                    try journal.append(
                        message(.sent, .portfolioSnapshot(s), from: me, id: "snap-\(n)", correlation: nil, at: now, peer: "risk@main"),
                        durability: .batched)
                default:
                    Issue.record("the scenario makes only summaries and snapshots, got \(output)")
                }
            }
        }
        return inputs.count
    }

    @Test func reconcilerCrashBetweenInputAndOutputIsANote() throws {
        let dir = try TemporaryDirectory(prefix: "replay-crash")
        defer { dir.remove() }
        let count = try recordReconcilerWithCrash(dir("reconciler@main.sqlite"), crashAfter: 3, marker: true)
        let report = ReplayVerifier.verify(try JournalDirectory(path: dir.path), config: ReplaySettings())
        let p = report.processes[0]
        #expect(report.identical, "\(report.text())")
        #expect(p.inputs == count)
        #expect(p.notes.contains { $0.contains("a crash between input and output") }, "\(p.notes)")

        let without = try TemporaryDirectory(prefix: "replay-crash")
        defer { without.remove() }
        _ = try recordReconcilerWithCrash(without("reconciler@main.sqlite"), crashAfter: 3, marker: false)
        let diverged = ReplayVerifier.verify(try JournalDirectory(path: without.path), config: ReplaySettings())
        #expect(!diverged.identical && diverged.processes[0].divergenceCount == 1, "\(diverged.text())")
    }

    // MARK: broker

    func bracket(_ i: Int) -> BracketOrder {
        let intent = IntentID(validating: "2025-07-01.breakout.S\(i)")!
        let entry = OrderSpec(
            clientOrderID: ClientOrderID(intent: intent, leg: .entry), intent: intent, leg: .entry,
            symbol: Symbol(validating: "S\(i)")!, side: .buy, quantity: 10, type: .limit, limitPrice: Price("100.00")!,
            timeInForce: .day)
        return BracketOrder(intent: intent, entry: entry, stopLoss: nil, takeProfit: nil)
    }

    /// ast-broker's journal: every `paper.input`, then the reports sent on the bus; input
    /// `crashAfter`'s reports are not sent before the crash and (as the restarted adapter does)
    /// are sent right after the start marker; without the marker, only after the next input.
    func recordBrokerWithCrash(_ path: String, crashAfter: Int, marker: Bool) throws {
        let journal = try Journal(path: path, process: "broker@paper", logger: logger)
        defer { try? journal.close() }
        let me = ProcessIdentity(role: .broker, instance: "paper")
        var exchange = PaperExchange(name: "broker@paper", config: .standard)
        var carried: [ExecutionReport] = []
        var n = 0
        func send(_ reports: [ExecutionReport], at now: Timestamp) throws {
            for r in reports {
                n += 1
                try journal.append(
                    message(.sent, .executionReport(r), from: me, id: "m\(n)", correlation: nil, at: now, peer: "reconciler@main"),
                    durability: .batched)
            }
        }
        for i in 0..<6 {
            let now = at(Int64(i))
            let input = PaperJournalInput(input: .submit(bracket(i)))
            try journal.append(
                JournalRecord(kind: .received, type: EntryTypes.Paper.input, timestamp: now, body: Array(sorted.encode(input))),
                durability: .batched)
            let reports = exchange.handle(input.input, now: now).reports
            #expect(!reports.isEmpty)
            if i == crashAfter {
                carried = reports
                if marker {
                    try restart(journal, at: now, role: "broker")
                    try send(carried, at: now)
                    carried = []
                }
                continue
            }
            try send(reports, at: now)
            // Without the marker the lost reports surface only after a later input: a divergence.
            try send(carried, at: now)
            carried = []
        }
    }

    @Test func brokerCrashBetweenInputAndReportIsANoteAndTheReportIsDeliveredLater() throws {
        let dir = try TemporaryDirectory(prefix: "replay-crash")
        defer { dir.remove() }
        try recordBrokerWithCrash(dir("broker@paper.sqlite"), crashAfter: 2, marker: true)
        let report = ReplayVerifier.verify(try JournalDirectory(path: dir.path), config: ReplaySettings())
        let p = report.processes[0]
        #expect(report.identical, "\(report.text())")
        #expect(p.inputs == 6 && p.reexecuted)
        #expect(
            p.notes.contains { $0.contains("a crash between input and output") && $0.contains("delivered by the next run") }, "\(p.notes)")

        let without = try TemporaryDirectory(prefix: "replay-crash")
        defer { without.remove() }
        try recordBrokerWithCrash(without("broker@paper.sqlite"), crashAfter: 2, marker: false)
        let diverged = ReplayVerifier.verify(try JournalDirectory(path: without.path), config: ReplaySettings())
        #expect(!diverged.identical, "\(diverged.text())")
    }

    @Test func crashesInEveryProcessOfOneTreeReplayIdenticalWithNotes() throws {
        let dir = try TemporaryDirectory(prefix: "replay-crash")
        defer { dir.remove() }
        try recordRiskWithCrash(dir("risk@main.sqlite"), crashAfter: 3, marker: true)
        _ = try recordReconcilerWithCrash(dir("reconciler@main.sqlite"), crashAfter: 5, marker: true)
        try recordBrokerWithCrash(dir("broker@paper.sqlite"), crashAfter: 0, marker: true)
        let outcome = ReplayCommandRunner.run(directory: dir.path, filter: TimelineFilter(), json: false, verify: true, config: nil)
        #expect(outcome.exitCode == 0, "\(outcome.stdout)")
        #expect(outcome.stdout.contains("replay: IDENTICAL"))
        #expect(outcome.stdout.components(separatedBy: "a crash between input and output").count - 1 == 3, "\(outcome.stdout)")
    }

    // MARK: many divergences

    @Test func everyDivergenceOfALongJournalIsListedWithACount() throws {
        let dir = try TemporaryDirectory(prefix: "replay-many")
        defer { dir.remove() }
        let path = dir("risk@main.sqlite")
        let snapshot = PortfolioSnapshot(
            asOf: at(1), cash: Money("1000000.00")!, equity: Money("1000000.00")!,
            peakEquity: Money("1000000.00")!, startOfDayEquity: Money("1000000.00")!)
        var inputs: [(RiskInput, Timestamp)] = [(.portfolio(snapshot), at(1))]
        for i in 0..<2_000 {
            inputs.append((.mark(MarketMark(symbol: "AAPL", price: Price("100.00")!, at: at(Int64(2 + i)))), at(Int64(2 + i))))
            if i % 100 == 0 {
                inputs.append((.intent(intentGroup("2025-07-01.breakout.AAPL\(i)", "AAPL", quantity: 1)), at(Int64(2 + i))))
            }
        }
        try recordRisk(path, inputs)
        // Two decisions edited by hand, one in the middle and one near the end.
        var decisions: [Int64] = []
        try JournalReader(path: path).scan { e in
            if e.record.type == EntryTypes.Risk.decision { decisions.append(e.seq) }
            return true
        }
        let middle = decisions[decisions.count / 2], late = decisions[decisions.count - 2]
        for seq in [middle, late] { try editBody(path, seq: seq) { $0.replacingOccurrences(of: "breakout", with: "breakoff") } }

        let report = ReplayVerifier.verify(try JournalDirectory(path: dir.path), config: ReplaySettings())
        let p = report.processes[0]
        #expect(!report.identical)
        #expect(p.chainDamageSeq == middle, "\(p.chainDamage ?? "clean")")
        #expect(p.inputs == inputs.count, "re-executed to the end, not stopped at the first divergence")
        #expect(p.divergenceCount == 2, "\(report.text())")
        #expect(p.divergences.compactMap(\.recordedSeq) == [middle, late])
        let text = report.text()
        #expect(
            text.contains("DIVERGED (2 divergences)") && text.contains("[1/2] DIVERGED at") && text.contains("[2/2] DIVERGED at"), "\(text)"
        )
        #expect(text.contains("NOT IDENTICAL (2 divergences)"))
    }
}

/// The folds as the shells are to call them: over the writer's `Journal.scan`, in place of
/// their own restore loops.
@Suite struct RestoreFoldTests {
    @Test func riskFoldOverTheWritersScanRestoresTheGateAndSeesEveryInput() throws {
        let dir = try TemporaryDirectory(prefix: "fold")
        defer { dir.remove() }
        let path = dir("risk@main.sqlite")
        try recordRisk(path, VerifierTests().inputs())
        let journal = try Journal(path: path, process: "risk@main", logger: Logger(label: "test"))
        defer { try? journal.close() }
        try journal.append(JournalRecord(kind: .state, type: EntryTypes.Risk.started, timestamp: at(9), body: []), durability: .durable)
        var observed: [Int64] = []
        let fold = try RiskJournalFold.fold(limits: .cautiousDefaults, observe: { entry, _ in observed.append(entry.seq) }) {
            try journal.scan(fromSeq: 1, $0)
        }
        #expect(fold.gate?.state == .halted, "the recorded halt command")
        #expect(observed.count == 5 && fold.inputs == 5)
        #expect(fold.uncleanPreviousExit, "risk.started with no risk.stopped after it")
    }

    @Test func anUndecodableInputIsSkippedAndNamedAndTheFoldGoesOn() throws {
        let dir = try TemporaryDirectory(prefix: "fold")
        defer { dir.remove() }
        let path = dir("reconciler@main.sqlite")
        let journal = try Journal(path: path, process: "reconciler@main", logger: Logger(label: "test"))
        defer { try? journal.close() }
        try journal.append(
            JournalRecord(
                kind: .received, type: EntryTypes.Reconciler.input, timestamp: at(1),
                body: Array(sorted.encode(ReconcilerInput.initial(cash: Money("100.00")!)))), durability: .durable)
        try journal.append(
            JournalRecord(kind: .received, type: EntryTypes.Reconciler.input, timestamp: at(2), body: Array("{}".utf8)),
            durability: .durable)
        try journal.append(
            JournalRecord(
                kind: .received, type: EntryTypes.Reconciler.input, timestamp: at(3),
                body: Array(sorted.encode(ReconcilerInput.mark(MarketMark(symbol: "AAPL", price: Price("10.00")!, at: at(3)))))),
            durability: .durable)
        let fold = try ReconcilerJournalFold.restore(journal: journal)
        #expect(fold.inputs == 2 && fold.core.initialized, "the inputs around the undecodable one are applied")
        #expect(fold.quarantine.found.map(\.seq) == [2] && fold.quarantine.found.first?.type == EntryTypes.Reconciler.input)
        #expect(fold.quarantine.found.first?.journal == path && fold.quarantine.newEntries.count == 1)
        // Once the journal records the quarantine, a later restore does not record it again.
        try journal.append(QuarantineJournal.entryRecord(fold.quarantine.found[0], at: at(4)), durability: .durable)
        #expect(try ReconcilerJournalFold.restore(journal: journal).quarantine.newEntries.isEmpty)
    }
}
