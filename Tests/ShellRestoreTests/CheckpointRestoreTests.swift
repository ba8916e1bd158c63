import ASTCore
import ASTExecution
import ASTJournal
import ASTPaperBroker
import ASTReport
import ASTRisk
import ASTTestKit
import Foundation
import Testing

@testable import ASTReplay
@testable import ast_reconciler
@testable import ast_risk

// Checkpoints of the risk gate and the reconciler (M11): journals written as the shells write
// them (every input before the core sees it, its outputs, a checkpoint every N inputs from the
// restore's fold carried forward), then restored by the shells' own restore from the newest
// checkpoint plus the tail; that state must be byte for byte the state of a fold from entry 1,
// of replay's re-execution and (for what it shows) of the report.

/// Generated risk inputs: snapshots, marks, intents (new and re-sent), broker lifecycle and
/// connection, reconciliations, operator halts and resumes, in a seeded random order.
func generatedRiskInputs(seed: UInt64, count: Int) -> [(RiskInput, Timestamp)] {
    var rng = SplitMix64(seed: seed)
    let symbols: [Symbol] = ["AAA", "BBB", "CCC"]
    let broker = ProcessIdentity(role: .broker, instance: "paper")
    var intents: [IntentGroup] = []
    var out: [(RiskInput, Timestamp)] = []
    for i in 0..<count {
        let now = at(Int64(10 + i))
        let symbol = symbols[rng.int(0...2)]
        let price = Price(units: Int64(rng.int(400_000...600_000)))
        let input: RiskInput
        switch rng.int(0...9) {
        case 0, 1:
            let equity = Money(units: Int64(rng.int(800_000_000...1_100_000_000)))
            var positions: [Symbol: PositionSnapshot] = [:]
            if rng.int(0...1) == 1 {
                positions[symbol] = PositionSnapshot(
                    quantity: Quantity(Int64(rng.int(1...100))), averagePrice: price, sector: "tech", lastMark: price)
            }
            input = .portfolio(
                PortfolioSnapshot(
                    asOf: now, cash: equity, equity: equity, peakEquity: Money(units: 1_100_000_000),
                    startOfDayEquity: Money(units: 1_000_000_000), positions: positions))
        case 2, 3:
            input = .mark(MarketMark(symbol: symbol, price: price, at: now))
        case 4, 5:
            if rng.int(0...3) == 0, let again = intents.last {
                input = .intent(again)
            } else {
                let intent = IntentGroup(
                    id: IntentID(validating: "2026-02-25.gen\(i).\(symbol)")!, symbol: symbol, sector: "tech", side: .buy,
                    quantity: Quantity(Int64(rng.int(1...50))), entry: .limit(price), stopLoss: Price(units: price.units - 20_000),
                    takeProfit: Price(units: price.units + 40_000), createdAt: now)
                intents.append(intent)
                input = .intent(intent)
            }
        case 6:
            let kind: LifecycleKind = rng.int(0...1) == 0 ? .exited : .ready
            input = .lifecycle(LifecycleEvent(kind: kind, child: broker, reason: kind == .exited ? "exit 1" : nil, at: now))
        case 7:
            input = .brokerConnection(BrokerConnectionReport(broker: broker, connected: rng.int(0...1) == 0, detail: "gen \(i)"))
        case 8:
            input = .reconciliation(rng.int(0...2) == 0 ? .mismatch("gen \(i)") : .clean)
        default:
            input = .command(rng.int(0...1) == 0 ? .halt(reason: "gen \(i)") : .resume(to: .active))
        }
        out.append((input, now))
    }
    return out
}

