import GRDBSQLite
import Synchronization

/// A raw SQLite statement handle, as the hot paths step and read it.
typealias StatementHandle = OpaquePointer

/// An SQLite failure: the extended result code, SQLite's message, and the SQL that failed.
struct SQLiteError: Error, CustomStringConvertible {
    /// The extended result code (`SQLITE_BUSY_RECOVERY`, `SQLITE_IOERR_FSYNC` ...).
    var extendedCode: CInt
    var message: String
    var sql: String?

    /// The primary result code (`SQLITE_BUSY`, `SQLITE_NOTADB` ...).
    var code: CInt { extendedCode & 0xff }

    var description: String {
        "SQLite error \(extendedCode): \(message)" + (sql.map { " - while executing `\($0)`" } ?? "")
    }
}

/// A value bound to a `?` of a statement.
enum SQLiteValue {
    case integer(Int64)
    case text(String)
    case blob([UInt8])
    case null
}

/// One SQLite connection, opened the way the journal has always opened its files (GRDB 7's
/// `DatabaseQueue` until M11): multi-thread mode (`SQLITE_OPEN_NOMUTEX`), extended result codes,
/// a busy timeout, double-quoted string literals off, `foreign_keys` on, and the file checked to
/// be a database before anything else runs.
///
/// Not thread-safe: one thread at a time (``SQLiteQueue`` serialises a shared one). Statements
/// prepared with ``cached(_:)`` are finalized by ``close()``; those the caller prepares with
/// ``prepare(_:persistent:)`` must be finalized before it.
final class SQLiteDatabase {
    /// How a file is opened.
    enum Mode {
        /// Read and write, creating the file if it does not exist.
        case readWriteCreate
        /// Read only; a missing file fails to open, nothing is ever created.
        case readOnly
    }

    /// How `BEGIN` takes its locks.
    enum Transaction: String {
        case deferred = "BEGIN DEFERRED"
        case immediate = "BEGIN IMMEDIATE"
    }

    let path: String
    let mode: Mode
    private var connection: OpaquePointer?
    private var cache: [String: PreparedStatement] = [:]

