import ASTCore
import Foundation
import GRDB
import GRDBSQLite

/// The journal's tables and the raw SQLite access on the hot paths (binding and reading columns
/// directly, so that appending and scanning do not allocate per column).
enum Schema {
    static let formatVersion = "1"

    static let create = """
        CREATE TABLE entries(
            seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL, type TEXT NOT NULL,
            msg_id TEXT, corr_id TEXT, peer TEXT, body BLOB NOT NULL,
            prev_hash BLOB NOT NULL, hash BLOB NOT NULL);
        CREATE INDEX entries_corr_id ON entries(corr_id);
        CREATE INDEX entries_ts ON entries(ts);
        CREATE TABLE head(id INTEGER PRIMARY KEY CHECK(id = 1), seq INTEGER NOT NULL, hash BLOB NOT NULL);
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """

    static let columns = ["seq", "ts", "kind", "type", "msg_id", "corr_id", "peer", "body", "prev_hash", "hash"]
    static let select = "SELECT seq, ts, kind, type, msg_id, corr_id, peer, body, prev_hash, hash FROM entries "
    static let insert = "INSERT INTO entries(seq, ts, kind, type, msg_id, corr_id, peer, body, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)"
    static let updateHead = "UPDATE head SET seq = ?, hash = ? WHERE id = 1"

    /// Creates the tables of an empty database, with head at seq 0.
    static func create(in db: Database, process: String, createdAt: String) throws {
        try db.execute(sql: create)
        try db.execute(sql: "INSERT INTO head(id, seq, hash) VALUES (1, 0, ?)", arguments: [Data(ChainHasher.zeroHash)])
        for (key, value) in [("format", formatVersion), ("process", process), ("created_at", createdAt)] {
            try db.execute(sql: "INSERT INTO meta(key, value) VALUES (?, ?)", arguments: [key, value])
        }
    }

    /// Why the database is not a journal of this format, or nil if it is one.
    static func shapeProblem(in db: Database) throws -> String? {
        let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        let missing = ["entries", "head", "meta"].filter { !tables.contains($0) }
        if !missing.isEmpty {
            let found = tables.isEmpty ? "none" : tables.joined(separator: ", ")
            return "missing table(s) \(missing.joined(separator: ", ")); tables found: \(found)"
        }
        let format = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'format'")
        guard format == formatVersion else {
            return "format \(format ?? "(none)") is not format \(formatVersion), the one this build reads"
        }
        for (table, expected) in [("entries", columns), ("head", ["id", "seq", "hash"])] {
            let found = try Row.fetchAll(db, sql: "PRAGMA table_info(\(table))").map { $0["name"] as String }
            if found != expected {
                return "table \(table) has columns (\(found.joined(separator: ", "))), expected (\(expected.joined(separator: ", ")))"
            }
        }
        return nil
    }

    /// Writes entries (in seq order) and moves the head to the last one. Runs inside the caller's
    /// transaction.
    static func write(_ entries: [JournalEntry], in db: Database) throws {
        guard let last = entries.last else { return }
        let row = try Binder(db, sql: insert)
        for entry in entries {
            let r = entry.record
            try row.bind(1, entry.seq)
            try row.bind(2, r.timestamp.nanoseconds)
            try row.bind(3, r.kind.rawValue)
            try row.bind(4, r.type)
            try row.bind(5, r.messageID)
            try row.bind(6, r.correlationID)
            try row.bind(7, r.peer)
            try row.bind(8, r.body)
            try row.bind(9, entry.prevHash)
            try row.bind(10, entry.hash)
            try row.step()
        }
        let head = try Binder(db, sql: updateHead)
        try head.bind(1, last.seq)
        try head.bind(2, last.hash)
        try head.step()
    }

    /// Binds parameters of a cached statement straight through the SQLite API, without the
    /// per-row argument arrays and `Data` copies of GRDB's `StatementArguments`.
    private struct Binder {
        let db: Database
        let sql: String
        let s: SQLiteStatement
        private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

        init(_ db: Database, sql: String) throws {
            self.db = db
            self.sql = sql
            self.s = try db.cachedStatement(sql: sql).sqliteStatement
        }

        func bind(_ index: CInt, _ value: Int64) throws {
            try check(sqlite3_bind_int64(s, index, value))
        }

        func bind(_ index: CInt, _ text: String?) throws {
            guard let text else { return try check(sqlite3_bind_null(s, index)) }
            try check(sqlite3_bind_text64(s, index, text, UInt64(text.utf8.count), Self.transient, UInt8(SQLITE_UTF8)))
        }

