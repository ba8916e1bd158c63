import Testing

@testable import ASTCore

/// Values from outside a process never trap: each overflow found is pinned here (before the fix
/// each of these crashed the test process).
@Suite struct OverflowTests {
    @Test func advancingByTenBillionSecondsDoesNotTrap() {
        // `astctl broker inject disconnect 10000000000`: 10^19 ns does not fit Int64.
        let now = Timestamp(nanoseconds: 1_765_000_000_000_000_000)
        #expect(now.advancedReportingOverflow(by: .seconds(10_000_000_000)) == nil)
        #expect(now.advanced(by: .seconds(10_000_000_000)) == Timestamp(nanoseconds: .max))
        #expect(now.advanced(by: .seconds(-10_000_000_000)) == Timestamp(nanoseconds: .min))
        #expect(now.advancedReportingOverflow(by: .seconds(60)) == Timestamp(nanoseconds: now.nanoseconds + 60_000_000_000))
    }

    @Test func advancingPastTheEndOfTheRangeIsReportedNotTrapped() {
        let late = Timestamp(nanoseconds: .max - 10)
        #expect(late.advancedReportingOverflow(by: .nanoseconds(11)) == nil)
        #expect(late.advancedReportingOverflow(by: .nanoseconds(10)) == Timestamp(nanoseconds: .max))
    }

    @Test func durationNanosecondsSaturateInsteadOfTrapping() {
        #expect(Duration.seconds(Int64.max).totalNanosecondsReportingOverflow == nil)
        #expect(Duration.seconds(Int64.max).totalNanoseconds == .max)
        #expect(Duration.seconds(Int64.min / 2).totalNanoseconds == .min)
        #expect(Duration.milliseconds(1500).totalNanoseconds == 1_500_000_000)
    }

    @Test func theEndsOfTheRangePrintWithoutTrapping() {
        #expect(Timestamp(nanoseconds: .max).description == "2262-04-11T23:47:16.854Z")
        #expect(Timestamp(nanoseconds: .min).description == "1677-09-21T00:12:43.145Z")
    }

    @Test func durationBetweenTheEndsOfTheRangeIsExact() {
        let d = Timestamp(nanoseconds: .max).duration(since: Timestamp(nanoseconds: .min))
        #expect(d == .nanoseconds(Int64.max) + .nanoseconds(Int64.max) + .nanoseconds(1))
        #expect(Timestamp(nanoseconds: 5).duration(since: Timestamp(nanoseconds: 2)) == .nanoseconds(3))
    }

    @Test(arguments: [-1, Int.min, Int.max, Int.max / 1_000, 1 << 62])
    func pagingWithAnAbsurdPageNumberDoesNotTrap(page: Int) {
        let state = BrokerAccountState(
            broker: "broker@paper", asOf: Timestamp(nanoseconds: 0), connected: true,
            account: AccountValues(cash: .zero, equity: .zero), positions: [], openOrders: [], executions: [])
        let p = state.page(page, snapshot: "s1")
        #expect(p.positions.isEmpty && p.openOrders.isEmpty && p.executions.isEmpty)
        #expect(BrokerAccountState.validatePage(page)?.code == .outOfRange)
    }

    @Test func pagesInRangeAreAccepted() {
        #expect(BrokerAccountState.validatePage(0) == nil)
        #expect(BrokerAccountState.validatePage(BrokerAccountState.maxPageIndex) == nil)
        #expect(BrokerAccountState.validatePage(BrokerAccountState.maxPageIndex + 1) != nil)
    }
}

@Suite struct InputCheckTests {
    @Test func refusalDetailIsBoundedAndSaysTheOriginalLength() {
        let r = InputRefusal(.tooLarge, String(repeating: "é", count: 1_000_000))
        #expect(r.detail.utf8.count <= InputRefusal.maxDetailBytes)
        #expect(r.detail.hasSuffix("... (2000000 bytes)"))
        #expect(InputRefusal(.invalid, "short").detail == "short")
    }

    @Test func timesOutsideTheAcceptedRangeAreRefused() {
        #expect(InputCheck.time(Timestamp(nanoseconds: -1), "t")?.code == .outOfRange)
        #expect(InputCheck.time(Timestamp(nanoseconds: .max), "t")?.code == .outOfRange)
        #expect(InputCheck.time(.latestAccepted, "t") == nil)
        #expect(InputCheck.time(Timestamp(nanoseconds: 1_765_000_000_000_000_000), "t") == nil)
        // A week after the latest accepted time is still representable: adding to it cannot trap.
        #expect(Timestamp.latestAccepted.advancedReportingOverflow(by: .seconds(7 * 86_400)) != nil)
    }

    @Test func textsBeyondTheirSizeAreRefused() {
        #expect(InputCheck.text(String(repeating: "x", count: InputCheck.maxTextBytes), "reason") == nil)
        #expect(InputCheck.text(String(repeating: "x", count: InputCheck.maxTextBytes + 1), "reason")?.code == .tooLarge)
    }

    @Test func barsWithImpossibleNumbersAreRefused() {
        let max = Price(units: 1_000_000 * 10_000)
        let good = Bar(
            symbol: "AAPL", start: Timestamp(nanoseconds: 1_765_000_000_000_000_000), open: Price(units: 1_000_000),
            high: Price(units: 1_100_000), low: Price(units: 900_000), close: Price(units: 1_000_000), volume: 10)
        #expect(InputCheck.bar(good, maxPrice: max) == nil)
        var b = good
        b.volume = -1
        #expect(InputCheck.bar(b, maxPrice: max)?.code == .outOfRange)
        b = good
        b.high = Price(units: .max)
        #expect(InputCheck.bar(b, maxPrice: max)?.code == .outOfRange)
        b = good
        b.low = Price(units: -5)
        #expect(InputCheck.bar(b, maxPrice: max)?.code == .outOfRange)
        b = good
        b.start = Timestamp(nanoseconds: .max)
        #expect(InputCheck.bar(b, maxPrice: max)?.code == .outOfRange)
    }

    @Test func quarantineAcknowledgementNeedsAReasonAndASequenceNumber() {
        #expect(QuarantineAck(process: "broker@paper", seq: 4, reason: "poison inject from before M9").validate() == nil)
        #expect(QuarantineAck(process: "broker@paper", seq: 4, reason: "  ").validate()?.code == .invalid)
        #expect(QuarantineAck(process: "broker@paper", seq: 0, reason: "x").validate()?.code == .outOfRange)
        #expect(QuarantineAck(process: "broker@paper", seq: 4, reason: String(repeating: "x", count: 5_000)).validate()?.code == .tooLarge)
    }
}
