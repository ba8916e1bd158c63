import ASTCalendar
import ASTCore
import Foundation
import Testing

@testable import ASTPaperBroker

/// Market-time order with daily bars (`SessionOrdering.swift`): in wall-clock mode a session's
/// bar reaches the exchange with the 16:10 fetch, after the 14:30 reductions, the 15:55 cleanup
/// and the close; the outcome must be the engine's (bar, then cleanup, then close), as it is
/// in replay where the bar comes at 15:54.
@Suite struct SessionOrderingTests {
    /// A Tuesday and the Wednesday after it, both full NYSE sessions.
    static let d = LocalDate("2026-11-17")!
    static let d1 = LocalDate("2026-11-18")!

    static func at(_ date: LocalDate, _ hour: Int, _ minute: Int) -> Timestamp {
        NewYorkTime.timestamp(date, LocalTime(hour: hour, minute: minute))
    }

    static func dayBar(_ date: LocalDate, _ o: String, _ h: String, _ l: String, _ c: String, symbol: Symbol = "AAPL") -> Bar {
        Bar(symbol: symbol, start: at(date, 9, 30), open: p(o), high: p(h), low: p(l), close: p(c), volume: 1_000_000)
    }

    static let cleanup = "resting_unfilled_entry cancel approved by the risk gate"

    /// A limit entry at 100 with its stop and target, accepted before the open of D.
    static func limitBracket() -> BracketOrder {
        bracket(entry(type: .limit, limit: "100.00"), stop: "95.00", target: "110.00")
    }

    @Test func anEntryIsFilledByItsSessionsBarAlthoughTheCleanupAskedToCancelItAt1555() {
        var h = Harness()
        h.submit(Self.limitBracket(), at: Self.at(Self.d, 9, 0))
        // 15:55: the bar of D has not been seen; the cancel is held for it.
        let cancel = h.send(.cancel(E1, reason: Self.cleanup), at: Self.at(Self.d, 15, 55))
        #expect(cancel.events.isEmpty)
        #expect(cancel.notices == [.cancelDeferred(E1, session: Self.at(Self.d, 9, 30), deadline: Self.at(Self.d1, 9, 30))])
        #expect(h.status(E1) == .working)
        #expect(h.exchange.heldCancels == [E1])
        // 16:10: the bar touched the limit: the entry fills first, so the cancel finds it filled.
        let fetched = h.send(.bar(Self.dayBar(Self.d, "101.00", "102.00", "99.50", "101.50")), at: Self.at(Self.d, 16, 10))
        #expect(fetched.fills.map { [$0.clientOrderID.rawValue, "\($0.quantity)", "\($0.price)"] } == [["i1.E", "100", "100.00"]])
        #expect(!fetched.events.contains { if case .cancelled = $0 { true } else { false } })
        #expect(fetched.notices.contains(.cancelRefused(E1, .alreadyFinal(.filled))))
        #expect(h.status(E1) == .filled && h.status(S1) == .working && h.status(T1) == .working)
        #expect(h.exchange.heldCancels.isEmpty && h.exchange.nextCancelDeadline == nil)
        // The close expires nothing: the entry is filled, its children are GTC.
        #expect(h.send(.sessionClose(Self.at(Self.d, 16, 0)), at: Self.at(Self.d, 16, 10)).events.isEmpty)
        #expect(h.exchange.positions == [BrokerPosition(symbol: "AAPL", quantity: 100, averagePrice: p("100.00"))])
    }

