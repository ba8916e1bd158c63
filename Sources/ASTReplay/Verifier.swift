import ASTCore
import ASTExecution
import ASTJournal
import ASTPaperBroker
import ASTRisk
import ASTWire
import Foundation

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

    public init(process: String, seq: Int64, type: String, recordedSeq: Int64? = nil, what: String, expected: String = "", got: String = "") {
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
    public var divergence: Divergence?
    public var notes: [String]

    enum CodingKeys: String, CodingKey {
        case process, path, entries, inputs, outputsCompared = "outputs_compared", reexecuted
        case chainDamage = "chain_damage", chainDamageSeq = "chain_damage_seq", divergence, notes
    }
}

/// The outcome of ``ReplayVerifier/verify(_:config:)``.
public struct VerificationReport: Sendable, Codable {
    public var processes: [ProcessReplay]
    public var entries: Int
    public var seconds: Double
    public var entriesPerSecond: Double

    /// Every chain clean and every re-executed process identical.
    public var identical: Bool { processes.allSatisfy { $0.chainDamage == nil && $0.divergence == nil } }

    enum CodingKeys: String, CodingKey { case processes, entries, seconds, entriesPerSecond = "entries_per_second", identical }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(processes, forKey: .processes)
        try c.encode(entries, forKey: .entries)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(entriesPerSecond, forKey: .entriesPerSecond)
        try c.encode(identical, forKey: .identical)
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

    /// For an operator: damaged chains first, then one line per process, then the verdict.
    public func text() -> String {
        var lines: [String] = []
        for p in processes where p.chainDamage != nil {
            lines.append("HASH CHAIN BROKEN: \(p.process): \(p.chainDamage!)")
        }
        for p in processes {
            let what = p.reexecuted ? "\(p.inputs) inputs re-executed, \(p.outputsCompared) outputs identical" : "not re-executed (chain only)"
            let verdict = p.divergence != nil ? "DIVERGED" : (p.chainDamage != nil ? "DAMAGED" : "ok")
            lines.append("\(p.process): \(p.entries) entries, \(what): \(verdict)")
            if let d = p.divergence { lines.append("  DIVERGED at \(d)") }
            for note in p.notes { lines.append("  note: \(note)") }
        }
        lines.append(String(format: "%d entries in %.3f s (%.0f entries/s)", entries, seconds, entriesPerSecond))
        lines.append(identical ? "replay: IDENTICAL" : "replay: NOT IDENTICAL")
        return lines.joined(separator: "\n")
    }
}

/// Re-executes each process's recorded inputs through the same core state machines the
/// processes run and compares the outputs with the recorded ones:
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
/// Alerts are not compared (they depend on whether a notifier is configured); other processes
/// get their hash chain checked only.
public enum ReplayVerifier {
    public static func verify(_ directory: JournalDirectory, config: ReplaySettings) -> VerificationReport {
        let start = ContinuousClock.now
        let results = directory.files.map { replay(path: $0, config: config) }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return VerificationReport(processes: results, seconds: seconds)
    }

    /// Checks one journal's chain and re-executes it when replay knows its process.
    public static func replay(path: String, config: ReplaySettings, checkChain: Bool = true) -> ProcessReplay {
        var result = ProcessReplay(process: "?", path: path, entries: 0, inputs: 0, outputsCompared: 0, reexecuted: false,
                                   chainDamage: nil, chainDamageSeq: nil, divergence: nil, notes: [])
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
            return result
        }
        result.process = reader.process
        let role = reader.process.split(separator: "@").first.map(String.init) ?? reader.process
        var replayer: (any Replayer)?
        switch role {
        case "risk": replayer = RiskReplayer(process: reader.process, limits: config.riskLimits)
        case "reconciler": replayer = ReconcilerReplayer(process: reader.process)
        case "broker": replayer = PaperReplayer(process: reader.process, config: config.paperBroker)
        default: replayer = nil
        }
        var entries = 0
        do {
            try reader.scan { entry in
                entries += 1
                if replayer != nil { try replayer!.feed(entry) }
                return true
            }
            if replayer != nil { try replayer!.finish() }
        } catch let d as Divergence {
            result.divergence = d
        } catch {
            result.notes.append("reading stopped after \(entries) entries: \(error)")
        }
        result.entries = entries
        if let replayer {
            result.reexecuted = replayer.inputs > 0 || role != "broker"
            result.inputs = replayer.inputs
            result.outputsCompared = replayer.compared
            result.notes += replayer.notes
        }
        return result
    }
}

