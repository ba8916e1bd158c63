import ASTCore
import ASTRisk
import Testing

@testable import ASTExecution

/// ``ReconcilerInput/validate()`` and the exact helpers that no longer trap on peer values.
@Suite struct ReconcilerInputValidationTests {
    static func report(_ event: ExecutionEvent) -> ReconcilerInput {
        .report(ExecutionReport(id: "broker@paper-r1", broker: paperBroker, event: event, at: t0))
    }

    @Test func ordinaryReportsAndMarksAreAccepted() {
        #expect(Self.report(.fill(fill("x1", "i1.E", .buy, 100, "100.00"))).validate() == nil)
        #expect(ReconcilerInput.mark(MarketMark(symbol: "AAPL", price: price("100.00"), at: t0)).validate() == nil)
    }

    @Test func fillsWithAbsurdNumbersAreRefused() {
        var f = fill("x1", "i1.E", .buy, 100, "100.00")
        f.price = Price(units: .max)
        #expect(Self.report(.fill(f)).validate()?.code == .outOfRange)
        f = fill("x1", "i1.E", .buy, 100, "100.00")
        f.quantity = Quantity(.max)
        #expect(Self.report(.fill(f)).validate()?.code == .outOfRange)
        // Each within its bound, but the product would overflow the portfolio's cash.
        f = fill("x1", "i1.E", .buy, 1_000_000_000, "1000000.00")
        #expect(Self.report(.fill(f)).validate()?.code == .outOfRange)
        f = fill("x1", "i1.E", .buy, 100, "100.00")
        f.commission = Money(units: -1)
        #expect(Self.report(.fill(f)).validate()?.code == .outOfRange)
    }

    @Test func marksWithAbsurdPricesOrTimesAreRefused() {
        #expect(ReconcilerInput.mark(MarketMark(symbol: "AAPL", price: Price(units: .max), at: t0)).validate()?.code == .outOfRange)
        #expect(ReconcilerInput.mark(MarketMark(symbol: "AAPL", price: price("1"), at: Timestamp(nanoseconds: -5))).validate() != nil)
    }

    @Test func valueBeyondInt64IsHeldNotTrapped() {
        // Before M9.2 this trapped: a mark of Int64.max on a position of 100 shares.
        #expect(Exact.value(Quantity(100), at: Price(units: .max)) == Money(units: .max))
        #expect(Exact.value(Quantity(-100), at: Price(units: .max)) == Money(units: .min))
        #expect(Exact.roundedDivide(10, 0) == 0)
        #expect(Exact.roundedDivide(Int128(Int64.max) * 4, 2) == .max)
    }
}
