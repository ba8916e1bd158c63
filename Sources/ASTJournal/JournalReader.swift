import FoundationEssentials

/// A read-only view of a journal file, the one way every reader opens a journal it must never
/// append to: replay, export, reports, `astctl drill` (``Journal/readEntries(path:fromSeq:types:_:)``)
/// and the chain check (``Journal/verify(path:)``).
///
/// Opens the file read-only (never creating one) and refuses a file that is not an AST journal;
/// does not check the hash chain (``Journal/verify(path:)`` does); safe while the owning process
/// runs: a scan sees the entries committed when it starts.
public final class JournalReader {
    public let path: String
    /// The process the journal belongs to, from its `meta` table.
    public let process: String
    private let db: SQLiteDatabase

    public init(path: String, label: String = "journal-reader") throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            throw JournalError.storage(path: path, operation: "opening read-only", cause: "no such file")
        }
        // Other readers (replay verify reads one journal in parallel jobs) and the owning writer
        // may hold the file for a moment (SQLITE_BUSY, or BUSY_RECOVERY while one of them rebuilds
        // the WAL index): wait for them as the writer does, never report the file unreadable.
        do {
            db = try SQLiteDatabase(path: path, mode: .readOnly, busyTimeoutMilliseconds: Journal.busyTimeout)
            process = try db.read { db in
                if let problem = try Schema.shapeProblem(in: db) { throw JournalError.notAJournal(path: path, detail: problem) }
                return try db.text("SELECT value FROM meta WHERE key = 'process'") ?? "(unknown)"
            }
        } catch {
            throw Journal.journalError(error, path: path, operation: "opening read-only")
        }
    }

    deinit { try? db.close() }

    /// A value of the journal's `meta` table (`created_at`, `created_by` ...), nil when absent.
    public func meta(_ key: String) throws -> String? {
        do {
            return try db.read { db in try db.text("SELECT value FROM meta WHERE key = ?", [.text(key)]) }
        } catch {
            throw Journal.journalError(error, path: path, operation: "reading its meta table")
        }
    }

    /// Streams every entry in seq order, in one read transaction (constant memory);
    /// `body` returns false to stop.
    public func scan(_ body: (JournalEntry) throws -> Bool) throws {
        try scan(fromSeq: 1, types: nil, body)
    }

    /// Streams the entries from `fromSeq` on, only those of `types` when given, in seq order, in
    /// one read transaction; `body` returns false to stop. Entries archived by a rotation are read
    /// from their segments first (``JournalSegment``), as if they were still in the file.
    public func scan(fromSeq: Int64, types: [String]?, _ body: (JournalEntry) throws -> Bool) throws {
        try scan(fromSeq: fromSeq, types: types, filter: nil, passed: { _ in }, body)
    }

    /// Streams every entry from `fromSeq` on, in seq order, in one read transaction, building a
    /// ``JournalEntry`` only for the types in `only`: every other entry is handed to `passed` by
    /// its seq, with none of its columns copied (a malformed one is built, and stops the scan as
    /// in ``scan(_:)``). For readers that act on a few types of a journal and count the rest.
    public func scan(
        fromSeq: Int64 = 1, only: EntryTypeFilter, passed: (Int64) throws -> Void, _ body: (JournalEntry) throws -> Bool
    ) throws {
        try scan(fromSeq: fromSeq, types: nil, filter: only, passed: passed, body)
    }

    private func scan(
        fromSeq: Int64, types: [String]?, filter: EntryTypeFilter?, passed: (Int64) throws -> Void,
        _ body: (JournalEntry) throws -> Bool
    ) throws {
        do {
            try db.read { db in
                // The live file's snapshot fixes the anchor: a rotation during the scan cannot
                // hide entries from it.
                let anchor = try ChainAnchor.read(in: db, path: path)
                var stopped = false
                if anchor.seq > 0, fromSeq <= anchor.seq {
                    try Self.scanSegments(
                        livePath: path, anchor: anchor.seq, fromSeq: fromSeq, types: types, filter: filter, passed: passed
                    ) { entry in
                        if try body(entry) { return true }
                        stopped = true
                        return false
                    }
                }
                guard !stopped else { return }
                try scanOwn(db, fromSeq: fromSeq, types: types, filter: filter, passed: passed, body)
            }
        } catch let error as JournalError {
            throw error
        } catch let error as SQLiteError {
            throw Journal.journalError(error, path: path, operation: "scanning")
        } catch let malformed as StoredRow.Malformed {
            throw Journal.journalError(malformed, path: path, operation: "scanning")
        }
    }

    /// The entries of this file only (no segments).
    private func scanOwn(
        _ db: SQLiteDatabase, fromSeq: Int64, types: [String]?, filter: EntryTypeFilter? = nil, passed: (Int64) throws -> Void = { _ in },
        _ body: (JournalEntry) throws -> Bool
    ) throws {
        var clause = fromSeq > 1 ? "WHERE seq >= ?" : ""
        var values: [SQLiteValue] = fromSeq > 1 ? [.integer(fromSeq)] : []
        if let types, !types.isEmpty {
            clause += (clause.isEmpty ? "WHERE " : " AND ") + "type IN (\(types.map { _ in "?" }.joined(separator: ",")))"
            values += types.map { .text($0) }
        }
        try Schema.forEachRow(
            in: db, sql: Schema.select + clause + " ORDER BY seq", arguments: values, filter: filter, passed: passed
        ) { row in
            try body(try row.entry())
        }
    }

    /// Streams the archived entries `fromSeq...anchor` of the journal at `livePath` from its
    /// segments; throws when a segment is missing (fail closed: never a silent gap).
    static func scanSegments(
        livePath: String, anchor: Int64, fromSeq: Int64, types: [String]?, filter: EntryTypeFilter? = nil,
        passed: (Int64) throws -> Void = { _ in }, _ body: (JournalEntry) throws -> Bool
    ) throws {
        let (segments, reached) = JournalSegments.chain(forLive: livePath, anchor: anchor)
        guard reached == anchor else {
            throw JournalError.damaged(path: livePath, damage: JournalSegments.missing(livePath, reached: reached, anchor: anchor))
        }
        for segment in segments where segment.last >= fromSeq {
            let reader = try JournalReader(path: segment.path, label: "journal-segment")
            var stopped = false
            try reader.db.read { db in
                try reader.scanOwn(db, fromSeq: max(fromSeq, segment.first), types: types, filter: filter, passed: passed) { entry in
                    if try body(entry) { return true }
                    stopped = true
                    return false
                }
            }
            if stopped { return }
        }
    }

    /// The last entry of `type` with a seq below `below` in the segments of `livePath`: newest
    /// segment first, stopping at the first that holds one; segments starting at or after
    /// `below` are not opened.
    static func lastEntryInSegments(livePath: String, anchor: Int64, type: String, below: Int64 = .max) throws -> JournalEntry? {
        let (segments, reached) = JournalSegments.chain(forLive: livePath, anchor: anchor)
        guard reached == anchor else {
            throw JournalError.damaged(path: livePath, damage: JournalSegments.missing(livePath, reached: reached, anchor: anchor))
        }
        for segment in segments.reversed() where segment.first < below {
            let reader = try JournalReader(path: segment.path, label: "journal-segment")
            var found: JournalEntry?
            try reader.db.read { db in
                try Schema.forEachRow(
                    in: db, sql: Schema.select + "WHERE type = ? AND seq < ? ORDER BY seq DESC LIMIT 1",
                    arguments: [.text(type), .integer(below)]
                ) { row in
                    found = try row.entry()
                    return false
                }
            }
            if let found { return found }
        }
        return nil
    }

    /// Runs `body` in one read transaction on the file (for ``Journal/verify(path:)``).
    func read<T>(_ body: (SQLiteDatabase) throws -> T) throws -> T {
        try db.read(body)
    }

    /// Streams the raw columns of every entry, no entry values built: the baseline of replay
    /// benchmarks. Returns the number of rows.
    public func rawCount() throws -> Int {
        try db.read { db in
            var n = 0
            try Schema.forEachRow(in: db, sql: Schema.select + "ORDER BY seq", arguments: []) { _ in
                n += 1
                return true
            }
            return n
        }
    }

    /// Writes a consistent copy of the journal (SQLite's online backup) to `destination`,
    /// which must not exist yet. The copy is a journal like the original and verifies alike.
    public func backup(to destination: String) throws {
        do {
            let target = try SQLiteDatabase(path: destination, mode: .readWriteCreate, busyTimeoutMilliseconds: nil)
            try db.backup(to: target)
            try target.close()
        } catch {
            throw Journal.journalError(error, path: path, operation: "copying to \(destination)")
        }
    }
}