    /// Opens `path`. `busyTimeoutMilliseconds` (nil: fail at once) is how long a statement waits
    /// for another connection's lock before it fails with `SQLITE_BUSY`.
    init(path: String, mode: Mode, busyTimeoutMilliseconds: CInt?) throws {
        self.path = path
        self.mode = mode
        // SQLITE_OPEN_EXRESCODE (3.37+): extended result codes from the open on. NOMUTEX: no
        // mutex around every SQLite call (one per column read), as GRDB opened it: the connection
        // is used by one thread at a time (``SQLiteQueue``).
        let access = mode == .readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        let flags = access | SQLITE_OPEN_NOMUTEX | 0x0200_0000
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close(handle)
            throw SQLiteError(extendedCode: rc, message: message, sql: nil)
        }
        connection = handle
        do {
            _ = sqlite3_extended_result_codes(handle, 1)
            if let busyTimeoutMilliseconds { sqlite3_busy_timeout(handle, busyTimeoutMilliseconds) }
            _disableDoubleQuotedStringLiterals(handle)
            try execute("PRAGMA foreign_keys = ON")
            // A file that is not a database (or an encrypted one) fails here, not at first use.
            _ = try query("SELECT * FROM sqlite_master LIMIT 1") { _ in false }
        } catch {
            close(force: true)
            throw error
        }
    }

    deinit { close(force: true) }

    /// The open connection, or `SQLITE_MISUSE` once closed.
    var handle: OpaquePointer {
        get throws {
            guard let connection else {
                throw SQLiteError(extendedCode: SQLITE_MISUSE, message: "the connection is closed", sql: nil)
            }
            return connection
        }
    }

    /// Finalizes the cached statements and closes the connection; fails (and stays open) while a
    /// statement prepared by the caller is alive. Closing twice does nothing.
    func close() throws {
        guard let connection else { return }
        for statement in cache.values { statement.finalize() }
        cache = [:]
        let rc = sqlite3_close(connection)
        guard rc == SQLITE_OK else {
            throw SQLiteError(extendedCode: rc, message: String(cString: sqlite3_errmsg(connection)), sql: nil)
        }
        self.connection = nil
    }

    private func close(force: Bool) {
        guard let connection else { return }
        for statement in cache.values { statement.finalize() }
        cache = [:]
        // v2: a statement still alive keeps the connection as a zombie until it is finalized.
        sqlite3_close_v2(connection)
        self.connection = nil
    }

    /// Whether a transaction is open (`BEGIN` run, no `COMMIT` or `ROLLBACK` yet).
    var inTransaction: Bool {
        connection.map { sqlite3_get_autocommit($0) == 0 } ?? false
    }

    /// A new statement the caller owns (and finalizes before ``close()``). `persistent`: it will
    /// be used many times (SQLite keeps it out of its lookaside memory).
    func prepare(_ sql: String, persistent: Bool = false) throws -> PreparedStatement {
        try PreparedStatement(connection: handle, sql: sql, persistent: persistent)
    }

    /// The statement for `sql`, prepared once per connection and kept until ``close()``.
    func cached(_ sql: String) throws -> PreparedStatement {
        if let statement = cache[sql] { return statement }
        let statement = try prepare(sql, persistent: true)
        cache[sql] = statement
        return statement
    }

    /// Runs one statement (through the cache) to its end, any rows it returns ignored.
    func execute(_ sql: String, _ arguments: [SQLiteValue] = []) throws {
        _ = try query(sql, arguments) { _ in true }
    }

    /// Runs several `;`-separated statements with no arguments (a schema script).
    func executeScript(_ sql: String) throws {
        let connection = try handle
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(connection, sql, nil, nil, &message)
        guard rc == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(connection))
            sqlite3_free(message)
            throw SQLiteError(extendedCode: sqlite3_extended_errcode(connection), message: text, sql: sql)
        }
    }

    /// Runs a cached statement with `arguments` and hands it, positioned on each row in turn, to
    /// `body` until `body` returns false. Returns whether it stopped early. The statement is reset
    /// afterwards, so the rows are not valid outside `body`.
    @discardableResult
    func query(_ sql: String, _ arguments: [SQLiteValue] = [], _ body: (PreparedStatement) throws -> Bool) throws -> Bool {
        let statement = try cached(sql)
        defer { statement.reset() }
        try statement.bind(arguments)
        while try statement.step() {
            guard try body(statement) else { return true }
        }
        return false
    }

    /// The first row's first column as text (nil: no row, or NULL).
    func text(_ sql: String, _ arguments: [SQLiteValue] = []) throws -> String? {
        var value: String?
        try query(sql, arguments) { row in
            value = row.text(0)
            return false
        }
        return value
    }

    /// The first row's first column as an integer (nil: no row, or NULL).
    func integer(_ sql: String, _ arguments: [SQLiteValue] = []) throws -> Int64? {
        var value: Int64?
        try query(sql, arguments) { row in
            value = row.isNull(0) ? nil : row.int64(0)
            return false
        }
        return value
    }

    /// The first column of every row as text (NULLs left out).
    func texts(_ sql: String, _ arguments: [SQLiteValue] = []) throws -> [String] {
        var values: [String] = []
        try query(sql, arguments) { row in
            if let text = row.text(0) { values.append(text) }
            return true
        }
        return values
    }

    /// Runs `body` between `BEGIN` and `COMMIT`; rolls back when `body` or the commit fails.
    func transaction<T>(_ kind: Transaction = .deferred, _ body: () throws -> T) throws -> T {
        try execute(kind.rawValue)
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if inTransaction { try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Runs `body` in one deferred transaction (one snapshot of the file) in which writing fails
    /// (`SQLITE_READONLY`): `PRAGMA query_only` on a read-write connection, the open mode on a
    /// read-only one. Inside a transaction already, runs `body` in it.
    func read<T>(_ body: (SQLiteDatabase) throws -> T) throws -> T {
        if inTransaction { return try body(self) }
        let readWrite = mode == .readWriteCreate
        if readWrite { try execute("PRAGMA query_only = 1") }
        defer { if readWrite { try? execute("PRAGMA query_only = 0") } }
        return try transaction(.deferred) { try body(self) }
    }

    /// Copies the whole database into `destination` (SQLite's online backup, one step).
    func backup(to destination: SQLiteDatabase) throws {
        let source = try handle
        let target = try destination.handle
        guard let backup = sqlite3_backup_init(target, "main", source, "main") else {
            throw SQLiteError(
                extendedCode: sqlite3_extended_errcode(target), message: String(cString: sqlite3_errmsg(target)), sql: nil)
        }
        let rc = sqlite3_backup_step(backup, -1)
        let finished = sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE else {
            throw SQLiteError(extendedCode: rc, message: String(cString: sqlite3_errstr(rc)), sql: nil)
        }
        guard finished == SQLITE_OK else {
            throw SQLiteError(extendedCode: finished, message: String(cString: sqlite3_errmsg(target)), sql: nil)
        }
    }
}

/// One prepared statement: bind, step, read columns, reset. Finalized by ``finalize()`` or when
/// released; it must not outlive its connection's ``SQLiteDatabase/close()``.
final class PreparedStatement {
    /// The raw handle, for the hot paths that read columns themselves.
    private(set) var handle: StatementHandle?
    private let connection: OpaquePointer
    let sql: String
    /// SQLite copies bound text and blobs (the Swift buffers are temporary).
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    fileprivate init(connection: OpaquePointer, sql: String, persistent: Bool) throws {
        self.connection = connection
        self.sql = sql
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(connection, sql, -1, persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0, &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            let failure = SQLiteError(
                extendedCode: sqlite3_extended_errcode(connection), message: String(cString: sqlite3_errmsg(connection)), sql: sql)
            sqlite3_finalize(statement)
            throw failure
        }
        handle = statement
    }

    deinit { finalize() }

    /// Releases the statement; it is unusable afterwards.
    func finalize() {
        sqlite3_finalize(handle)
        handle = nil
    }

    private var live: StatementHandle {
        get throws {
            guard let handle else { throw SQLiteError(extendedCode: SQLITE_MISUSE, message: "the statement is finalized", sql: sql) }
            return handle
        }
    }

    /// Binds `values` to `?1`, `?2` ... and clears any other binding.
    func bind(_ values: [SQLiteValue]) throws {
        let s = try live
        sqlite3_clear_bindings(s)
        for (offset, value) in values.enumerated() {
            let index = CInt(offset + 1)
            switch value {
            case .integer(let n): try bind(index, n)
            case .text(let text): try bind(index, text)
            case .blob(let bytes): try bind(index, bytes)
            case .null: try check(sqlite3_bind_null(s, index))
            }
        }
    }

    func bind(_ index: CInt, _ value: Int64) throws {
        try check(sqlite3_bind_int64(try live, index, value))
    }

    func bind(_ index: CInt, _ text: String?) throws {
        let s = try live
        guard let text else { return try check(sqlite3_bind_null(s, index)) }
        try check(sqlite3_bind_text64(s, index, text, UInt64(text.utf8.count), Self.transient, UInt8(SQLITE_UTF8)))
    }

    func bind(_ index: CInt, _ bytes: [UInt8]) throws {
        let s = try live
        try check(
            bytes.withUnsafeBytes { raw in
                // A nil pointer would bind NULL; an empty blob is a zero-length blob.
                raw.isEmpty
                    ? sqlite3_bind_zeroblob(s, index, 0)
                    : sqlite3_bind_blob64(s, index, raw.baseAddress, UInt64(raw.count), Self.transient)
            })
    }

    /// Steps once: true when positioned on a row, false when done. On an error the statement
    /// is reset (which ends its part in any read) and the error thrown.
    func step() throws -> Bool {
        let s = try live
        switch sqlite3_step(s) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let failure = error()
            sqlite3_reset(s)
            throw failure
        }
    }

    /// Steps a statement that returns no rows, then resets it for the next use.
    func run() throws {
        defer { reset() }
        while try step() {}
    }

    /// Makes the statement ready to run again (bindings kept).
    func reset() {
        if let handle { sqlite3_reset(handle) }
    }

    func isNull(_ column: CInt) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    func int64(_ column: CInt) -> Int64 { sqlite3_column_int64(handle, column) }

    /// The column as text (SQLite converts numbers; nil for NULL).
    func text(_ column: CInt) -> String? {
        guard let text = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// The column's bytes: a blob as stored, text as its UTF-8 (nil for NULL and numbers).
    func bytes(_ column: CInt) -> [UInt8]? {
        switch sqlite3_column_type(handle, column) {
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(handle, column))
            guard count > 0, let bytes = sqlite3_column_blob(handle, column) else { return [] }
            return [UInt8](UnsafeRawBufferPointer(start: bytes, count: count))
        case SQLITE_TEXT:
            return text(column).map { Array($0.utf8) }
        default:
            return nil
        }
    }

    private func check(_ rc: CInt) throws {
        guard rc == SQLITE_OK else {
            let failure = error()
            reset()
            throw failure
        }
    }

    private func error() -> SQLiteError {
        SQLiteError(extendedCode: sqlite3_extended_errcode(connection), message: String(cString: sqlite3_errmsg(connection)), sql: sql)
    }
}

/// An ``SQLiteDatabase`` shared by threads: every use runs under one lock, in turn (what a
/// journal's writer and its readers share).
final class SQLiteQueue: @unchecked Sendable {
    // @unchecked: `database` is only touched under `lock`.
    private let lock = Mutex<Void>(())
    private let database: SQLiteDatabase

    init(_ database: SQLiteDatabase) {
        self.database = database
    }

    /// Runs `body` on the connection, alone. Not reentrant.
    func sync<T>(_ body: (SQLiteDatabase) throws -> T) throws -> T {
        var result: Result<T, any Error>?
        lock.withLock { _ in result = Result { try body(database) } }
        return try result!.get()
    }

    /// ``SQLiteDatabase/read(_:)`` under the lock.
    func read<T>(_ body: (SQLiteDatabase) throws -> T) throws -> T {
        try sync { db in try db.read(body) }
    }

    func close() throws {
        try sync { db in try db.close() }
    }
}
