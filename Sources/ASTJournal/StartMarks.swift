import ASTCore
import FoundationEssentials
import Synchronization

extension EntryTypes {
    /// A start-up mark of a scan that is not the bus outbox's (kind `state`; peer: the scan's
    /// ``MarkedScan/markName``; body ``FoldMark``): the scan's state after every entry before
    /// `from`. A start reads from the newest one whose chain verifies instead of from entry 1.
    public static let startMark = "journal.start_mark"
}

/// What every start-up mark body says (the bus outbox's and ``FoldMark``): the entry a start-up
/// scan begins at, the state it needs from before that entry being in the rest of the body.
public protocol StartMarkBody: Decodable {
    /// The first entry the scan reads; everything before it is summed up by the mark.
    var from: Int64 { get }
}

extension Journal {
    /// The newest start-up mark of `type` for `peer` whose hash and link to the entry before it
    /// verify, whose body decodes and whose `from` is at or before it: its seq and body. Nil when
    /// there is none or the newest one fails any of those (the caller reads from entry 1, as
    /// before there were marks: never a fresh start). One backward search from the end.
    public func newestStartMark<Body: StartMarkBody>(type: String, peer: String, as: Body.Type) throws -> (seq: Int64, body: Body)? {
        guard let mark = try lastIntactEntry(type: type, peer: peer), mark.record.kind == .state,
            let body = try? JournalCheckpointCoding.decoder.decode(Body.self, from: Data(mark.record.body)),
            (1...mark.seq).contains(body.from)
        else { return nil }
        return (mark.seq, body)
    }
}

/// A start-up scan of a process's own journal that folds entries, oldest first, into a state
/// that a mark can carry (``FoldMark``): the broker's approval screen, the strategy's schedule
/// position, market data's replay progress. The fold must depend on the entries alone, so that
/// a restore from a mark gives what a read from entry 1 gives.
public protocol MarkedScan {
    /// The state, carried in marks as JSON.
    associatedtype State: Codable & Sendable
    /// The mark's peer column: names the scan (two scans of one journal have marks of their own).
    static var markName: String { get }
    /// The state before entry 1.
    static var initial: State { get }
    /// Folds one entry (every entry passes, the scan's marks included: skip what is not yours).
    static func fold(_ state: inout State, _ entry: JournalEntry) throws
}

/// The body of a ``EntryTypes/startMark`` entry: `{"from":S,"state":...}`, the state of a
/// ``MarkedScan`` after every entry before `S` (the mark's own seq).
public struct FoldMark<State: Codable & Sendable>: StartMarkBody, Codable, Sendable {
    public var from: Int64
    public var state: State

    public init(from: Int64, state: State) {
        self.from = from
        self.state = state
    }
}

/// What a ``MarkedScan`` restore read.
public struct MarkedRestore<State: Sendable>: Sendable {
    public var state: State
    /// The seq of the mark it started from; nil when it read from entry 1.
    public var mark: Int64?
    /// The first entry read.
    public var from: Int64
    /// The last entry read (`from - 1` when none was).
    public var through: Int64
    /// Entries read.
    public var scanned: Int
}

extension Journal {
    /// The scan's state at the journal's end: from its newest mark that verifies and decodes plus
    /// the entries after it, or from entry 1 without one (or with `fromEntryOne`).
    public func restore<Scan: MarkedScan>(_ scan: Scan.Type, fromEntryOne: Bool = false) throws -> MarkedRestore<Scan.State> {
        var state = Scan.initial
        var from: Int64 = 1
        var mark: Int64?
        if !fromEntryOne,
            let found = try newestStartMark(type: EntryTypes.startMark, peer: Scan.markName, as: FoldMark<Scan.State>.self)
        {
            state = found.body.state
            from = found.body.from
            mark = found.seq
        }
        var through = from - 1
        var scanned = 0
        try self.scan(fromSeq: from) { entry in
            try Scan.fold(&state, entry)
            through = entry.seq
            scanned += 1
            return true
        }
        return MarkedRestore(state: state, mark: mark, from: from, through: through, scanned: scanned)
    }

    /// Journals a mark of `scan` at the journal's end, built by restoring the scan from the
    /// journal itself (its newest mark plus the entries after it), so a mark always says what a
    /// read from entry 1 would. Nothing when fewer than `every` entries were read since the
    /// newest mark, or when entries were appended meanwhile (the next call tries again).
    /// Returns the mark's seq. It commits: never call it on an event loop.
    @discardableResult
    public func markIfDue<Scan: MarkedScan>(_ scan: Scan.Type, every: Int64, at now: Timestamp) throws -> Int64? {
        try flush()
        let restored = try restore(scan)
        guard Int64(restored.scanned) >= max(1, every) else { return nil }
        let body = Array(try JournalCheckpointCoding.encoder.encode(FoldMark(from: restored.through + 1, state: restored.state)))
        return try appendCovering { lastSeq in
            guard lastSeq == restored.through else { return nil }
            return JournalRecord(kind: .state, type: EntryTypes.startMark, timestamp: now, peer: Scan.markName, body: body)
        }
    }
}

/// Keeps a ``MarkedScan``'s marks coming while a process runs: ``markIfDue(at:)`` is cheap (a
/// counter) until `every` entries were appended since the last mark or restore, then restores
/// the scan from its newest mark and journals a new one.
public final class StartMarker<Scan: MarkedScan>: Sendable {
    let journal: Journal
    let every: Int64
    let lastFrom: Mutex<Int64>

    /// `from`: where the last restore began (``MarkedRestore/from``).
    public init(journal: Journal, every: Int64, from: Int64) {
        self.journal = journal
        self.every = max(1, every)
        lastFrom = Mutex(from)
    }

    /// Journals a mark when `every` entries passed since the last one. Errors are the caller's
    /// to log: a mark that could not be written costs a longer read at the next start, no more.
    @discardableResult
    public func markIfDue(at now: Timestamp) throws -> Int64? {
        let from = lastFrom.withLock { $0 }
        guard journal.lastSeq - from + 1 >= every else { return nil }
        let seq = try journal.markIfDue(Scan.self, every: every, at: now)
        let last = journal.lastSeq
        // Without a mark (entries came in meanwhile) the next try waits a tenth of an interval,
        // so a busy journal does not pay a restore read on every call.
        lastFrom.withLock { $0 = max($0, seq ?? (last - every + 1 + max(1, every / 10))) }
        return seq
    }

    /// How many entries may pass between two marks unless configured otherwise.
    public static var defaultEvery: Int64 { 10_000 }
}
