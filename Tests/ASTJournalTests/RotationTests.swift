import ASTCore
import Foundation
import GRDB
import Testing

@testable import ASTJournal

@Suite struct RotationTests {
    /// Entries 1...n appended in batches with a rotation after each of the first three.
    func rotatedThreeTimes(_ dir: String) throws -> (path: String, segments: [JournalSegment]) {
        let path = "\(dir)/test@main.sqlite"
        var segments: [JournalSegment] = []
        var n = 0
        for round in 0..<4 {
            let journal = try Journal(path: path, process: "test", logger: quietLogger)
            try journal.append((n + 1...n + 10).map { record($0) }, durability: .batched)
            n += 10
            try journal.close()
            if round < 3, let segment = try Journal.rotate(path: path) { segments.append(segment) }
        }
        return (path, segments)
    }

    @Test func aJournalRotatedThreeTimesVerifiesAndReadsAsOne() throws {
        try withTemporaryDirectory { dir in
            let (path, segments) = try rotatedThreeTimes(dir)
            #expect(segments.map { [$0.first, $0.last] } == [[1, 10], [11, 20], [21, 30]])
            #expect(Journal.verify(path: path) == JournalVerification(path: path, entries: 40, lastSeq: 40, damage: nil))
            // Every reader sees entries 1...40, in order, with their records.
            let read = try Journal.readEntries(path: path)
            #expect(read.map(\.seq) == Array(1...40))
            #expect(read.map(\.record) == (1...40).map { record($0) })
            var fromMiddle: [Int64] = []
            try JournalReader(path: path).scan(fromSeq: 15, types: nil) {
                fromMiddle.append($0.seq)
                return $0.seq < 25
            }
            #expect(fromMiddle == Array(15...25))
            // The writer reopens on the anchored file, scans across segments and goes on.
            let journal = try Journal(path: path, process: "test", logger: quietLogger)
            #expect(journal.lastSeq == 40)
            var scanned: [Int64] = []
            try journal.scan(fromSeq: 1, batchSize: 7) {
                scanned.append($0.seq)
                return true
            }
            #expect(scanned == Array(1...40))
            #expect(try journal.lastEntry(type: "test.message")?.seq == 40)
            try journal.append(record(41), durability: .durable)
            try journal.close()
            #expect(Journal.verify(path: path).isClean)
            #expect(Journal.verify(path: path).lastSeq == 41)
        }
    }

    @Test func aMissingOrEditedSegmentIsDamageNotAShorterJournal() throws {
        try withTemporaryDirectory { dir in
            let (path, segments) = try rotatedThreeTimes(dir)
            // Edit an entry inside the middle segment.
            let queue = try DatabaseQueue(path: segments[1].path)
            try queue.write { db in try db.execute(sql: "UPDATE entries SET body = X'7B7D' WHERE seq = 15") }
            try queue.close()
            let edited = Journal.verify(path: path)
            #expect(edited.damage?.kind == .editedEntry)
            #expect(edited.damage?.firstBadSeq == 15)

            try FileManager.default.removeItem(atPath: segments[1].path)
            let missing = Journal.verify(path: path)
            #expect(missing.damage?.kind == .gap)
            #expect(missing.damage?.firstBadSeq == 11)
            #expect(throws: JournalError.self) { try Journal.readEntries(path: path) }
        }
    }

    @Test func aSegmentLeftByAnInterruptedRotationIsIgnoredAndReplaced() throws {
        try withTemporaryDirectory { dir in
            let path = try makeJournal(in: dir, count: 20)
            try Journal.rotate(path: path, upTo: 5)
            // A rotation that wrote its segment but died before the live file changed.
            let dirPath = JournalSegments.directory(forLive: path)
            let leftover = "\(dirPath)/\(JournalSegments.fileName(first: 6, last: 12))"
            try FileManager.default.copyItem(atPath: "\(dirPath)/\(JournalSegments.fileName(first: 1, last: 5))", toPath: leftover)
            #expect(Journal.verify(path: path).isClean)
            #expect(try Journal.readEntries(path: path).map(\.seq) == Array(1...20))
            let segment = try Journal.rotate(path: path, upTo: 15)
            #expect(segment?.first == 6 && segment?.last == 15)
            #expect(!FileManager.default.fileExists(atPath: leftover))
            #expect(Journal.verify(path: path) == JournalVerification(path: path, entries: 20, lastSeq: 20, damage: nil))
        }
    }

    @Test func rotationWhileTheWriterRunsKeepsTheChain() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/test@main.sqlite"
            let journal = try Journal(path: path, process: "test", logger: quietLogger)
            try journal.append((1...30).map { record($0) }, durability: .durable)
            try Journal.rotate(path: path)
            try journal.append((31...35).map { record($0) }, durability: .durable)
            #expect(try journal.lastEntry(type: "test.message")?.seq == 35)
            var seqs: [Int64] = []
            try journal.scan(fromSeq: 1) {
                seqs.append($0.seq)
                return true
            }
            #expect(seqs == Array(1...35))
            try journal.close()
            #expect(Journal.verify(path: path) == JournalVerification(path: path, entries: 35, lastSeq: 35, damage: nil))
        }
    }
}

@Suite struct CheckpointTests {
    struct Counter: Codable, Sendable, Equatable {
        var total: Int
        var names: [String: Int]
        var last: [String]
    }