@Suite(.serialized) struct CheckpointRestoreTests {
    /// Writes ast-risk's journal as ``RiskShell`` does, with a checkpoint every `every` inputs
    /// (the shell's fold carried forward, `appendCovering`), a restart (stopped, started) after
    /// input `restartAfter`. Returns the gate the live run ended with.
    @discardableResult
    func writeRiskJournal(
        _ state: StateDirectory, inputs: [(RiskInput, Timestamp)], every: Int, restartAfter: Int? = nil,
        limits: RiskLimits = .cautiousDefaults
    ) throws -> RiskGate {
        let journal = try state.open("risk@main")
        defer { try? journal.close() }
        let initial = SafeModeRecord.firstStart(at: t0)
        try journal.append(
            JournalRecord(kind: .state, type: RiskJournal.initial, timestamp: t0, body: Array(encoder.encode(initial))),
            durability: .durable)
        try journal.append(JournalRecord(kind: .state, type: RiskJournal.started, timestamp: t0, body: []), durability: .durable)
        var gate = try RiskGate(limits: limits, restoring: initial)
        var fold = RiskJournalFold(limits: limits, process: journal.process, journal: journal.path)
        var schedule = CheckpointSchedule(every: every)
        for (i, (input, now)) in inputs.enumerated() {
            try journal.append(
                JournalRecord(kind: .received, type: RiskJournal.input, timestamp: now, body: Array(encoder.encode(input))),
                durability: .durable)
            for output in gate.handle(input, now: now) {
                if let record = try output.journalRecord(at: now, encoder: encoder) { try journal.append(record, durability: .batched) }
            }
            if schedule.inputHandled() {
                try journal.appendCovering { last in try fold.checkpointRecord(journal: journal, lastSeq: last, now: now) }
            }
            if i == restartAfter {
                try journal.append(JournalRecord(kind: .state, type: RiskJournal.stopped, timestamp: now, body: []), durability: .durable)
                try journal.append(
                    JournalRecord(kind: .state, type: EntryTypes.processStarted, timestamp: now, body: []), durability: .durable)
                try journal.append(JournalRecord(kind: .state, type: RiskJournal.started, timestamp: now, body: []), durability: .durable)
            }
        }
        try journal.append(JournalRecord(kind: .state, type: RiskJournal.stopped, timestamp: at(100_000), body: []), durability: .durable)
        return gate
    }

    /// A fold of the whole journal from entry 1, with no checkpoint (what every start did before).
    func fullRiskFold(_ state: StateDirectory, limits: RiskLimits = .cautiousDefaults) throws -> RiskJournalFold {
        try RiskJournalFold.fold(limits: limits, process: "risk@main", journal: state.journal("risk@main")) { body in
            try JournalReader(path: state.journal("risk@main")).scan(body)
        }
    }

    func bytes(_ s: RiskFoldState) throws -> [UInt8] { try JournalCheckpoint(process: "", covers: 0, state: s).encoded() }
    func bytes(_ s: ReconcilerFoldState) throws -> [UInt8] { try JournalCheckpoint(process: "", covers: 0, state: s).encoded() }

    /// Property: over generated journals and checkpoint intervals, the shell's restore (newest
    /// checkpoint + tail) leaves the gate byte for byte as a fold from entry 1, as replay's
    /// re-execution (which compares every checkpoint on the way: IDENTICAL) and as the live gate.
    @Test(arguments: [(UInt64(1), 3), (2, 7), (3, 1), (4, 50)])
    func riskRestoreFromACheckpointPlusTheTailEqualsAFullReplay(seed: UInt64, every: Int) throws {
        let state = try StateDirectory()
        defer { state.dir.remove() }
        let inputs = generatedRiskInputs(seed: seed, count: 120)
        let live = try writeRiskJournal(state, inputs: inputs, every: every, restartAfter: 60)

        let journal = try state.open("risk@main")
        let (shell, unclean, _, _, fold) = try RiskShell.restore(limits: .cautiousDefaults, journal: journal, now: at(200_000))
        try journal.close()
        let from = try #require(fold.startedFromCheckpoint, "the restore did not start from a checkpoint")
        #expect(from > 100 && fold.rejectedCheckpoints.isEmpty)
        let full = try fullRiskFold(state)
        #expect(try bytes(fold.checkpointState) == bytes(full.checkpointState), "checkpoint + tail == a fold from entry 1")
        #expect(shell.checkpointState == live.checkpointState, "the live gate")
        #expect(!unclean && !full.uncleanPreviousExit)

        let (replay, replayer) = ReplayVerifier.replayKeepingState(path: state.journal("risk@main"), config: ReplaySettings())
        let verify = try #require((replayer as? RiskReplayer)?.fold)
        #expect(replay.divergenceCount == 0, "\(replay.divergences)")
        #expect(try bytes(verify.checkpointState) == bytes(fold.checkpointState))
        let report = try RunReportBuilder.build(stateDirectory: state.dir.path)
        #expect(report.safeModeNow == shell.state.rawValue)
    }

