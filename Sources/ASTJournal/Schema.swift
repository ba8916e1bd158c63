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
    static let insert =
        "INSERT INTO entries(seq, ts, kind, type, msg_id, corr_id, peer, body, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)"
    static let updateHead = "UPDATE head SET seq = ?, hash = ? WHERE id = 1"

    /// Creates the tables of an empty database, with head at seq 0.
    /// `createdBy` (``JournalCreator``) lets a later start tell a journal of an earlier run apart.
    static func create(in db: Database, process: String, createdAt: String, createdBy: String) throws {
        try db.execute(sql: create)
        try db.execute(sql: "INSERT INTO head(id, seq, hash) VALUES (1, 0, ?)", arguments: [Data(ChainHasher.zeroHash)])
        for (key, value) in [("format", formatVersion), ("process", process), ("created_at", createdAt), ("created_by", createdBy)] {
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

    /// The statements of the commit path, prepared once per connection and stepped straight
    /// through the SQLite API: no statement cache lookup, no per-row argument arrays or `Data`
    /// copies (GRDB's `StatementArguments`), no GRDB bookkeeping around `BEGIN` and `COMMIT`.
    ///
    /// Used only on the journal's database queue, under the writer's lock. ``finalize()`` must
    /// run before the connection closes.
    final class CommitStatements {
        private let db: Database
        private var begin: SQLiteStatement?
        private var commit: SQLiteStatement?
        private var insert: SQLiteStatement?
        private var head: SQLiteStatement?
        private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

        init(_ db: Database) throws {
            self.db = db
            do {
                begin = try Self.prepare(db, "BEGIN IMMEDIATE")
                commit = try Self.prepare(db, "COMMIT")
                insert = try Self.prepare(db, Schema.insert)
                head = try Self.prepare(db, Schema.updateHead)
            } catch {
                finalize()
                throw error
            }
        }

        deinit { finalize() }

        /// Releases the statements; the object is unusable afterwards.
        func finalize() {
            for statement in [begin, commit, insert, head] { sqlite3_finalize(statement) }
            (begin, commit, insert, head) = (nil, nil, nil, nil)
        }

        private static func prepare(_ db: Database, _ sql: String) throws -> SQLiteStatement {
            var statement: SQLiteStatement?
            let rc = sqlite3_prepare_v3(db.sqliteConnection, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
            guard rc == SQLITE_OK, let statement else {
                let message = String(cString: sqlite3_errmsg(db.sqliteConnection))
                sqlite3_finalize(statement)
                throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: message, sql: sql)
            }
            return statement
        }

        /// Writes entries (in seq order) and moves the head to the last one, in one
        /// `BEGIN IMMEDIATE` ... `COMMIT` transaction; rolls back if any step fails.
        func write(_ entries: [JournalEntry]) throws {
            guard let last = entries.last, let begin, let commit, let insert, let head else { return }
            try step(begin, "BEGIN IMMEDIATE")
            do {
                for entry in entries {
                    let r = entry.record
                    try bind(insert, 1, entry.seq)
                    try bind(insert, 2, r.timestamp.nanoseconds)
                    try bind(insert, 3, r.kind.rawValue)
                    try bind(insert, 4, r.type)
                    try bind(insert, 5, r.messageID)
                    try bind(insert, 6, r.correlationID)
                    try bind(insert, 7, r.peer)
                    try bind(insert, 8, r.body)
                    try bind(insert, 9, entry.prevHash)
                    try bind(insert, 10, entry.hash)
                    try step(insert, Schema.insert)
                }
                try bind(head, 1, last.seq)
                try bind(head, 2, last.hash)
                try step(head, Schema.updateHead)
                try step(commit, "COMMIT")
            } catch {
                if sqlite3_get_autocommit(db.sqliteConnection) == 0 { try? db.rollback() }
                throw error
            }
        }

        private func bind(_ s: SQLiteStatement, _ index: CInt, _ value: Int64) throws {
            try check(s, sqlite3_bind_int64(s, index, value))
        }

        private func bind(_ s: SQLiteStatement, _ index: CInt, _ text: String?) throws {
            guard let text else { return try check(s, sqlite3_bind_null(s, index)) }
            try check(s, sqlite3_bind_text64(s, index, text, UInt64(text.utf8.count), Self.transient, UInt8(SQLITE_UTF8)))
        }

        private func bind(_ s: SQLiteStatement, _ index: CInt, _ bytes: [UInt8]) throws {
            try check(
                s,
                bytes.withUnsafeBytes { raw in
                    // A nil pointer would bind NULL; an empty blob is a zero-length blob.
                    raw.isEmpty
                        ? sqlite3_bind_zeroblob(s, index, 0)
                        : sqlite3_bind_blob64(s, index, raw.baseAddress, UInt64(raw.count), Self.transient)
                })
        }

        /// Runs the statement once and resets it for the next use.
        private func step(_ s: SQLiteStatement, _ sql: String) throws {
            let rc = sqlite3_step(s)
            guard rc == SQLITE_DONE else {
                let failure = error(rc, sql)
                sqlite3_reset(s)
                throw failure
            }
            sqlite3_reset(s)
        }

        private func check(_ s: SQLiteStatement, _ rc: CInt) throws {
            guard rc == SQLITE_OK else {
                let failure = error(rc, String(cString: sqlite3_sql(s)))
                sqlite3_reset(s)
                throw failure
            }
        }

        private func error(_ rc: CInt, _ sql: String) -> DatabaseError {
            let message = String(cString: sqlite3_errmsg(db.sqliteConnection))
            return DatabaseError(resultCode: ResultCode(rawValue: rc), message: message, sql: sql)
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

    /// ``forEachRow(in:sql:arguments:_:)`` building a row only when `filter` wants it: any other
    /// row goes to `passed` by its seq alone, no column copied (see ``EntryTypeFilter``).
    static func forEachRow(
        in db: Database, sql: String, arguments: StatementArguments, filter: EntryTypeFilter?, passed: (Int64) throws -> Void,
        _ body: (StoredRow) throws -> Bool
    ) throws {
        guard let filter else { return try forEachRow(in: db, sql: sql, arguments: arguments, body) }
        let statement = try db.cachedStatement(sql: sql)
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        let s = statement.sqliteStatement
        while try rows.next() != nil {
            if filter.passes(s) {
                try passed(sqlite3_column_int64(s, 0))
                continue
            }
            guard try body(StoredRow(s)) else { return }
        }
    }
}

/// The entry types a scan builds entries for (``JournalReader/scan(fromSeq:only:passed:_:)``): a
/// reader that acts on a few types of a journal does not pay for copying the columns of the
/// others. A row is passed over only when it is well formed (every column of its type, a known
/// kind) and its type is not wanted; a malformed row is always built, so it stops the scan
/// exactly as an unfiltered one would.
public struct EntryTypeFilter: Sendable {
    /// The wanted types' UTF-8 bytes (a handful: compared in turn).
    let wanted: [[UInt8]]
    static let kinds: [[UInt8]] = EntryKind.allCases.map { Array($0.rawValue.utf8) }
    /// The storage class of each column of ``Schema/select`` (msg_id, corr_id and peer may be NULL).
    static let columnTypes: [CInt] = [
        SQLITE_INTEGER, SQLITE_INTEGER, SQLITE_TEXT, SQLITE_TEXT, SQLITE_TEXT, SQLITE_TEXT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_BLOB,
        SQLITE_BLOB,
    ]

    public init(_ types: Set<String>) {
        wanted = types.sorted().map { Array($0.utf8) }
    }

    /// Whether the row `s` is stepped on may be passed over: well formed, of an unwanted type.
    func passes(_ s: SQLiteStatement) -> Bool {
        for (index, type) in Self.columnTypes.enumerated() {
            let found = sqlite3_column_type(s, CInt(index))
            guard found == type || (found == SQLITE_NULL && (4...6).contains(index)) else { return false }
        }
        guard Self.contains(Self.kinds, s, column: 2) else { return false }
        return !Self.contains(wanted, s, column: 3)
    }

    /// Whether the text of `column` equals one of `list`.
    static func contains(_ list: [[UInt8]], _ s: SQLiteStatement, column: CInt) -> Bool {
        let count = Int(sqlite3_column_bytes(s, column))
        guard let text = sqlite3_column_text(s, column) else { return list.contains { $0.isEmpty } }
        for candidate in list where candidate.count == count {
            if candidate.withUnsafeBytes({ raw in raw.baseAddress.map { memcmp($0, text, count) == 0 } ?? true }) { return true }
        }
        return false
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
                let names = [
                    SQLITE_INTEGER: "an integer", SQLITE_FLOAT: "a real", SQLITE_TEXT: "text", SQLITE_BLOB: "a blob", SQLITE_NULL: "NULL",
                ]
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

extension Journal {
    /// The SQL that creates an empty journal's tables, for a baseline that must do the same B-tree
    /// work per row as the journal (ast-bench's raw SQLite floor).
    public static var tablesSQL: String { Schema.create }
}
