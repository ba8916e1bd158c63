import ASTCore
import ASTExecution
import ASTJournal
import ASTPaperBroker
import ASTRisk
import ASTWire
import Foundation

// One restore path per core (M11): the shell at start, `astctl replay --verify` and the reports
// rebuild a core from its journal with the same fold, so they cannot disagree about what the
// journal means. Each fold takes entries one at a time (streamed: it never holds the journal)
// and returns the outputs of every input it applies, which the verifier compares with the
// recorded ones and the report reads facts from.

/// An entry a fold cannot apply: an input that does not decode, or one that comes before the
/// record it needs. The shell fails closed on it (it does not start); replay reports it.
public struct FoldError: Error, Sendable, Equatable, CustomStringConvertible {
    public var seq: Int64
    public var type: String
    public var reason: String

    public init(seq: Int64, type: String, reason: String) {
        self.seq = seq
        self.type = type
        self.reason = reason
    }

    public var description: String { "entry \(seq) (\(type)): \(reason)" }
}

/// Drives `fold` over a journal: `scan` streams the entries (`Journal.scan(fromSeq: 1, _:)` in a
/// shell, `JournalReader.scan` in a tool), `observe` sees every applied input with its outputs.
@inline(__always)
func runFold<Outputs>(
    scan: ((JournalEntry) throws -> Bool) throws -> Void, apply: (JournalEntry) throws -> Outputs?,
    observe: (JournalEntry, Outputs) -> Void
) throws {
    // Both closures are only called during `scan`; the checker cannot see that `scan` does not
    // call back into `observe` re-entrantly, so say it.
    try withoutActuallyEscaping(observe) { observe in
        try withoutActuallyEscaping(apply) { apply in
            try scan { entry in
                if let outputs = try apply(entry) { observe(entry, outputs) }
                return true
            }
        }
    }
}

/// The journal entries one restore could not apply, and what the journal already says about
/// quarantines: every fold keeps both, the same way for every process.
///
/// An input that does not decode, or that its validation now refuses (an input an older version
/// journaled unchecked), is skipped and listed in ``found``, never thrown: a journaled input must
/// not make a process crash-loop. The shell journals the new ones (``newEntries``) and stays HALTED
/// (or not ready) until an operator acknowledges them; replay reports each as a divergence.
public struct FoldQuarantine: Sendable, Equatable {
    /// The process and journal path the entries are named with.
    public let process: String
    public let journal: String
    /// Entries this fold skipped, in journal order.
    public private(set) var found: [QuarantinedEntry] = []
    /// `quarantine.entry` / `quarantine.acknowledged` records read so far.
    public private(set) var state = QuarantineJournal.State()

    public init(process: String, journal: String) {
        self.process = process
        self.journal = journal
    }

    /// The entry types ``read(_:)`` takes.
    public static let types: Set<String> = [QuarantineJournal.entryType, QuarantineJournal.acknowledgedType]

    /// A quarantine as a checkpoint carries it (``QuarantineCheckpoint``).
    init(process: String, journal: String, restoring saved: QuarantineCheckpoint) {
        self.init(process: process, journal: journal)
        found = saved.found
        for entry in saved.entries { state.entries[entry.seq] = entry }
        for ack in saved.acknowledged { state.acknowledged[ack.seq] = ack }
    }

    /// What a checkpoint keeps of it, in a fixed order (dictionaries by seq become sorted arrays).
    var checkpoint: QuarantineCheckpoint {
        QuarantineCheckpoint(
            found: found, entries: state.entries.keys.sorted().compactMap { state.entries[$0] },
            acknowledged: state.acknowledged.keys.sorted().compactMap { state.acknowledged[$0] })
    }

    /// Skipped entries the journal does not record as quarantined yet (to be journaled once).
    public var newEntries: [QuarantinedEntry] { found.filter { state.entries[$0.seq] == nil } }

