import ASTCore
import Testing

@testable import ASTPaperBroker

/// One test per price rule of the simulated exchange, without slippage or commission unless
/// the rule is about them.
@Suite struct FillRuleTests {
    @Test func marketOrderFillsAtTheOpenOfTheNextBar() {
        var h = Harness()
        h.submit(standalone(entry()))
        let fills = h.deliver(bar(0, "100.00", "105.00", "95.00", "101.00")).fills
        #expect(fills.map(\.price) == [p("100.00")])
        #expect(fills.map(\.quantity) == [100])
        #expect(h.status(E1) == .filled)
    }

    @Test func orderDoesNotMatchABarThatStartedBeforeItWasAccepted() {
        var h = Harness()
        // Day 0 (2024-01-01) is no NYSE session, so its bar is no session's bar: an order accepted
        // after it started waits for the next. (Accepted during a session, an order sees only
        // that session's close: SessionOrderingTests.)
        h.submit(standalone(entry()), at: t(0, sessionOpen + 60))
        #expect(h.deliver(bar(0, "100.00", "105.00", "95.00", "101.00")).fills.isEmpty)
        #expect(h.deliver(bar(1, "102.00", "103.00", "101.00", "102.00")).fills.map(\.price) == [p("102.00")])
    }

    @Test func orderAcceptedExactlyAtTheBarStartWaitsForTheNextBar() {
        var h = Harness()
        h.submit(standalone(entry()), at: t(0, sessionOpen))
        #expect(h.deliver(bar(0, "100.00", "105.00", "95.00", "101.00")).fills.isEmpty)
        #expect(h.deliver(bar(1, "102.00", "103.00", "101.00", "102.00")).fills.count == 1)
    }

    @Test func limitBuyFillsAtTheLimitWhenTheLowReachesIt() {
        var h = Harness()
        h.submit(standalone(entry(type: .limit, limit: "99.00")))
        #expect(h.deliver(bar(0, "100.00", "101.00", "98.00", "100.00")).fills.map(\.price) == [p("99.00")])
    }

    @Test func limitBuyDoesNotFillWhenTheLowStaysAbove() {
        var h = Harness()
        h.submit(standalone(entry(type: .limit, limit: "97.00", tif: .gtc)))
        #expect(h.deliver(bar(0, "100.00", "101.00", "98.00", "100.00")).fills.isEmpty)
        #expect(h.status(E1) == .working)
        #expect(h.working(E1) == 100)
    }

    @Test func limitBuyGappingBelowTheLimitFillsAtTheBetterOpen() {
        var h = Harness()
        h.submit(standalone(entry(type: .limit, limit: "99.00")))
        #expect(h.deliver(bar(0, "97.00", "98.00", "96.00", "97.50")).fills.map(\.price) == [p("97.00")])
    }

    @Test(arguments: [("100.00", "102.00", "101.00"), ("103.00", "104.00", "103.00")])
    func limitSellFillsAtTheLimitOrAtAHigherOpen(open: String, high: String, expected: String) {
        var h = Harness()
        h.submit(standalone(entry(side: .sell, type: .limit, limit: "101.00")))
        #expect(h.deliver(bar(0, open, high, "99.00", "100.00")).fills.map(\.price) == [p(expected)])
    }

    @Test func stopSellFillsAtTheStopWhenTheBarTradesThroughIt() {
        var h = Harness()
        h.submit(standalone(entry(side: .sell, type: .stop, stop: "95.00")))
        #expect(h.deliver(bar(0, "100.00", "101.00", "94.00", "96.00")).fills.map(\.price) == [p("95.00")])
    }

    @Test func stopSellDoesNotTriggerAboveTheStop() {
        var h = Harness()
        h.submit(standalone(entry(side: .sell, type: .stop, stop: "95.00")))
        #expect(h.deliver(bar(0, "100.00", "101.00", "95.01", "96.00")).fills.isEmpty)
    }

    @Test func stopSellGapsThroughFillsAtOpen() {
        var h = Harness()
        h.submit(standalone(entry(side: .sell, type: .stop, stop: "95.00")))
        #expect(h.deliver(bar(0, "93.00", "94.00", "90.00", "91.00")).fills.map(\.price) == [p("93.00")])
    }

