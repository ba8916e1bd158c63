import ASTCore
import Foundation
import Testing

@testable import ASTJournal

@Suite struct VerifyTests {
    /// Verifies a ten-entry journal after `sql` changed it behind the journal's back.
    private func verifyAfter(_ sql: String) throws -> JournalVerification {
        try withTemporaryDirectory { dir in
            let path = try makeJournal(in: dir, count: 10)
            try tamper(path, sql)
            return Journal.verify(path: path)
        }
    }

    @Test func verifyNamesFirstEditedEntry() throws {
        let result = try verifyAfter("UPDATE entries SET body = x'7b7d' WHERE seq IN (4, 8)")
        #expect(result.damage?.kind == .editedEntry)
        #expect(result.damage?.firstBadSeq == 4)
        #expect(result.damage?.detail == "entry 4: stored hash does not match its contents (edited?)")
        #expect(result.entries == 3 && result.lastSeq == 3)
    }

    @Test func verifyNamesEntryWhoseColumnChangedType() throws {
        let result = try verifyAfter("UPDATE entries SET ts = 'yesterday' WHERE seq = 6")
        #expect(result.damage?.kind == .editedEntry)
        #expect(result.damage?.firstBadSeq == 6)
        #expect(result.damage?.detail.contains("column ts holds text, expected an integer") == true)
    }

    /// The chain check passes plain rows from SQLite's buffers and builds the others (non-ASCII
    /// text, which the built row reads with UTF-8 repair): both kinds verify, in any order, and an
    /// edit of either is still named.
    @Test func rowsWithNonASCIITextEmptyBodiesAndNullIdsVerifyAndTheirEditsAreNamed() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/j.sqlite"
            let journal = try Journal(path: path, process: "test", logger: quietLogger)
            let t = Timestamp(nanoseconds: t0)
            try journal.append(
                [
                    record(1),
                    JournalRecord(kind: .event, type: "test.café", timestamp: t, peer: "zürich@main", body: Array("{\"é\":1}".utf8)),
                    JournalRecord(kind: .acked, type: "ack", timestamp: t, messageID: "m-1", peer: "risk@main", body: []),
                    record(4),
                    JournalRecord(kind: .state, type: "test.empty", timestamp: t, body: []),
                    JournalRecord(kind: .event, type: "test.ñ", timestamp: t, body: []),
                    record(7),
                ], durability: .batched)
            try journal.close()
            let clean = Journal.verify(path: path)
            #expect(clean.isClean, "\(clean)")
            #expect(clean.entries == 7 && clean.lastSeq == 7)

