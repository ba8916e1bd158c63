import ASTJournal
import GRDBSQLite

/// The baseline of benchmark 3: the same rows written through the sqlite3 C API with prepared
/// statements and nothing else: no GRDB, no hash chain, no head row, no lock of our own.
///
/// The tables are the journal's own (``Journal/tablesSQL``), so both sides do the same B-tree work
/// per row.
final class RawSQLite {
    enum Synchronous: String { case normal = "NORMAL", full = "FULL" }

    private let db: OpaquePointer
    private let begin: OpaquePointer
    private let insert: OpaquePointer
    private let commit: OpaquePointer
    private let updateHead: OpaquePointer?
    private let path: String

    static let schema = Journal.tablesSQL + "\nINSERT INTO head(id, seq, hash) VALUES (1, 0, zeroblob(32));\n"

    /// The SQLite library both sides link.
    static var version: String { String(cString: sqlite3_libversion()) }

    /// Creates a database at `path` in WAL mode with `synchronous` set, and the tables.
    /// - Parameter withHead: also move the journal's one-row `head` table in every transaction,
    ///   as the journal does (a diagnostic: what that row costs).
    init(path: String, synchronous: Synchronous, withHead: Bool = false) throws {
        self.path = path
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "code \(rc)"
            sqlite3_close_v2(handle)
            throw BenchError("sqlite3_open_v2 \(path): \(message)")
        }
        db = handle
        func exec(_ sql: String) throws {
            guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else {
                let message = String(cString: sqlite3_errmsg(handle))
                sqlite3_close_v2(handle)
                throw BenchError("sqlite3 \(path): \(sql): \(message)")
            }
        }
        func prepare(_ sql: String) throws -> OpaquePointer {
            var statement: OpaquePointer?
            guard sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK, let statement else {
                let message = String(cString: sqlite3_errmsg(handle))
                sqlite3_close_v2(handle)
                throw BenchError("sqlite3 \(path): preparing \(sql): \(message)")
            }
            return statement
        }
        try exec("PRAGMA journal_mode = WAL")
        try exec("PRAGMA synchronous = \(synchronous.rawValue)")
        try exec(Self.schema)
        begin = try prepare("BEGIN IMMEDIATE")
        insert = try prepare(
            "INSERT INTO entries(seq, ts, kind, type, msg_id, corr_id, peer, body, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)")
        commit = try prepare("COMMIT")
        updateHead = withHead ? try prepare("UPDATE head SET seq = ?, hash = ? WHERE id = 1") : nil
    }

    deinit {
        sqlite3_finalize(begin)
        sqlite3_finalize(insert)
        sqlite3_finalize(commit)
        sqlite3_finalize(updateHead)
        sqlite3_close_v2(db)
    }

    /// One row like the journal's entry for a received probe.
    struct Row {
        var seq: Int64
        var ts: Int64
        var messageID: String
        var correlationID: String
        var peer: String
        var body: [UInt8]
        var prevHash: [UInt8]
        var hash: [UInt8]
    }

    func beginTransaction() throws { try step(begin) }

    /// Commits; with `withHead`, first moves the head to `last`, as the journal does.
    func commitTransaction(last: Row? = nil) throws {
        if let updateHead, let last {
            let rc = last.hash.withUnsafeBytes { hash in
                sqlite3_bind_int64(updateHead, 1, last.seq)
                    | sqlite3_bind_blob64(
                        updateHead, 2, hash.baseAddress, UInt64(hash.count), unsafeBitCast(-1, to: sqlite3_destructor_type.self))
            }
            guard rc == SQLITE_OK else { throw BenchError("sqlite3 \(path): binding: \(String(cString: sqlite3_errmsg(db)))") }
            try step(updateHead)
        }
        try step(commit)
    }

    /// Binds and inserts one row (SQLITE_TRANSIENT copies, as the journal binds).
    func insert(_ row: Row) throws {
        let s = insert
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        func text(_ index: Int32, _ value: String) -> Int32 {
            sqlite3_bind_text64(s, index, value, UInt64(value.utf8.count), transient, UInt8(SQLITE_UTF8))
        }
        func blob(_ index: Int32, _ value: [UInt8]) -> Int32 {
            value.withUnsafeBytes { sqlite3_bind_blob64(s, index, $0.baseAddress, UInt64($0.count), transient) }
        }
        var rc = sqlite3_bind_int64(s, 1, row.seq)
        rc |= sqlite3_bind_int64(s, 2, row.ts)
        rc |= text(3, "received")
        rc |= text(4, "probe")
        rc |= text(5, row.messageID)
        rc |= text(6, row.correlationID)
        rc |= text(7, row.peer)
        rc |= blob(8, row.body)
        rc |= blob(9, row.prevHash)
        rc |= blob(10, row.hash)
        guard rc == SQLITE_OK else { throw BenchError("sqlite3 \(path): binding: \(String(cString: sqlite3_errmsg(db)))") }
        try step(s)
    }

    private func step(_ statement: OpaquePointer) throws {
        let rc = sqlite3_step(statement)
        sqlite3_reset(statement)
        guard rc == SQLITE_DONE else { throw BenchError("sqlite3 \(path): step: \(String(cString: sqlite3_errmsg(db)))") }
    }
}