    /// `entry`'s body as `T` when it decodes and `validate` accepts it; otherwise the entry is
    /// skipped (nil).
    mutating func admit<T: Decodable>(_ type: T.Type, _ entry: JournalEntry, decoder: JSONDecoder, validate: (T) -> InputRefusal?) -> T? {
        guard let value = try? StrictJSON.decode(T.self, from: entry.record.body, fallback: decoder) else {
            skip(entry, "the input does not decode")
            return nil
        }
        if let refusal = validate(value) {
            skip(entry, "the input is refused: \(refusal)")
            return nil
        }
        return value
    }

    mutating func skip(_ entry: JournalEntry, _ cause: String) {
        found.append(QuarantinedEntry(process: process, journal: journal, seq: entry.seq, type: entry.record.type, cause: cause))
    }

    /// Reads a quarantine record; false for any other entry.
    mutating func read(_ entry: JournalEntry) -> Bool {
        let type = entry.record.type
        guard type == QuarantineJournal.entryType || type == QuarantineJournal.acknowledgedType else { return false }
        QuarantineJournal.apply(entry, to: &state)
        return true
    }
}

extension RiskOutput {
    /// The journal record ast-risk writes for this output, which replay compares its own against
    /// (nil for an alert: the notifier's outbox journals those).
    public func journalRecord(at now: Timestamp, encoder: JSONEncoder) throws -> JournalRecord? {
        switch self {
        case .decision(let d):
            JournalRecord(
                kind: .decision, type: EntryTypes.Risk.decision, timestamp: now, correlationID: d.intent.rawValue,
                body: Array(try encoder.encode(d)))
        case .transition(let t):
            JournalRecord(kind: .state, type: EntryTypes.Risk.transition, timestamp: now, body: Array(try encoder.encode(t)))
        case .cancel(let c):
            JournalRecord(
                kind: .decision, type: EntryTypes.Risk.cancel, timestamp: now, correlationID: c.orderID, body: Array(try encoder.encode(c)))
        case .commandResult(let r):
            JournalRecord(kind: .decision, type: EntryTypes.Risk.command, timestamp: now, body: Array(try encoder.encode(r)))
        case .alert:
            nil
        }
    }
}

/// ast-risk's journal folded into its ``RiskGate``: `safe_mode.initial` makes the gate, every
/// `risk.input` is handled at its recorded time; `risk.started`/`risk.stopped` tell whether the
/// last run ended cleanly; an input that does not decode or that ``RiskInput/validate()`` refuses
/// is skipped into ``quarantine``.
///
/// The shell restores with ``restore(limits:journal:)``, then uses `fold.gate` (nil: a first
/// start; it journals `safe_mode.initial` itself), `fold.uncleanPreviousExit` and `fold.quarantine`.
public struct RiskJournalFold {
    public let limits: RiskLimits
    /// The gate as the entries so far leave it; nil before `safe_mode.initial`.
    public private(set) var gate: RiskGate?
    /// The last of `risk.started` / `risk.stopped` seen.
    public private(set) var lastMarker: String?
    /// Inputs applied.
    public private(set) var inputs = 0
    /// Inputs skipped, and the journal's quarantine records.
    public private(set) var quarantine: FoldQuarantine
    /// The last entry folded (applied or passed over).
    public private(set) var foldedThrough: Int64 = 0
    /// The checkpoint the restore started from, nil for a fold from entry 1.
    public internal(set) var startedFromCheckpoint: Int64?
    /// Newer checkpoints the restore passed over, and why.
    public internal(set) var rejectedCheckpoints: [String] = []
    let decoder = JSONDecoder()

    public init(limits: RiskLimits, process: String = "risk@main", journal: String = "") {
        self.limits = limits
        quarantine = FoldQuarantine(process: process, journal: journal)
    }

    /// The entry types ``apply(_:)`` acts on: it does nothing with any other, so a reader may pass
    /// over them unread.
    public static let types: Set<String> = FoldQuarantine.types.union([
        EntryTypes.Risk.initial, EntryTypes.Risk.input, EntryTypes.Risk.started, EntryTypes.Risk.stopped,
    ])