extension Divergence: Error {}

/// Re-executes one process's journal, entry by entry; throws the first ``Divergence``.
protocol Replayer {
    var inputs: Int { get }
    var compared: Int { get }
    var notes: [String] { get }
    mutating func feed(_ entry: JournalEntry) throws
    mutating func finish() throws
}

private let sortedEncoder: JSONEncoder = {
    let e = JSONEncoder()
    e.outputFormatting = .sortedKeys
    return e
}()

/// Compares a recorded body with a produced value: equal bytes, else equal decoded values.
func sameValue<T: Codable & Equatable>(_ produced: T, recorded body: [UInt8], decoder: JSONDecoder) -> (equal: Bool, recorded: String) {
    if let bytes = try? sortedEncoder.encode(produced), bytes.elementsEqual(body) { return (true, "") }
    guard let value = try? decoder.decode(T.self, from: Data(body)) else {
        return (false, "undecodable \(T.self): \(String(decoding: body.prefix(300), as: UTF8.self))")
    }
    return (value == produced, "\(value)")
}

struct RiskReplayer: Replayer {
    let process: String
    let limits: RiskLimits
    var gate: RiskGate?
    var pending: [(output: RiskOutput, input: Int64)] = []
    var pendingStart = 0
    var inputs = 0
    var compared = 0
    var notes: [String] = []
    let decoder = JSONDecoder()
    static let outputTypes: Set<String> = ["risk.decision", "safe_mode.transition", "risk.cancel", "risk.command"]

    init(process: String, limits: RiskLimits) {
        self.process = process
        self.limits = limits
    }

    mutating func feed(_ entry: JournalEntry) throws {
        let r = entry.record
        switch r.type {
        case "safe_mode.initial":
            do {
                gate = try RiskGate(limits: limits, restoring: decoder.decode(SafeModeRecord.self, from: Data(r.body)))
            } catch {
                throw Divergence(process: process, seq: entry.seq, type: r.type, what: "cannot restore the gate from the initial record: \(error)")
            }
        case "risk.input":
            try requireNothingPending(before: entry)
            guard gate != nil else {
                throw Divergence(process: process, seq: entry.seq, type: r.type, what: "a risk input before the initial Safe Mode record")
            }
            let input: RiskInput
            do { input = try decoder.decode(RiskInput.self, from: Data(r.body)) } catch {
                throw Divergence(process: process, seq: entry.seq, type: r.type, what: "the recorded input does not decode: \(error)")
            }
            inputs += 1
            for output in gate!.handle(input, now: r.timestamp) {
                if case .alert = output { continue }
                pending.append((output, entry.seq))
            }
        case "risk.started":
            if pendingStart < pending.count {
                notes.append("\(pending.count - pendingStart) output(s) of entry \(pending[pendingStart].input) not recorded before the restart at entry \(entry.seq) (a crash between input and output)")
            }
            pending.removeAll()
            pendingStart = 0
        case _ where Self.outputTypes.contains(r.type) && (r.kind == .decision || r.kind == .state):
            guard pendingStart < pending.count else {
                throw Divergence(process: process, seq: entry.seq, type: r.type, recordedSeq: entry.seq,
                                 what: "the journal records an output replay did not produce",
                                 expected: String(decoding: r.body.prefix(600), as: UTF8.self))
            }
            let (output, input) = pending[pendingStart]
            pendingStart += 1
            let (type, equal, recorded) = compare(output, type: r.type, body: r.body)
            guard equal else {
                throw Divergence(process: process, seq: input, type: "risk.input", recordedSeq: entry.seq,
                                 what: type == r.type ? "replay's \(type) differs from the recorded one"
                                     : "replay produced \(type) where the journal records \(r.type)",
                                 expected: recorded.isEmpty ? String(decoding: r.body.prefix(600), as: UTF8.self) : recorded,
                                 got: "\(output)")
            }
            compared += 1
            if pendingStart == pending.count {
                pending.removeAll(keepingCapacity: true)
                pendingStart = 0
            }
        default:
            break
        }
    }