            try tamper(path, "UPDATE entries SET peer = 'zurich@main' WHERE seq = 2")
            let edited = Journal.verify(path: path)
            #expect(edited.damage?.kind == .editedEntry)
            #expect(edited.damage?.firstBadSeq == 2)
            #expect(edited.entries == 1)
        }
    }

    @Test func verifyNamesMissingMiddleEntry() throws {
        let result = try verifyAfter("DELETE FROM entries WHERE seq = 5")
        #expect(result.damage == JournalDamage(kind: .gap, firstBadSeq: 5, detail: "entry 5 is missing (4 is followed by 6)"))
    }

    @Test func verifyNamesMissingFirstEntry() throws {
        let result = try verifyAfter("DELETE FROM entries WHERE seq = 1")
        #expect(result.damage?.kind == .gap)
        #expect(result.damage?.firstBadSeq == 1)
        #expect(result.entries == 0)
    }

    @Test func verifyNamesTruncatedTailWhenLastEntriesAreDeleted() throws {
        let result = try verifyAfter("DELETE FROM entries WHERE seq > 7")
        #expect(
            result.damage
                == JournalDamage(kind: .truncatedTail, firstBadSeq: 8, detail: "last entry 7 does not match head 10 (truncated tail)"))
        #expect(result.entries == 7)
    }

    @Test func verifyNamesFirstOfTwoSwappedEntries() throws {
        let result = try verifyAfter(
            """
            UPDATE entries SET seq = -1 WHERE seq = 3;
            UPDATE entries SET seq = 3 WHERE seq = 7;
            UPDATE entries SET seq = 7 WHERE seq = -1;
            """)
        #expect(result.damage?.kind == .brokenChain)
        #expect(result.damage?.firstBadSeq == 3)
    }

    @Test func verifyNamesFirstOfTwoEntriesWithSwappedPayloads() throws {
        let payload = "ts, kind, type, msg_id, corr_id, peer, body"
        let result = try verifyAfter(
            """
            CREATE TEMP TABLE saved AS SELECT \(payload) FROM entries WHERE seq = 3;
            UPDATE entries SET (\(payload)) = (SELECT \(payload) FROM entries WHERE seq = 7) WHERE seq = 3;
            UPDATE entries SET (\(payload)) = (SELECT \(payload) FROM saved) WHERE seq = 7;
            """)
        #expect(result.damage?.kind == .editedEntry)
        #expect(result.damage?.firstBadSeq == 3)
    }

    @Test func verifyNamesEntriesWrittenBeyondTheHead() throws {
        let result = try verifyAfter("UPDATE head SET seq = 8")
        #expect(result.damage?.kind == .brokenChain)
        #expect(result.damage?.firstBadSeq == 9)
    }

    @Test func verifyReportsByteTruncatedFileAsUnreadable() throws {
        try withTemporaryDirectory { dir in
            let path = try makeByteTruncatedJournal(in: dir)
            let result = Journal.verify(path: path)
            #expect(result.damage?.kind == .unreadable)
            #expect((result.damage?.firstBadSeq ?? 0) >= 1)
            #expect(result.damage?.firstBadSeq == result.lastSeq + 1)
        }
    }

    @Test func verifyRejectsSQLiteFileThatIsNotAJournal() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/other.sqlite"
            try tamper(path, "CREATE TABLE entries(id INTEGER PRIMARY KEY, note TEXT)")
            let result = Journal.verify(path: path)
            #expect(result.damage?.kind == .notAJournal)
            #expect(result.damage?.detail.contains("missing table(s) head, meta") == true)
        }
    }

    @Test func verifyRejectsGarbageFile() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/garbage.sqlite"
            try Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }).write(to: URL(fileURLWithPath: path))
            let result = Journal.verify(path: path)
            #expect(result.damage?.kind == .notAJournal)
            #expect(result.damage?.detail == "not an SQLite database")
        }
    }

    @Test func verifyReportsMissingFileAsUnreadable() throws {
        try withTemporaryDirectory { dir in
            let result = Journal.verify(path: "\(dir)/absent.sqlite")
            #expect(result.damage?.kind == .unreadable)
            #expect(!FileManager.default.fileExists(atPath: "\(dir)/absent.sqlite"))
        }
    }

    @Test func verifyLeavesTheDatabaseFileUnchanged() throws {
        try withTemporaryDirectory { dir in
            let path = try makeJournal(in: dir, count: 50)
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(Journal.verify(path: path).isClean)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        }
    }

    @Test func verifyReadsAJournalThatIsStillOpen() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/j.sqlite"
            let journal = try Journal(path: path, process: "test", logger: quietLogger)
            try journal.append((1...5).map { record($0) }, durability: .durable)
            try journal.append(record(6), durability: .batched)
            #expect(Journal.verify(path: path) == JournalVerification(path: path, entries: 5, lastSeq: 5, damage: nil))
            try journal.close()
        }
    }

    @Test func descriptionsNameThePathAndTheDamage() throws {
        let clean = JournalVerification(path: "/j", entries: 3, lastSeq: 3, damage: nil)
        #expect(clean.description == "journal /j: clean, 3 entries, last seq 3")
        let damaged = JournalVerification(
            path: "/j", entries: 4, lastSeq: 4,
            damage: JournalDamage(kind: .gap, firstBadSeq: 5, detail: "entry 5 is missing (4 is followed by 6)"))
        #expect(
            damaged.description
                == "journal /j: DAMAGED, gap at entry 5: entry 5 is missing (4 is followed by 6); 4 entries verified before it")
    }
}

