import ASTCore
import ASTExecution
import ASTJournal
import ASTNotify
import ASTPaperBroker
import ASTRisk
import ASTWire
import Dispatch
import Foundation
import Synchronization

/// What replay needs from the configuration the processes ran with (the journals do not
/// record it): the risk limits and the paper broker's fill rules.
public struct ReplaySettings: Sendable, Equatable, Codable {
    public var riskLimits: RiskLimits
    public var paperBroker: PaperBrokerConfig

    public init(riskLimits: RiskLimits = .cautiousDefaults, paperBroker: PaperBrokerConfig = .standard) {
        self.riskLimits = riskLimits
        self.paperBroker = paperBroker
    }

    enum CodingKeys: String, CodingKey {
        case riskLimits = "risk_limits", paperBroker = "paper_broker"
    }
}

/// The first place where re-executing a process's recorded inputs does not give its recorded
/// outputs.
public struct Divergence: Sendable, Equatable, Codable, CustomStringConvertible {
    public var process: String
    /// The entry replay names: the input whose outputs differ, or the recorded output that no
    /// input produced.
    public var seq: Int64
    /// That entry's type (`risk.input` ...).
    public var type: String
    /// The recorded output compared with, if any.
    public var recordedSeq: Int64?
    public var what: String
    /// What the journal records (empty when it records nothing).
    public var expected: String
    /// What replay produced (empty when it produced nothing).
    public var got: String

    public init(process: String, seq: Int64, type: String, recordedSeq: Int64? = nil, what: String, expected: String = "", got: String = "")
    {
        self.process = process
        self.seq = seq
        self.type = type
        self.recordedSeq = recordedSeq
        self.what = what
        self.expected = expected
        self.got = got
    }

    enum CodingKeys: String, CodingKey {
        case process, seq, type, recordedSeq = "recorded_seq", what, expected, got
    }

    public var description: String {
        var s = "\(process) entry \(seq) (\(type)): \(what)"
        if !expected.isEmpty { s += "\n    recorded\(recordedSeq.map { " (entry \($0))" } ?? ""): \(expected)" }
        if !got.isEmpty { s += "\n    replayed: \(got)" }
        return s
    }
}

/// The replay of one journal.
public struct ProcessReplay: Sendable, Codable {
    public var process: String
    public var path: String
    public var entries: Int
    /// Inputs fed through the core.
    public var inputs: Int
    /// Recorded outputs found equal to replayed ones.
    public var outputsCompared: Int
    /// False for processes whose logic replay does not re-execute (their chain is still checked).
    public var reexecuted: Bool
    /// The hash-chain damage, described, or nil for a clean chain.
    public var chainDamage: String?
    public var chainDamageSeq: Int64?
    /// Every divergence found, in journal order (the first ``DivergenceLog/limit`` of them).
    public var divergences: [Divergence]
    /// How many divergences replay found in all, listed or not.
    public var divergenceCount: Int
    public var notes: [String]

    /// The first divergence, if any.
    public var divergence: Divergence? { divergences.first }

    enum CodingKeys: String, CodingKey {
        case process, path, entries, inputs, outputsCompared = "outputs_compared", reexecuted
        case chainDamage = "chain_damage", chainDamageSeq = "chain_damage_seq", divergences, divergenceCount = "divergence_count", notes
    }
}

/// The divergences of one journal: all of them counted, the first ``limit`` kept, so that a
/// journal that diverges at every entry does not hold them all in memory.
struct DivergenceLog {
    static let limit = 1_000
    var kept: [Divergence] = []
    var count = 0

    mutating func record(_ d: Divergence) {
        count += 1
        if kept.count < Self.limit { kept.append(d) }
    }
}

/// The outcome of ``ReplayVerifier/verify(_:config:)``.
public struct VerificationReport: Sendable, Codable {
    public var processes: [ProcessReplay]
    public var entries: Int
    public var seconds: Double
    public var entriesPerSecond: Double

    /// Every chain clean and every re-executed process identical.
    public var identical: Bool { processes.allSatisfy { $0.chainDamage == nil && $0.divergenceCount == 0 } }

    /// Divergences over every journal.
    public var divergenceCount: Int { processes.map(\.divergenceCount).reduce(0, +) }

    enum CodingKeys: String, CodingKey {
        case processes, entries, seconds, entriesPerSecond = "entries_per_second", identical, divergenceCount = "divergence_count"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(processes, forKey: .processes)
        try c.encode(entries, forKey: .entries)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(entriesPerSecond, forKey: .entriesPerSecond)
        try c.encode(identical, forKey: .identical)
        try c.encode(divergenceCount, forKey: .divergenceCount)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        processes = try c.decode([ProcessReplay].self, forKey: .processes)
        entries = try c.decode(Int.self, forKey: .entries)
        seconds = try c.decode(Double.self, forKey: .seconds)
        entriesPerSecond = try c.decode(Double.self, forKey: .entriesPerSecond)
    }

