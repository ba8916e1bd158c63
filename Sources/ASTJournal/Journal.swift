import ASTCore
import CoreMetrics
import FoundationEssentials
import GRDBSQLite
import Logging
import Synchronization

/// A process's append-only, hash-chained journal: one SQLite database in WAL mode.
///
/// Every entry gets the next sequence number (1, 2, 3 ... no gaps) and the hash of the previous
/// entry, so a missing, edited, reordered or lost entry is found by ``verify(path:)``.
///
/// Thread-safe. Appends are serialised under one lock that is also held while a commit runs, so
/// the order on disk is always seq order; calls block the calling thread for the commit (an
/// fsync for `.durable`). Readers see committed entries only: batched entries become visible
/// after ``flush()``, a durable append, or when `batchLimit` entries are pending.
public final class Journal: Sendable {
    /// The database file.
    public let path: String
    /// The process this journal belongs to (stored at creation and checked at every open).
    public let process: String

    private let logger: Logger
    private let batchLimit: Int
    private let queue: SQLiteQueue
    private let writer: Mutex<Writer>
    private let isClosed = Atomic<Bool>(false)

    /// Creates the journal at `path` (and its directory) or opens the existing one, restoring the
    /// last sequence number and hash from its head.
    ///
    /// Throws ``JournalError`` if the file is not a journal, belongs to another process, or is
    /// damaged at its tail; a process must not append onto such a file.
    public init(path: String, process: String, logger: Logger, batchLimit: Int = 1024) throws {
        precondition(batchLimit > 0, "batchLimit must be positive")
        self.path = path
        self.process = process
        self.logger = logger
        self.batchLimit = batchLimit

        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw JournalError.storage(path: path, operation: "creating its directory", cause: "\(error)")
        }

        let hasher = ChainHasher()
        let opened: (created: Bool, lastSeq: Int64, lastHash: [UInt8], sqliteVersion: String)
        do {
            queue = SQLiteQueue(try SQLiteDatabase(path: path, mode: .readWriteCreate, busyTimeoutMilliseconds: Self.busyTimeout))
            opened = try queue.sync { db in
                let created = try Self.prepare(db, path: path, process: process)
                // One read transaction, one snapshot: another connection (the live writer, when a
                // reader opens a live journal) may commit between reading the last entry and the
                // head, which two separate reads would report as a truncated tail.
                let (lastSeq, lastHash, damage) = try db.transaction(.deferred) { try Self.tail(in: db, hasher: hasher) }
                if let damage { throw JournalError.damaged(path: path, damage: damage) }
                let version = try db.text("SELECT sqlite_version()") ?? "?"
                return (created, lastSeq, lastHash, version)
            }
        } catch {
            throw Self.journalError(error, path: path, operation: "opening")
        }