@Suite struct OpenDamagedTests {
    @Test func openingATruncatedJournalThrowsWhatToDo() throws {
        try withTemporaryDirectory { dir in
            let path = try makeJournal(in: dir, count: 20)
            try tamper(path, "DELETE FROM entries WHERE seq > 17")
            let error = #expect(throws: JournalError.self) { try Journal(path: path, process: "test", logger: quietLogger) }
            #expect(
                error
                    == .damaged(
                        path: path,
                        damage: JournalDamage(
                            kind: .truncatedTail, firstBadSeq: 18, detail: "last entry 17 does not match head 20 (truncated tail)")))
            #expect(
                error?.description
                    == "journal \(path): last entry 17 does not match head 20 (truncated tail); run `astctl journal verify \(path)` and see runbooks/journal-verification-failed.md"
            )
        }
    }

    @Test func openingAByteTruncatedJournalThrowsWhatToDo() throws {
        try withTemporaryDirectory { dir in
            let path = try makeByteTruncatedJournal(in: dir)
            let error = #expect(throws: JournalError.self) { try Journal(path: path, process: "test", logger: quietLogger) }
            guard case .damaged(path, let damage)? = error else {
                Issue.record("expected damaged, got \(String(describing: error))")
                return
            }
            #expect(damage.kind == .unreadable)
            #expect(error?.description.contains("run `astctl journal verify \(path)`") == true)
        }
    }

    @Test func openingAJournalWithAnEditedLastEntryThrows() throws {
        try withTemporaryDirectory { dir in
            let path = try makeJournal(in: dir, count: 5)
            try tamper(path, "UPDATE entries SET type = 'forged' WHERE seq = 5")
            let error = #expect(throws: JournalError.self) { try Journal(path: path, process: "test", logger: quietLogger) }
            #expect(error == .damaged(path: path, damage: .edited(5)))
        }
    }

    @Test func openingAJournalThatLostItsFirstEntriesThrows() throws {
        try withTemporaryDirectory { dir in
            let path = try makeJournal(in: dir, count: 5)
            try tamper(path, "DELETE FROM entries WHERE seq < 3")
            let error = #expect(throws: JournalError.self) { try Journal(path: path, process: "test", logger: quietLogger) }
            #expect(error == .damaged(path: path, damage: JournalDamage(kind: .gap, firstBadSeq: 1, detail: "the first entry is 3, not 1")))
        }
    }

    @Test func openingAnotherDatabaseThrowsNotAJournalAndLeavesItAlone() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/other.sqlite"
            try tamper(path, "CREATE TABLE orders(id INTEGER PRIMARY KEY)")
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            let error = #expect(throws: JournalError.self) { try Journal(path: path, process: "test", logger: quietLogger) }
            guard case .notAJournal(path, let detail)? = error else {
                Issue.record("expected notAJournal, got \(String(describing: error))")
                return
            }
            #expect(detail.contains("tables found: orders"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        }
    }

    @Test func openingAGarbageFileThrowsNotAJournal() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/garbage.sqlite"
            try Data(repeating: 0x5A, count: 4096).write(to: URL(fileURLWithPath: path))
            #expect(throws: JournalError.notAJournal(path: path, detail: "not an SQLite database")) {
                try Journal(path: path, process: "test", logger: quietLogger)
            }
        }
    }

    @Test func openingAnotherProcessesJournalThrows() throws {
        try withTemporaryDirectory { dir in
            let path = try makeJournal(in: dir, count: 1)
            #expect(throws: JournalError.belongsToAnotherProcess(path: path, owner: "test", opener: "broker")) {
                try Journal(path: path, process: "broker", logger: quietLogger)
            }
        }
    }

    @Test func anEmptyFileBecomesAJournal() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/empty.sqlite"
            #expect(FileManager.default.createFile(atPath: path, contents: Data()))
            let journal = try Journal(path: path, process: "test", logger: quietLogger)
            try journal.append(record(1), durability: .durable)
            try journal.close()
            #expect(Journal.verify(path: path).isClean)
        }
    }
}
