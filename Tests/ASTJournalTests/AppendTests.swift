import ASTCore
import Foundation
import Testing

@testable import ASTJournal

@Suite struct AppendTests {
    @Test func appendsReopenAndVerifyClean() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/risk.sqlite"
            let journal = try Journal(path: path, process: "risk", logger: quietLogger)
            #expect(journal.lastSeq == 0)
            #expect(try journal.append(record(1), durability: .batched) == 1)
            #expect(try journal.append(record(2), durability: .durable) == 2)
            #expect(try journal.append([record(3), record(4)], durability: .batched) == 3...4)
            try journal.close()

            let reopened = try Journal(path: path, process: "risk", logger: quietLogger)
            #expect(reopened.lastSeq == 4)
            #expect(try reopened.append(record(5), durability: .durable) == 5)
            #expect(try reopened.append([record(6), record(7)], durability: .batched) == 6...7)
            try reopened.flush()

            let entries = try reopened.entries(seq: 1...7)
            #expect(entries.map(\.seq) == Array(1...7))
            #expect(entries.map(\.record) == (1...7).map { record($0) })
            #expect(entries[0].prevHash == [UInt8](repeating: 0, count: 32))
            for (previous, entry) in zip(entries, entries.dropFirst()) {
                #expect(entry.prevHash == previous.hash)
            }
            try reopened.close()

            let verification = Journal.verify(path: path)
            #expect(verification == JournalVerification(path: path, entries: 7, lastSeq: 7, damage: nil))
            #expect(verification.isClean)
        }
    }

    @Test func batchedEntriesAreInvisibleUntilFlush() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(path: "\(dir)/j.sqlite", process: "test", logger: quietLogger)
            try journal.append(record(1), durability: .batched)
            try journal.append(record(2), durability: .batched)
            #expect(journal.lastSeq == 2)
            #expect(try journal.entries(seq: 1...10).isEmpty)
            try journal.flush()
            #expect(try journal.entries(seq: 1...10).map(\.seq) == [1, 2])
            try journal.close()
        }
    }

    @Test func durableAppendCommitsEarlierBatchedEntriesInOrder() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(path: "\(dir)/j.sqlite", process: "test", logger: quietLogger)
            try journal.append([record(1), record(2), record(3)], durability: .batched)
            #expect(try journal.append(record(4), durability: .durable) == 4)
            #expect(try journal.entries(seq: 1...10).map(\.record) == (1...4).map { record($0) })
            try journal.close()
        }
    }

    @Test func reachingBatchLimitCommitsThePendingBatch() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(path: "\(dir)/j.sqlite", process: "test", logger: quietLogger, batchLimit: 3)
            try journal.append(record(1), durability: .batched)
            try journal.append(record(2), durability: .batched)
            #expect(try journal.entries(seq: 1...10).isEmpty)
            try journal.append(record(3), durability: .batched)
            #expect(try journal.entries(seq: 1...10).map(\.seq) == [1, 2, 3])
            try journal.close()
        }
    }

    @Test func durableCommitRunsWithSynchronousFullAndBatchedWithNormal() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/j.sqlite"
            let journal = try Journal(path: path, process: "test", logger: quietLogger)
            let full = 2, normal = 1
            #expect(try journal.synchronousSetting() == normal)
            try journal.append(record(1), durability: .durable)
            #expect(try journal.synchronousSetting() == full)
            try journal.append(record(2), durability: .batched)
            try journal.flush()
            #expect(try journal.synchronousSetting() == normal)
            try journal.append(record(3), durability: .durable)
            #expect(try journal.synchronousSetting() == full)
            try journal.close()

            let reopened = try Journal(path: path, process: "test", logger: quietLogger)
            #expect(try reopened.entries(seq: 1...3).map(\.record) == (1...3).map { record($0) })
            try reopened.close()
        }
    }

    @Test func emptyBodyAndAbsentFieldsRoundTrip() throws {
        try withTemporaryDirectory { dir in
            let journal = try Journal(path: "\(dir)/j.sqlite", process: "test", logger: quietLogger)
            let bare = JournalRecord(kind: .state, type: "safe_mode", timestamp: Timestamp(nanoseconds: -5), body: [])
            let full = JournalRecord(
                kind: .sent, type: "order.approved", timestamp: Timestamp(nanoseconds: .max), messageID: "",
                correlationID: "c\u{0}ü", peer: "broker@paper", body: [0, 255, 0])
            try journal.append([bare, full], durability: .durable)
            #expect(try journal.entries(seq: 1...2).map(\.record) == [bare, full])
            try journal.close()
            #expect(Journal.verify(path: "\(dir)/j.sqlite").isClean)
        }
    }

    @Test func appendAndReadAfterCloseThrowClosed() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/j.sqlite"
            let journal = try Journal(path: path, process: "test", logger: quietLogger)
            try journal.append(record(1), durability: .batched)
            try journal.close()
            try journal.close()
            #expect(throws: JournalError.closed(path: path)) { try journal.append(record(2), durability: .durable) }
            #expect(throws: JournalError.closed(path: path)) { try journal.entries(seq: 1...1) }
            #expect(Journal.verify(path: path).lastSeq == 1)
        }
    }

    @Test func openCreatesMissingDirectoriesAndLogsSQLiteVersionAndPath() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/a/b/risk.sqlite"
            let recorder = LogRecorder()
            let journal = try Journal(path: path, process: "risk", logger: recorder.logger)
            try journal.close()
            let opened = recorder.all.first { $0.message == "journal opened" }
            #expect(opened?.level == .info)
            #expect(opened?.metadata["path"] == "\(path)")
            #expect(opened?.metadata["sqlite"]?.description.hasPrefix("3.") == true)
            #expect(FileManager.default.fileExists(atPath: path))
        }
    }

    @Test func concurrentAppendsProduceAGaplessChainThatVerifies() async throws {
        try await withTemporaryDirectory { dir in
            let path = "\(dir)/j.sqlite"
            let journal = try Journal(path: path, process: "test", logger: quietLogger, batchLimit: 64)
            let tasks = 8, perTask = 250
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        for i in 0..<perTask {
                            try journal.append(
                                record(i, correlationID: "task-\(task)"), durability: i % 50 == 49 ? .durable : .batched)
                        }
                    }
                }
                try await group.waitForAll()
            }
            try journal.flush()
            #expect(journal.lastSeq == Int64(tasks * perTask))
            for task in 0..<tasks {
                // Each task's own appends keep their order in the chain.
                let mine = try journal.entries(correlationID: "task-\(task)")
                #expect(mine.map(\.record.messageID) == (0..<perTask).map { "m-\($0)" })
            }
            try journal.close()
            #expect(
                Journal.verify(path: path)
                    == JournalVerification(path: path, entries: tasks * perTask, lastSeq: Int64(tasks * perTask), damage: nil))
        }
    }
}