    init(processes: [ProcessReplay], seconds: Double) {
        self.processes = processes
        entries = processes.map(\.entries).reduce(0, +)
        self.seconds = seconds
        entriesPerSecond = seconds > 0 ? Double(entries) / seconds : 0
    }

    /// How many divergences ``text()`` prints per process (the JSON form has up to ``DivergenceLog/limit``).
    public static let printedPerProcess = 50

    /// For an operator: damaged chains first, then per process its counts, every divergence
    /// (up to ``printedPerProcess``) and its notes, then the verdict.
    public func text() -> String {
        var lines: [String] = []
        for p in processes {
            if let damage = p.chainDamage { lines.append("HASH CHAIN BROKEN: \(p.process): \(damage)") }
        }
        for p in processes {
            let what =
                p.reexecuted ? "\(p.inputs) inputs re-executed, \(p.outputsCompared) outputs identical" : "not re-executed (chain only)"
            let verdict =
                p.divergenceCount > 0
                ? "DIVERGED (\(p.divergenceCount) divergence\(p.divergenceCount == 1 ? "" : "s"))"
                : (p.chainDamage != nil ? "DAMAGED" : "ok")
            lines.append("\(p.process): \(p.entries) entries, \(what): \(verdict)")
            for (i, d) in p.divergences.prefix(Self.printedPerProcess).enumerated() {
                lines.append("  [\(i + 1)/\(p.divergenceCount)] DIVERGED at \(d)")
            }
            let unprinted = p.divergenceCount - min(p.divergences.count, Self.printedPerProcess)
            if unprinted > 0 { lines.append("  ... and \(unprinted) more divergence(s) (--json lists up to \(DivergenceLog.limit))") }
            for note in p.notes { lines.append("  note: \(note)") }
        }
        lines.append(String(format: "%d entries in %.3f s (%.0f entries/s)", entries, seconds, entriesPerSecond))
        let total = divergenceCount
        lines.append(
            identical ? "replay: IDENTICAL" : "replay: NOT IDENTICAL" + (total > 0 ? " (\(total) divergence\(total == 1 ? "" : "s"))" : ""))
        return lines.joined(separator: "\n")
    }
}

/// Re-executes each process's recorded inputs through the same core state machines the
/// processes run, with the same folds the processes restore with (``RiskJournalFold``,
/// ``ReconcilerJournalFold``, ``PaperJournalFold``), and compares the outputs with the recorded ones:
/// - `risk@*`: a ``RiskGate`` restored from `safe_mode.initial`, fed every `risk.input` with its
///   time; its decisions, transitions, cancel decisions and command results must equal the
///   `risk.decision`, `safe_mode.transition`, `risk.cancel`, `risk.command` entries, in order.
/// - `reconciler@*`: a ``ReconcilerCore`` fed every `reconciler.input`; its summaries, anomalies,
///   reconciliation results and repair cancels must equal the journaled and sent ones, in order;
///   every published `portfolio.snapshot` must be one it produced since the last publication, or
///   its portfolio at that point (the shell coalesces a burst into its last snapshot).
/// - `broker@*` with `paper.input` entries: a ``PaperExchange`` fed every input; the execution
///   reports it produces and the sent `execution.report` messages must be the same set (by id,
///   and equal), every report sent before the next input is handled.
///
/// A start marker (``EntryTypes/startMarkers``) ends a run of the process: outputs of the last
/// input not recorded before it are a crash between input and output, reported as a note (a
/// broker's unsent reports are delivered by the next run, so they may still be sent after it).
/// Verification never stops at a divergence: every journal is re-executed to its end and every
/// divergence is counted. Memory: one entry at a time plus the core's own state, the outputs of
/// the input being compared, the ids of messages already sent (re-sends are skipped) and at most
/// ``DivergenceLog/limit`` divergences; never the journal's entries.
///
/// Alerts are not compared (they depend on whether a notifier is configured). Strategy, market
/// data and notifier are not re-executed (their chain is checked), but a crash between an input
/// and its output is recognised in them too and noted (``RestartNoteReplayer``); other
/// processes get their hash chain checked only.
public enum ReplayVerifier {
    public static func verify(_ directory: JournalDirectory, config: ReplaySettings) -> VerificationReport {
        let start = ContinuousClock.now
        let results = verifyAll(directory.files, config: config)
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return VerificationReport(processes: results, seconds: seconds)
    }

    /// ``replay(path:config:checkChain:)`` of every journal, in their order. A journal's chain check
    /// and its re-execution read the file independently (each read-only, in its own transaction),
    /// so every one of them is a job of its own, and the jobs run on all cores: verification
    /// takes about as long as its longest journal's re-execution, not as the sum of them all.
    static func verifyAll(_ files: [String], config: ReplaySettings) -> [ProcessReplay] {
        let chains = Mutex([JournalVerification?](repeating: nil, count: files.count))
        let replays = Mutex([ProcessReplay?](repeating: nil, count: files.count))
        DispatchQueue.concurrentPerform(iterations: 2 * files.count) { job in
            let i = job / 2
            if job % 2 == 0 {
                let r = replay(path: files[i], config: config, checkChain: false)
                replays.withLock { $0[i] = r }
            } else {
                let chain = Journal.verify(path: files[i])
                chains.withLock { $0[i] = chain }
            }
        }
        let chain = chains.withLock { $0 }
        return replays.withLock { $0 }.enumerated().map { i, replayed in
            var result = replayed ?? replay(path: files[i], config: config, checkChain: false)
            if let damage = (chain[i] ?? Journal.verify(path: files[i])).damage {
                result.chainDamage = damage.description
                result.chainDamageSeq = damage.firstBadSeq
            }
            return result
        }
    }