    func compare(_ output: RiskOutput, type: String, body: [UInt8]) -> (String, Bool, String) {
        switch output {
        case .decision(let d):
            guard type == "risk.decision" else { return ("risk.decision", false, "") }
            let c = sameValue(d, recorded: body, decoder: decoder)
            return ("risk.decision", c.equal, c.recorded)
        case .transition(let t):
            guard type == "safe_mode.transition" else { return ("safe_mode.transition", false, "") }
            let c = sameValue(t, recorded: body, decoder: decoder)
            return ("safe_mode.transition", c.equal, c.recorded)
        case .cancel(let x):
            guard type == "risk.cancel" else { return ("risk.cancel", false, "") }
            let c = sameValue(x, recorded: body, decoder: decoder)
            return ("risk.cancel", c.equal, c.recorded)
        case .commandResult(let x):
            guard type == "risk.command" else { return ("risk.command", false, "") }
            let c = sameValue(x, recorded: body, decoder: decoder)
            return ("risk.command", c.equal, c.recorded)
        case .alert:
            return ("alert", false, "")
        }
    }

    func requireNothingPending(before entry: JournalEntry) throws {
        guard pendingStart < pending.count else { return }
        let (output, input) = pending[pendingStart]
        throw Divergence(process: process, seq: input, type: "risk.input",
                         what: "replay produced an output the journal does not record before the next input (entry \(entry.seq))",
                         got: "\(output)")
    }

    mutating func finish() throws {
        if pendingStart < pending.count {
            notes.append("\(pending.count - pendingStart) output(s) of the last input not recorded: the journal ends there (live copy or crash)")
        }
    }
}

struct ReconcilerReplayer: Replayer {
    let process: String
    var core = ReconcilerCore()
    var pending: [(output: ReconcilerOutput, input: Int64)] = []
    var pendingStart = 0
    /// Snapshots produced since the last publication, and the last one published.
    var produced: [PortfolioSnapshot] = []
    var lastPublished: PortfolioSnapshot?
    var lastInput: Int64 = 0
    var seenMessages = Set<String>()
    var inputs = 0
    var compared = 0
    var notes: [String] = []
    let decoder = JSONDecoder()

    init(process: String) { self.process = process }

    mutating func feed(_ entry: JournalEntry) throws {
        let r = entry.record
        switch (r.kind, r.type) {
        case (.received, "reconciler.input"):
            if pendingStart < pending.count {
                let (output, input) = pending[pendingStart]
                throw Divergence(process: process, seq: input, type: "reconciler.input",
                                 what: "replay produced an output the journal does not record before the next input (entry \(entry.seq))",
                                 got: "\(output)")
            }
            pending.removeAll(keepingCapacity: true)
            pendingStart = 0
            let input: ReconcilerInput
            do { input = try decoder.decode(ReconcilerInput.self, from: Data(r.body)) } catch {
                throw Divergence(process: process, seq: entry.seq, type: r.type, what: "the recorded input does not decode: \(error)")
            }
            inputs += 1
            lastInput = entry.seq
            for output in core.handle(input, now: r.timestamp) {
                switch output {
                case .snapshot(let s): produced.append(s)
                case .alert: break
                default: pending.append((output, entry.seq))
                }
            }
        case (.decision, "reconciliation.summary"), (.decision, "reconciler.anomaly"):
            try match(entry)
        case (.sent, "reconciliation.result"), (.sent, "order.cancel"):
            if let id = r.messageID, !seenMessages.insert(id).inserted { return }
            try match(entry)
        case (.sent, "portfolio.snapshot"):
            let snapshot: PortfolioSnapshot
            guard case .portfolioSnapshot(let s)? = try? EnvelopeCodec.decode(r.body).message else {
                throw Divergence(process: process, seq: entry.seq, type: r.type, what: "the published portfolio does not decode")
            }
            snapshot = s
            if snapshot == lastPublished || produced.contains(snapshot) || snapshot == core.snapshot(snapshot.asOf) {
                lastPublished = snapshot
                produced.removeAll(keepingCapacity: true)
                compared += 1
            } else {
                throw Divergence(process: process, seq: lastInput, type: "reconciler.input", recordedSeq: entry.seq,
                                 what: "the published portfolio is none replay produced since the last publication",
                                 expected: "\(snapshot)", got: "\(produced.last.map { "\($0)" } ?? "\(core.snapshot(snapshot.asOf))")")
            }
        default:
            break
        }
    }

