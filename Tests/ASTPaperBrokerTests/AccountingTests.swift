import ASTCore
import Testing

@testable import ASTPaperBroker

/// Cash, positions, average prices and realised P&L.
@Suite struct AccountingTests {
    /// Fills a standalone market order of `quantity` on `side` at `price` on day `day`.
    static func trade(_ h: inout Harness, _ intent: IntentID, _ side: Side, _ quantity: Int64, at price: String, day: Int64) {
        h.submit(standalone(entry(intent, side: side, quantity: quantity)), at: t(day, preMarket))
        let fills = h.deliver(bar(day, price, price, price, price)).fills
        precondition(fills.count == 1, "expected one fill on day \(day)")
    }

    @Test func longPositionAveragesOnIncreaseAndRealisesOnReduce() {
        var h = Harness()
        Self.trade(&h, "a", .buy, 100, at: "100.00", day: 0)
        Self.trade(&h, "b", .buy, 50, at: "106.00", day: 1)
        #expect(h.exchange.positions == [BrokerPosition(symbol: "AAPL", quantity: 150, averagePrice: p("102.00"))])
        #expect(h.exchange.cash == money("84700"))

        Self.trade(&h, "c", .sell, 60, at: "110.00", day: 2)
        // 60 × 110 − 60 × 102 = 480; the average of what is left does not move.
        #expect(h.exchange.realizedPnL == money("480"))
        #expect(h.exchange.positions == [BrokerPosition(symbol: "AAPL", quantity: 90, averagePrice: p("102.00"))])
        #expect(h.exchange.cash == money("91300"))
        // Equity marks the 90 shares at the last close (110).
        #expect(h.exchange.equity == money("101200"))
    }

    @Test func shortPositionRealisesOnCoverAndFlipsToLong() {
        var h = Harness()
        Self.trade(&h, "a", .sell, 100, at: "50.00", day: 0)
        #expect(h.exchange.positions == [BrokerPosition(symbol: "AAPL", quantity: -100, averagePrice: p("50.00"))])
        #expect(h.exchange.cash == money("105000"))

        // Buying 150 covers the 100 short (+5.00 each) and opens 50 long at 45.
        Self.trade(&h, "b", .buy, 150, at: "45.00", day: 1)
        #expect(h.exchange.realizedPnL == money("500"))
        #expect(h.exchange.positions == [BrokerPosition(symbol: "AAPL", quantity: 50, averagePrice: p("45.00"))])
        #expect(h.exchange.cash == money("98250"))

        // Selling 80 closes the 50 long (−5.00 each) and flips to 30 short at 40.
        Self.trade(&h, "c", .sell, 80, at: "40.00", day: 2)
        #expect(h.exchange.realizedPnL == money("250"))
        #expect(h.exchange.positions == [BrokerPosition(symbol: "AAPL", quantity: -30, averagePrice: p("40.00"))])
        #expect(h.exchange.cash == money("101450"))

        Self.trade(&h, "d", .buy, 30, at: "41.00", day: 3)
        #expect(h.exchange.realizedPnL == money("220"))
        #expect(h.exchange.positions.isEmpty)
        #expect(h.exchange.cash == money("100220"))
    }

    @Test func averagePriceRoundsToTheNearestUnitButTheBasisStaysExact() {
        var h = Harness()
        Self.trade(&h, "a", .buy, 2, at: "10.0001", day: 0)
        Self.trade(&h, "b", .buy, 1, at: "10.00", day: 1)
        // Basis 30.0002 over 3 shares = 10.0000667: reported 10.0001.
        #expect(h.exchange.positions.map(\.averagePrice) == [p("10.0001")])
        Self.trade(&h, "c", .sell, 3, at: "10.00", day: 2)
        #expect(h.exchange.realizedPnL == money("-0.0002"))  // exact, not 3 × −0.0001
        #expect(h.exchange.cash == money("100000") - money("0.0002"))
    }

    @Test func buysDebitNotionalPlusCommissionAndSellsCreditNotionalMinusCommission() {
        var h = Harness(PaperBrokerConfig(maxVolumeSharePercent: 100, slippageBps: 0))
        Self.trade(&h, "a", .buy, 1000, at: "50.00", day: 0)
        #expect(h.exchange.cash == money("100000") - money("50000") - money("5.00"))
        Self.trade(&h, "b", .sell, 1000, at: "51.00", day: 1)
        #expect(h.exchange.cash == money("100000") + money("1000") - money("10.00"))
        #expect(h.exchange.realizedPnL == money("1000"))  // gross of commissions
        #expect(h.exchange.commissionsPaid == money("10.00"))
    }

    @Test func executionIdsAndFillTimesAreDeterministic() {
        var h = Harness()
        Self.trade(&h, "a", .buy, 10, at: "10.00", day: 0)
        Self.trade(&h, "b", .sell, 10, at: "11.00", day: 1)
        let executions = h.exchange.accountState(executionsSince: t(1, 0), now: t(2, 0)).executions
        #expect(executions.map(\.executionID) == [ExecutionID("broker@paper-x2")])
        #expect(executions.map(\.at) == [t(1, afterClose)])
        #expect(h.exchange.executions.map(\.executionID.rawValue) == ["broker@paper-x1", "broker@paper-x2"])
    }
}