    /// Checks one journal's chain and re-executes it when replay knows its process.
    public static func replay(path: String, config: ReplaySettings, checkChain: Bool = true) -> ProcessReplay {
        replayKeepingState(path: path, config: config, checkChain: checkChain).result
    }

    /// ``replay(path:config:checkChain:)`` with the replayer it ran, whose fold holds the core as
    /// the journal leaves it (tests compare it with the shells' restore and the report's).
    static func replayKeepingState(path: String, config: ReplaySettings, checkChain: Bool = true)
        -> (result: ProcessReplay, replayer: (any Replayer)?)
    {
        var result = ProcessReplay(
            process: "?", path: path, entries: 0, inputs: 0, outputsCompared: 0, reexecuted: false,
            chainDamage: nil, chainDamageSeq: nil, divergences: [], divergenceCount: 0, notes: [])
        if checkChain {
            let chain = Journal.verify(path: path)
            if let damage = chain.damage {
                result.chainDamage = damage.description
                result.chainDamageSeq = damage.firstBadSeq
            }
        }
        let reader: JournalReader
        do { reader = try JournalReader(path: path) } catch {
            result.notes.append("cannot read: \(error)")
            return (result, nil)
        }
        result.process = reader.process
        let role = reader.process.split(separator: "@").first.map(String.init) ?? reader.process
        var replayer: (any Replayer)?
        switch role {
        case "risk": replayer = RiskReplayer(process: reader.process, journal: path, limits: config.riskLimits)
        case "reconciler": replayer = ReconcilerReplayer(process: reader.process, journal: path)
        case "broker": replayer = PaperReplayer(process: reader.process, journal: path, config: config.paperBroker)
        case "strategy": replayer = RestartNoteReplayer(process: reader.process, rule: .strategy)
        case "marketdata": replayer = RestartNoteReplayer(process: reader.process, rule: .marketData)
        case "notifier": replayer = RestartNoteReplayer(process: reader.process, rule: .notifier)
        default: replayer = nil
        }
        var entries = 0
        // Only the entries the replayer acts on are built; the others are counted (and passed to
        // it by seq). No replayer: the chain check is all, nothing is built.
        let wanted = replayer == nil ? EntryTypeFilter([]) : replayer?.types.map(EntryTypeFilter.init)
        do {
            let feed = { (entry: JournalEntry) -> Bool in
                entries += 1
                replayer?.feed(entry)
                return true
            }
            if let wanted {
                try reader.scan(
                    only: wanted,
                    passed: { seq in
                        entries += 1
                        replayer?.passOver(seq)
                    }, feed)
            } else {
                try reader.scan(feed)
            }
        } catch {
            result.notes.append("reading stopped after \(entries) entries: \(error)")
        }
        replayer?.finish()
        result.entries = entries
        if let replayer {
            result.reexecuted = !(replayer is RestartNoteReplayer) && (replayer.inputs > 0 || role != "broker")
            result.inputs = replayer.inputs
            result.outputsCompared = replayer.compared
            result.notes += replayer.notes
            result.divergences = replayer.log.kept
            result.divergenceCount = replayer.log.count
        }
        return (result, replayer)
    }
}

extension Divergence: Error {}

/// Re-executes one process's journal, entry by entry, recording every divergence.
protocol Replayer {
    var inputs: Int { get }
    var compared: Int { get }
    var notes: [String] { get }
    var log: DivergenceLog { get }
    /// The entry types ``feed(_:)`` acts on, nil for every type: the others are not read, only
    /// handed to ``passOver(_:)``.
    var types: Set<String>? { get }
    mutating func feed(_ entry: JournalEntry)
    /// An entry of a type not in ``types``, by seq.
    mutating func passOver(_ seq: Int64)
    mutating func finish()
}

extension Replayer {
    var types: Set<String>? { nil }
    mutating func passOver(_ seq: Int64) {}
}

private let sortedEncoder: JSONEncoder = {
    let e = JSONEncoder()
    e.outputFormatting = .sortedKeys
    return e
}()

/// Compares a recorded body with a produced value: equal decoded values, else equal bytes.
func sameValue<T: Codable & Equatable>(_ produced: T, recorded body: [UInt8], decoder: JSONDecoder) -> (equal: Bool, recorded: String) {
    // Decoding (strict reader first) is cheaper than encoding: the bytes only when it differs.
    if let value = StrictJSON.fastDecode(T.self, from: body), value == produced { return (true, "") }
    if let bytes = try? sortedEncoder.encode(produced), bytes.elementsEqual(body) { return (true, "") }
    guard let value = try? StrictJSON.decode(T.self, from: body, fallback: decoder) else {
        return (false, "undecodable \(T.self): \(String(decoding: body.prefix(300), as: UTF8.self))")
    }
    return (value == produced, "\(value)")
}