    mutating func match(_ entry: JournalEntry) throws {
        let r = entry.record
        guard pendingStart < pending.count else {
            throw Divergence(process: process, seq: entry.seq, type: r.type, recordedSeq: entry.seq,
                             what: "the journal records an output replay did not produce",
                             expected: String(decoding: r.body.prefix(600), as: UTF8.self))
        }
        let (output, input) = pending[pendingStart]
        pendingStart += 1
        var equal = false
        var recorded = ""
        switch (output, r.type) {
        case (.summary(let s), "reconciliation.summary"):
            (equal, recorded) = sameValue(s, recorded: r.body, decoder: decoder)
        case (.anomaly(let text), "reconciler.anomaly"):
            equal = Array(text.utf8) == r.body
            recorded = String(decoding: r.body, as: UTF8.self)
        case (.result(let x), "reconciliation.result"):
            let m = try? EnvelopeCodec.decode(r.body).message
            if case .reconciliationResult(let y)? = m { equal = x == y; recorded = "\(y)" }
        case (.cancelAtBroker(let x), "order.cancel"):
            let m = try? EnvelopeCodec.decode(r.body).message
            if case .orderCancel(let y)? = m { equal = x == y; recorded = "\(y)" }
        default:
            recorded = "\(r.type): \(String(decoding: r.body.prefix(600), as: UTF8.self))"
        }
        guard equal else {
            throw Divergence(process: process, seq: input, type: "reconciler.input", recordedSeq: entry.seq,
                             what: "replay's output differs from the recorded \(r.type)", expected: recorded, got: "\(output)")
        }
        compared += 1
    }

    mutating func finish() throws {
        if pendingStart < pending.count {
            notes.append("\(pending.count - pendingStart) output(s) of the last input not recorded: the journal ends there (live copy or crash)")
        }
    }
}

/// One journaled paper broker input (the shell's `PaperJournalInput`).
struct PaperJournalInput: Codable {
    var input: PaperInput
}

struct PaperReplayer: Replayer {
    let process: String
    var exchange: PaperExchange
    /// Produced reports by id, with the input that produced them.
    var produced: [String: (report: ExecutionReport, input: Int64)] = [:]
    /// Ids produced and not yet seen sent, in production order.
    var unsent: [String] = []
    var unsentSet = Set<String>()
    var inputs = 0
    var compared = 0
    var notes: [String] = []
    let decoder = JSONDecoder()

    init(process: String, config: PaperBrokerConfig) {
        self.process = process
        exchange = PaperExchange(name: process, config: config)
    }

    mutating func feed(_ entry: JournalEntry) throws {
        let r = entry.record
        switch (r.kind, r.type) {
        case (.received, "paper.input"):
            if let id = unsent.first(where: { unsentSet.contains($0) }), let p = produced[id] {
                throw Divergence(process: process, seq: p.input, type: "paper.input",
                                 what: "replay produced execution report \(id), which was not sent before the next input (entry \(entry.seq))",
                                 got: "\(p.report)")
            }
            unsent.removeAll(keepingCapacity: true)
            let input: PaperJournalInput
            do { input = try decoder.decode(PaperJournalInput.self, from: Data(r.body)) } catch {
                throw Divergence(process: process, seq: entry.seq, type: r.type, what: "the recorded input does not decode: \(error)")
            }
            inputs += 1
            for report in exchange.handle(input.input, now: r.timestamp).reports {
                if let earlier = produced[report.id] {
                    throw Divergence(process: process, seq: entry.seq, type: r.type,
                                     what: "replay produced report id \(report.id) twice (first from entry \(earlier.input))", got: "\(report)")
                }
                produced[report.id] = (report, entry.seq)
                unsent.append(report.id)
                unsentSet.insert(report.id)
            }
        case (.sent, "execution.report"):
            guard case .executionReport(let sent)? = try? EnvelopeCodec.decode(r.body).message else {
                throw Divergence(process: process, seq: entry.seq, type: r.type, what: "the sent execution report does not decode")
            }
            guard let p = produced[sent.id] else {
                throw Divergence(process: process, seq: entry.seq, type: r.type, recordedSeq: entry.seq,
                                 what: "execution report \(sent.id) was sent but replay never produced it", expected: "\(sent)")
            }
            guard p.report == sent else {
                throw Divergence(process: process, seq: p.input, type: "paper.input", recordedSeq: entry.seq,
                                 what: "replay's execution report \(sent.id) differs from the one sent", expected: "\(sent)", got: "\(p.report)")
            }
            unsentSet.remove(sent.id)
            compared += 1
        default:
            break
        }
    }

    mutating func finish() throws {
        let left = unsent.filter { unsentSet.contains($0) }
        if !left.isEmpty {
            notes.append("\(left.count) report(s) of the last input not sent: the journal ends there (live copy or crash; delivered at the next start)")
        }
    }
}