        func bind(_ index: CInt, _ bytes: [UInt8]) throws {
            try check(bytes.withUnsafeBytes { raw in
                // A nil pointer would bind NULL; an empty blob is a zero-length blob.
                raw.isEmpty
                    ? sqlite3_bind_zeroblob(s, index, 0)
                    : sqlite3_bind_blob64(s, index, raw.baseAddress, UInt64(raw.count), Self.transient)
            })
        }

        /// Runs the statement once and resets it for the next row.
        func step() throws {
            try check(sqlite3_step(s))
            sqlite3_reset(s)
        }

        private func check(_ rc: CInt) throws {
            guard rc == SQLITE_OK || rc == SQLITE_DONE else {
                let message = String(cString: sqlite3_errmsg(db.sqliteConnection))
                sqlite3_reset(s)
                throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: message, sql: sql)
            }
        }
    }

    /// Runs a `select` query and hands each row, as stored, to `body` until it returns false.
    static func forEachRow(
        in db: Database, sql: String, arguments: StatementArguments, _ body: (StoredRow) throws -> Bool
    ) throws {
        let statement = try db.cachedStatement(sql: sql)
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        while try rows.next() != nil {
            guard try body(StoredRow(statement.sqliteStatement)) else { return }
        }
    }
}

/// One row of `entries` as stored, columns checked for type but not for meaning, so that a
/// verifier can hash rows that a reader would reject.
struct StoredRow {
    var seq: Int64
    var ts: Int64
    var kind: String
    var type: String
    var messageID: String?
    var correlationID: String?
    var peer: String?
    var body: [UInt8]
    var prevHash: [UInt8]
    var hash: [UInt8]

    /// A column holds a value of the wrong type.
    struct Malformed: Error {
        var seq: Int64
        var detail: String

        var damage: JournalDamage {
            JournalDamage(kind: .editedEntry, firstBadSeq: seq, detail: "entry \(seq): \(detail) (edited?)")
        }
    }

    init(_ s: SQLiteStatement) throws {
        let seq = sqlite3_column_int64(s, 0)
        func require(_ index: CInt, _ type: CInt) throws {
            let found = sqlite3_column_type(s, index)
            guard found == type else {
                let names = [SQLITE_INTEGER: "an integer", SQLITE_FLOAT: "a real", SQLITE_TEXT: "text", SQLITE_BLOB: "a blob", SQLITE_NULL: "NULL"]
                throw Malformed(
                    seq: seq,
                    detail: "column \(Schema.columns[Int(index)]) holds \(names[found] ?? "?"), expected \(names[type] ?? "?")")
            }
        }
        func text(_ index: CInt) throws -> String {
            try require(index, SQLITE_TEXT)
            let count = Int(sqlite3_column_bytes(s, index))
            return String(decoding: UnsafeBufferPointer(start: sqlite3_column_text(s, index), count: count), as: UTF8.self)
        }
        func optionalText(_ index: CInt) throws -> String? {
            sqlite3_column_type(s, index) == SQLITE_NULL ? nil : try text(index)
        }
        func blob(_ index: CInt) throws -> [UInt8] {
            try require(index, SQLITE_BLOB)
            let count = Int(sqlite3_column_bytes(s, index))
            guard count > 0, let bytes = sqlite3_column_blob(s, index) else { return [] }
            return [UInt8](UnsafeRawBufferPointer(start: bytes, count: count))
        }

        try require(0, SQLITE_INTEGER)
        try require(1, SQLITE_INTEGER)
        self.seq = seq
        self.ts = sqlite3_column_int64(s, 1)
        self.kind = try text(2)
        self.type = try text(3)
        self.messageID = try optionalText(4)
        self.correlationID = try optionalText(5)
        self.peer = try optionalText(6)
        self.body = try blob(7)
        self.prevHash = try blob(8)
        self.hash = try blob(9)
    }

    func computedHash(with hasher: ChainHasher) -> [UInt8] {
        hasher.hash(
            prev: prevHash, seq: seq, ts: ts, kind: kind, type: type, messageID: messageID,
            correlationID: correlationID, peer: peer, body: body)
    }

    /// The entry this row stores, or why it is not a valid one.
    func entry() throws -> JournalEntry {
        guard let kind = EntryKind(rawValue: kind) else {
            throw Malformed(seq: seq, detail: "kind \"\(kind)\" is not a known entry kind")
        }
        let record = JournalRecord(
            kind: kind, type: type, timestamp: Timestamp(nanoseconds: ts), messageID: messageID,
            correlationID: correlationID, peer: peer, body: body)
        return JournalEntry(seq: seq, record: record, prevHash: prevHash, hash: hash)
    }
}