/// The outputs replay produced for the last input and has not yet matched with recorded ones.
struct PendingOutputs<Output> {
    var items: [(output: Output, input: Int64)] = []
    var next = 0

    var isEmpty: Bool { next >= items.count }
    var remaining: Int { items.count - next }
    var first: (output: Output, input: Int64)? { isEmpty ? nil : items[next] }

    mutating func take() -> (output: Output, input: Int64)? {
        guard !isEmpty else { return nil }
        defer { next += 1 }
        return items[next]
    }

    mutating func reset() {
        items.removeAll(keepingCapacity: true)
        next = 0
    }

    /// A start marker: outputs of the last input still unrecorded are a crash between input and
    /// output (a note, not a divergence); the next run starts with none.
    mutating func restart(at marker: JournalEntry, notes: inout [String]) {
        if let first { notes.append(crashNote(remaining, input: first.input, marker: marker)) }
        reset()
    }

    /// The next input (`entry`, of `inputType`): outputs of the previous one the journal did not
    /// record before it are divergences.
    mutating func flush(before entry: JournalEntry, inputType: String, process: String, into log: inout DivergenceLog) {
        while let (output, input) = take() {
            log.record(
                Divergence(
                    process: process, seq: input, type: inputType,
                    what: "replay produced an output the journal does not record before the next input (entry \(entry.seq))",
                    got: "\(output)"))
        }
        reset()
    }

    /// The output to compare with the recorded `entry`; nil, with a divergence, when replay has none.
    mutating func take(for entry: JournalEntry, process: String, into log: inout DivergenceLog) -> (output: Output, input: Int64)? {
        guard let next = take() else {
            log.record(
                Divergence(
                    process: process, seq: entry.seq, type: entry.record.type, recordedSeq: entry.seq,
                    what: "the journal records an output replay did not produce",
                    expected: String(decoding: entry.record.body.prefix(600), as: UTF8.self)))
            return nil
        }
        return next
    }

    /// The end of the journal: outputs of the last input left unrecorded (a note).
    func finish(notes: inout [String]) {
        if !isEmpty {
            notes.append("\(remaining) output(s) of the last input not recorded: the journal ends there (live copy or crash)")
        }
    }
}

/// An input the fold skipped (``FoldQuarantine``) is a divergence: the process did not replay it either.
func recordSkipped(_ quarantine: FoldQuarantine, after count: Int, process: String, into log: inout DivergenceLog) {
    for q in quarantine.found.dropFirst(count) {
        log.record(Divergence(process: process, seq: q.seq, type: q.type, what: "quarantined: \(q.cause)"))
    }
}

/// The note for `count` outputs of `input` left unrecorded when the process restarted at `marker`.
func crashNote(_ count: Int, input: Int64, marker: JournalEntry) -> String {
    "\(count) output(s) of entry \(input) not recorded before the restart at entry \(marker.seq) (\(marker.record.type)):"
        + " a crash between input and output"
}

struct RiskReplayer: Replayer {
    let process: String
    var fold: RiskJournalFold
    var pending = PendingOutputs<RiskOutput>()
    var compared = 0
    var notes: [String] = []
    var log = DivergenceLog()
    let decoder = JSONDecoder()
    static let outputTypes: Set<String> = [
        EntryTypes.Risk.decision, EntryTypes.Risk.transition, EntryTypes.Risk.cancel, EntryTypes.Risk.command,
    ]

    var inputs: Int { fold.inputs }
    var types: Set<String>? { Self.wanted }
    static let wanted = RiskJournalFold.types.union(outputTypes).union(EntryTypes.startMarkers).union([EntryTypes.checkpoint])

    init(process: String, journal: String = "", limits: RiskLimits) {
        self.process = process
        fold = RiskJournalFold(limits: limits, process: process, journal: journal)
    }

    mutating func feed(_ entry: JournalEntry) {
        let r = entry.record
        if EntryTypes.startMarkers.contains(r.type) { pending.restart(at: entry, notes: &notes) }
        if r.type == EntryTypes.Risk.input {
            pending.flush(before: entry, inputType: EntryTypes.Risk.input, process: process, into: &log)
        }
        if Self.outputTypes.contains(r.type) && (r.kind == .decision || r.kind == .state) {
            compare(entry)
            return
        }
        if r.type == EntryTypes.checkpoint { compareCheckpoint(entry) }
        do throws(FoldError) {
            let skipped = fold.quarantine.found.count
            guard let outputs = try fold.apply(entry) else {
                recordSkipped(fold.quarantine, after: skipped, process: process, into: &log)
                return
            }
            for output in outputs {
                if case .alert = output { continue }
                pending.items.append((output, entry.seq))
            }
        } catch {
            log.record(Divergence(process: process, seq: error.seq, type: error.type, what: error.reason))
        }
    }