    /// A fold continuing from a checkpoint's state (made under `saved.limits`: the restore checks
    /// they are the ones in force). Throws for a gate state no gate could have been in.
    public init(process: String, journal: String, restoring saved: RiskFoldState, covers: Int64) throws {
        limits = saved.limits
        gate = try saved.gate.map { try RiskGate(limits: saved.limits, restoring: $0) }
        lastMarker = saved.lastMarker
        inputs = saved.inputs
        quarantine = FoldQuarantine(process: process, journal: journal, restoring: saved.quarantine)
        foldedThrough = covers
    }

    /// The state a checkpoint keeps: everything the fold needs to go on, in a fixed order.
    public var checkpointState: RiskFoldState {
        RiskFoldState(
            limits: limits, gate: gate?.checkpointState, lastMarker: lastMarker, inputs: inputs, quarantine: quarantine.checkpoint)
    }

    /// A `risk.started` with no `risk.stopped` after it: the previous run did not end cleanly.
    public var uncleanPreviousExit: Bool { lastMarker == EntryTypes.Risk.started }

    /// Applies one entry: the gate's outputs for an input (alerts included), nil for any other
    /// entry and for a skipped input.
    public mutating func apply(_ entry: JournalEntry) throws(FoldError) -> [RiskOutput]? {
        let r = entry.record
        foldedThrough = entry.seq
        switch r.type {
        case EntryTypes.Risk.initial:
            do {
                gate = try RiskGate(limits: limits, restoring: StrictJSON.decode(SafeModeRecord.self, from: r.body, fallback: decoder))
            } catch {
                throw FoldError(seq: entry.seq, type: r.type, reason: "cannot restore the gate from the initial record: \(error)")
            }
            return nil
        case EntryTypes.Risk.input:
            guard gate != nil else {
                throw FoldError(seq: entry.seq, type: r.type, reason: "a risk input before the initial Safe Mode record")
            }
            guard let input = quarantine.admit(RiskInput.self, entry, decoder: decoder, validate: { $0.validate() }) else { return nil }
            inputs += 1
            return gate!.handle(input, now: r.timestamp)
        case EntryTypes.Risk.started, EntryTypes.Risk.stopped:
            lastMarker = r.type
            return nil
        default:
            _ = quarantine.read(entry)
            return nil
        }
    }

    /// Folds a whole journal (see the type's documentation).
    public static func fold(
        limits: RiskLimits, process: String = "risk@main", journal: String = "",
        observe: (JournalEntry, [RiskOutput]) -> Void = { _, _ in },
        scan: ((JournalEntry) throws -> Bool) throws -> Void
    ) throws -> RiskJournalFold {
        var fold = RiskJournalFold(limits: limits, process: process, journal: journal)
        try runFold(scan: scan, apply: { try fold.apply($0) }, observe: observe)
        return fold
    }

    /// ast-risk's restore, through the writer: from the newest checkpoint that verifies, decodes
    /// and was made under `limits` (``CheckpointStart``), folding only the entries after it;
    /// from entry 1 when none does.
    public static func restore(limits: RiskLimits, journal: Journal) throws -> RiskJournalFold {
        let start = try CheckpointStart.find(journal: journal) { entry -> Result<RiskJournalFold, CheckpointRejection> in
            let saved: JournalCheckpoint<RiskFoldState>
            switch JournalCheckpoint<RiskFoldState>.decode(entry.record.body, process: journal.process)
                .flatMap({ CheckpointStart.checkCoverage($0, of: entry) })
            {
            case .success(let s): saved = s
            case .failure(let why): return .failure(why)
            }
            guard saved.state.limits == limits else { return .failure(.otherConfiguration("the risk limits changed since it was made")) }
            do {
                return .success(
                    try RiskJournalFold(process: journal.process, journal: journal.path, restoring: saved.state, covers: saved.covers))
            } catch {
                return .failure(.undecodable("\(error)"))
            }
        }
        var fold = start.chosen?.value ?? RiskJournalFold(limits: limits, process: journal.process, journal: journal.path)
        fold.startedFromCheckpoint = start.chosen?.seq
        fold.rejectedCheckpoints = start.rejected
        let from = fold.foldedThrough + 1
        try runFold(scan: { try journal.scan(fromSeq: from, $0) }, apply: { try fold.apply($0) }, observe: { _, _ in })
        return fold
    }
}