@Suite struct ReaderTests {
    /// Ten entries one second apart; even ones correlated with "even", odd ones with "odd".
    private func journalWithTenEntries(in dir: String) throws -> Journal {
        let journal = try Journal(path: "\(dir)/j.sqlite", process: "test", logger: quietLogger)
        try journal.append((1...10).map { record($0, correlationID: $0 % 2 == 0 ? "even" : "odd") }, durability: .durable)
        return journal
    }

    @Test func readsBySeqRange() throws {
        try withTemporaryDirectory { dir in
            let journal = try journalWithTenEntries(in: dir)
            #expect(try journal.entries(seq: 3...5).map(\.seq) == [3, 4, 5])
            #expect(try journal.entries(seq: 9...20).map(\.seq) == [9, 10])
            #expect(try journal.entries(seq: 11...20).isEmpty)
            try journal.close()
        }
    }

    @Test func readsByInclusiveTimeRangeInSeqOrder() throws {
        try withTemporaryDirectory { dir in
            let journal = try journalWithTenEntries(in: dir)
            let from = record(4).timestamp, to = record(6).timestamp
            #expect(try journal.entries(from: from, to: to).map(\.seq) == [4, 5, 6])
            #expect(try journal.entries(from: to, to: from).isEmpty)
            try journal.close()
        }
    }

    @Test func readsByCorrelationIDInSeqOrder() throws {
        try withTemporaryDirectory { dir in
            let journal = try journalWithTenEntries(in: dir)
            #expect(try journal.entries(correlationID: "even").map(\.seq) == [2, 4, 6, 8, 10])
            #expect(try journal.entries(correlationID: "none").isEmpty)
            try journal.close()
        }
    }

    @Test func scanStreamsAcrossBatchesAndStopsWhenAsked() throws {
        try withTemporaryDirectory { dir in
            let journal = try journalWithTenEntries(in: dir)
            var seen: [Int64] = []
            try journal.scan(fromSeq: 2, batchSize: 3) { entry in
                seen.append(entry.seq)
                return true
            }
            #expect(seen == Array(2...10))

            seen = []
            try journal.scan(fromSeq: 1, batchSize: 4) { entry in
                seen.append(entry.seq)
                return entry.seq < 6
            }
            #expect(seen == [1, 2, 3, 4, 5, 6])
            try journal.close()
        }
    }

    @Test func scanBodyMayAppendToTheSameJournal() throws {
        try withTemporaryDirectory { dir in
            let journal = try journalWithTenEntries(in: dir)
            try journal.scan(fromSeq: 1, batchSize: 4) { entry in
                try journal.append(record(100 + Int(entry.seq)), durability: .batched)
                return entry.seq < 3
            }
            #expect(journal.lastSeq == 13)
            try journal.close()
        }
    }
}
