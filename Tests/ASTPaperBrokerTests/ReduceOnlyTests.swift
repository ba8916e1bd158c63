import ASTCore
import Foundation
import Testing

@testable import ASTPaperBroker

/// Reduce-only orders (``OrderSpec/reduceOnly``): a bracket stop and the 14:30 reduction that
/// fire on the same daily bar close the position once, never open the other side.
@Suite struct ReduceOnlyTests {
    /// A long of 100 (bracket stop 95, target 110) and a market sell of 40 accepted at 14:30 of
    /// the next session, as the safe-reducing task sends it (it fills at that bar's close).
    static func longWithReduction(reduceOnly: Bool, quantity: Int64 = 40) -> Harness {
        var h = BracketTests.filledLongBracket()
        var r = entry("2024-01-02.safe-reduce.AAPL", side: .sell, quantity: quantity)
        r.reduceOnly = reduceOnly
        h.submit(standalone(r), at: t(1, sessionOpen + 300))
        return h
    }

    /// The bar of that session: its low (94) goes through the stop (95), its close is 94.50.
    static let stopBar = bar(1, "96.00", "97.00", "94.00", "94.50")

    @Test func withoutReduceOnlyAStopAndAReductionOnTheSameBarLeaveTheLongShort() {
        // What reduce-only exists for: the stop sells the 100 held, the reduction 40 more.
        var h = Self.longWithReduction(reduceOnly: false)
        h.deliver(Self.stopBar)
        #expect(h.exchange.positions.map(\.quantity) == [-40])
    }

    @Test func aReduceOnlyReductionOnTheStopsBarIsCancelledAndThePositionEndsFlat() {
        var h = Self.longWithReduction(reduceOnly: true)
        let out = h.deliver(Self.stopBar)
        #expect(out.fills.map(\.clientOrderID) == [S1], "only the stop filled: \(out.fills)")
        #expect(h.exchange.positions.isEmpty, "flat, never short: \(h.exchange.positions)")
        let id = ClientOrderID("2024-01-02.safe-reduce.AAPL.E")
        #expect(h.status(id) == .cancelled)
        #expect(h.exchange.order(id)?.filledQuantity == .zero)
        #expect(
            out.events.contains { if case .cancelled(id, let why) = $0 { why.hasPrefix("reduce-only:") } else { false } },
            "cancelled with the reason: \(out.events)")
    }

    @Test func aReduceOnlyOrderLargerThanThePositionIsCutToWhatIsHeld() {
        // No stop on this bar: the reduction of 150 sells the 100 held and the rest is cancelled.
        var h = Self.longWithReduction(reduceOnly: true, quantity: 150)
        let out = h.deliver(bar(1, "100.00", "101.00", "99.00", "100.50"))
        #expect(out.fills.map(\.quantity) == [100])
        #expect(h.exchange.positions.isEmpty)
        #expect(h.status("2024-01-02.safe-reduce.AAPL.E") == .cancelled)
        // The bracket's legs are left for ProtectiveResize (they are cancelled once flat).
    }

    @Test func aReduceOnlyOrderWithinThePositionFillsAsAnyOther() {
        var h = Self.longWithReduction(reduceOnly: true)
        let out = h.deliver(bar(1, "100.00", "101.00", "99.00", "100.50"))
        #expect(out.fills.map(\.quantity) == [40])
        #expect(h.exchange.positions.map(\.quantity) == [60])
    }

    @Test func aReduceOnlyOrderWithChildrenOrAsAChildIsRejectedAtTheExchange() {
        var h = Harness()
        var e = entry("r9", side: .sell, quantity: 10)
        e.reduceOnly = true
        let out = h.submit(bracket(e, stop: "110.00", target: nil))
        #expect(out.events.contains { if case .rejected(e.clientOrderID, let why) = $0 { why.contains("reduce-only") } else { false } })
        var b = bracket(entry("r8", side: .buy, quantity: 10), stop: "90.00", target: nil)
        b.stopLoss?.reduceOnly = true
        let out2 = h.submit(b)
        #expect(out2.events.contains { if case .rejected(_, let why) = $0 { why.contains("reduce-only") } else { false } })
    }

    @Test func reduceOnlyIsJournaledOnlyWhenSetAndAMissingFieldDecodesAsFalse() throws {
        var r = entry("2024-01-02.safe-reduce.AAPL", side: .sell, quantity: 40)
        let plain = String(decoding: try JSONEncoder().encode(r), as: UTF8.self)
        #expect(!plain.contains("reduce_only"), "older journals re-encode to the same bytes: \(plain)")
        #expect(try JSONDecoder().decode(OrderSpec.self, from: Data(plain.utf8)).reduceOnly == false)
        r.reduceOnly = true
        let encoded = try JSONEncoder().encode(PaperInput.submit(standalone(r)))
        #expect(String(decoding: encoded, as: UTF8.self).contains("\"reduce_only\":true"))
        #expect(try JSONDecoder().decode(PaperInput.self, from: encoded) == .submit(standalone(r)))
        // Replay: the same inputs give the same exchange.
        var a = Self.longWithReduction(reduceOnly: true)
        a.deliver(Self.stopBar)
        let restored = try JSONDecoder().decode(PaperExchange.self, from: try JSONEncoder().encode(a.exchange))
        #expect(restored == a.exchange)
    }

    @Test func theIntentIdDecidesReduceOnly() {
        #expect(OrderSpec.isReduceOnlyIntent("2025-03-05.safe-reduce.CLDG"))
        #expect(OrderSpec.isReduceOnlyIntent("op-flatten-AAPL-1"))
        #expect(OrderSpec.isReduceOnlyIntent("op-protect-AAPL-1"))
        #expect(!OrderSpec.isReduceOnlyIntent("2025-03-05.ma-crossover.AAPL"))
    }
}