/// ast-reconciler's journal folded into its ``ReconcilerCore``: every received `reconciler.input`
/// handled at its recorded time (the book, the portfolio, the reconciliations); an input that does
/// not decode or that ``ReconcilerInput/validate()`` refuses is skipped into ``quarantine``.
///
/// The shell restores with ``restore(journal:)`` and uses `fold.core` and `fold.quarantine`.
public struct ReconcilerJournalFold {
    public private(set) var core = ReconcilerCore()
    public private(set) var inputs = 0
    /// Inputs skipped, and the journal's quarantine records.
    public private(set) var quarantine: FoldQuarantine
    /// The last entry folded (applied or passed over).
    public private(set) var foldedThrough: Int64 = 0
    /// The checkpoint the restore started from, nil for a fold from entry 1.
    public internal(set) var startedFromCheckpoint: Int64?
    /// Newer checkpoints the restore passed over, and why.
    public internal(set) var rejectedCheckpoints: [String] = []
    let decoder = JSONDecoder()

    public init(process: String = "reconciler@main", journal: String = "") {
        quarantine = FoldQuarantine(process: process, journal: journal)
    }

    /// The entry types ``apply(_:)`` acts on: it does nothing with any other, so a reader may pass
    /// over them unread.
    public static let types: Set<String> = FoldQuarantine.types.union([EntryTypes.Reconciler.input])

    /// A fold continuing from a checkpoint's state.
    public init(process: String, journal: String, restoring saved: ReconcilerFoldState, covers: Int64) {
        core = saved.core
        inputs = saved.inputs
        quarantine = FoldQuarantine(process: process, journal: journal, restoring: saved.quarantine)
        foldedThrough = covers
    }

    /// The state a checkpoint keeps: everything the fold needs to go on, in a fixed order.
    public var checkpointState: ReconcilerFoldState {
        ReconcilerFoldState(core: core, inputs: inputs, quarantine: quarantine.checkpoint)
    }

    /// Applies one entry: the decoded input and the core's outputs for a `reconciler.input`, nil
    /// otherwise (and for a skipped input).
    public mutating func apply(_ entry: JournalEntry) throws(FoldError) -> (input: ReconcilerInput, outputs: [ReconcilerOutput])? {
        let r = entry.record
        foldedThrough = entry.seq
        if quarantine.read(entry) { return nil }
        guard r.kind == .received, r.type == EntryTypes.Reconciler.input else { return nil }
        guard let input = quarantine.admit(ReconcilerInput.self, entry, decoder: decoder, validate: { $0.validate() }) else { return nil }
        inputs += 1
        return (input, core.handle(input, now: r.timestamp))
    }

    /// Folds a whole journal (see the type's documentation).
    public static func fold(
        process: String = "reconciler@main", journal: String = "",
        observe: (JournalEntry, (input: ReconcilerInput, outputs: [ReconcilerOutput])) -> Void = { _, _ in },
        scan: ((JournalEntry) throws -> Bool) throws -> Void
    ) throws -> ReconcilerJournalFold {
        var fold = ReconcilerJournalFold(process: process, journal: journal)
        try runFold(scan: scan, apply: { try fold.apply($0) }, observe: observe)
        return fold
    }

