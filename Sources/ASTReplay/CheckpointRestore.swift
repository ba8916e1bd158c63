import ASTCore
import ASTExecution
import ASTJournal
import ASTRisk
import Foundation

// Checkpoints of the risk gate's and the reconciler's folds (M11), beside the paper broker's:
// each fold's state is Codable with a deterministic encoding, the shells journal one every
// `journal.checkpoint_every` inputs (``CheckpointSchedule``), and each restore starts from the
// newest one that verifies (``CheckpointStart``), then folds the tail.

/// What a risk gate checkpoint holds: the limits in force when it was made, the gate (nil before
/// `safe_mode.initial`), the last run marker, the fold's counters and its quarantine.
public struct RiskFoldState: Codable, Sendable, Equatable {
    public var limits: RiskLimits
    public var gate: RiskGateState?
    public var lastMarker: String?
    public var inputs: Int
    public var quarantine: QuarantineCheckpoint

    public init(limits: RiskLimits, gate: RiskGateState?, lastMarker: String?, inputs: Int, quarantine: QuarantineCheckpoint) {
        self.limits = limits
        self.gate = gate
        self.lastMarker = lastMarker
        self.inputs = inputs
        self.quarantine = quarantine
    }
}

/// What a reconciler checkpoint holds: the core (book, portfolio, reconciliation state), the
/// fold's counter and its quarantine. The reconciler's core takes no configuration.
public struct ReconcilerFoldState: Codable, Sendable, Equatable {
    public var core: ReconcilerCore
    public var inputs: Int
    public var quarantine: QuarantineCheckpoint

    public init(core: ReconcilerCore, inputs: Int, quarantine: QuarantineCheckpoint) {
        self.core = core
        self.inputs = inputs
        self.quarantine = quarantine
    }
}

/// Where a restore starts: the newest checkpoint that verifies and that `accept` takes (decoded,
/// its coverage possible, made under the configuration in force), else the whole journal. A
/// checkpoint that fails any of it is passed over for an older one, and with none left the fold
/// starts from entry 1: never from an empty state that skips the journal.
public enum CheckpointStart {
    /// The newest candidate first (one backward search of about one interval); up to `limit`
    /// older ones only when it is rejected. `rejected`: why each newer one was passed over.
    public static func find<T>(
        journal: Journal, limit: Int = 4, accept: (JournalEntry) -> Result<T, CheckpointRejection>
    ) throws -> (chosen: (seq: Int64, value: T)?, rejected: [String]) {
        var choice = CheckpointChoice.choose(try journal.checkpointCandidates(limit: 1), decode: accept)
        if choice.chosen == nil && !choice.rejected.isEmpty {
            choice = CheckpointChoice.choose(try journal.checkpointCandidates(limit: limit), decode: accept)
        }
        return (choice.chosen, choice.rejected.map { "checkpoint at entry \($0.seq) skipped: \($0.why)" })
    }

    /// `saved` when the entry that holds it could cover what it claims (entries before itself).
    public static func checkCoverage<S>(_ saved: JournalCheckpoint<S>, of entry: JournalEntry)
        -> Result<JournalCheckpoint<S>, CheckpointRejection>
    {
        guard saved.covers < entry.seq, saved.covers >= 0 else {
            return .failure(.badCoverage("entry \(entry.seq) claims to cover entry \(saved.covers)"))
        }
        return .success(saved)
    }
}

/// A shell's checkpoint cadence: every `every` inputs it asks for one.
public struct CheckpointSchedule: Sendable {
    public let every: Int
    public private(set) var sinceLast = 0

    public init(every: Int) { self.every = max(1, every) }

    /// Counts one input; true when a checkpoint is due (the count starts again).
    public mutating func inputHandled() -> Bool {
        sinceLast += 1
        guard sinceLast >= every else { return false }
        sinceLast = 0
        return true
    }

    /// Counts one input and, when a checkpoint is due, journals one of `fold` carried forward over
    /// the entries since (the fold a restart and replay run, so a checkpoint can only say what a
    /// restore from entry 1 would), covering every entry before it. `fold` moves on only when the
    /// checkpoint is written; a failure leaves the next start to fold more of the journal.
    public mutating func checkpointIfDue<Fold: CheckpointingFold>(_ fold: inout Fold, journal: Journal, now: Timestamp) throws {
        guard inputHandled() else { return }
        var next = fold
        try journal.appendCovering { lastSeq in try next.checkpointRecord(journal: journal, lastSeq: lastSeq, now: now) }
        fold = next
    }
}

/// A journal fold that a shell carries forward to write checkpoints: the one restore of ast-risk,
/// ast-reconciler and broker@paper.
public protocol CheckpointingFold {
    associatedtype State: Codable & Sendable
    associatedtype Outputs
    /// The sequence number of the last entry folded.
    var foldedThrough: Int64 { get }
    /// What a checkpoint of this fold keeps.
    var checkpointState: State { get }
    /// Folds one entry; the outputs of an input, nil for anything else.
    mutating func apply(_ entry: JournalEntry) throws(FoldError) -> Outputs?
}

extension CheckpointingFold {
    /// The checkpoint record of this fold, covering every entry up to `lastSeq`: the fold first
    /// reads the journal from ``foldedThrough`` on (so a checkpoint can only say what a restore
    /// from entry 1 would).
    public mutating func checkpointRecord(journal: Journal, lastSeq: Int64, now: Timestamp) throws -> JournalRecord {
        if foldedThrough < lastSeq {
            var fold = self
            try runFold(scan: { try journal.scan(fromSeq: foldedThrough + 1, $0) }, apply: { try fold.apply($0) }, observe: { _, _ in })
            self = fold
        }
        let body = try JournalCheckpoint(process: journal.process, covers: foldedThrough, state: checkpointState).encoded()
        return JournalRecord(kind: .state, type: EntryTypes.checkpoint, timestamp: now, body: body)
    }
}

extension RiskJournalFold: CheckpointingFold {}
extension ReconcilerJournalFold: CheckpointingFold {}
extension PaperJournalFold: CheckpointingFold {}