    mutating func compare(_ entry: JournalEntry) {
        let r = entry.record
        guard let (output, input) = pending.take(for: entry, process: process, into: &log) else { return }
        let (type, equal, recorded) = compare(output, type: r.type, body: r.body)
        guard equal else {
            log.record(
                Divergence(
                    process: process, seq: input, type: EntryTypes.Risk.input, recordedSeq: entry.seq,
                    what: type == r.type
                        ? "replay's \(type) differs from the recorded one"
                        : "replay produced \(type) where the journal records \(r.type)",
                    expected: recorded.isEmpty ? String(decoding: r.body.prefix(600), as: UTF8.self) : recorded,
                    got: "\(output)"))
            return
        }
        compared += 1
        if pending.isEmpty { pending.reset() }
    }

    func compare(_ output: RiskOutput, type: String, body: [UInt8]) -> (String, Bool, String) {
        /// `value` against the body when the journal records it as `expected`.
        func same<T: Codable & Equatable>(_ value: T, as expected: String) -> (String, Bool, String) {
            guard type == expected else { return (expected, false, "") }
            let c = sameValue(value, recorded: body, decoder: decoder)
            return (expected, c.equal, c.recorded)
        }
        switch output {
        case .decision(let d): return same(d, as: EntryTypes.Risk.decision)
        case .transition(let t): return same(t, as: EntryTypes.Risk.transition)
        case .cancel(let x): return same(x, as: EntryTypes.Risk.cancel)
        case .commandResult(let x): return same(x, as: EntryTypes.Risk.command)
        case .alert: return ("alert", false, "")
        }
    }

    mutating func finish() {
        pending.finish(notes: &notes)
    }
}

struct ReconcilerReplayer: Replayer {
    let process: String
    var fold: ReconcilerJournalFold
    var pending = PendingOutputs<ReconcilerOutput>()
    /// Snapshots produced since the last publication, and the last one published.
    var produced: [PortfolioSnapshot] = []
    var lastPublished: PortfolioSnapshot?
    var lastInput: Int64 = 0
    /// Ids of the messages already compared: a re-send of one is skipped.
    var seenMessages = Set<String>()
    var compared = 0
    var notes: [String] = []
    var log = DivergenceLog()
    let decoder = JSONDecoder()

    /// Set at a start marker, cleared at the next input: the start-up mismatch a start with
    /// quarantined entries sends (``QuarantineJournal/startupMismatch(pending:)``) is expected.
    var atStart = false

    var inputs: Int { fold.inputs }
    var core: ReconcilerCore { fold.core }
    var types: Set<String>? { Self.wanted }
    static let wanted = ReconcilerJournalFold.types.union(EntryTypes.startMarkers).union([
        EntryTypes.Reconciler.summary, EntryTypes.Reconciler.anomaly, MessageType.reconciliationResult.rawValue,
        MessageType.orderCancel.rawValue, MessageType.portfolioSnapshot.rawValue, EntryTypes.checkpoint,
    ])

    init(process: String, journal: String = "") {
        self.process = process
        fold = ReconcilerJournalFold(process: process, journal: journal)
    }

    mutating func feed(_ entry: JournalEntry) {
        let r = entry.record
        if EntryTypes.startMarkers.contains(r.type) {
            pending.restart(at: entry, notes: &notes)
            atStart = true
            return
        }
        if r.kind == .received && r.type == EntryTypes.Reconciler.input { atStart = false }
        switch (r.kind, r.type) {
        case (.received, EntryTypes.Reconciler.input):
            pending.flush(before: entry, inputType: EntryTypes.Reconciler.input, process: process, into: &log)
            lastInput = entry.seq
            do throws(FoldError) {
                let skipped = fold.quarantine.found.count
                guard let step = try fold.apply(entry) else {
                    recordSkipped(fold.quarantine, after: skipped, process: process, into: &log)
                    return
                }
                for output in step.outputs {
                    switch output {
                    case .snapshot(let s): produced.append(s)
                    case .alert: break
                    default: pending.items.append((output, entry.seq))
                    }
                }
            } catch {
                log.record(Divergence(process: process, seq: error.seq, type: error.type, what: error.reason))
            }
        case (.decision, EntryTypes.Reconciler.summary), (.decision, EntryTypes.Reconciler.anomaly):
            match(entry)
        case (.sent, MessageType.reconciliationResult.rawValue), (.sent, MessageType.orderCancel.rawValue):
            if let id = r.messageID, !seenMessages.insert(id).inserted { return }
            // The start-up mismatch of a start with quarantined entries: the shell's, from the
            // quarantine records this start read or wrote, before any input.
            if atStart, pending.isEmpty, let text = QuarantineJournal.startupMismatch(pending: fold.quarantine.state.pending),
                case .reconciliationResult(.mismatch(text))? = try? EnvelopeCodec.decode(r.body).message
            {
                atStart = false
                compared += 1
                return
            }
            match(entry)
        case (.sent, MessageType.portfolioSnapshot.rawValue):
            guard case .portfolioSnapshot(let snapshot)? = try? EnvelopeCodec.decode(r.body).message else {
                log.record(Divergence(process: process, seq: entry.seq, type: r.type, what: "the published portfolio does not decode"))
                return
            }
            if snapshot == lastPublished || produced.contains(snapshot) || snapshot == core.snapshot(snapshot.asOf) {
                compared += 1
            } else {
                log.record(
                    Divergence(
                        process: process, seq: lastInput, type: EntryTypes.Reconciler.input, recordedSeq: entry.seq,
                        what: "the published portfolio is none replay produced since the last publication",
                        expected: "\(snapshot)", got: "\(produced.last.map { "\($0)" } ?? "\(core.snapshot(snapshot.asOf))")"))
            }
            lastPublished = snapshot
            produced.removeAll(keepingCapacity: true)
        case (_, EntryTypes.checkpoint):
            compareCheckpoint(entry)
            do { _ = try fold.apply(entry) } catch {
                log.record(Divergence(process: process, seq: error.seq, type: error.type, what: error.reason))
            }
        default:
            // A fold that cannot take an entry is a divergence, never skipped: a checker fails closed.
            do { _ = try fold.apply(entry) } catch {
                log.record(Divergence(process: process, seq: error.seq, type: error.type, what: error.reason))
            }
        }
    }