    /// A checkpoint that does not decode is passed over for the one before it (a restore still
    /// equal to a fold from entry 1); one made under other risk limits is passed over too.
    @Test func riskRestorePassesOverAnUndecodableCheckpointAndOneOfOtherLimits() throws {
        let state = try StateDirectory()
        defer { state.dir.remove() }
        try writeRiskJournal(state, inputs: generatedRiskInputs(seed: 9, count: 40), every: 10)
        do {
            let journal = try state.open("risk@main")
            defer { try? journal.close() }
            try journal.appendCovering { _ in
                JournalRecord(kind: .state, type: EntryTypes.checkpoint, timestamp: at(300_000), body: Array(#"{"format":1}"#.utf8))
            }
        }
        let journal = try state.open("risk@main")
        let restored = try RiskJournalFold.restore(limits: .cautiousDefaults, journal: journal)
        #expect(restored.startedFromCheckpoint != nil && restored.rejectedCheckpoints.count == 1, "\(restored.rejectedCheckpoints)")
        #expect(try bytes(restored.checkpointState) == bytes(fullRiskFold(state).checkpointState))

        var other = RiskLimits.cautiousDefaults
        other.maxOpenPositions += 1
        let underOther = try RiskJournalFold.restore(limits: other, journal: journal)
        try journal.close()
        #expect(underOther.startedFromCheckpoint == nil, "every checkpoint was made under other limits")
        #expect(underOther.rejectedCheckpoints.contains { $0.contains("risk limits changed") }, "\(underOther.rejectedCheckpoints)")
        #expect(try bytes(underOther.checkpointState) == bytes(fullRiskFold(state, limits: other).checkpointState))
    }

    /// Fail closed: a journal whose checkpoints cannot be used and that holds no initial Safe Mode
    /// record (its start archived and lost) is not a first start: the gate comes up HALTED.
    @Test func aRiskJournalWithOnlyUnusableCheckpointsStartsHaltedNotActive() throws {
        let state = try StateDirectory()
        defer { state.dir.remove() }
        do {
            let journal = try state.open("risk@main")
            defer { try? journal.close() }
            try journal.append(JournalRecord(kind: .state, type: EntryTypes.processStarted, timestamp: t0, body: []), durability: .durable)
            try journal.appendCovering { _ in
                JournalRecord(kind: .state, type: EntryTypes.checkpoint, timestamp: t0, body: Array("not a checkpoint".utf8))
            }
        }
        let journal = try state.open("risk@main")
        let (gate, _, _, _, fold) = try RiskShell.restore(limits: .cautiousDefaults, journal: journal, now: at(1))
        try journal.close()
        #expect(fold.rejectedCheckpoints.count == 1)
        #expect(gate.state == .halted, "\(gate.record)")
        #expect(gate.cause.kind == .journalVerificationFailed)
    }

    // MARK: ast-reconciler

    /// The reconciler's inputs: the starting cash, the paper exchange's reports for
    /// ``paperInputs``, marks in between, sectors, a start of day and a reconciliation.
    func reconcilerInputs(seed: UInt64) -> [(ReconcilerInput, Timestamp)] {
        var rng = SplitMix64(seed: seed)
        var exchange = PaperExchange(name: "broker@paper", config: .standard)
        var out: [(ReconcilerInput, Timestamp)] = [
            (.initial(cash: Money("100000.00")!), at(1)), (.sectors(["AAA": "tech", "BBB": "energy"]), at(2)),
        ]
        for (input, now) in paperInputs {
            for report in exchange.handle(input, now: now).reports {
                out.append((.report(report), report.at))
                if rng.int(0...1) == 0 {
                    let symbol: Symbol = rng.int(0...1) == 0 ? "AAA" : "BBB"
                    out.append(
                        (
                            .mark(MarketMark(symbol: symbol, price: Price(units: Int64(rng.int(180_000...530_000))), at: report.at)),
                            report.at
                        ))
                }
            }
            if rng.int(0...2) == 0 { out.append((.startDay, now)) }
        }
        out.append((.reconciliationIncomplete(trigger: "test", broker: "broker@paper", detail: "no answer"), at(3 * 86_400)))
        return out
    }

    func writeReconcilerJournal(_ state: StateDirectory, inputs: [(ReconcilerInput, Timestamp)], every: Int) throws -> ReconcilerCore {
        let journal = try state.open("reconciler@main")
        defer { try? journal.close() }
        var core = ReconcilerCore()
        var fold = ReconcilerJournalFold(process: journal.process, journal: journal.path)
        var schedule = CheckpointSchedule(every: every)
        for (input, now) in inputs {
            try journal.append(
                JournalRecord(kind: .received, type: ReconcilerJournal.input, timestamp: now, body: Array(encoder.encode(input))),
                durability: .batched)
            try journalReconcilerOutputs(core.handle(input, now: now), at: now, to: journal, durability: .batched)
            if schedule.inputHandled() {
                try journal.appendCovering { last in try fold.checkpointRecord(journal: journal, lastSeq: last, now: now) }
            }
        }
        return core
    }

    /// Property: over generated journals and intervals, the reconciler shell's restore from the
    /// newest checkpoint + tail is the core of a fold from entry 1, of replay (IDENTICAL,
    /// checkpoints compared) and of the live run; the report shows the same positions.
    @Test(arguments: [(UInt64(1), 2), (2, 3), (3, 5)])
    func reconcilerRestoreFromACheckpointPlusTheTailEqualsAFullReplay(seed: UInt64, every: Int) throws {
        let state = try StateDirectory()
        defer { state.dir.remove() }
        let live = try writeReconcilerJournal(state, inputs: reconcilerInputs(seed: seed), every: every)

        let journal = try state.open("reconciler@main")
        let (shell, _, _, fold) = try ReconcilerShell.restore(journal: journal)
        try journal.close()
        #expect(fold.startedFromCheckpoint != nil && fold.rejectedCheckpoints.isEmpty)
        let full = try ReconcilerJournalFold.fold(process: "reconciler@main", journal: state.journal("reconciler@main")) { body in
            try JournalReader(path: state.journal("reconciler@main")).scan(body)
        }
        #expect(try bytes(fold.checkpointState) == bytes(full.checkpointState), "checkpoint + tail == a fold from entry 1")
        #expect(shell == full.core && shell == live)
        let (replay, replayer) = ReplayVerifier.replayKeepingState(path: state.journal("reconciler@main"), config: ReplaySettings())
        #expect(replay.divergenceCount == 0 && replay.outputsCompared > 0, "\(replay.divergences)")
        #expect((replayer as? ReconcilerReplayer)?.fold.core == shell)
        let report = try RunReportBuilder.build(stateDirectory: state.dir.path)
        #expect(report.finalPositions.map(\.quantity) == shell.portfolio.positions.values.sorted { $0.symbol < $1.symbol }.map(\.quantity))
    }

    /// The reconciler's checkpoint encoding is canonical: decoding and encoding again gives the
    /// same bytes, and the decoded core is the same core.
    @Test func reconcilerCoreRoundTripsThroughItsCheckpointEncoding() throws {
        var core = ReconcilerCore()
        for (input, now) in reconcilerInputs(seed: 5) { _ = core.handle(input, now: now) }
        let state = ReconcilerFoldState(core: core, inputs: 3, quarantine: QuarantineCheckpoint())
        let encoded = try bytes(state)
        let decoded = try JournalCheckpointCoding.decoder.decode(JournalCheckpoint<ReconcilerFoldState>.self, from: Data(encoded))
        #expect(decoded.state.core == core)
        #expect(try bytes(decoded.state) == encoded)
    }

    // MARK: replay --verify --from-checkpoint

    /// From any checkpoint, re-executing up to the next reproduces it (IDENTICAL); a checkpoint
    /// forged with a valid chain but another state is reported from the one before it (the
    /// re-execution does not reproduce it) and from itself (the next one is not reproduced).
    @Test func replayFromACheckpointReproducesTheNextAndReportsAForgedOne() throws {
        let state = try StateDirectory()
        defer { state.dir.remove() }
        let inputs = generatedRiskInputs(seed: 11, count: 30)
        try writeRiskJournal(state, inputs: Array(inputs.prefix(20)), every: 5)
        let path = state.journal("risk@main")
        let good = ReplayVerifier.verifyFromCheckpoint(path: path, config: ReplaySettings(), checkpoint: nil)
        #expect(good.checkpoints.count == 4)
        for from in good.checkpoints.dropLast() {
            let span = ReplayVerifier.verifyFromCheckpoint(path: path, config: ReplaySettings(), checkpoint: from)
            #expect(span.identical && span.to != nil && span.inputs == 5 && span.outputsCompared > 0, "\(span.text())")
        }
        // A forged checkpoint: well chained, but the state of a fresh gate.
        let forged: Int64
        do {
            let journal = try state.open("risk@main")
            defer { try? journal.close() }
            var fresh = RiskJournalFold(limits: .cautiousDefaults, process: "risk@main", journal: path)
            _ = try fresh.apply(try #require(try journal.entries(seq: 1...1).first))
            forged = try #require(
                try journal.appendCovering { last in
                    JournalRecord(
                        kind: .state, type: EntryTypes.checkpoint, timestamp: at(500),
                        body: try JournalCheckpoint(process: "risk@main", covers: last, state: fresh.checkpointState).encoded())
                })
            var gate = try RiskGate(limits: .cautiousDefaults, restoring: .firstStart(at: t0))
            var fold = try RiskJournalFold.restore(limits: .cautiousDefaults, journal: journal)
            _ = gate
            gate = try #require(fold.gate)
            for (input, now) in inputs.dropFirst(20) {
                try journal.append(
                    JournalRecord(kind: .received, type: RiskJournal.input, timestamp: now, body: Array(encoder.encode(input))),
                    durability: .durable)
                for output in gate.handle(input, now: now) {
                    if case .decision(let d) = output {
                        try journal.append(
                            JournalRecord(
                                kind: .decision, type: RiskJournal.decision, timestamp: now, correlationID: d.intent.rawValue,
                                body: Array(encoder.encode(d))), durability: .durable)
                    }
                }
            }
            try journal.appendCovering { last in try fold.checkpointRecord(journal: journal, lastSeq: last, now: at(600)) }
        }
        let before = good.checkpoints.last!
        let intoForged = ReplayVerifier.verifyFromCheckpoint(path: path, config: ReplaySettings(), checkpoint: before)
        #expect(!intoForged.identical && intoForged.to == forged, "\(intoForged.text())")
        #expect(intoForged.divergences.contains { $0.seq == forged && $0.what.contains("checkpoint differs") }, "\(intoForged.text())")
        let fromForged = ReplayVerifier.verifyFromCheckpoint(path: path, config: ReplaySettings(), checkpoint: forged)
        #expect(!fromForged.identical, "\(fromForged.text())")
        // The full verify names it too.
        let full = ReplayVerifier.replay(path: path, config: ReplaySettings())
        #expect(full.divergences.contains { $0.seq == forged && $0.type == EntryTypes.checkpoint }, "\(full.divergences)")
    }

    /// A checkpoint whose bytes were edited in the file (its stored hash no longer matches) is
    /// reported as such, never started from.
    @Test func replayFromAnEditedCheckpointReportsItsBrokenChain() throws {
        let state = try StateDirectory()
        defer { state.dir.remove() }
        try writeRiskJournal(state, inputs: generatedRiskInputs(seed: 12, count: 20), every: 5)
        let path = state.journal("risk@main")
        let first = try #require(
            ReplayVerifier.verifyFromCheckpoint(path: path, config: ReplaySettings(), checkpoint: nil).checkpoints.first)
        try JournalTampering.replaceBody(path: path, seq: first) { body in
            Array(String(decoding: body, as: UTF8.self).replacingOccurrences(of: "\"inputs\":5", with: "\"inputs\":6").utf8)
        }
        let span = ReplayVerifier.verifyFromCheckpoint(path: path, config: ReplaySettings(), checkpoint: first)
        #expect(!span.identical && span.problem?.contains("hash chain does not verify") == true, "\(span.text())")
        let outcome = ReplayCommandRunner.runFromCheckpoint(
            directory: "\(state.dir.path)/journal", processes: ["risk@main"], checkpoint: first, json: false, config: nil)
        #expect(outcome.exitCode == 1 && outcome.stdout.contains("CHECKPOINT UNUSABLE"), "\(outcome.stdout)")
    }
}

/// Edits a journal entry behind the journal's back (Python's sqlite3, as an attacker or a
/// damaged disk would), leaving its stored hashes as they were.
enum JournalTampering {
    static func replaceBody(path: String, seq: Int64, _ edit: ([UInt8]) -> [UInt8]) throws {
        var body: [UInt8] = []
        try JournalReader(path: path).scan(fromSeq: seq, types: nil) { entry in
            body = entry.record.body
            return false
        }
        let edited = edit(body)
        #expect(edited != body, "the edit changed nothing")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                + "c.execute('UPDATE entries SET body = ? WHERE seq = ?', (bytes.fromhex(sys.argv[3]), int(sys.argv[2]))); c.commit()",
            path, "\(seq)", edited.map { String(format: "%02x", $0) }.joined(),
        ]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }
}

extension CheckpointRestoreTests {
    /// Replay under other risk limits than the journal was written with names the limits at each
    /// checkpoint, rather than a state difference that looks like none.
    @Test func replayUnderOtherLimitsNamesTheLimitsAtACheckpoint() throws {
        let state = try StateDirectory()
        defer { state.dir.remove() }
        try writeRiskJournal(state, inputs: generatedRiskInputs(seed: 13, count: 10), every: 5)
        var other = RiskLimits.cautiousDefaults
        other.maxOpenPositions += 1
        let replay = ReplayVerifier.replay(path: state.journal("risk@main"), config: ReplaySettings(riskLimits: other))
        let atCheckpoints = replay.divergences.filter { $0.type == EntryTypes.checkpoint }
        #expect(atCheckpoints.count == 2 && atCheckpoints.allSatisfy { $0.what.contains("other risk limits") }, "\(replay.divergences)")
    }
}