        writer = Mutex(Writer(lastSeq: opened.lastSeq, lastHash: opened.lastHash, hasher: hasher, capacity: batchLimit))
        logger.info(
            "journal opened",
            metadata: [
                "path": "\(path)", "process": "\(process)", "sqlite": "\(opened.sqliteVersion)",
                "last_seq": "\(opened.lastSeq)", "created": "\(opened.created)",
            ])
    }

    deinit {
        writer.withLock { w in
            defer { releaseStatements(&w) }
            guard !w.closed, w.failure == nil, !w.pending.isEmpty else { return }
            let count = w.pending.count
            do {
                try commit(&w, durable: false)
                logger.warning(
                    "journal released without close(); committed its pending entries", metadata: ["path": "\(path)", "entries": "\(count)"])
            } catch {
                // commit has logged the failure; there is no caller left to tell.
            }
        }
    }

    /// Finalizes the commit statements on the database queue, before the connection closes
    /// (SQLite does not close a connection that still has prepared statements).
    private func releaseStatements(_ w: inout Writer) {
        guard let statements = w.statements else { return }
        w.statements = nil
        _ = try? queue.sync { _ in statements.finalize() }
    }

    /// The last sequence number handed out, including entries not committed yet.
    public var lastSeq: Int64 {
        writer.withLock { $0.lastSeq }
    }

    /// Appends one record and returns its sequence number.
    ///
    /// `.durable`: returns after this entry and every earlier pending one are committed in one
    /// transaction with `synchronous=FULL`. `.batched`: the entry is buffered (it already has
    /// its seq and hash) and committed with the next group commit.
    @discardableResult
    public func append(_ record: JournalRecord, durability: Durability) throws -> Int64 {
        let started = ContinuousClock.now
        defer { JournalMetrics.appended(durability, since: started) }
        return try writer.withLock { w in
            try w.checkUsable(path: path)
            let seq = w.stage(record)
            try commitIfDue(&w, durability)
            return seq
        }
    }

    /// Appends records in order, as ``append(_:durability:)`` does for one; nil for no records.
    @discardableResult
    public func append(_ records: [JournalRecord], durability: Durability) throws -> ClosedRange<Int64>? {
        let started = ContinuousClock.now
        defer { JournalMetrics.appended(durability, since: started) }
        return try writer.withLock { w in
            try w.checkUsable(path: path)
            guard !records.isEmpty else { return nil }
            let first = w.lastSeq + 1
            for record in records { w.stage(record) }
            try commitIfDue(&w, durability)
            return first...w.lastSeq
        }
    }

    /// Appends the record `make` builds from the seq of the last entry before it, with no other
    /// entry in between: pending entries are committed first, `make(lastSeq)` runs under the
    /// journal's lock (it may read this journal, never append), and its record is committed
    /// durably right after. For checkpoints, whose body covers exactly the entries before them.
    /// Returns the record's seq, nil when `make` returns nil.
    @discardableResult
    public func appendCovering(_ make: (_ lastSeq: Int64) throws -> JournalRecord?) throws -> Int64? {
        try writer.withLock { w in
            try w.checkUsable(path: path)
            try commit(&w, durable: false)
            guard let record = try make(w.lastSeq) else { return nil }
            let seq = w.stage(record)
            try commit(&w, durable: true)
            return seq
        }
    }

    /// Commits the pending batched entries in one transaction (`synchronous=NORMAL`).
    public func flush() throws {
        try writer.withLock { w in
            try w.checkUsable(path: path)
            try commit(&w, durable: false)
        }
    }

    /// Flushes and closes the database. Further appends and reads throw ``JournalError/closed(path:)``;
    /// closing twice does nothing.
    public func close() throws {
        try writer.withLock { w in
            guard !w.closed else { return }
            w.closed = true
            isClosed.store(true, ordering: .releasing)
            var firstError: (any Error)?
            if w.failure == nil {
                do { try commit(&w, durable: false) } catch { firstError = error }
            }
            releaseStatements(&w)
            do { try queue.close() } catch {
                firstError = firstError ?? Self.journalError(error, path: path, operation: "closing")
            }
            logger.info("journal closed", metadata: ["path": "\(path)", "last_seq": "\(w.lastSeq)"])
            if let firstError { throw firstError }
        }
    }

    // MARK: Readers (committed entries only: call flush() first to see batched ones)

    /// The committed entries with seq in `seq`, in seq order.
    public func entries(seq: ClosedRange<Int64>) throws -> [JournalEntry] {
        try read(
            "reading entries \(seq.lowerBound)...\(seq.upperBound)",
            "WHERE seq BETWEEN ? AND ? ORDER BY seq", [.integer(seq.lowerBound), .integer(seq.upperBound)])
    }

    /// The committed entries with a timestamp in `[from, to]`, in seq order.
    public func entries(from: Timestamp, to: Timestamp) throws -> [JournalEntry] {
        try read(
            "reading entries by time", "WHERE ts BETWEEN ? AND ? ORDER BY seq", [.integer(from.nanoseconds), .integer(to.nanoseconds)])
    }

    /// The committed entries with this correlation id, in seq order.
    public func entries(correlationID: String) throws -> [JournalEntry] {
        try read("reading entries by correlation id", "WHERE corr_id = ? ORDER BY seq", [.text(correlationID)])
    }

    /// The last committed entry of this type, if any.
    public func lastEntry(type: String) throws -> JournalEntry? {
        if let live = try read("reading the last \(type) entry", "WHERE type = ? ORDER BY seq DESC LIMIT 1", [.text(type)]).first {
            return live
        }
        let anchor = try currentAnchor()
        guard anchor.seq > 0 else { return nil }
        return try JournalReader.lastEntryInSegments(livePath: path, anchor: anchor.seq, type: type)
    }

    /// The last committed entry of `type` in the live file with a seq below `below`.
    func lastLiveEntry(type: String, below: Int64) throws -> JournalEntry? {
        try read(
            "reading the last \(type) entry before \(below)", "WHERE type = ? AND seq < ? ORDER BY seq DESC LIMIT 1",
            [.text(type), .integer(below)]
        )
        .first
    }

    /// Streams committed entries from `fromSeq` on, in seq order, reading `batchSize` at a time so
    /// that replaying millions of entries needs constant memory. `body` returns false to stop.
    ///
    /// `body` runs outside the database, so it may append to this journal; entries committed
    /// while the scan runs may or may not be included.
    public func scan(fromSeq: Int64, batchSize: Int = 10_000, _ body: (JournalEntry) throws -> Bool) throws {
        precondition(batchSize > 0, "batchSize must be positive")
        var next = fromSeq
        while true {
            // Archived entries come from the segments (a rotation may run while this scans: the
            // anchor is read again before every batch).
            let anchor = try currentAnchor()
            if next <= anchor.seq {
                var stopped = false
                try JournalReader.scanSegments(livePath: path, anchor: anchor.seq, fromSeq: next, types: nil) { entry in
                    next = entry.seq + 1
                    if try body(entry) { return true }
                    stopped = true
                    return false
                }
                if stopped { return }
                next = max(next, anchor.seq + 1)
            }
            let batch = try read(
                "scanning from entry \(next)", "WHERE seq >= ? ORDER BY seq LIMIT ?", [.integer(next), .integer(Int64(batchSize))])
            if let first = batch.first, first.seq != next, next > 1 {
                // Rotated away between reading the anchor and this batch: read the segments again.
                if try currentAnchor().seq >= next { continue }
                throw JournalError.damaged(
                    path: path,
                    damage: JournalDamage(kind: .gap, firstBadSeq: next, detail: "entry \(next) is missing (the next is \(first.seq))"))
            }
            for entry in batch {
                guard try body(entry) else { return }
            }
            guard batch.count == batchSize, let last = batch.last else { return }
            next = last.seq + 1
        }
    }

    /// The seq and hash the live file continues from (the origin before any rotation).
    func currentAnchor() throws -> ChainAnchor {
        guard !isClosed.load(ordering: .acquiring) else { throw JournalError.closed(path: path) }
        do {
            return try queue.read { db in try ChainAnchor.read(in: db, path: path) }
        } catch {
            throw Self.journalError(error, path: path, operation: "reading its archive anchor")
        }
    }

    // MARK: Internals

    /// The connection's `PRAGMA synchronous` (1 = NORMAL, 2 = FULL); it stays as the last commit
    /// left it.
    func synchronousSetting() throws -> Int {
        try queue.read { db in try db.integer("PRAGMA synchronous").map { Int($0) } ?? -1 }
    }

    func read(_ operation: String, _ clause: String, _ arguments: [SQLiteValue]) throws -> [JournalEntry] {
        guard !isClosed.load(ordering: .acquiring) else { throw JournalError.closed(path: path) }
        do {
            return try queue.read { db in
                var entries: [JournalEntry] = []
                try Schema.forEachRow(in: db, sql: Schema.select + clause, arguments: arguments) { row in
                    entries.append(try row.entry())
                    return true
                }
                return entries
            }
        } catch {
            throw Self.journalError(error, path: path, operation: operation)
        }
    }

    private func commitIfDue(_ w: inout Writer, _ durability: Durability) throws {
        if durability == .durable {
            try commit(&w, durable: true)
        } else if w.pending.count >= batchLimit {
            try commit(&w, durable: false)
        }
    }

    /// Writes every pending entry and the new head in one transaction. On failure the journal
    /// refuses further appends: what is on disk is consistent, what was pending is lost, and the
    /// caller must not believe otherwise.
    private func commit(_ w: inout Writer, durable: Bool) throws {
        guard let first = w.pending.first?.seq, let last = w.pending.last?.seq else { return }
        let mode: Writer.Synchronous = durable ? .full : .normal
        do {
            try queue.sync { db in
                if w.synchronous != mode {
                    // Only between transactions: SQLite ignores the change inside one.
                    try db.execute("PRAGMA synchronous = \(mode.rawValue)")
                    w.synchronous = mode
                }
                // BEGIN, the inserts, the head and COMMIT through statements prepared once and
                // stepped directly: a transaction wrapper and statement bookkeeping (GRDB's, before
                // M11) cost more CPU per durable commit than the inserts themselves.
                if w.statements == nil { w.statements = try Schema.CommitStatements(db) }
                try w.statements!.write(w.pending)
            }
            w.pending.removeAll(keepingCapacity: true)
        } catch {
            let failure = JournalError.commitFailed(path: path, seqs: first...last, cause: Self.cause(error))
            w.failure = failure
            w.pending = []
            logger.error("journal commit failed", metadata: ["path": "\(path)", "error": "\(failure)"])
            throw failure
        }
    }

    /// How long a journal connection waits for another one's lock (a reader rebuilding the WAL
    /// index, a rotation) before failing with `SQLITE_BUSY`: 10 s, as since M1.
    static let busyTimeout: CInt = 10_000

    static func journalError(_ error: any Error, path: String, operation: String) -> JournalError {
        switch error {
        case let error as JournalError:
            return error
        case let malformed as StoredRow.Malformed:
            return .damaged(path: path, damage: malformed.damage)
        case let error as SQLiteError where error.code == SQLITE_NOTADB:
            return .notAJournal(path: path, detail: "not an SQLite database")
        case let error as SQLiteError where error.code == SQLITE_CORRUPT:
            let detail = "SQLite finds the file corrupt while \(operation) (\(cause(error)))"
            return .damaged(path: path, damage: JournalDamage(kind: .unreadable, firstBadSeq: 1, detail: detail))
        default:
            return .storage(path: path, operation: operation, cause: cause(error))
        }
    }

    /// An SQLite error in a few words: `SQLite error 13: database or disk is full`.
    static func cause(_ error: any Error) -> String {
        guard let error = error as? SQLiteError else { return "\(error)" }
        return "SQLite error \(error.extendedCode): \(error.message)"
    }

    /// Makes `db` a journal: creates the schema in an empty database, or checks that an existing
    /// one is this process's journal. Returns whether it created it.
    private static func prepare(_ db: SQLiteDatabase, path: String, process: String) throws -> Bool {
        let isEmpty = try db.integer("SELECT count(*) FROM sqlite_master") == 0
        if !isEmpty {
            if let problem = try Schema.shapeProblem(in: db) {
                throw JournalError.notAJournal(path: path, detail: problem)
            }
            let owner = try db.text("SELECT value FROM meta WHERE key = 'process'") ?? "(unknown)"
            guard owner == process else {
                throw JournalError.belongsToAnotherProcess(path: path, owner: owner, opener: process)
            }
        }
        // Persistent in the file; set again on every open so an existing journal is always WAL.
        let mode = try db.text("PRAGMA journal_mode = WAL")
        guard mode == "wal" else {
            throw JournalError.storage(path: path, operation: "switching to WAL", cause: "journal_mode stayed \(mode ?? "?")")
        }
        try db.execute("PRAGMA synchronous = NORMAL")
        if isEmpty {
            let now = Timestamp(nanoseconds: Int64(Date().timeIntervalSince1970 * 1e9))
            try db.transaction(.immediate) {
                try Schema.create(in: db, process: process, createdAt: now.description, createdBy: JournalCreator.current)
            }
        }
        return isEmpty
    }

    /// The last entry's seq and hash, checked against the head and against its own contents, and
    /// the first entry checked to be 1. The middle of the chain is `verify`'s business.
    private static func tail(in db: SQLiteDatabase, hasher: ChainHasher) throws -> (Int64, [UInt8], JournalDamage?) {
        var last: StoredRow?
        try Schema.forEachRow(in: db, sql: Schema.select + "ORDER BY seq DESC LIMIT 1", arguments: []) { row in
            last = row
            return false
        }
        // After a rotation the live file continues from its anchor (the last archived entry).
        let anchor = try ChainAnchor.read(in: db, path: "")
        let lastSeq = last?.seq ?? anchor.seq
        let lastHash = last?.hash ?? anchor.hash
        if let damage = try Verifier.headDamage(in: db, lastSeq: lastSeq, lastHash: lastHash) {
            return (lastSeq, lastHash, damage)
        }
        if let last, last.computedHash(with: hasher) != last.hash {
            return (lastSeq, lastHash, .edited(last.seq))
        }
        if let first = try db.integer("SELECT min(seq) FROM entries"), first != anchor.seq + 1 {
            if anchor.seq == 0 { return (lastSeq, lastHash, .missingStart(first: first)) }
            let detail = "the first entry is \(first), not \(anchor.seq + 1) (the entry after archived entry \(anchor.seq))"
            return (lastSeq, lastHash, JournalDamage(kind: .gap, firstBadSeq: anchor.seq + 1, detail: detail))
        }
        return (lastSeq, lastHash, nil)
    }
}

