import ASTCore
import Testing

@testable import ASTRisk

/// ``RiskInput/validate()``: absurd numbers are refused before the risk gate journals them;
/// what the gate decides on its merits still reaches it.
@Suite struct RiskInputValidationTests {
    @Test func ordinaryInputsAreAccepted() {
        #expect(RiskInput.intent(intent(quantity: 100, limit: "100.00", target: "110.00")).validate() == nil)
        #expect(RiskInput.mark(MarketMark(symbol: "AAPL", price: price("100.00"), at: t0)).validate() == nil)
        #expect(RiskInput.command(.resume(to: .active)).validate() == nil)
    }

    @Test func aZeroQuantityIsLeftToTheGateToBlock() {
        #expect(RiskInput.intent(intent(quantity: 0)).validate() == nil)
    }

    @Test(arguments: [Int64.max, Int64.min, 1_000_000_001])
    func absurdQuantitiesAreRefused(quantity: Int64) {
        #expect(RiskInput.intent(intent(quantity: quantity)).validate()?.code == .outOfRange)
    }

    @Test func absurdPricesAndTimesAreRefused() {
        var g = intent(quantity: 10)
        g.stopLoss = Price(units: .max)
        #expect(RiskInput.intent(g).validate()?.code == .outOfRange)
        g = intent(quantity: 10)
        g.createdAt = Timestamp(nanoseconds: .max)
        #expect(RiskInput.intent(g).validate()?.code == .outOfRange)
        #expect(RiskInput.mark(MarketMark(symbol: "AAPL", price: Price(units: .min), at: t0)).validate()?.code == .outOfRange)
    }

    @Test func portfolioSnapshotsBeyondTheirBoundsAreRefused() {
        let fine = PortfolioSnapshot(
            asOf: t0, cash: Money(units: 1_000_000_000), equity: Money(units: 1_000_000_000),
            peakEquity: Money(units: 1_000_000_000), startOfDayEquity: Money(units: 1_000_000_000),
            positions: ["AAPL": PositionSnapshot(quantity: 10, averagePrice: price("100"), lastMark: price("101"))])
        #expect(RiskInput.portfolio(fine).validate() == nil)
        var p = fine
        p.cash = Money(units: .max)
        #expect(RiskInput.portfolio(p).validate()?.code == .outOfRange)
        p = fine
        p.openOrders = -1
        #expect(RiskInput.portfolio(p).validate()?.code == .outOfRange)
        p = fine
        p.positions["AAPL"]?.quantity = Quantity(.max)
        #expect(RiskInput.portfolio(p).validate()?.code == .outOfRange)
    }

    @Test func oversizedTextsAreRefused() {
        let huge = String(repeating: "x", count: 2_000)
        #expect(RiskInput.command(.halt(reason: huge)).validate()?.code == .tooLarge)
        #expect(RiskInput.journalVerificationFailed(detail: huge).validate()?.code == .tooLarge)
    }
}

@Suite struct AlertValidationTests {
    @Test func alertsBeyondTheirSizesOrTimesAreRefused() {
        let fine = Alert(priority: .p0, key: "halted", title: "AST risk gate HALTED", text: "broker down", at: t0)
        #expect(fine.validate() == nil)
        var a = fine
        a.text = String(repeating: "x", count: Alert.maxTextBytes + 1)
        #expect(a.validate()?.code == .tooLarge)
        a = fine
        a.key = String(repeating: "k", count: 1_000_000)
        #expect(a.validate()?.code == .tooLarge)
        a = fine
        a.at = Timestamp(nanoseconds: .max)
        #expect(a.validate()?.code == .outOfRange)
    }
}