    @Test(arguments: [("100.00", "106.00", "105.00"), ("107.00", "108.00", "107.00")])
    func stopBuyTriggersAtTheStopOrAtAGapOpen(open: String, high: String, expected: String) {
        var h = Harness()
        h.submit(standalone(entry(type: .stop, stop: "105.00")))
        #expect(h.deliver(bar(0, open, high, "99.00", "104.00")).fills.map(\.price) == [p(expected)])
    }

    @Test func stopLimitSellFillsAtTheStopWhenItIsWithinTheLimit() {
        var h = Harness()
        h.submit(standalone(entry(side: .sell, type: .stopLimit, limit: "94.00", stop: "95.00")))
        #expect(h.deliver(bar(0, "100.00", "101.00", "93.00", "94.00")).fills.map(\.price) == [p("95.00")])
    }

    @Test func stopLimitGappingThroughTheLimitDoesNotFillThenRestsAsALimit() {
        var h = Harness()
        h.submit(standalone(entry(side: .sell, type: .stopLimit, limit: "94.00", stop: "95.00", tif: .gtc)))
        // Opens at 93, below the limit: the path after the trigger is unknown, so no fill.
        #expect(h.deliver(bar(0, "93.00", "94.50", "92.00", "93.00")).fills.isEmpty)
        #expect(h.status(E1) == .working)
        // Now a resting limit sell at 94: fills when the high reaches it, even though the stop
        // price 95 is not touched again.
        #expect(h.deliver(bar(1, "93.50", "94.20", "93.00", "94.00")).fills.map(\.price) == [p("94.00")])
    }

    @Test func stopLimitSlippageNeverGoesPastTheLimit() {
        var h = Harness(
            PaperBrokerConfig(
                maxVolumeSharePercent: 100, slippageBps: 5, commissionPerShare: .zero,
                commissionMinimum: .zero, commissionMaximumPercent: 0))
        h.submit(standalone(entry(side: .sell, type: .stopLimit, limit: "94.99", stop: "95.00")))
        // 95.00 slipped by 5 bps is 94.9525, worse than the limit: the limit holds.
        #expect(h.deliver(bar(0, "100.00", "101.00", "93.00", "94.00")).fills.map(\.price) == [p("94.99")])
    }

    @Test func triggeredStopWithSharesLeftBecomesAMarketOrder() {
        var h = Harness(
            PaperBrokerConfig(
                maxVolumeSharePercent: 10, slippageBps: 0, commissionPerShare: .zero,
                commissionMinimum: .zero, commissionMaximumPercent: 0))
        h.submit(standalone(entry(side: .sell, quantity: 100, type: .stop, stop: "95.00", tif: .gtc)))
        #expect(h.deliver(bar(0, "100.00", "101.00", "94.00", "96.00", volume: 600)).fills.map(\.quantity) == [60])
        // The next bar stays above the stop, but the triggered stop fills its rest at the open.
        let next = h.deliver(bar(1, "97.00", "98.00", "96.50", "97.00", volume: 600)).fills
        #expect(next.map(\.quantity) == [40])
        #expect(next.map(\.price) == [p("97.00")])
    }

    @Test func marketAndStopFillsSlipAgainstTheTraderRoundedUp() {
        #expect(FillRules.slip(p("100.01"), side: .buy, bps: 5) == p("100.0601"))  // 0.050005 -> 0.0501
        #expect(FillRules.slip(p("100.01"), side: .sell, bps: 5) == p("99.9599"))
        #expect(FillRules.slip(p("95.00"), side: .sell, bps: 5) == p("94.9525"))
        #expect(FillRules.slip(p("95.00"), side: .sell, bps: 0) == p("95.00"))
        #expect(FillRules.slip(p("0.0001"), side: .sell, bps: 10_000) == p("0.0001"))  // never below one unit

        var h = Harness(
            PaperBrokerConfig(
                maxVolumeSharePercent: 100, slippageBps: 5, commissionPerShare: .zero,
                commissionMinimum: .zero, commissionMaximumPercent: 0))
        h.submit(standalone(entry()))
        h.submit(standalone(entry("i2", side: .sell, type: .stop, stop: "95.00", symbol: "MSFT")))
        #expect(h.deliver(bar(0, "100.01", "101.00", "99.00", "100.00")).fills.map(\.price) == [p("100.0601")])
        #expect(h.deliver(bar(0, "96.00", "97.00", "94.00", "95.00", symbol: "MSFT")).fills.map(\.price) == [p("94.9525")])
    }