    mutating func match(_ entry: JournalEntry) {
        let r = entry.record
        guard let (output, input) = pending.take(for: entry, process: process, into: &log) else { return }
        var equal = false
        var recorded = ""
        switch (output, r.type) {
        case (.summary(let s), EntryTypes.Reconciler.summary):
            (equal, recorded) = sameValue(s, recorded: r.body, decoder: decoder)
        case (.anomaly(let text), EntryTypes.Reconciler.anomaly):
            equal = Array(text.utf8) == r.body
            recorded = String(decoding: r.body, as: UTF8.self)
        case (.result(let x), MessageType.reconciliationResult.rawValue):
            let m = try? EnvelopeCodec.decode(r.body).message
            if case .reconciliationResult(let y)? = m {
                equal = x == y
                recorded = "\(y)"
            }
        case (.cancelAtBroker(let x), MessageType.orderCancel.rawValue):
            let m = try? EnvelopeCodec.decode(r.body).message
            if case .orderCancel(let y)? = m {
                equal = x == y
                recorded = "\(y)"
            }
        default:
            recorded = "\(r.type): \(String(decoding: r.body.prefix(600), as: UTF8.self))"
        }
        guard equal else {
            log.record(
                Divergence(
                    process: process, seq: input, type: EntryTypes.Reconciler.input, recordedSeq: entry.seq,
                    what: "replay's output differs from the recorded \(r.type)", expected: recorded, got: "\(output)"))
            return
        }
        compared += 1
    }

    mutating func finish() {
        pending.finish(notes: &notes)
    }
}

struct PaperReplayer: Replayer {
    let process: String
    var fold: PaperJournalFold
    /// Produced reports not yet seen sent, by id, with the input that produced them.
    var unsent: [String: (report: ExecutionReport, input: Int64)] = [:]
    /// Ids produced by the last input and not yet sent, in production order.
    var ofLastInput: [String] = []
    /// Ids of every report produced (a second one with the same id is a divergence) and sent.
    var producedIDs = Set<String>()
    var sentIDs = Set<String>()
    var compared = 0
    var notes: [String] = []
    var log = DivergenceLog()

    var inputs: Int { fold.inputs }
    var types: Set<String>? { Self.wanted }
    static let wanted = PaperJournalFold.types.union(EntryTypes.startMarkers).union([EntryTypes.checkpoint])

    init(process: String, journal: String = "", config: PaperBrokerConfig) {
        self.process = process
        fold = PaperJournalFold(name: process, config: config, journal: journal)
    }

    mutating func passOver(_ seq: Int64) {
        fold.passOver(seq)
    }

