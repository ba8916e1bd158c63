import Foundation
import GRDBSQLite
import Testing

@testable import ASTJournal

/// The journal's own SQLite connection (``SQLiteDatabase``), on real files: locks and the busy
/// timeout, read-only opens, transactions that fail, and how connections are set up.
@Suite struct SQLiteWrapperTests {
    @Test func aLockedDatabaseWaitsForItsBusyTimeoutThenFailsBusy() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/db.sqlite"
            let holder = try SQLiteDatabase(path: path, mode: .readWriteCreate, busyTimeoutMilliseconds: nil)
            try holder.execute("PRAGMA journal_mode = WAL")
            try holder.executeScript("CREATE TABLE t(x INTEGER)")
            try holder.execute("BEGIN IMMEDIATE")

            let waiter = try SQLiteDatabase(path: path, mode: .readWriteCreate, busyTimeoutMilliseconds: 300)
            let started = ContinuousClock.now
            let error = #expect(throws: SQLiteError.self) { try waiter.execute("BEGIN IMMEDIATE") }
            #expect(error?.code == SQLITE_BUSY)
            #expect(ContinuousClock.now - started >= .milliseconds(250))
            #expect(!waiter.inTransaction)

            // No timeout: fails at once.
            let impatient = try SQLiteDatabase(path: path, mode: .readWriteCreate, busyTimeoutMilliseconds: nil)
            #expect(throws: SQLiteError.self) { try impatient.execute("INSERT INTO t VALUES (1)") }
            try holder.execute("ROLLBACK")
            try impatient.execute("INSERT INTO t VALUES (1)")
            #expect(try waiter.integer("SELECT count(*) FROM t") == 1)
        }
    }

    @Test func aWaitingWriterGoesAheadWhenTheLockIsReleasedWithinItsTimeout() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/db.sqlite"
            let holder = try SQLiteDatabase(path: path, mode: .readWriteCreate, busyTimeoutMilliseconds: nil)
            try holder.execute("PRAGMA journal_mode = WAL")
            try holder.executeScript("CREATE TABLE t(x INTEGER)")
            try holder.execute("BEGIN IMMEDIATE")
            let queue = SQLiteQueue(holder)
            let released = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                usleep(100_000)
                _ = try? queue.sync { db in try db.execute("COMMIT") }
                released.signal()
            }
            let waiter = try SQLiteDatabase(path: path, mode: .readWriteCreate, busyTimeoutMilliseconds: Journal.busyTimeout)
            try waiter.transaction(.immediate) { try waiter.execute("INSERT INTO t VALUES (?)", [.integer(7)]) }
            released.wait()
            #expect(try queue.sync { db in try db.integer("SELECT x FROM t") } == 7)
        }
    }

    @Test func aReadOnlyOpenOfAMissingFileFailsAndCreatesNothing() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/missing.sqlite"
            let error = #expect(throws: SQLiteError.self) {
                _ = try SQLiteDatabase(path: path, mode: .readOnly, busyTimeoutMilliseconds: Journal.busyTimeout)
            }
            #expect(error?.code == SQLITE_CANTOPEN)
            #expect(!FileManager.default.fileExists(atPath: path))
            #expect(throws: JournalError.self) { _ = try JournalReader(path: path) }
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }

    @Test func aReadOnlyOpenRefusesWritesAndAReadTransactionToo() throws {
        try withTemporaryDirectory { dir in
            let path = try makeJournal(in: dir, count: 3)
            let reader = try SQLiteDatabase(path: path, mode: .readOnly, busyTimeoutMilliseconds: nil)
            let error = #expect(throws: SQLiteError.self) { try reader.execute("DELETE FROM entries") }
            #expect(error?.code == SQLITE_READONLY)

            let writer = try SQLiteDatabase(path: path, mode: .readWriteCreate, busyTimeoutMilliseconds: nil)
            let inRead = #expect(throws: SQLiteError.self) { try writer.read { db in try db.execute("DELETE FROM entries") } }
            #expect(inRead?.code == SQLITE_READONLY)
            #expect(!writer.inTransaction)
            // query_only is lifted after the read.
            try writer.execute("INSERT INTO meta(key, value) VALUES ('k', 'v')")
            #expect(try writer.text("SELECT value FROM meta WHERE key = 'k'") == "v")
            #expect(try reader.integer("SELECT count(*) FROM entries") == 3)
        }
    }

    @Test func aFailedCommitRollsBackEverything() throws {
        try withTemporaryDirectory { dir in
            let db = try SQLiteDatabase(path: "\(dir)/db.sqlite", mode: .readWriteCreate, busyTimeoutMilliseconds: nil)
            // foreign_keys is on (as GRDB set it): a deferred violation fails the COMMIT itself.
            #expect(try db.integer("PRAGMA foreign_keys") == 1)
            try db.executeScript(
                """
                CREATE TABLE parent(id INTEGER PRIMARY KEY);
                CREATE TABLE child(id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
                CREATE TABLE other(x INTEGER);
                """)
            let error = #expect(throws: SQLiteError.self) {
                try db.transaction(.immediate) {
                    try db.execute("INSERT INTO other VALUES (1)")
                    try db.execute("INSERT INTO child VALUES (1, 42)")
                }
            }
            #expect(error?.code == SQLITE_CONSTRAINT)
            #expect(!db.inTransaction)
            #expect(try db.integer("SELECT count(*) FROM other") == 0)
            #expect(try db.integer("SELECT count(*) FROM child") == 0)

            struct Refused: Error {}
            #expect(throws: Refused.self) {
                try db.transaction { () throws -> Void in
                    try db.execute("INSERT INTO other VALUES (2)")
                    throw Refused()
                }
            }
            #expect(!db.inTransaction)
            #expect(try db.integer("SELECT count(*) FROM other") == 0)
        }
    }

    @Test func aFileThatIsNotADatabaseFailsAtOpen() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/text.sqlite"
            try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: SQLiteError.self) {
                _ = try SQLiteDatabase(path: path, mode: .readOnly, busyTimeoutMilliseconds: nil)
            }
            #expect(error?.code == SQLITE_NOTADB)
            #expect(
                Journal.journalError(error!, path: path, operation: "opening") == .notAJournal(path: path, detail: "not an SQLite database")
            )
        }
    }

    @Test func closeRefusesWhileAStatementIsAliveAndDoubleQuotedStringsAreIdentifiers() throws {
        try withTemporaryDirectory { dir in
            let db = try SQLiteDatabase(path: "\(dir)/db.sqlite", mode: .readWriteCreate, busyTimeoutMilliseconds: nil)
            try db.executeScript("CREATE TABLE t(x TEXT)")
            // As under GRDB: "x" names a column, never a string literal.
            #expect(throws: SQLiteError.self) { try db.execute("INSERT INTO t VALUES (\"nope\")") }
            let statement = try db.prepare("SELECT x FROM t")
            #expect(throws: SQLiteError.self) { try db.close() }
            statement.finalize()
            try db.close()
            try db.close()
            #expect(throws: SQLiteError.self) { try db.execute("SELECT 1") }
        }
    }

    @Test func bindsAndReadsEveryStorageClass() throws {
        try withTemporaryDirectory { dir in
            let db = try SQLiteDatabase(path: "\(dir)/db.sqlite", mode: .readWriteCreate, busyTimeoutMilliseconds: nil)
            try db.executeScript("CREATE TABLE t(i INTEGER, s TEXT, b BLOB, n TEXT)")
            try db.execute("INSERT INTO t VALUES (?, ?, ?, ?)", [.integer(-5), .text("é\u{0}x"), .blob([]), .null])
            try db.execute("INSERT INTO t VALUES (?, ?, ?, ?)", [.integer(Int64.max), .text(""), .blob([0, 1, 255]), .text("t")])
            var rows: [[String]] = []
            try db.query("SELECT i, s, b, n, typeof(b) FROM t ORDER BY rowid") { row in
                rows.append([
                    String(row.int64(0)), row.text(1) ?? "nil", row.bytes(2).map { "\($0)" } ?? "nil", row.text(3) ?? "nil",
                    row.text(4) ?? "",
                ])
                return true
            }
            #expect(rows == [["-5", "é\u{0}x", "[]", "nil", "blob"], ["\(Int64.max)", "", "[0, 1, 255]", "t", "blob"]])
            #expect(try db.texts("SELECT s FROM t ORDER BY rowid") == ["é\u{0}x", ""])
            #expect(try db.integer("SELECT n FROM t WHERE i = -5") == nil)
        }
    }
}
