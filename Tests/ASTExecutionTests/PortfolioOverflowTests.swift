import ASTCore
import ASTRisk
import Foundation
import Testing

@testable import ASTExecution

/// Many large fills near the ends of 64 bits (M9): every accumulation of the portfolio is
/// checked; a fill that cannot be booked changes nothing and the reconciler fails closed.
@Suite("Portfolio: checked accumulation of fills")
struct PortfolioOverflowTests {
    /// 400,000,000 shares at 1,000,000.00: a notional of 4 x 10^18 units, within 64 bits alone.
    static func big(_ n: Int, _ side: Side = .buy) -> Fill {
        fill("x-big-\(n)", "o-big", side, 400_000_000, "1000000.00")
    }

    @Test func theFillThatWouldOverflowCashIsNotBookedAndChangesNothing() {
        var p = Portfolio(startingCash: money("100000"))
        #expect(p.apply(Self.big(1)) == nil)
        #expect(p.apply(Self.big(2)) == nil)
        let before = p
        let overflow = p.apply(Self.big(3))
        #expect(overflow?.what == "cash")
        #expect(p == before, "nothing of the refused fill is booked")
        #expect(p.equity == money("100000"))
    }

    @Test func aSellIntoCashNearTheTopIsRefused() {
        var p = Portfolio(startingCash: Money(units: .max - 10))
        let before = p
        #expect(p.apply(fill("x-1", "o-1", .sell, 1, "1.00")) != nil)
        #expect(p == before)
    }

    @Test func realisedLossBeyond64BitsIsRefused() {
        // Each round: short 400,000,000 at 0.0001, cover at 1,000,000.00, a loss of about 4 x 10^18.
        var p = Portfolio(startingCash: Money(units: 9_000_000_000_000_000_000))
        for n in 1...2 {
            #expect(p.apply(fill("x-s\(n)", "o-1", .sell, 400_000_000, "0.0001")) == nil)
            #expect(p.apply(fill("x-b\(n)", "o-1", .buy, 400_000_000, "1000000.00")) == nil)
        }
        #expect(p.realizedPnL.units < -7_000_000_000_000_000_000)
        #expect(p.apply(fill("x-s3", "o-1", .sell, 400_000_000, "0.0001")) == nil)
        let before = p
        // The third loss does not fit (cash still would): refused, the rest stays booked.
        #expect(p.apply(fill("x-b3", "o-1", .buy, 400_000_000, "1000000.00"))?.what == "realised P&L")
        #expect(p == before)
    }

    @Test func aMarkThatWouldOverflowTheValueIsNotTaken() {
        var p = Portfolio(startingCash: money("100000"))
        #expect(p.apply(Self.big(1)) == nil)
        let before = p
        let huge = p.mark("AAPL", price: price("100000000.00"), at: at(1))
        #expect(!huge, "a value of 4 x 10^21 units does not fit")
        #expect(p == before)
        let fitting = p.mark("AAPL", price: price("1000001.00"), at: at(2))
        #expect(fitting)
    }

    @Test func theBookFailsClosedOnAFillItCannotBook() {
        var book = OrderBook()
        var p = Portfolio(startingCash: money("100000"))
        _ = book.apply(Self.big(1), portfolio: &p, at: t0)
        _ = book.apply(Self.big(2), portfolio: &p, at: t0)
        let out = book.apply(Self.big(3), portfolio: &p, at: t0)
        #expect(
            out.contains { if case .bookOverflow(let text) = $0 { text.contains("x-big-3") && text.contains("cash") } else { false } },
            "\(out)")
        #expect(!out.contains(.portfolioChanged))
        #expect(!book.hasApplied(ExecutionID("x-big-3")), "not counted as applied")
    }

    @Test func theReconcilerHaltsTradingWithTheOverflowNamed() {
        var core = ReconcilerCore()
        _ = core.handle(.initial(cash: money("100000")), now: t0)
        var last: [ReconcilerOutput] = []
        for n in 1...3 {
            last = core.handle(.report(ExecutionReport(id: "r-\(n)", broker: paperBroker, event: .fill(Self.big(n)), at: t0)), now: t0)
        }
        let mismatch = last.compactMap { if case .result(.mismatch(let text)) = $0 { text } else { nil } }
        #expect(mismatch.count == 1 && mismatch[0].contains("book overflow") && mismatch[0].contains("cash"), "\(last)")
        #expect(last.contains { if case .alert(let a) = $0 { a.priority == .p0 } else { false } })
        #expect(core.portfolio.equity == money("100000"))
    }
}

/// A broker's account with absurd numbers (its answer is outside input): reconciliation compares
/// without a trap and finds the disagreement.
@Test func reconciliationSumsABrokersAbsurdNumbersWithoutATrap() {
    var l = Ledger()
    l.hold("i-1", "AAPL", .buy, 100, at: "50.00", stop: "45.00")
    let stop = l.book.order("i-1.S")!.spec
    var other = stop
    other.clientOrderID = "i-9.S"
    let broker = account(
        positions: [BrokerPosition(symbol: "AAPL", quantity: 100, averagePrice: Price(units: .min))],
        open: [stop.atBroker(working: .max - 1), other.atBroker(working: .max - 1)])
    let report = Reconciliation.reconcile(book: l.book, portfolio: l.portfolio, broker: broker, now: at(600))
    #expect(!report.isClean)
    #expect(report.findings.contains { if case .averagePriceMismatch = $0 { true } else { false } }, "\(report.findings)")
}