    mutating func feed(_ entry: JournalEntry) {
        let r = entry.record
        if EntryTypes.startMarkers.contains(r.type) {
            let left = ofLastInput.filter { unsent[$0] != nil }
            if let first = left.first.flatMap({ unsent[$0] }) {
                notes.append(crashNote(left.count, input: first.input, marker: entry) + " (delivered by the next run)")
            }
            ofLastInput.removeAll(keepingCapacity: true)
            return
        }
        switch (r.kind, r.type) {
        case (.received, EntryTypes.Paper.input), (.received, EntryTypes.Paper.faultResubmit):
            for id in ofLastInput {
                guard let p = unsent.removeValue(forKey: id) else { continue }
                log.record(
                    Divergence(
                        process: process, seq: p.input, type: EntryTypes.Paper.input,
                        what: "replay produced execution report \(id), which was not sent before the next input (entry \(entry.seq))",
                        got: "\(p.report)"))
            }
            ofLastInput.removeAll(keepingCapacity: true)
            do throws(FoldError) {
                let skipped = fold.quarantine.found.count
                guard let step = try fold.apply(entry) else {
                    recordSkipped(fold.quarantine, after: skipped, process: process, into: &log)
                    return
                }
                for report in step.outcome.reports {
                    guard producedIDs.insert(report.id).inserted else {
                        log.record(
                            Divergence(
                                process: process, seq: entry.seq, type: r.type,
                                what: "replay produced report id \(report.id) twice", got: "\(report)"))
                        continue
                    }
                    unsent[report.id] = (report, entry.seq)
                    ofLastInput.append(report.id)
                }
            } catch {
                log.record(Divergence(process: process, seq: error.seq, type: error.type, what: error.reason))
            }
        case (.sent, MessageType.executionReport.rawValue):
            // The fold's own step for a sent report (it marks the report delivered), decoded once.
            guard let sent = fold.applySent(entry) else {
                log.record(Divergence(process: process, seq: entry.seq, type: r.type, what: "the sent execution report does not decode"))
                return
            }
            if sentIDs.contains(sent.id) { return }
            guard let p = unsent[sent.id] else {
                log.record(
                    Divergence(
                        process: process, seq: entry.seq, type: r.type, recordedSeq: entry.seq,
                        what: "execution report \(sent.id) was sent but replay never produced it", expected: "\(sent)"))
                return
            }
            unsent[sent.id] = nil
            sentIDs.insert(sent.id)
            guard p.report == sent else {
                log.record(
                    Divergence(
                        process: process, seq: p.input, type: EntryTypes.Paper.input, recordedSeq: entry.seq,
                        what: "replay's execution report \(sent.id) differs from the one sent", expected: "\(sent)", got: "\(p.report)"))
                return
            }
            compared += 1
        case (_, EntryTypes.checkpoint):
            compareCheckpoint(entry)
            do { _ = try fold.apply(entry) } catch {
                log.record(Divergence(process: process, seq: error.seq, type: error.type, what: error.reason))
            }
        default:
            // A fold that cannot take an entry is a divergence, never skipped: a checker fails closed.
            do { _ = try fold.apply(entry) } catch {
                log.record(Divergence(process: process, seq: error.seq, type: error.type, what: error.reason))
            }
        }
    }

    /// A checkpoint must be what re-executing every entry before it gives, byte for byte (the
    /// journal path in quarantined entries aside: a bundle's copy lives elsewhere).
    mutating func compareCheckpoint(_ entry: JournalEntry) {
        func canonical(_ state: PaperFoldState) -> [UInt8]? {
            var state = state
            for i in state.quarantine.found.indices { state.quarantine.found[i].journal = "" }
            return try? JournalCheckpoint(process: "", covers: 0, state: state).encoded()
        }
        guard
            let recorded = try? JournalCheckpointCoding.decoder.decode(
                JournalCheckpoint<PaperFoldState>.self, from: Data(entry.record.body))
        else {
            log.record(Divergence(process: process, seq: entry.seq, type: entry.record.type, what: "the checkpoint does not decode"))
            return
        }
        guard recorded.covers == fold.foldedThrough else {
            log.record(
                Divergence(
                    process: process, seq: entry.seq, type: entry.record.type,
                    what: "the checkpoint covers entry \(recorded.covers), replay has folded through entry \(fold.foldedThrough)"))
            return
        }
        let replayed = fold.checkpointState
        guard let a = canonical(recorded.state), let b = canonical(replayed), a == b else {
            log.record(
                Divergence(
                    process: process, seq: entry.seq, type: entry.record.type,
                    what: "the checkpoint differs from the state re-executing the entries before it gives",
                    expected:
                        "cash \(recorded.state.exchange.cash), \(recorded.state.inputs) inputs, reports through \(recorded.state.reportsThrough)",
                    got: "cash \(replayed.exchange.cash), \(replayed.inputs) inputs, reports through \(replayed.reportsThrough)"))
            return
        }
        compared += 1
    }

    mutating func finish() {
        if !unsent.isEmpty {
            notes.append(
                "\(unsent.count) report(s) produced but never sent: the journal ends there (live copy or crash; delivered at the next start)"
            )
        }
    }
}

/// For the processes replay does not re-execute (strategy, market data, notifier): recognises a
/// crash between an input and its output from the journal's shape and notes it. At a start
/// marker, the last input of the ended run that no output followed is a suspect; it is a crash
/// between input and output when the next run produces that input's output (the restarted
/// process catches up on it):
/// - strategy: a received `market.time` at T, then a `strategy.schedule` entry for an event at
///   or before T only after the restart (the scheduled work due at T, done late);
/// - market data: a `marketdata.beat` at T whose `marketdata.replay` entry at T comes only after
///   the restart (the schedule point played again);
/// - notifier: a received alert (or lifecycle event) that a `notifier.sent` entry carries only
///   after the restart (the restored outbox sends it).
/// It never records a divergence: what these processes decide is not re-executed.
struct RestartNoteReplayer: Replayer {
    enum Rule { case strategy, marketData, notifier }