    /// ast-reconciler's restore, through the writer: from the newest checkpoint that verifies and
    /// decodes (``CheckpointStart``), folding only the entries after it; from entry 1 when none does.
    public static func restore(journal: Journal) throws -> ReconcilerJournalFold {
        let start = try CheckpointStart.find(journal: journal) { entry in
            JournalCheckpoint<ReconcilerFoldState>.decode(entry.record.body, process: journal.process).flatMap {
                CheckpointStart.checkCoverage($0, of: entry)
            }.map { ReconcilerJournalFold(process: journal.process, journal: journal.path, restoring: $0.state, covers: $0.covers) }
        }
        var fold = start.chosen?.value ?? ReconcilerJournalFold(process: journal.process, journal: journal.path)
        fold.startedFromCheckpoint = start.chosen?.seq
        fold.rejectedCheckpoints = start.rejected
        let from = fold.foldedThrough + 1
        try runFold(scan: { try journal.scan(fromSeq: from, $0) }, apply: { try fold.apply($0) }, observe: { _, _ in })
        return fold
    }
}

/// One journaled paper broker input, as the shell writes it (`{"input": ...}`). The bus message
/// that asked for it is the entry's message id.
public struct PaperJournalInput: Codable, Sendable {
    public var input: PaperInput
    public init(input: PaperInput) { self.input = input }
}

/// The paper broker's journal folded into its ``PaperExchange``: every received `paper.input`
/// (and `paper.fault_resubmit`, which happened) handled at its recorded time; an input that does
/// not decode or that ``PaperInput/validate()`` refuses is skipped into ``quarantine``. It also
/// follows the reports the exchange produced against the `execution.report` messages sent, so
/// that a restart delivers those the previous run produced but never handed to the bus.
///
/// The shell (`PaperAdapter`) restores with ``restore(name:config:journal:recordsBrackets:)``
/// and uses `fold.exchange`, `fold.unsentReports`, `fold.reportsThrough`, `fold.inputs`,
/// `fold.brackets` and `fold.quarantine`.
public struct PaperJournalFold {
    public private(set) var exchange: PaperExchange
    public private(set) var inputs = 0
    /// Inputs skipped, and the journal's quarantine records.
    public private(set) var quarantine: FoldQuarantine
    /// The highest sequence of any report produced.
    public private(set) var reportsThrough: Int64 = 0
    /// Submitted brackets, in order, kept only with `recordsBrackets` (the fault injection needs them).
    public private(set) var brackets: [BracketOrder] = []
    let recordsBrackets: Bool
    /// The last entry folded (applied or passed over).
    public private(set) var foldedThrough: Int64 = 0
    /// The checkpoint the restore started from, nil for a fold from entry 1.
    public private(set) var startedFromCheckpoint: Int64?
    /// Newer checkpoints the restore passed over, and why.
    public private(set) var rejectedCheckpoints: [String] = []
    /// Reports produced and not (yet) seen sent, by id, and their ids in production order.
    var unsent: [String: ExecutionReport] = [:]
    var unsentOrder: [String] = []
    /// Ids of the reports seen sent (a report produced after it was sent is not unsent).
    var sentIDs = Set<String>()
    let decoder = JSONDecoder()

    public init(name: String, config: PaperBrokerConfig, journal: String = "", recordsBrackets: Bool = false) {
        exchange = PaperExchange(name: name, config: config)
        quarantine = FoldQuarantine(process: name, journal: journal)
        self.recordsBrackets = recordsBrackets
    }

    /// Reports produced that no `execution.report` sent so far carries, in production order.
    public var unsentReports: [ExecutionReport] { unsentOrder.compactMap { unsent[$0] } }

    /// The entry types ``apply(_:)`` acts on beyond counting them in ``foldedThrough``: a reader
    /// may pass over any other with ``passOver(_:)``.
    public static let types: Set<String> = FoldQuarantine.types.union([
        EntryTypes.Paper.input, EntryTypes.Paper.faultResubmit, MessageType.executionReport.rawValue,
    ])

    /// An entry of none of ``types``, not read: all ``apply(_:)`` would do with it.
    public mutating func passOver(_ seq: Int64) {
        foldedThrough = seq
    }

