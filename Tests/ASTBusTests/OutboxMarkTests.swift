import ASTCore
import ASTJournal
import ASTTestKit
import ASTWire
import Foundation
import Testing

@testable import ASTBus

/// M11: a bus client's start-up reads its outbox (sent-but-unacknowledged messages) from the newest
/// outbox mark, not from entry 1, so that a start costs the entries since the oldest message still
/// unacknowledged at the last mark, not the journal's whole history; and no message is lost by it.
/// The cost is asserted in rows read, never in time.
@Suite struct OutboxMarkTests {
    let sender = ProcessIdentity(role: .reconciler, instance: "main")
    let target = "risk@main"

    func client(_ journal: Journal, every: Int64, identity: ProcessIdentity? = nil) throws -> BusClient {
        try BusClient(
            identity: identity ?? sender, target: target, path: "/nonexistent/bus.sock", expectedRole: .risk, settings: BusSettings(),
            journal: journal, clock: TestClock(), logger: quietLogger, outboxMarkEvery: every)
    }

    /// Entries of other kinds (what a worker's journal holds most of: inputs, received messages).
    func filler(_ journal: Journal, _ count: Int) throws {
        for i in 0..<count {
            try journal.append(
                JournalRecord(kind: .event, type: "test.filler", timestamp: Timestamp(nanoseconds: Int64(i)), body: []),
                durability: .batched)
        }
        try journal.flush()
    }

    func probe(_ n: Int) -> Message { .probe(Probe(counter: Int64(n), text: "p\(n)")) }

    func marks(_ journal: Journal) throws -> [JournalEntry] {
        var found: [JournalEntry] = []
        try journal.scan(fromSeq: 1) { entry in
            if entry.record.type == EntryTypes.Bus.outboxMark { found.append(entry) }
            return true
        }
        return found
    }

    @Test func aStartReadsTheOutboxFromTheNewestMarkNotFromEntryOne() throws {
        let dir = try TemporaryDirectory(prefix: "bus-outbox-mark")
        defer { dir.remove() }
        let journal = try Journal(path: "\(dir.path)/reconciler@main.sqlite", process: "reconciler@main", logger: quietLogger)
        defer { try? journal.close() }
        let first = try client(journal, every: 50)
        #expect(first.outboxRestoreRows == 0)
        let ids = try (1...3).map { try first.send(probe($0)) }
        for id in ids { try journal.append(BusJournal.acked(id, peer: target, at: Timestamp(nanoseconds: 1)), durability: .batched) }
        try filler(journal, 300)

        // No mark yet: the whole journal is read once, and a mark is written (300 entries > 50).
        let second = try client(journal, every: 50)
        #expect(second.outboxRestoreRows == 306)
        #expect(second.pendingCount == 0)
        let written = try marks(journal)
        #expect(written.count == 1)
        #expect(written.first?.record.peer == "reconciler@main>risk@main")

        try filler(journal, 20)
        let third = try client(journal, every: 50)
        #expect(third.outboxRestoreRows == 21, "the mark and the 20 entries after it, not the 327 before")
        #expect(third.pendingCount == 0)
        let next = try third.send(probe(4))
        #expect(next.hasSuffix("#4"), "the outbox counter continues past the mark: \(next)")
        #expect(try marks(journal).count == 1, "20 entries since the mark: none due")
    }

    @Test func aMessageUnacknowledgedAtTheMarkIsStillRestoredAfterIt() throws {
        let dir = try TemporaryDirectory(prefix: "bus-outbox-mark")
        defer { dir.remove() }
        let journal = try Journal(path: "\(dir.path)/reconciler@main.sqlite", process: "reconciler@main", logger: quietLogger)
        defer { try? journal.close() }
        let first = try client(journal, every: 50)
        let acked = try first.send(probe(1))
        try filler(journal, 100)
        let unacked = try first.send(probe(2))
        try journal.append(BusJournal.acked(acked, peer: target, at: Timestamp(nanoseconds: 1)), durability: .batched)
        try filler(journal, 200)

        let second = try client(journal, every: 50)
        #expect(second.pendingCount == 1)
        let mark = try #require(try marks(journal).first)
        let body = try StrictJSON.decode(BusClient.OutboxMark.self, from: mark.record.body)
        #expect(body.from == 102, "the mark names the unacknowledged message's entry, the oldest pending")
        #expect(body.counter == 2)

        try filler(journal, 30)
        let third = try client(journal, every: 50)
        #expect(third.outboxRestoreRows == mark.seq - 102 + 1 + 30, "read from the pending message's entry on")
        #expect(third.pendingCount == 1)
        #expect(third.link.unacknowledged == 1)
        #expect(try third.send(probe(3)).hasSuffix("#3"))
        _ = unacked
    }