    /// An input of the current run not yet followed by an output.
    struct Input {
        var seq: Int64
        var type: String
        /// Strategy and market data: the input's market time; notifier: nil.
        var time: Timestamp?
        /// Notifier: the key of the alert the input asks to send (a lifecycle event's is derived by
        /// ``ASTNotify/LifecycleAlerts``, as the notifier derives it): only a message carrying it matches.
        var key: String?
    }

    let process: String
    let rule: Rule
    var open: Input?
    var suspect: (input: Input, marker: JournalEntry)?
    var inputs = 0
    var compared = 0
    var notes: [String] = []
    var log = DivergenceLog()
    let decoder = JSONDecoder()

    init(process: String, rule: Rule) {
        self.process = process
        self.rule = rule
    }

    /// The start markers and the types ``input(_:)`` and ``output(_:)`` read: ``feed(_:)`` does
    /// nothing with any other entry, so the scan steps over it unbuilt (``EntryTypeFilter``)
    /// instead of copying every column of every message these journals record.
    var types: Set<String>? {
        switch rule {
        case .strategy: Self.strategyTypes
        case .marketData: Self.marketDataTypes
        case .notifier: Self.notifierTypes
        }
    }
    static let strategyTypes = EntryTypes.startMarkers.union([MessageType.marketTime.rawValue, EntryTypes.Strategy.schedule])
    static let marketDataTypes = EntryTypes.startMarkers.union([EntryTypes.MarketData.beat, EntryTypes.MarketData.progress])
    static let notifierTypes = EntryTypes.startMarkers.union([
        MessageType.alert.rawValue, MessageType.lifecycle.rawValue, EntryTypes.Notifier.sent,
    ])

    mutating func feed(_ entry: JournalEntry) {
        let r = entry.record
        if EntryTypes.startMarkers.contains(r.type) {
            // A process may write more than one marker at a start (`process.started`, then its own).
            if let o = open { suspect = (o, entry) }
            open = nil
            return
        }
        if let input = self.input(entry) {
            inputs += 1
            open = input
        } else if let output = self.output(entry) {
            if let s = suspect, matches(s.input, output) {
                notes.append(
                    "the output of entry \(s.input.seq) (\(s.input.type)) came only after the restart at entry \(s.marker.seq)"
                        + " (\(s.marker.record.type)): a crash between input and output")
                suspect = nil
            }
            if let o = open, matches(o, output) { open = nil }
        }
    }

    /// What an output entry says about the input it belongs to.
    struct Output {
        var time: Timestamp?
        var keys: [String]
    }

    func input(_ entry: JournalEntry) -> Input? {
        let r = entry.record
        switch rule {
        case .strategy:
            guard r.kind == .received, r.type == MessageType.marketTime.rawValue,
                case .marketTime(let t)? = try? EnvelopeCodec.decode(r.body).message
            else { return nil }
            return Input(seq: entry.seq, type: r.type, time: t.now)
        case .marketData:
            guard r.type == EntryTypes.MarketData.beat,
                let p = try? StrictJSON.decode(EntryTypes.MarketData.Progress.self, from: r.body, fallback: decoder)
            else { return nil }
            return Input(seq: entry.seq, type: r.type, time: p.time)
        case .notifier:
            guard r.kind == .received, r.type == MessageType.alert.rawValue || r.type == MessageType.lifecycle.rawValue else {
                return nil
            }
            // A lifecycle event that needs no alert (spawned, ready ...) asks for no output.
            // Keyed as the notifier keys it (``ASTNotify/AlertIdentity``).
            guard let envelope = try? EnvelopeCodec.decode(r.body),
                let alert = AlertIdentity.alert(in: envelope.message, envelopeID: envelope.id)
            else { return nil }
            return Input(seq: entry.seq, type: r.type, key: alert.key)
        }
    }

    /// The fields of the outputs this replayer reads.
    struct Timed: Decodable { var time: Timestamp }
    struct Sent: Decodable {
        var alertKeys: [String]
        enum CodingKeys: String, CodingKey { case alertKeys = "alert_keys" }
    }

    func output(_ entry: JournalEntry) -> Output? {
        let r = entry.record
        switch rule {
        case .strategy:
            guard r.type == EntryTypes.Strategy.schedule, let t = try? StrictJSON.decode(Timed.self, from: r.body, fallback: decoder) else {
                return nil
            }
            return Output(time: t.time, keys: [])
        case .marketData:
            guard r.type == EntryTypes.MarketData.progress, let t = try? StrictJSON.decode(Timed.self, from: r.body, fallback: decoder)
            else { return nil }
            return Output(time: t.time, keys: [])
        case .notifier:
            guard r.type == EntryTypes.Notifier.sent, let s = try? StrictJSON.decode(Sent.self, from: r.body, fallback: decoder) else {
                return nil
            }
            return Output(time: nil, keys: s.alertKeys)
        }
    }

    func matches(_ input: Input, _ output: Output) -> Bool {
        switch rule {
        case .strategy: output.time.map { t in input.time.map { t <= $0 } ?? false } ?? false
        case .marketData: output.time != nil && output.time == input.time
        case .notifier: input.key.map { output.keys.contains($0) } ?? false
        }
    }

    mutating func finish() {}
}