    /// Applies one entry: the input and the exchange's outcome for an input, nil otherwise (and
    /// for a skipped input). A sent `execution.report` marks its report delivered.
    public mutating func apply(_ entry: JournalEntry) throws(FoldError) -> (input: PaperInput, outcome: PaperOutcome)? {
        let r = entry.record
        foldedThrough = entry.seq
        if quarantine.read(entry) { return nil }
        if r.kind == .sent, r.type == MessageType.executionReport.rawValue {
            _ = applySent(entry)
            return nil
        }
        guard r.kind == .received, r.type == EntryTypes.Paper.input || r.type == EntryTypes.Paper.faultResubmit else { return nil }
        if r.type == EntryTypes.Paper.faultResubmit {
            guard let input = try? StrictJSON.decode(PaperJournalInput.self, from: r.body, fallback: decoder).input, input.validate() == nil
            else {
                quarantine.skip(entry, "the fault re-submit does not decode or is refused")
                return nil
            }
            guard case .submit(let bracket) = input else { return nil }
            return (input, produced(exchange.faultResubmitIgnoringKnownIDs(bracket, now: r.timestamp)))
        }
        guard let input = quarantine.admit(PaperJournalInput.self, entry, decoder: decoder, validate: { $0.input.validate() })?.input else {
            return nil
        }
        inputs += 1
        if recordsBrackets, case .submit(let b) = input { brackets.append(b) }
        return (input, produced(exchange.handle(input, now: r.timestamp)))
    }

    /// Applies a sent `execution.report` entry (``apply(_:)`` does the same for one): marks its
    /// report delivered and returns it, nil when the message does not decode.
    public mutating func applySent(_ entry: JournalEntry) -> ExecutionReport? {
        foldedThrough = entry.seq
        guard case .executionReport(let report)? = try? EnvelopeCodec.decode(entry.record.body).message else { return nil }
        markSent(report.id)
        return report
    }

    mutating func produced(_ outcome: PaperOutcome) -> PaperOutcome {
        for report in outcome.reports {
            reportsThrough = max(reportsThrough, report.sequence ?? 0)
            guard !sentIDs.contains(report.id), unsent.updateValue(report, forKey: report.id) == nil else { continue }
            unsentOrder.append(report.id)
        }
        return outcome
    }

    mutating func markSent(_ id: String) {
        sentIDs.insert(id)
        guard unsent.removeValue(forKey: id) != nil else { return }
        if unsent.isEmpty {
            unsentOrder.removeAll(keepingCapacity: true)
        } else if unsentOrder.count > 64 && unsentOrder.count > 2 * unsent.count {
            unsentOrder.removeAll { unsent[$0] == nil }
        }
    }

    /// Folds a whole journal (see the type's documentation).
    public static func fold(
        name: String, config: PaperBrokerConfig, journal: String = "", recordsBrackets: Bool = false,
        observe: (JournalEntry, (input: PaperInput, outcome: PaperOutcome)) -> Void = { _, _ in },
        scan: ((JournalEntry) throws -> Bool) throws -> Void
    ) throws -> PaperJournalFold {
        var fold = PaperJournalFold(name: name, config: config, journal: journal, recordsBrackets: recordsBrackets)
        try runFold(scan: scan, apply: { try fold.apply($0) }, observe: observe)
        return fold
    }

    /// The paper broker's restore, through the writer: from the newest checkpoint that verifies,
    /// decodes and was made under `config` (``CheckpointChoice``), folding only the entries after
    /// it; from entry 1 when none does (and always with `recordsBrackets`, a fault injection that
    /// needs every bracket).
    public static func restore(name: String, config: PaperBrokerConfig, journal: Journal, recordsBrackets: Bool = false) throws
        -> PaperJournalFold
    {
        guard !recordsBrackets else {
            return try fold(name: name, config: config, journal: journal.path, recordsBrackets: true) { try journal.scan(fromSeq: 1, $0) }
        }
        let choice = try CheckpointStart.find(journal: journal) { entry in
            checkpoint(entry, name: name, config: config, process: journal.process)
        }
        var fold = PaperJournalFold(name: name, config: config, journal: journal.path)
        var from: Int64 = 1
        if let (seq, saved) = choice.chosen {
            fold = PaperJournalFold(name: name, journal: journal.path, restoring: saved.state)
            fold.startedFromCheckpoint = seq
            from = saved.covers + 1
        }
        fold.rejectedCheckpoints = choice.rejected
        try runFold(scan: { try journal.scan(fromSeq: from, $0) }, apply: { try fold.apply($0) }, observe: { _, _ in })
        return fold
    }