    @Test func limitFillsDoNotSlip() {
        var h = Harness(
            PaperBrokerConfig(
                maxVolumeSharePercent: 100, slippageBps: 50, commissionPerShare: .zero,
                commissionMinimum: .zero, commissionMaximumPercent: 0))
        h.submit(standalone(entry(type: .limit, limit: "99.00")))
        #expect(h.deliver(bar(0, "100.00", "101.00", "98.00", "100.00")).fills.map(\.price) == [p("99.00")])
    }

    @Test func volumeCapSpreadsAFillOverSeveralBars() {
        var h = Harness(
            PaperBrokerConfig(
                maxVolumeSharePercent: 10, slippageBps: 0, commissionPerShare: .zero,
                commissionMinimum: .zero, commissionMaximumPercent: 0))
        h.submit(standalone(entry(quantity: 250, type: .limit, limit: "100.00", tif: .gtc)))
        // 10 % of 1,009 shares is 100.9: rounded down to 100.
        #expect(h.deliver(bar(0, "99.00", "100.00", "98.00", "99.00", volume: 1009)).fills.map(\.quantity) == [100])
        #expect(h.status(E1) == .partiallyFilled)
        #expect(h.working(E1) == 150)
        #expect(h.deliver(bar(1, "99.00", "100.00", "98.00", "99.00", volume: 1009)).fills.map(\.quantity) == [100])
        #expect(h.deliver(bar(2, "99.00", "100.00", "98.00", "99.00", volume: 1009)).fills.map(\.quantity) == [50])
        #expect(h.status(E1) == .filled)
        #expect(h.exchange.order(E1)?.averageFillPrice == p("99.00"))
        #expect(h.deliver(bar(3, "99.00", "100.00", "98.00", "99.00", volume: 9)).fills.isEmpty)
    }

    @Test func barWithTooLittleVolumeFillsNothing() {
        var h = Harness(
            PaperBrokerConfig(
                maxVolumeSharePercent: 10, slippageBps: 0, commissionPerShare: .zero,
                commissionMinimum: .zero, commissionMaximumPercent: 0))
        h.submit(standalone(entry(tif: .gtc)))
        #expect(h.deliver(bar(0, "99.00", "100.00", "98.00", "99.00", volume: 9)).fills.isEmpty)
        #expect(h.status(E1) == .working)
    }

    @Test func aBarNotNewerThanTheLastOneIsIgnored() {
        var h = Harness()
        h.submit(standalone(entry(quantity: 100, type: .limit, limit: "100.00", tif: .gtc)))
        h.submit(standalone(entry("i2", quantity: 100, type: .limit, limit: "100.00", tif: .gtc)))
        let b = bar(0, "99.00", "100.00", "98.00", "99.00")
        #expect(h.deliver(b).fills.count == 2)
        h.submit(standalone(entry("i3", type: .limit, limit: "100.00", tif: .gtc)), at: t(0, preMarket))
        let again = h.deliver(b)
        #expect(again.reports.isEmpty)
        #expect(again.notices == [.staleBarIgnored("AAPL", start: b.start)])
    }

    @Test(arguments: [
        // shares, price, expected commission (0.005/share, min 1.00, max 1 %)
        (100, "50.00", "1.00"),  // 0.50 per share total, raised to the minimum
        (1000, "50.00", "5.00"),  // per share
        (1000, "0.20", "2.00"),  // 5.00 per share, capped at 1 % of 200.00
        (100, "0.50", "0.50"),  // the 1 % cap (0.50) wins over the minimum (1.00)
    ])
    func commissionIsPerShareWithinMinimumAndMaximum(shares: Int64, price: String, expected: String) {
        let notional = p(price) * Quantity(shares)
        #expect(FillRules.commission(quantity: Quantity(shares), notional: notional, config: .standard) == money(expected))
    }

    @Test func commissionIsChargedOnTheFillAndInCash() {
        var h = Harness(PaperBrokerConfig(maxVolumeSharePercent: 100, slippageBps: 0))
        h.submit(standalone(entry(quantity: 1000, type: .limit, limit: "50.00")))
        let fill = h.deliver(bar(0, "51.00", "52.00", "49.00", "50.00")).fills[0]
        #expect(fill.commission == money("5.00"))
        #expect(h.exchange.cash == money("100000") - money("50000") - money("5.00"))
        #expect(h.exchange.commissionsPaid == money("5.00"))
    }
}