    @Test func checkpointEncodingIsByteForByteDeterministic() throws {
        // Dictionaries are hashed per process and per instance: build the same value two ways.
        var a = Counter(total: 3, names: [:], last: ["x", "y"])
        for (k, v) in [("zeta", 1), ("alpha", 2), ("mid", 3)] { a.names[k] = v }
        var b = Counter(total: 3, names: [:], last: ["x", "y"])
        for (k, v) in [("mid", 3), ("zeta", 1), ("alpha", 2)] { b.names[k] = v }
        let bytesA = try JournalCheckpoint(process: "p", covers: 9, state: a).encoded()
        let bytesB = try JournalCheckpoint(process: "p", covers: 9, state: b).encoded()
        #expect(bytesA == bytesB)
        let decoded = try JournalCheckpoint<Counter>.decode(bytesA, process: "p").get()
        #expect(decoded.state == a && decoded.covers == 9)
        #expect(try decoded.encoded() == bytesA)
        guard case .failure(.otherProcess("p")) = JournalCheckpoint<Counter>.decode(bytesA, process: "other") else {
            Issue.record("a checkpoint of another process was accepted")
            return
        }
    }

    func checkpoint(_ total: Int, covers: Int64) throws -> JournalRecord {
        JournalRecord(
            kind: .state, type: EntryTypes.checkpoint, timestamp: Timestamp(nanoseconds: t0),
            body: try JournalCheckpoint(process: "test", covers: covers, state: Counter(total: total, names: [:], last: [])).encoded())
    }

    func choose(_ journal: Journal) throws -> (chosen: (seq: Int64, value: JournalCheckpoint<Counter>)?, rejected: [Int64]) {
        let choice = CheckpointChoice.choose(try journal.checkpointCandidates()) { entry in
            JournalCheckpoint<Counter>.decode(entry.record.body, process: "test")
        }
        return (choice.chosen, choice.rejected.map(\.seq))
    }

    @Test func restoreChoosesTheLatestCheckpointThatVerifies() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/test@main.sqlite"
            let journal = try Journal(path: path, process: "test", logger: quietLogger)
            #expect(try choose(journal).chosen == nil)  // none: a full replay
            try journal.append((1...5).map { record($0) }, durability: .batched)
            try journal.appendCovering { try checkpoint(5, covers: $0) }  // seq 6
            try journal.append((7...9).map { record($0) }, durability: .batched)
            try journal.appendCovering { try checkpoint(8, covers: $0) }  // seq 10
            try journal.append(record(11), durability: .durable)
            let latest = try choose(journal)
            #expect(latest.chosen?.seq == 10 && latest.chosen?.value.covers == 9 && latest.chosen?.value.state.total == 8)
            try journal.close()

            // An edited checkpoint body no longer matches its hash: the older one is used.
            let queue = try DatabaseQueue(path: path)
            try queue.write { db in
                try db.execute(sql: "UPDATE entries SET body = ? WHERE seq = 10", arguments: [Data(try checkpoint(99, covers: 9).body)])
            }
            let reopened = try Journal(path: path, process: "test", logger: quietLogger)
            let older = try choose(reopened)
            #expect(older.chosen?.seq == 6 && older.chosen?.value.state.total == 5)
            #expect(older.rejected == [10])

            // A checkpoint that does not decode (another format) is skipped too: none left.
            try reopened.close()
            try queue.write { db in
                try db.execute(sql: "UPDATE entries SET body = X'7B7D' WHERE seq = 6")
            }
            try queue.close()
            let none = try Journal(path: path, process: "test", logger: quietLogger)
            #expect(try choose(none).chosen == nil)
            #expect(try choose(none).rejected == [10, 6])
            try none.close()
        }
    }

    @Test func aCheckpointLookupStopsAtTheNewestSegmentThatHoldsOne() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/test@main.sqlite"
            let journal = try Journal(path: path, process: "test", logger: quietLogger)
            // Rotated three times, each segment holding one checkpoint; the live file holds none.
            var segments: [JournalSegment] = []
            var checkpoints: [Int64] = []
            var n = 0
            for round in 0..<3 {
                try journal.append((n + 1...n + 4).map { record($0) }, durability: .batched)
                if let seq = try journal.appendCovering({ try checkpoint(round, covers: $0) }) { checkpoints.append(seq) }
                try journal.append((n + 6...n + 8).map { record($0) }, durability: .durable)
                n += 8
                if let segment = try Journal.rotate(path: path) { segments.append(segment) }
            }
            try journal.append((n + 1...n + 3).map { record($0) }, durability: .durable)
            #expect(segments.count == 3 && checkpoints == [5, 13, 21])
            #expect(try journal.checkpointCandidates(limit: 4).map(\.entry.seq) == [21, 13, 5])

            // The oldest segment made unreadable: lookups that newer segments answer never open it.
            try Data("not a journal".utf8).write(to: URL(fileURLWithPath: segments[0].path))
            #expect(try journal.checkpointCandidates(limit: 1).map(\.entry.seq) == [21])
            let two = try journal.checkpointCandidates(limit: 2)
            #expect(two.map(\.entry.seq) == [21, 13] && two.allSatisfy { $0.chainProblem == nil })
            #expect(try journal.lastEntry(type: EntryTypes.checkpoint, below: 21)?.seq == 13)
            // Only a lookup that needs it reads it, and finds it damaged.
            #expect(throws: JournalError.self) { try journal.checkpointCandidates(limit: 3) }
            try journal.close()
        }
    }

    @Test func checkpointsAreFoundAcrossRotatedSegments() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/test@main.sqlite"
            let journal = try Journal(path: path, process: "test", logger: quietLogger)
            try journal.append((1...5).map { record($0) }, durability: .batched)
            try journal.appendCovering { try checkpoint(5, covers: $0) }  // seq 6
            try journal.append((7...9).map { record($0) }, durability: .durable)
            try Journal.rotate(path: path, upTo: 6)
            let found = try choose(journal)
            #expect(found.chosen?.seq == 6 && found.chosen?.value.covers == 5)
            try journal.close()
        }
    }
}
