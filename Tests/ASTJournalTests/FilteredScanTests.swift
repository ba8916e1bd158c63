import ASTCore
import Foundation
import GRDB
import Testing

@testable import ASTJournal

@Suite struct FilteredScanTests {
    /// 30 entries, every third of type `test.wanted`, the first 12 rotated into a segment.
    func journal(_ dir: String) throws -> (path: String, records: [JournalRecord]) {
        let path = "\(dir)/test@main.sqlite"
        let records = (1...30).map { n in
            var r = record(n)
            if n % 3 == 0 { r.type = "test.wanted" }
            return r
        }
        let journal = try Journal(path: path, process: "test", logger: quietLogger)
        try journal.append(records, durability: .batched)
        try journal.close()
        try Journal.rotate(path: path, upTo: 12)
        return (path, records)
    }

    @Test func aFilteredScanBuildsOnlyTheWantedTypesAndPassesTheRestBySeq() throws {
        try withTemporaryDirectory { dir in
            let (path, records) = try journal(dir)
            var built: [JournalEntry] = []
            var passed: [Int64] = []
            try JournalReader(path: path).scan(only: EntryTypeFilter(["test.wanted", "test.other"]), passed: { passed.append($0) }) {
                built.append($0)
                return true
            }
            let wanted = Array(stride(from: Int64(3), through: 30, by: 3))
            #expect(built.map(\.seq) == wanted)
            #expect(built.map(\.record) == wanted.map { records[Int($0) - 1] })
            #expect(passed == (1...30).filter { $0 % 3 != 0 })
            // The built entries are the unfiltered scan's, chain links included.
            let all = try Journal.readEntries(path: path)
            #expect(built == all.filter { $0.record.type == "test.wanted" })
        }
    }

    @Test func aMalformedRowStopsAFilteredScanWhateverItsType() throws {
        try withTemporaryDirectory { dir in
            let (path, _) = try journal(dir)
            let queue = try DatabaseQueue(path: path)
            try queue.write { db in try db.execute(sql: "UPDATE entries SET kind = 'bogus' WHERE seq = 20") }
            try queue.close()
            var unfiltered = 0
            #expect(throws: JournalError.self) {
                try JournalReader(path: path).scan { _ in
                    unfiltered += 1
                    return true
                }
            }
            var seen = 0
            #expect(throws: JournalError.self) {
                try JournalReader(path: path).scan(only: EntryTypeFilter(["test.wanted"]), passed: { _ in seen += 1 }) { _ in
                    seen += 1
                    return true
                }
            }
            #expect(unfiltered == 19 && seen == 19)
        }
    }
}
