import ASTCore
import ASTJournal
import Testing

@testable import ASTBus

@Suite struct ConnectionWorkQueueTests {
    static func work(_ n: Int) -> ConnectionWork {
        .journal(JournalRecord(kind: .event, type: "test.\(n)", timestamp: Timestamp(nanoseconds: Int64(n)), body: []))
    }

    static func number(_ work: ConnectionWork?) -> Int? {
        guard case .journal(let record)? = work else { return nil }
        return Int(record.timestamp.nanoseconds)
    }

    @Test func handsOutEverythingInOrderThenEndsOnceFinished() async {
        let queue = ConnectionWorkQueue()
        for n in 0..<200 { queue.yield(Self.work(n)) }
        queue.finish()
        queue.yield(Self.work(999))  // after finish: ignored
        var seen: [Int] = []
        while let work = await queue.next() { seen.append(Self.number(work) ?? -1) }
        #expect(seen == Array(0..<200))
    }

    @Test func aWaitingConsumerIsHandedTheNextItem() async {
        let queue = ConnectionWorkQueue()
        let consumer = Task { Self.number(await queue.next()) }
        try? await Task.sleep(for: .milliseconds(20))
        queue.yield(Self.work(7))
        #expect(await consumer.value == 7)
    }

    @Test func cancellingTheConsumerDoesNotEndTheQueue() async {
        let queue = ConnectionWorkQueue()
        let consumer = Task {
            var seen: [Int] = []
            while let work = await queue.next() { seen.append(Self.number(work) ?? -1) }
            return seen
        }
        consumer.cancel()
        queue.yield(Self.work(1))
        queue.yield(Self.work(2))
        queue.finish()
        #expect(await consumer.value == [1, 2])
    }

    @Test func abandonDropsWhatIsQueuedAndWhatComes() async {
        let queue = ConnectionWorkQueue()
        queue.yield(Self.work(1))
        queue.abandon()
        queue.yield(Self.work(2))
        #expect(await queue.next() == nil)
    }
}
