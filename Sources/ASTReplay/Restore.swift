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
func runFold<Outputs>(scan: ((JournalEntry) throws -> Bool) throws -> Void, apply: (JournalEntry) throws -> Outputs?,
                      observe: (JournalEntry, Outputs) -> Void) throws {
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

/// ast-risk's journal folded into its ``RiskGate``: `safe_mode.initial` makes the gate, every
/// `risk.input` is handled at its recorded time; `risk.started`/`risk.stopped` tell whether the
/// last run ended cleanly.
///
/// The shell restores with
/// `let fold = try RiskJournalFold.fold(limits: limits) { try journal.scan(fromSeq: 1, $0) }`, then
/// uses `fold.gate` (nil: a first start; it journals `safe_mode.initial` itself) and
/// `fold.uncleanPreviousExit`.
public struct RiskJournalFold {
    public let limits: RiskLimits
    /// The gate as the entries so far leave it; nil before `safe_mode.initial`.
    public private(set) var gate: RiskGate?
    /// The last of `risk.started` / `risk.stopped` seen.
    public private(set) var lastMarker: String?
    /// Inputs applied.
    public private(set) var inputs = 0
    let decoder = JSONDecoder()

    public init(limits: RiskLimits) { self.limits = limits }

    /// A `risk.started` with no `risk.stopped` after it: the previous run did not end cleanly.
    public var uncleanPreviousExit: Bool { lastMarker == EntryTypes.Risk.started }

    /// Applies one entry: the gate's outputs for an input (alerts included), nil for any other entry.
    public mutating func apply(_ entry: JournalEntry) throws(FoldError) -> [RiskOutput]? {
        let r = entry.record
        switch r.type {
        case EntryTypes.Risk.initial:
            do {
                gate = try RiskGate(limits: limits, restoring: decoder.decode(SafeModeRecord.self, from: Data(r.body)))
            } catch {
                throw FoldError(seq: entry.seq, type: r.type, reason: "cannot restore the gate from the initial record: \(error)")
            }
            return nil
        case EntryTypes.Risk.input:
            guard gate != nil else { throw FoldError(seq: entry.seq, type: r.type, reason: "a risk input before the initial Safe Mode record") }
            let input: RiskInput
            do { input = try decoder.decode(RiskInput.self, from: Data(r.body)) } catch {
                throw FoldError(seq: entry.seq, type: r.type, reason: "the recorded input does not decode: \(error)")
            }
            inputs += 1
            return gate!.handle(input, now: r.timestamp)
        case EntryTypes.Risk.started, EntryTypes.Risk.stopped:
            lastMarker = r.type
            return nil
        default:
            return nil
        }
    }

    /// Folds a whole journal (see the type's documentation).
    public static func fold(limits: RiskLimits, observe: (JournalEntry, [RiskOutput]) -> Void = { _, _ in },
                            scan: ((JournalEntry) throws -> Bool) throws -> Void) throws -> RiskJournalFold {
        var fold = RiskJournalFold(limits: limits)
        try runFold(scan: scan, apply: { try fold.apply($0) }, observe: observe)
        return fold
    }
}

/// ast-reconciler's journal folded into its ``ReconcilerCore``: every received `reconciler.input`
/// handled at its recorded time (the book, the portfolio, the reconciliations).
///
/// The shell restores with
/// `let core = try ReconcilerJournalFold.fold { try journal.scan(fromSeq: 1, $0) }.core`.
public struct ReconcilerJournalFold {
    public private(set) var core = ReconcilerCore()
    public private(set) var inputs = 0
    let decoder = JSONDecoder()

    public init() {}

    /// Applies one entry: the decoded input and the core's outputs for a `reconciler.input`, nil otherwise.
    public mutating func apply(_ entry: JournalEntry) throws(FoldError) -> (input: ReconcilerInput, outputs: [ReconcilerOutput])? {
        let r = entry.record
        guard r.kind == .received, r.type == EntryTypes.Reconciler.input else { return nil }
        let input: ReconcilerInput
        do { input = try decoder.decode(ReconcilerInput.self, from: Data(r.body)) } catch {
            throw FoldError(seq: entry.seq, type: r.type, reason: "the recorded input does not decode: \(error)")
        }
        inputs += 1
        return (input, core.handle(input, now: r.timestamp))
    }

    /// Folds a whole journal (see the type's documentation).
    public static func fold(observe: (JournalEntry, (input: ReconcilerInput, outputs: [ReconcilerOutput])) -> Void = { _, _ in },
                            scan: ((JournalEntry) throws -> Bool) throws -> Void) throws -> ReconcilerJournalFold {
        var fold = ReconcilerJournalFold()
        try runFold(scan: scan, apply: { try fold.apply($0) }, observe: observe)
        return fold
    }
}

/// One journaled paper broker input, as the shell writes it (`{"input": ...}`).
public struct PaperJournalInput: Codable, Sendable {
    public var input: PaperInput
    public init(input: PaperInput) { self.input = input }
}

/// The paper broker's journal folded into its ``PaperExchange``: every received `paper.input`
/// (and `paper.fault_resubmit`, which happened) handled at its recorded time.
///
/// The shell (`PaperAdapter.restore`) restores with
/// ```swift
/// var reports: [ExecutionReport] = [], brackets: [BracketOrder] = [], sent = Set<String>()
/// let fold = try PaperJournalFold.fold(name: name, config: config, observe: { entry, step in
///     reports += step.outcome.reports
///     if entry.record.type == EntryTypes.Paper.input, case .submit(let b) = step.input { brackets.append(b) }
/// }) { body in
///     try journal.scan(fromSeq: 1) { entry in
///         if entry.record.kind == .sent, entry.record.type == MessageType.executionReport.rawValue,
///            case .executionReport(let r)? = try EnvelopeCodec.decode(entry.record.body).message { sent.insert(r.id) }
///         return try body(entry)
///     }
/// }
/// ```
/// then uses `fold.exchange` and `fold.inputs` (the journaled input format is this module's
/// ``PaperJournalInput``, the same JSON as the shell's own).
public struct PaperJournalFold {
    public private(set) var exchange: PaperExchange
    public private(set) var inputs = 0
    let decoder = JSONDecoder()

    public init(name: String, config: PaperBrokerConfig) { exchange = PaperExchange(name: name, config: config) }

    /// Applies one entry: the input and the exchange's outcome for an input, nil otherwise.
    public mutating func apply(_ entry: JournalEntry) throws(FoldError) -> (input: PaperInput, outcome: PaperOutcome)? {
        let r = entry.record
        guard r.kind == .received, r.type == EntryTypes.Paper.input || r.type == EntryTypes.Paper.faultResubmit else { return nil }
        let input: PaperInput
        do { input = try decoder.decode(PaperJournalInput.self, from: Data(r.body)).input } catch {
            throw FoldError(seq: entry.seq, type: r.type, reason: "the recorded input does not decode: \(error)")
        }
        if r.type == EntryTypes.Paper.faultResubmit {
            guard case .submit(let bracket) = input else { return nil }
            return (input, exchange.faultResubmitIgnoringKnownIDs(bracket, now: r.timestamp))
        }
        inputs += 1
        return (input, exchange.handle(input, now: r.timestamp))
    }

    /// Folds a whole journal (see the type's documentation).
    public static func fold(name: String, config: PaperBrokerConfig,
                            observe: (JournalEntry, (input: PaperInput, outcome: PaperOutcome)) -> Void = { _, _ in },
                            scan: ((JournalEntry) throws -> Bool) throws -> Void) throws -> PaperJournalFold {
        var fold = PaperJournalFold(name: name, config: config)
        try runFold(scan: scan, apply: { try fold.apply($0) }, observe: observe)
        return fold
    }
}
