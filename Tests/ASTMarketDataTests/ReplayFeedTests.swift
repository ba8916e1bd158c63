import ASTCalendar
import ASTCore
import Testing

@testable import ASTMarketData

@Suite struct ReplayFeedTests {
    /// ZZZ trades every day, AAA misses 2024-01-04; 2024-01-06/07 is a weekend.
    static let bars = [
        bar("ZZZ", "2024-01-02", "1", "2", "1", "1.5"), bar("AAA", "2024-01-03", "5", "6", "5", "5.5"),
        bar("AAA", "2024-01-02", "5", "6", "5", "5.2"), bar("ZZZ", "2024-01-03", "1", "2", "1", "1.6"),
        bar("ZZZ", "2024-01-04", "1", "2", "1", "1.7"), bar("AAA", "2024-01-05", "5", "6", "5", "5.9"),
        bar("ZZZ", "2024-01-05", "1", "2", "1", "1.8"),
    ]

    @Test func sessionsArePublishedAtTheirCloseInSymbolOrderEachOnce() {
        var feed = ReplayFeed(bars: Self.bars)
        #expect(feed.sessions.map(\.date) == ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"].map(date))
        let close2 = feed.sessions[0].close
        #expect(feed.advance(to: close2.advanced(by: .seconds(-1))).isEmpty)
        let first = feed.advance(to: close2)
        #expect(first.count == 1 && first[0].bars.map(\.symbol) == ["AAA", "ZZZ"] && first[0].publishAt == close2)
        #expect(feed.advance(to: close2).isEmpty)
        // A clock jump publishes every session it passes, in order; backwards publishes nothing.
        let rest = feed.advance(to: feed.sessions[3].close)
        #expect(rest.map(\.session.date) == ["2024-01-03", "2024-01-04", "2024-01-05"].map(date))
        #expect(rest.flatMap(\.bars).count + first[0].bars.count == Self.bars.count)
        #expect(feed.advance(to: close2).isEmpty && feed.isFinished && feed.nextPublishAt == nil)
    }

    @Test func marksCarryTheLastCloseOfEverySymbol() {
        var feed = ReplayFeed(bars: Self.bars)
        var steps: [ReplayStep] = []
        while let s = feed.next() { steps.append(s) }
        // 2024-01-04: AAA has no bar; its mark stays at the 01-03 close, stamped then.
        let thursday = steps[2]
        #expect(thursday.bars.map(\.symbol) == ["ZZZ"])
        #expect(
            thursday.marks == [
                Mark(symbol: "AAA", price: price("5.5"), asOf: steps[1].session.close),
                Mark(symbol: "ZZZ", price: price("1.7"), asOf: thursday.session.close),
            ])
        #expect(steps[3].marks.map(\.price) == [price("5.9"), price("1.8")])
    }

    @Test func aWholeBundledDayReplaysInMilliseconds() {
        let u = UniverseGenerator.generate()
        var feed = ReplayFeed(bars: u.allBars, from: date("2026-11-25"), to: date("2026-11-30"))
        // 11-26 Thanksgiving: closed; 11-27: early close at 13:00.
        #expect(feed.sessions.map(\.date) == ["2026-11-25", "2026-11-27", "2026-11-30"].map(date))
        #expect(feed.sessions[1].isEarlyClose)
        let clock = ContinuousClock()
        var published = 0
        let elapsed = clock.measure {
            while let t = feed.nextPublishAt { published += feed.advance(to: t).reduce(0) { $0 + $1.bars.count } }
        }
        #expect(published == 3 * 52)
        #expect(elapsed < .milliseconds(500))
    }
}

@Suite struct PublisherTests {
    @Test func everySubscriberGetsBarsThenMarksInOrderUntilFinished() async {
        let publisher = MarketDataPublisher()
        let a = publisher.subscribe(), b = publisher.subscribe()
        var feed = ReplayFeed(bars: ReplayFeedTests.bars)
        while let step = feed.next() { publisher.publish(step) }
        publisher.finish()
        var seenA: [MarketDataUpdate] = [], seenB: [MarketDataUpdate] = []
        for await u in a { seenA.append(u) }
        for await u in b { seenB.append(u) }
        #expect(seenA == seenB && seenA.count == 8)
        guard case .bars(let day, _, let bars) = seenA[0], case .marks(_, let marks) = seenA[1] else {
            Issue.record("bars then marks expected")
            return
        }
        #expect(day == date("2024-01-02") && bars.map(\.symbol) == ["AAA", "ZZZ"] && marks.map(\.symbol) == ["AAA", "ZZZ"])
        var late: [MarketDataUpdate] = []
        for await u in publisher.subscribe() { late.append(u) }
        #expect(late.isEmpty && publisher.subscriberCount == 0)
    }
}
