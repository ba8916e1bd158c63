import ASTCore
import GRDBSQLite
import Glibc

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
    static func create(in db: SQLiteDatabase, process: String, createdAt: String, createdBy: String) throws {
        try db.executeScript(create)
        try db.execute("INSERT INTO head(id, seq, hash) VALUES (1, 0, ?)", [.blob(ChainHasher.zeroHash)])
        for (key, value) in [("format", formatVersion), ("process", process), ("created_at", createdAt), ("created_by", createdBy)] {
            try db.execute("INSERT INTO meta(key, value) VALUES (?, ?)", [.text(key), .text(value)])
        }
    }

    /// Why the database is not a journal of this format, or nil if it is one.
    static func shapeProblem(in db: SQLiteDatabase) throws -> String? {
        let tables = try db.texts("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        let missing = ["entries", "head", "meta"].filter { !tables.contains($0) }
        if !missing.isEmpty {
            let found = tables.isEmpty ? "none" : tables.joined(separator: ", ")
            return "missing table(s) \(missing.joined(separator: ", ")); tables found: \(found)"
        }
        let format = try db.text("SELECT value FROM meta WHERE key = 'format'")
        guard format == formatVersion else {
            return "format \(format ?? "(none)") is not format \(formatVersion), the one this build reads"
        }
        for (table, expected) in [("entries", columns), ("head", ["id", "seq", "hash"])] {
            var found: [String] = []
            try db.query("PRAGMA table_info(\(table))") { row in
                found.append(row.text(1) ?? "")
                return true
            }
            if found != expected {
                return "table \(table) has columns (\(found.joined(separator: ", "))), expected (\(expected.joined(separator: ", ")))"
            }
        }
        return nil
    }

    /// The statements of the commit path, prepared once per connection and stepped straight
    /// through the SQLite API: no statement cache lookup, no per-row argument arrays or copies,
    /// nothing around `BEGIN` and `COMMIT` but the statements themselves.
    ///
    /// Used only on the journal's connection, under the writer's lock. ``finalize()`` must run
    /// before the connection closes.
    final class CommitStatements {
        private let db: SQLiteDatabase
        private let begin: PreparedStatement
        private let commit: PreparedStatement
        private let insert: PreparedStatement
        private let head: PreparedStatement

        init(_ db: SQLiteDatabase) throws {
            self.db = db
            // A statement prepared before a later one fails is finalized when released.
            begin = try db.prepare("BEGIN IMMEDIATE", persistent: true)
            commit = try db.prepare("COMMIT", persistent: true)
            insert = try db.prepare(Schema.insert, persistent: true)
            head = try db.prepare(Schema.updateHead, persistent: true)
        }

        /// Releases the statements; the object is unusable afterwards.
        func finalize() {
            for statement in [begin, commit, insert, head] { statement.finalize() }
        }

        /// Writes entries (in seq order) and moves the head to the last one, in one
        /// `BEGIN IMMEDIATE` ... `COMMIT` transaction; rolls back if any step fails.
        func write(_ entries: [JournalEntry]) throws {
            guard let last = entries.last else { return }
            try begin.run()
            do {
                for entry in entries {
                    let r = entry.record
                    try insert.bind(1, entry.seq)
                    try insert.bind(2, r.timestamp.nanoseconds)
                    try insert.bind(3, r.kind.rawValue)
                    try insert.bind(4, r.type)
                    try insert.bind(5, r.messageID)
                    try insert.bind(6, r.correlationID)
                    try insert.bind(7, r.peer)
                    try insert.bind(8, r.body)
                    try insert.bind(9, entry.prevHash)
                    try insert.bind(10, entry.hash)
                    try insert.run()
                }
                try head.bind(1, last.seq)
                try head.bind(2, last.hash)
                try head.run()
                try commit.run()
            } catch {
                if db.inTransaction { try? db.execute("ROLLBACK") }
                throw error
            }
        }
    }

    /// Runs a `select` query and hands each row, as stored, to `body` until it returns false.
    static func forEachRow(
        in db: SQLiteDatabase, sql: String, arguments: [SQLiteValue], _ body: (StoredRow) throws -> Bool
    ) throws {
        try db.query(sql, arguments) { row in try body(StoredRow(row.handle!)) }
    }

    /// ``forEachRow(in:sql:arguments:_:)`` building a row only when `filter` wants it: any other
    /// row goes to `passed` by its seq alone, no column copied (see ``EntryTypeFilter``).
    static func forEachRow(
        in db: SQLiteDatabase, sql: String, arguments: [SQLiteValue], filter: EntryTypeFilter?, passed: (Int64) throws -> Void,
        _ body: (StoredRow) throws -> Bool
    ) throws {
        guard let filter else { return try forEachRow(in: db, sql: sql, arguments: arguments, body) }
        try db.query(sql, arguments) { row in
            let s = row.handle!
            if filter.passes(s) {
                try passed(sqlite3_column_int64(s, 0))
                return true
            }
            return try body(StoredRow(s))
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
    func passes(_ s: StatementHandle) -> Bool {
        for (index, type) in Self.columnTypes.enumerated() {
            let found = sqlite3_column_type(s, CInt(index))
            guard found == type || (found == SQLITE_NULL && (4...6).contains(index)) else { return false }
        }
        guard Self.contains(Self.kinds, s, column: 2) else { return false }
        return !Self.contains(wanted, s, column: 3)
    }

    /// Whether the text of `column` equals one of `list`.
    static func contains(_ list: [[UInt8]], _ s: StatementHandle, column: CInt) -> Bool {
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

    init(_ s: StatementHandle) throws {
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