    @Test func aSmallJournalGetsNoMark() throws {
        let dir = try TemporaryDirectory(prefix: "bus-outbox-mark")
        defer { dir.remove() }
        let journal = try Journal(path: "\(dir.path)/reconciler@main.sqlite", process: "reconciler@main", logger: quietLogger)
        defer { try? journal.close() }
        let first = try client(journal, every: BusClient.defaultOutboxMarkEvery)
        _ = try first.send(probe(1))
        try filler(journal, 100)
        let second = try client(journal, every: BusClient.defaultOutboxMarkEvery)
        #expect(second.outboxRestoreRows == 101)
        #expect(second.pendingCount == 1)
        #expect(try marks(journal).isEmpty, "fewer entries than the interval: the journal is as before marks existed")
    }

    @Test func twoOutboxesTowardsOneTargetEachReadFromTheirOwnMark() throws {
        let dir = try TemporaryDirectory(prefix: "bus-outbox-mark")
        defer { dir.remove() }
        let journal = try Journal(path: "\(dir.path)/notifier@main.sqlite", process: "notifier@main", logger: quietLogger)
        defer { try? journal.close() }
        let one = ProcessIdentity(role: .control, instance: "telegram-1")
        let two = ProcessIdentity(role: .control, instance: "telegram-2")
        _ = try client(journal, every: 50, identity: two).send(probe(1))
        let acked = try client(journal, every: 50, identity: one).send(probe(1))
        try journal.append(BusJournal.acked(acked, peer: target, at: Timestamp(nanoseconds: 1)), durability: .batched)
        try filler(journal, 100)
        // The first client's mark says everything it sent before it was acknowledged ...
        let first = try client(journal, every: 50, identity: one)
        #expect(first.pendingCount == 0)
        #expect(try marks(journal).map(\.record.peer) == ["control@telegram-1>risk@main"])
        try filler(journal, 10)
        // ... which says nothing of the second client's message.
        let second = try client(journal, every: 50, identity: two)
        #expect(second.pendingCount == 1)
    }

    /// The big measurement for BENCHMARKS.md (not a CI test): `AST_BENCH_OUTBOX_ENTRIES=1000000
    /// swift test --skip-build --filter OutboxMarkTests/outboxRestoreTime`. Prints the start-up read
    /// of the outbox from entry 1 (no mark yet) and from the mark written then, 5,000 entries later,
    /// for a journal of that many entries with 100 acknowledged messages spread over it.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["AST_BENCH_OUTBOX_ENTRIES"] != nil))
    func outboxRestoreTime() throws {
        let entries = Int(ProcessInfo.processInfo.environment["AST_BENCH_OUTBOX_ENTRIES"] ?? "") ?? 1_000_000
        let dir = try TemporaryDirectory(prefix: "bus-outbox-bench")
        defer { dir.remove() }
        let journal = try Journal(path: "\(dir.path)/reconciler@main.sqlite", process: "reconciler@main", logger: quietLogger)
        defer { try? journal.close() }
        let first = try client(journal, every: BusClient.defaultOutboxMarkEvery)
        for chunk in 0..<100 {
            let id = try first.send(probe(chunk))
            try filler(journal, entries / 100 - 2)
            try journal.append(BusJournal.acked(id, peer: target, at: Timestamp(nanoseconds: 1)), durability: .batched)
        }
        try filler(journal, 10)
        let clock = ContinuousClock()
        var fromOne: BusClient?
        let full = try clock.measure { fromOne = try client(journal, every: BusClient.defaultOutboxMarkEvery) }
        try filler(journal, 5_000)
        var fromMark: BusClient?
        let marked = try clock.measure { fromMark = try client(journal, every: BusClient.defaultOutboxMarkEvery) }
        print(
            "outbox restore, \(journal.lastSeq) entries, every message acknowledged:"
                + " from entry 1 \(full) (\(fromOne?.outboxRestoreRows ?? 0) rows),"
                + " from the mark \(marked) (\(fromMark?.outboxRestoreRows ?? 0) rows)")
        #expect(fromOne?.pendingCount == 0)
        #expect(fromMark?.pendingCount == 0)
    }
}
