import ASTCore
import Testing

@testable import ASTPaperBroker

/// Brackets: held children, OCA, the both-touched rule, partial fills and session expiry.
@Suite struct BracketTests {
    /// A long bracket (entry 100 shares at market, stop 95, target 110) whose entry filled at
    /// 100.00 on day 0.
    static func filledLongBracket(_ config: PaperBrokerConfig = frictionless) -> Harness {
        var h = Harness(config)
        h.submit(bracket(entry(tif: .day), stop: "95.00", target: "110.00"))
        h.deliver(bar(0, "100.00", "101.00", "99.00", "100.00"))
        return h
    }

    @Test func submitAcknowledgesAndAcceptsEveryLegAndHoldsTheChildren() {
        var h = Harness()
        let b = bracket(entry(), stop: "95.00", target: "110.00")
        let out = h.submit(b)
        // First what the broker process sends, then the broker's answers.
        #expect(Array(out.events.prefix(3)) == b.legs.map { .submitting($0) })
        #expect(
            out.answers == [
                .acknowledged(E1, brokerOrderID: "broker@paper-o1"), .accepted(E1),
                .acknowledged(S1, brokerOrderID: "broker@paper-o2"), .accepted(S1),
                .acknowledged(T1, brokerOrderID: "broker@paper-o3"), .accepted(T1),
            ])
        #expect(out.reports.map(\.id) == (1...9).map { "broker@paper-r\($0)" })
        #expect(h.status(S1) == .held && h.status(T1) == .held)
        #expect(h.working(S1) == 0)
        #expect(h.exchange.openOrders.map(\.spec.clientOrderID) == [E1, S1, T1])
    }

    @Test func childrenWorkTheEntrysFillFromTheNextBarOnly() {
        var h = Harness()
        h.submit(bracket(entry(), stop: "95.00", target: "110.00"))
        // The entry fills at the open; the same bar goes through the stop, but the stop only
        // becomes eligible from the next bar (a documented limitation of daily bars).
        let day0 = h.deliver(bar(0, "100.00", "101.00", "90.00", "92.00"))
        #expect(day0.fills.map(\.clientOrderID) == [E1])
        #expect(h.status(S1) == .working && h.working(S1) == 100)
        #expect(h.status(T1) == .working && h.working(T1) == 100)
        let day1 = h.deliver(bar(1, "96.00", "97.00", "94.00", "94.50"))
        #expect(day1.fills.map(\.clientOrderID) == [S1])
        #expect(day1.fills.map(\.price) == [p("95.00")])
    }

    @Test func stopFillCancelsTheTargetByOCA() {
        var h = Self.filledLongBracket()
        let out = h.deliver(bar(1, "97.00", "98.00", "94.00", "94.50"))
        #expect(out.events.count == 2)
        #expect(out.fills.map(\.clientOrderID) == [S1])
        #expect(out.events.last == .cancelled(T1, reason: "OCA: i1.S filled"))
        #expect(h.status(S1) == .filled && h.status(T1) == .cancelled)
        #expect(h.exchange.positions.isEmpty)
        #expect(h.exchange.openOrders.isEmpty)
    }

    @Test func targetFillCancelsTheStopByOCA() {
        var h = Self.filledLongBracket()
        let out = h.deliver(bar(1, "105.00", "111.00", "104.00", "110.50"))
        #expect(out.fills.map(\.price) == [p("110.00")])
        #expect(out.events.last == .cancelled(S1, reason: "OCA: i1.T filled"))
        #expect(h.status(T1) == .filled && h.status(S1) == .cancelled)
    }

    @Test(arguments: [
        (BothTouchedRule.worstCase, "100.00", S1, "95.00"),
        (BothTouchedRule.bestCase, "100.00", T1, "110.00"),
        (BothTouchedRule.openProximity, "100.00", S1, "95.00"),  // stop 5 away, target 10
        (BothTouchedRule.openProximity, "108.00", T1, "110.00"),  // target 2 away, stop 13
    ])
    func barTouchingStopAndTargetFillsOneByTheRule(rule: BothTouchedRule, open: String, leg: ClientOrderID, price: String) {
        var config = frictionless
        config.bothTouched = rule
        var h = Self.filledLongBracket(config)
        let out = h.deliver(bar(1, open, "111.00", "94.00", "100.00"))
        #expect(out.fills.map(\.clientOrderID) == [leg])
        #expect(out.fills.map(\.price) == [p(price)])
        #expect(h.exchange.positions.isEmpty)
        #expect(h.exchange.openOrders.isEmpty)
    }

    @Test func bothTouchedDefaultsToWorstCase() {
        #expect(PaperBrokerConfig.standard.bothTouched == .worstCase)
    }

    @Test func childrenFollowPartialFillsOfTheEntry() {
        var config = frictionless
        config.maxVolumeSharePercent = 10
        var h = Harness(config)
        h.submit(bracket(entry(tif: .gtc), stop: "95.00", target: "110.00"))
        h.deliver(bar(0, "100.00", "101.00", "99.00", "100.00", volume: 400))  // entry 40
        #expect(h.filled(E1) == 40 && h.status(E1) == .partiallyFilled)
        #expect(h.working(S1) == 40 && h.working(T1) == 40)
        h.deliver(bar(1, "100.00", "101.00", "99.00", "100.00", volume: 400))  // entry 80
        #expect(h.working(S1) == 80 && h.working(T1) == 80)

        // The stop triggers: children go first (30 of the 80 held at the bar's start), then the
        // entry fills its last 20.
        let day2 = h.deliver(bar(2, "98.00", "99.00", "94.00", "96.00", volume: 300))
        #expect(day2.fills.map(\.clientOrderID) == [S1, E1])
        #expect(day2.fills.map(\.quantity) == [30, 20])
        #expect(h.status(E1) == .filled)
        #expect(h.status(S1) == .partiallyFilled && h.working(S1) == 70)
        #expect(h.status(T1) == .working && h.working(T1) == 70)  // reduced by the stop's fill
        #expect(h.exchange.positions.map(\.quantity) == [70])

        // The triggered stop sells the rest at the next open; the target is cancelled.
        let day3 = h.deliver(bar(3, "97.00", "98.00", "96.00", "97.00", volume: 1000))
        #expect(day3.fills.map(\.quantity) == [70])
        #expect(day3.fills.map(\.price) == [p("97.00")])
        #expect(day3.events.last == .cancelled(T1, reason: "OCA: i1.S filled"))
        #expect(h.status(S1) == .filled)
        #expect(h.exchange.positions.isEmpty)
    }

    @Test func dayOrderExpiresAtSessionCloseAndGTCStays() {
        var h = Harness()
        h.submit(standalone(entry(type: .limit, limit: "90.00", tif: .day)))
        h.submit(standalone(entry("i2", type: .limit, limit: "90.00", tif: .gtc)))
        h.deliver(bar(0, "100.00", "101.00", "99.00", "100.00"))
        let out = h.send(.sessionClose(t(0, 20 * 60)), at: t(0, 20 * 60))
        #expect(out.events == [.expired(E1)])
        #expect(h.status(E1) == .expired)
        #expect(h.status("i2.E") == .working)
    }

    @Test func dayOrderAcceptedAfterTheCloseDoesNotExpireWithIt() {
        var h = Harness()
        h.submit(standalone(entry(type: .limit, limit: "90.00", tif: .day)), at: t(0, 20 * 60 + 30))
        #expect(h.send(.sessionClose(t(0, 20 * 60)), at: t(0, 20 * 60 + 31)).events.isEmpty)
        #expect(h.status(E1) == .working)
    }

    @Test func unfilledEntryExpiringCancelsItsChildren() {
        var h = Harness()
        h.submit(bracket(entry(type: .limit, limit: "90.00", tif: .day), stop: "85.00", target: "99.00"))
        let out = h.send(.sessionClose(t(0, 20 * 60)), at: t(0, 20 * 60))
        #expect(
            out.events == [
                .expired(E1),
                .cancelled(S1, reason: "entry i1.E ended expired without a fill"),
                .cancelled(T1, reason: "entry i1.E ended expired without a fill"),
            ])
        #expect(h.exchange.openOrders.isEmpty)
    }

    @Test func partiallyFilledEntryExpiringLeavesItsChildrenWorkingTheFilledQuantity() {
        var config = frictionless
        config.maxVolumeSharePercent = 10
        var h = Harness(config)
        h.submit(bracket(entry(type: .limit, limit: "100.00", tif: .day), stop: "95.00", target: "110.00"))
        h.deliver(bar(0, "100.00", "101.00", "99.00", "100.00", volume: 400))
        let out = h.send(.sessionClose(t(0, 20 * 60)), at: t(0, 20 * 60))
        #expect(out.events == [.expired(E1)])
        #expect(h.filled(E1) == 40)
        #expect(h.status(S1) == .working && h.working(S1) == 40)
        #expect(h.status(T1) == .working && h.working(T1) == 40)
        // A later stop covers the 40 and, the entry being finished, completes the group.
        let day1 = h.deliver(bar(1, "96.00", "97.00", "94.00", "95.00"))
        #expect(day1.fills.map(\.quantity) == [40])
        #expect(h.status(S1) == .filled && h.status(T1) == .cancelled)
    }

    @Test func shortBracketMirrorsTheLong() {
        var h = Harness()
        h.submit(bracket(entry(side: .sell, tif: .gtc), stop: "105.00", target: "90.00"))
        h.deliver(bar(0, "100.00", "101.00", "99.00", "100.00"))
        #expect(h.exchange.positions.map(\.quantity) == [-100])
        let out = h.deliver(bar(1, "103.00", "106.00", "102.00", "104.00"))
        #expect(out.fills.map(\.clientOrderID) == [S1])
        #expect(out.fills.map(\.side) == [.buy])
        #expect(out.fills.map(\.price) == [p("105.00")])
        #expect(h.exchange.positions.isEmpty)
    }

    @Test func standaloneOrdersSharingAnOCAGroupCancelEachOtherOnAFullFill() {
        var h = Harness()
        var a = entry("a", type: .limit, limit: "99.00", tif: .gtc)
        a.ocaGroup = "either"
        var b = entry("b", type: .limit, limit: "95.00", tif: .gtc)
        b.ocaGroup = "either"
        h.submit(standalone(a))
        h.submit(standalone(b))
        let out = h.deliver(bar(0, "100.00", "101.00", "94.00", "96.00"))
        // Both limits are reached; worst case buys at the higher price.
        #expect(out.fills.map(\.clientOrderID) == ["a.E"])
        #expect(out.events.last == .cancelled("b.E", reason: "OCA: a.E filled"))
    }
}