    /// The paper checkpoint in `entry`, if this fold can start from it.
    static func checkpoint(_ entry: JournalEntry, name: String, config: PaperBrokerConfig, process: String)
        -> Result<JournalCheckpoint<PaperFoldState>, CheckpointRejection>
    {
        JournalCheckpoint<PaperFoldState>.decode(entry.record.body, process: process).flatMap {
            CheckpointStart.checkCoverage($0, of: entry)
        }.flatMap { saved in
            guard saved.state.exchange.config == config, saved.state.exchange.name == name else {
                return .failure(.otherConfiguration("the paper broker's configuration changed since (starting cash, fill rules ...)"))
            }
            return .success(saved)
        }
    }

    /// A fold continuing from a checkpoint's state.
    init(name: String, journal: String, restoring saved: PaperFoldState) {
        exchange = saved.exchange
        quarantine = FoldQuarantine(process: name, journal: journal, restoring: saved.quarantine)
        recordsBrackets = false
        inputs = saved.inputs
        reportsThrough = saved.reportsThrough
        for report in saved.unsent {
            unsent[report.id] = report
            unsentOrder.append(report.id)
        }
        sentIDs = Set(saved.sentNotProduced)
    }

    /// The state a checkpoint keeps: everything the fold needs to go on, in a fixed order.
    public var checkpointState: PaperFoldState {
        // A sent id matters only until its report is produced: ids are `<name>-r<n>` and the
        // counter only grows, so ids up to `reportsThrough` are never looked up again.
        let prefix = "\(exchange.name)-r"
        let pending = sentIDs.filter { id in
            guard id.hasPrefix(prefix), let n = Int64(id.dropFirst(prefix.count)) else { return true }
            return n > reportsThrough
        }
        return PaperFoldState(
            exchange: exchange, inputs: inputs, reportsThrough: reportsThrough, unsent: unsentReports,
            sentNotProduced: pending.sorted(), quarantine: quarantine.checkpoint)
    }

}

/// A fold's quarantine as a checkpoint keeps it.
public struct QuarantineCheckpoint: Codable, Sendable, Equatable {
    public var found: [QuarantinedEntry]
    public var entries: [QuarantinedEntry]
    public var acknowledged: [QuarantineAck]

    public init(found: [QuarantinedEntry] = [], entries: [QuarantinedEntry] = [], acknowledged: [QuarantineAck] = []) {
        self.found = found
        self.entries = entries
        self.acknowledged = acknowledged
    }
}

/// What a paper broker checkpoint holds: the exchange (with the configuration it runs under),
/// the fold's counters and the reports produced but not yet seen sent.
public struct PaperFoldState: Codable, Sendable, Equatable {
    public var exchange: PaperExchange
    public var inputs: Int
    public var reportsThrough: Int64
    public var unsent: [ExecutionReport]
    public var sentNotProduced: [String]
    public var quarantine: QuarantineCheckpoint

    public init(
        exchange: PaperExchange, inputs: Int, reportsThrough: Int64, unsent: [ExecutionReport] = [], sentNotProduced: [String] = [],
        quarantine: QuarantineCheckpoint = QuarantineCheckpoint()
    ) {
        self.exchange = exchange
        self.inputs = inputs
        self.reportsThrough = reportsThrough
        self.unsent = unsent
        self.sentNotProduced = sentNotProduced
        self.quarantine = quarantine
    }
}