/// The appending side's state, guarded by the journal's lock.
private struct Writer {
    enum Synchronous: String { case normal = "NORMAL", full = "FULL" }

    var lastSeq: Int64
    var lastHash: [UInt8]
    var pending: [JournalEntry] = []
    /// What the connection is set to (the journal sets NORMAL when it opens).
    var synchronous = Synchronous.normal
    var closed = false
    var failure: JournalError?
    let hasher: ChainHasher
    /// Prepared on the first commit, finalized before the connection closes.
    var statements: Schema.CommitStatements?

    init(lastSeq: Int64, lastHash: [UInt8], hasher: ChainHasher, capacity: Int) {
        self.lastSeq = lastSeq
        self.lastHash = lastHash
        self.hasher = hasher
        pending.reserveCapacity(capacity)
    }

    func checkUsable(path: String) throws {
        if closed { throw JournalError.closed(path: path) }
        if let failure { throw failure }
    }

    /// Gives the record the next seq and its hash, and queues it for the next commit.
    @discardableResult
    mutating func stage(_ record: JournalRecord) -> Int64 {
        let seq = lastSeq + 1
        let hash = hasher.hash(prev: lastHash, seq: seq, record: record)
        pending.append(JournalEntry(seq: seq, record: record, prevHash: lastHash, hash: hash))
        lastSeq = seq
        lastHash = hash
        return seq
    }
}

/// `ast_journal_append_duration_seconds{durability}`: how long an append took, its commit
/// included when it was due (a durable append's fsync). No-ops until the process bootstraps metrics.
enum JournalMetrics {
    static let durable = Timer(label: "ast_journal_append_duration_seconds", dimensions: [("durability", "durable")])
    static let batched = Timer(label: "ast_journal_append_duration_seconds", dimensions: [("durability", "batched")])

    static func appended(_ durability: Durability, since started: ContinuousClock.Instant) {
        let d = ContinuousClock.now - started
        (durability == .durable ? durable : batched).recordNanoseconds(
            d.components.seconds &* 1_000_000_000 &+ d.components.attoseconds / 1_000_000_000)
    }
}
