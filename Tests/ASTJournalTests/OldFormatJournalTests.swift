import ASTCore
import Foundation
import Testing

@testable import ASTJournal

/// A journal written by the GRDB-based journal of commit 808c299 (before M11 took GRDB out of
/// ASTJournal): `Fixtures/old-format/`, made by `Fixtures/old-format/README.md`'s generator. 50
/// entries, 1...25 rotated into a segment, written by the records below.
@Suite struct OldFormatJournalTests {
    /// The records the generator appended (the same formula, on its side).
    static func fixtureRecord(_ n: Int) -> JournalRecord {
        let kinds = EntryKind.allCases
        return JournalRecord(
            kind: kinds[n % kinds.count], type: n % 3 == 0 ? "fixture.tick" : "fixture.event",
            timestamp: Timestamp(nanoseconds: 1_750_000_000_000_000_000 + Int64(n) * 1_000_000_000),
            messageID: n % 2 == 0 ? "m-\(n)" : nil, correlationID: n % 5 == 0 ? "c-\(n / 5)" : nil, peer: n % 4 == 0 ? "peer@x" : nil,
            body: n % 7 == 0 ? [] : Array("{\"n\":\(n),\"é\":\"ü\"}".utf8))
    }

    /// A scratch copy of the fixture (the tests write to it).
    static func withFixtureCopy(_ body: (String) throws -> Void) throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/old-format")
        try withTemporaryDirectory { dir in
            for name in ["risk@main.sqlite", "risk@main.segments"] {
                try FileManager.default.copyItem(atPath: fixture.appendingPathComponent(name).path, toPath: "\(dir)/\(name)")
            }
            try body("\(dir)/risk@main.sqlite")
        }
    }

    @Test func anOldJournalVerifiesAndReadsAsWritten() throws {
        try Self.withFixtureCopy { path in
            #expect(Journal.verify(path: path) == JournalVerification(path: path, entries: 50, lastSeq: 50, damage: nil))
            let entries = try Journal.readEntries(path: path)
            #expect(entries.map(\.seq) == Array(1...50))
            #expect(entries.map(\.record) == (1...50).map(Self.fixtureRecord))
            let reader = try JournalReader(path: path)
            #expect(reader.process == "risk@main")
            #expect(try reader.meta("format") == "1")
            #expect(try reader.meta("anchor_seq") == "25")
            #expect(JournalSegments.chain(forLive: path, anchor: 25).reached == 25)
        }
    }

    @Test func anOldJournalOpensAppendsRotatesAndVerifies() throws {
        try Self.withFixtureCopy { path in
            let journal = try Journal(path: path, process: "risk@main", logger: quietLogger)
            #expect(journal.lastSeq == 50)
            #expect(try journal.lastEntry(type: "fixture.tick")?.seq == 48)
            #expect(try journal.entries(correlationID: "c-8").map(\.seq) == [40])  // the live file only (5 is archived)
            #expect(try journal.append(Self.fixtureRecord(51), durability: .durable) == 51)
            #expect(try journal.append([Self.fixtureRecord(52), Self.fixtureRecord(53)], durability: .batched) == 52...53)
            try journal.close()
            #expect(try Journal.rotate(path: path, upTo: 45)?.first == 26)
            #expect(Journal.verify(path: path) == JournalVerification(path: path, entries: 53, lastSeq: 53, damage: nil))
            #expect(try Journal.readEntries(path: path).map(\.record) == (1...53).map(Self.fixtureRecord))
            #expect(throws: JournalError.self) { _ = try Journal(path: path, process: "risk@other", logger: quietLogger) }
        }
    }
}
