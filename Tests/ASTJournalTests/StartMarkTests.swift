import ASTCore
import ASTTestKit
import Foundation
import GRDB
import Testing

@testable import ASTJournal

/// M11: start-up scans that are not a core's checkpoint (the broker's approval screen, the
/// strategy's schedule position, market data's progress, the notifier's outbox and desk) read
/// from their newest start-up mark (``MarkedScan``, ``FoldMark``) instead of from entry 1, and a
/// restore from a mark gives exactly what a read from entry 1 gives. Costs are asserted in rows
/// read, never in time.
@Suite struct StartMarkTests {
    /// A fold that depends on every entry's order and body: a count, a running hash and the
    /// last few values of its own type.
    enum Sums: MarkedScan {
        struct State: Codable, Sendable, Equatable {
            var count = 0
            var hash: UInt64 = 14_695_981_039_346_656_037
            var last: [String] = []
        }
        static let markName = "test.sums"
        static var initial: State { State() }
        static func fold(_ s: inout State, _ entry: JournalEntry) throws {
            guard entry.record.type == "test.value" else { return }
            s.count += 1
            for byte in entry.record.body { s.hash = (s.hash ^ UInt64(byte)) &* 1_099_511_628_211 }
            s.last.append(String(decoding: entry.record.body, as: UTF8.self))
            if s.last.count > 5 { s.last.removeFirst() }
        }
    }

    func value(_ i: Int) -> JournalRecord {
        JournalRecord(
            kind: .event, type: i % 3 == 0 ? "test.other" : "test.value", timestamp: Timestamp(nanoseconds: Int64(i)),
            body: Array("v\(i)".utf8))
    }

    /// Writes `count` entries, letting a ``StartMarker`` mark every `every` entries as a shell does.
    func write(_ journal: Journal, count: Int, every: Int64, from: Int64 = 1) throws {
        let marker = StartMarker<Sums>(journal: journal, every: every, from: from)
        for i in 0..<count {
            try journal.append(value(i), durability: .batched)
            if i % 97 == 0 { try marker.markIfDue(at: Timestamp(nanoseconds: Int64(i))) }
        }
        try journal.flush()
    }

    func marks(_ journal: Journal) throws -> [JournalEntry] {
        var found: [JournalEntry] = []
        try journal.scan(fromSeq: 1) { entry in
            if entry.record.type == EntryTypes.startMark { found.append(entry) }
            return true
        }
        return found
    }

    @Test func aRestoreFromTheNewestMarkEqualsARestoreFromEntryOne() throws {
        let dir = try TemporaryDirectory(prefix: "start-mark")
        defer { dir.remove() }
        let journal = try Journal(path: "\(dir.path)/p.sqlite", process: "p", logger: quietLogger)
        defer { try? journal.close() }
        try write(journal, count: 12_000, every: 1_000)
        let written = try marks(journal)
        #expect(written.count >= 9)
        #expect(written.allSatisfy { $0.record.peer == Sums.markName && $0.record.kind == .state })

        let full = try journal.restore(Sums.self, fromEntryOne: true)
        let fromMark = try journal.restore(Sums.self)
        #expect(full.state.count == 8_000)
        #expect(fromMark.state == full.state)
        #expect(fromMark.mark == written.last?.seq)
        #expect(fromMark.from == written.last?.seq)
        #expect(full.scanned == Int(journal.lastSeq))
        #expect(fromMark.scanned < 1_200)
        #expect(fromMark.through == journal.lastSeq)

        // Every mark says what a read from entry 1 up to it says.
        for mark in written {
            let body = try JSONDecoder().decode(FoldMark<Sums.State>.self, from: Data(mark.record.body))
            var state = Sums.initial
            try journal.scan(fromSeq: 1) { entry in
                guard entry.seq < mark.seq else { return false }
                try Sums.fold(&state, entry)
                return true
            }
            #expect(body.from == mark.seq)
            #expect(body.state == state)
        }
    }

    @Test func anEditedNewestMarkIsNeverStartedFromTheReadGoesBackToEntryOne() throws {
        let dir = try TemporaryDirectory(prefix: "start-mark-edit")
        defer { dir.remove() }
        let path = "\(dir.path)/p.sqlite"
        var journal = try Journal(path: path, process: "p", logger: quietLogger)
        try write(journal, count: 5_000, every: 1_000)
        let newest = try #require(try marks(journal).last)
        let expected = try journal.restore(Sums.self, fromEntryOne: true).state
        try journal.close()

        // A forged state: a count of 1 and no values, hash unchanged (the chain check catches it).
        let forged = Array(try JSONEncoder().encode(FoldMark(from: newest.seq, state: Sums.State(count: 1))))
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in try db.execute(sql: "UPDATE entries SET body = ? WHERE seq = ?", arguments: [Data(forged), newest.seq]) }
        try queue.close()

        journal = try Journal(path: path, process: "p", logger: quietLogger)
        defer { try? journal.close() }
        let restored = try journal.restore(Sums.self)
        #expect(restored.mark == nil)
        #expect(restored.from == 1)
        #expect(restored.state == expected)
    }

    @Test func anIntactMarkWhoseBodyDoesNotDecodeOrPointsPastItselfIsNotStartedFrom() throws {
        let dir = try TemporaryDirectory(prefix: "start-mark-bad")
        defer { dir.remove() }
        let journal = try Journal(path: "\(dir.path)/p.sqlite", process: "p", logger: quietLogger)
        defer { try? journal.close() }
        try write(journal, count: 3_000, every: 1_000)
        let expected = try journal.restore(Sums.self, fromEntryOne: true).state
        for body in ["{\"from\":5}", "not json", "{\"from\":999999,\"state\":{\"count\":1,\"hash\":1,\"last\":[]}}"] {
            try journal.append(
                JournalRecord(
                    kind: .state, type: EntryTypes.startMark, timestamp: Timestamp(nanoseconds: 1), peer: Sums.markName,
                    body: Array(body.utf8)),
                durability: .durable)
            let restored = try journal.restore(Sums.self)
            #expect(restored.mark == nil, "\(body)")
            #expect(restored.from == 1)
            #expect(restored.state == expected)
        }
    }

    @Test func aMarkIsWrittenOnlyAfterAWholeIntervalAndOnlyForItsOwnScan() throws {
        let dir = try TemporaryDirectory(prefix: "start-mark-interval")
        defer { dir.remove() }
        let journal = try Journal(path: "\(dir.path)/p.sqlite", process: "p", logger: quietLogger)
        defer { try? journal.close() }
        try write(journal, count: 999, every: 1_000)
        #expect(try marks(journal).isEmpty)
        // Another scan's mark in the same journal is not this scan's.
        try journal.append(
            JournalRecord(
                kind: .state, type: EntryTypes.startMark, timestamp: Timestamp(nanoseconds: 1), peer: "test.other-scan",
                body: Array(try JSONEncoder().encode(FoldMark(from: 1_000, state: Sums.State(count: 7))))),
            durability: .durable)
        #expect(try journal.restore(Sums.self).mark == nil)
        try journal.append(value(1), durability: .batched)
        #expect(try journal.markIfDue(Sums.self, every: 1_000, at: Timestamp(nanoseconds: 2)) != nil)
        // The next start reads the mark itself and nothing before it.
        let next = try journal.restore(Sums.self)
        #expect(next.mark == journal.lastSeq && next.scanned == 1)
    }
}