    @Test func anEntryWhoseBarDidNotTouchItsLimitIsCancelledRightAfterTheBarWithItsChildren() {
        var h = Harness()
        h.submit(Self.limitBracket(), at: Self.at(Self.d, 9, 0))
        _ = h.send(.cancel(E1, reason: Self.cleanup), at: Self.at(Self.d, 15, 55))
        let fetched = h.send(.bar(Self.dayBar(Self.d, "101.00", "103.00", "100.50", "102.00")), at: Self.at(Self.d, 16, 10))
        #expect(
            fetched.events == [
                .cancelled(E1, reason: Self.cleanup),
                .cancelled(S1, reason: "entry i1.E ended cancelled without a fill"),
                .cancelled(T1, reason: "entry i1.E ended cancelled without a fill"),
            ])
        // Cancelled, not expired, at the close: as the engine's 15:55 cleanup leaves it.
        #expect(h.send(.sessionClose(Self.at(Self.d, 16, 0)), at: Self.at(Self.d, 16, 10)).events.isEmpty)
        #expect(h.exchange.positions.isEmpty && h.exchange.executions.isEmpty)
    }

    /// A long position of 100 bought on D, then a reduce-only market sell of 40 at 14:30 of D+1.
    static func reduced(_ config: PaperBrokerConfig, barAt barTime: Timestamp) -> (Harness, PaperOutcome) {
        var h = Harness(config)
        h.submit(standalone(entry("buy", quantity: 100)), at: Self.at(Self.d, 9, 0))
        h.send(.bar(Self.dayBar(Self.d, "50.00", "51.00", "49.00", "50.00")), at: Self.at(Self.d, 16, 10))
        h.send(.sessionClose(Self.at(Self.d, 16, 0)), at: Self.at(Self.d, 16, 10))
        h.submit(standalone(entry("reduce", side: .sell, quantity: 40)), at: Self.at(Self.d1, 14, 30))
        let out = h.send(.bar(Self.dayBar(Self.d1, "55.00", "56.00", "47.00", "48.00")), at: barTime)
        return (h, out)
    }

    @Test func aReduceOnlyMarketOrderOf1430FillsOnItsSessionsBarAtTheCloseSlipped() throws {
        let config = PaperBrokerConfig(
            maxVolumeSharePercent: 100, slippageBps: 10, commissionPerShare: .zero, commissionMinimum: .zero,
            commissionMaximumPercent: 0)
        // Wall-clock order: the bar with the 16:10 fetch.
        var (h, out) = Self.reduced(config, barAt: Self.at(Self.d1, 16, 10))
        let fill = try #require(out.fills.first(where: { $0.clientOrderID == "reduce.E" }))
        // Only the close (48.00) is known to have traded after 14:30; a sell slips 10 bps down.
        #expect(fill.quantity == 40 && fill.price == p("47.952"))
        #expect(h.exchange.positions.map(\.quantity) == [60])
        // The close then finds it filled: nothing expires.
        #expect(h.send(.sessionClose(Self.at(Self.d1, 16, 0)), at: Self.at(Self.d1, 16, 10)).events.isEmpty)
        // Replay order (the bar at 15:54, before the close): the same fill.
        let (_, replayed) = Self.reduced(config, barAt: Self.at(Self.d1, 15, 54))
        let again = try #require(replayed.fills.first(where: { $0.clientOrderID == "reduce.E" }))
        #expect(again.price == fill.price && again.quantity == fill.quantity)
    }

    @Test func aReductionOf1430WhoseCancelTheCleanupAskedFor1555StillFillsOnTheBarAsInReplay() throws {
        var h = Harness()
        h.submit(standalone(entry("buy", quantity: 100)), at: Self.at(Self.d, 9, 0))
        h.send(.bar(Self.dayBar(Self.d, "50.00", "51.00", "49.00", "50.00")), at: Self.at(Self.d, 16, 10))
        h.submit(standalone(entry("reduce", side: .sell, quantity: 40)), at: Self.at(Self.d1, 14, 30))
        let cancel = h.send(.cancel("reduce.E", reason: Self.cleanup), at: Self.at(Self.d1, 15, 55))
        #expect(cancel.events.isEmpty && h.exchange.heldCancels == ["reduce.E"])
        let fetched = h.send(.bar(Self.dayBar(Self.d1, "55.00", "56.00", "47.00", "48.00")), at: Self.at(Self.d1, 16, 10))
        #expect(fetched.fills.map(\.price) == [p("48.00")])
        #expect(fetched.notices.contains(.cancelRefused("reduce.E", .alreadyFinal(.filled))))
        // Accepted after the cleanup's cancel time but still during the session: the same.
        h.submit(standalone(entry("late", side: .sell, quantity: 10, symbol: "MSFT")), at: Self.at(Self.d1, 15, 56))
        #expect(h.send(.sessionClose(Self.at(Self.d1, 16, 0)), at: Self.at(Self.d1, 16, 10)).events == [.expired("late.E")])
    }

    @Test func anOrderAcceptedDuringTheSessionSeesOnlyTheCloseAndAChildNeverItsEntrysBar() {
        var h = Harness()
        // A buy limit at 47.50 accepted at 14:30: the bar's low (47.00) may have come before.
        h.submit(standalone(entry("late", type: .limit, limit: "47.50")), at: Self.at(Self.d1, 14, 30))
        // An entry with children accepted before the open: the children wait for the next bar.
        h.submit(bracket(entry("early", type: .market, symbol: "MSFT"), stop: "40.00", target: "60.00"), at: Self.at(Self.d1, 9, 0))
        h.send(.bar(Self.dayBar(Self.d1, "55.00", "56.00", "47.00", "48.00")), at: Self.at(Self.d1, 16, 10))
        let msft = h.send(
            .bar(Self.dayBar(Self.d1, "50.00", "70.00", "30.00", "50.00", symbol: "MSFT")), at: Self.at(Self.d1, 16, 10))
        #expect(h.status("late.E") == .working, "the close 48.00 is above the limit 47.50")
        #expect(msft.fills.map(\.clientOrderID) == ["early.E"], "the stop and target do not fill on the entry's bar")
        // Accepted after the close of D+1: not matched against D+1's bar either.
        h.submit(standalone(entry("after", symbol: "IBM")), at: Self.at(Self.d1, 16, 30))
        let ibm = h.send(.bar(Self.dayBar(Self.d1, "10.00", "11.00", "9.00", "10.00", symbol: "IBM")), at: Self.at(Self.d1, 16, 40))
        #expect(ibm.fills.isEmpty)
    }

    @Test func aCancelWhoseBarNeverComesTakesEffectAtTheNextSessionsOpenWithoutAnyFill() {
        var h = Harness()
        h.submit(Self.limitBracket(), at: Self.at(Self.d, 9, 0))
        _ = h.send(.cancel(E1, reason: Self.cleanup), at: Self.at(Self.d, 15, 55))
        // The fetch fails: no bar, no close. Before the deadline nothing happens.
        #expect(h.send(.tick, at: Self.at(Self.d1, 9, 29)).events.isEmpty)
        #expect(h.status(E1) == .working && h.exchange.nextCancelDeadline == Self.at(Self.d1, 9, 30))
        let open = h.send(.tick, at: Self.at(Self.d1, 9, 30))
        #expect(open.events.first == .cancelled(E1, reason: Self.cleanup))
        #expect(h.status(S1) == .cancelled && h.status(T1) == .cancelled)
        // The bar of D arrives late (a backfill): it fills nothing.
        let late = h.send(.bar(Self.dayBar(Self.d, "99.00", "99.00", "90.00", "95.00")), at: Self.at(Self.d1, 10, 0))
        #expect(late.events.isEmpty && h.exchange.executions.isEmpty)
    }

    @Test func aSessionCloseWithoutTheSymbolsBarAppliesTheHeldCancelBeforeTheExpiries() {
        var h = Harness()
        h.submit(standalone(entry(type: .limit, limit: "100.00")), at: Self.at(Self.d, 9, 0))
        _ = h.send(.cancel(E1, reason: Self.cleanup), at: Self.at(Self.d, 15, 55))
        // Another symbol's bar does not release it.
        h.send(.bar(Self.dayBar(Self.d, "10.00", "11.00", "9.00", "10.00", symbol: "MSFT")), at: Self.at(Self.d, 16, 10))
        #expect(h.exchange.heldCancels == [E1])
        let close = h.send(.sessionClose(Self.at(Self.d, 16, 0)), at: Self.at(Self.d, 16, 10))
        #expect(close.events == [.cancelled(E1, reason: Self.cleanup)])
    }

    @Test func aSecondCancelOfAHeldOrderIsHeldOnceAndABrokerCancelIsNeverHeld() {
        var h = Harness()
        h.submit(standalone(entry(type: .limit, limit: "100.00")), at: Self.at(Self.d, 9, 0))
        h.submit(standalone(entry("i2", type: .limit, limit: "100.00")), at: Self.at(Self.d, 9, 0))
        _ = h.send(.cancel(E1, reason: Self.cleanup), at: Self.at(Self.d, 15, 55))
        let twice = h.send(.cancel(E1, reason: "again"), at: Self.at(Self.d, 15, 56))
        #expect(twice.events.isEmpty && h.exchange.heldCancels == [E1])
        let broker = h.send(.inject(.brokerCancel("i2.E")), at: Self.at(Self.d, 15, 57))
        #expect(broker.events == [.cancelled("i2.E", reason: "cancelled by the broker")])
    }

    /// Replay's order (bar at 15:54, cleanup at 15:55, close at 16:00): every cancel is applied
    /// at once, exactly as before held cancels existed.
    @Test func inReplayOrderTheCleanupCancelsAtOnceAsBefore() {
        var h = Harness()
        h.submit(Self.limitBracket(), at: Self.at(Self.d, 9, 0))
        h.submit(standalone(entry("i2", type: .limit, limit: "90.00", symbol: "MSFT")), at: Self.at(Self.d, 9, 0))
        let bars = [
            h.send(.bar(Self.dayBar(Self.d, "101.00", "102.00", "99.50", "101.50")), at: Self.at(Self.d, 15, 54)),
            h.send(.bar(Self.dayBar(Self.d, "95.00", "96.00", "94.00", "95.00", symbol: "MSFT")), at: Self.at(Self.d, 15, 54)),
        ]
        #expect(bars.flatMap(\.fills).map(\.clientOrderID) == [E1])
        let filled = h.send(.cancel(E1, reason: Self.cleanup), at: Self.at(Self.d, 15, 55))
        #expect(filled.events.isEmpty && filled.notices == [.cancelRefused(E1, .alreadyFinal(.filled))])
        let unfilled = h.send(.cancel("i2.E", reason: Self.cleanup), at: Self.at(Self.d, 15, 55))
        #expect(unfilled.events == [.cancelled("i2.E", reason: Self.cleanup)])
        #expect(h.exchange.heldCancels.isEmpty)
        #expect(h.send(.sessionClose(Self.at(Self.d, 16, 0)), at: Self.at(Self.d, 16, 0)).events.isEmpty)
    }

    @Test func aHeldCancelSurvivesASnapshotAndAnExchangeWithoutOneEncodesAsBefore() throws {
        var h = Harness()
        h.submit(Self.limitBracket(), at: Self.at(Self.d, 9, 0))
        let before = try JSONEncoder().encode(h.exchange)
        #expect(!String(decoding: before, as: UTF8.self).contains("pending_cancels"))
        _ = h.send(.cancel(E1, reason: Self.cleanup), at: Self.at(Self.d, 15, 55))
        let decoded = try JSONDecoder().decode(PaperExchange.self, from: try JSONEncoder().encode(h.exchange))
        #expect(decoded == h.exchange && decoded.heldCancels == [E1])
    }
}
