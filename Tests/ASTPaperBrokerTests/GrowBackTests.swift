import ASTCore
import Foundation
import Testing

@testable import ASTPaperBroker

/// A protective leg cut (``ProtectiveResize``'s modify) while its entry was only partly filled
/// grows back with the entry's later fills: the new shares are protected, never more than the
/// entry bought.
@Suite struct GrowBackTests {
    /// 5 % of a 1,000-share bar: 50 shares per bar.
    static let capped = PaperBrokerConfig(
        maxVolumeSharePercent: 5, slippageBps: 0, commissionPerShare: .zero, commissionMinimum: .zero, commissionMaximumPercent: 0)

    static func thinBar(_ day: Int64, low: String, high: String = "102.00") -> Bar {
        bar(day, "101.00", high, low, "101.00", volume: 1_000)
    }

    /// A GTC buy limit of 100 at 100.00 (stop 95, target 110) filled 50 on day 0; a sell of 20
    /// on day 1 (the entry does not trade there); its legs cut to the 30 held, as the broker
    /// process's resize does.
    static func cutDuringAPartialEntry() -> Harness {
        var h = Harness(capped)
        h.submit(bracket(entry(type: .limit, limit: "100.00", tif: .gtc), stop: "95.00", target: "110.00"))
        h.deliver(thinBar(0, low: "99.00"))
        #expect(h.filled(E1) == 50 && h.status(E1) == .partiallyFilled && h.working(S1) == 50)
        h.submit(standalone(entry("r1", side: .sell, quantity: 20)), at: t(0, afterClose + 1))
        h.deliver(thinBar(1, low: "100.50"))
        #expect(h.exchange.positions.map(\.quantity) == [30])
        h.send(.modify(S1, quantity: 30, reason: "cut to the position"), at: t(1, afterClose + 1))
        h.send(.modify(T1, quantity: 30, reason: "cut to the position"), at: t(1, afterClose + 1))
        #expect(h.working(S1) == 30 && h.working(T1) == 30)
        return h
    }

    @Test func theEntrysLaterFillGrowsTheCutLegsBackToThePosition() {
        var h = Self.cutDuringAPartialEntry()
        let out = h.deliver(Self.thinBar(2, low: "99.00"))
        #expect(h.filled(E1) == 100 && h.status(E1) == .filled)
        #expect(h.exchange.positions.map(\.quantity) == [80])
        #expect(h.exchange.order(S1)?.spec.quantity == 80 && h.exchange.order(T1)?.spec.quantity == 80)
        #expect(h.working(S1) == 80 && h.working(T1) == 80, "the 50 new shares are protected too")
        let grown = out.events.compactMap { e -> ClientOrderID? in if case .modified(let id, 80, _) = e { id } else { nil } }
        #expect(grown == [S1, T1], "said with a modified report each: \(out.events)")
        // The stop then closes exactly the position.
        h.deliver(bar(3, "96.00", "97.00", "90.00", "91.00", volume: 1_000_000))
        #expect(h.exchange.positions.isEmpty, "\(h.exchange.positions)")
        #expect(h.exchange.openOrders.isEmpty)
    }

    @Test func aCutLegNeverGrowsAboveWhatTheEntryFilledNorAboveItsQuantityBeforeTheCut() {
        var h = Harness(Self.capped)
        h.submit(bracket(entry(type: .limit, limit: "100.00", tif: .gtc), stop: "95.00", target: "110.00"))
        h.deliver(Self.thinBar(0, low: "99.00"))
        // Cut to 10 while 50 are held (as if 40 had been sold elsewhere) ...
        h.send(.modify(S1, quantity: 10, reason: "cut"), at: t(0, afterClose + 1))
        // ... then the entry fills its last 50: the stop grows by 50 to 60, not to the entry's 100.
        h.deliver(Self.thinBar(1, low: "99.00"))
        #expect(h.exchange.order(S1)?.spec.quantity == 60)
        #expect(h.working(S1) == 60)
        // The uncut target works what the entry bought, as before.
        #expect(h.working(T1) == 100)
    }

    @Test func aGrownLegIsReplayedToTheSameExchange() throws {
        var h = Self.cutDuringAPartialEntry()
        h.deliver(Self.thinBar(2, low: "99.00"))
        let restored = try JSONDecoder().decode(PaperExchange.self, from: try JSONEncoder().encode(h.exchange))
        #expect(restored == h.exchange)
        // The same inputs again give the same exchange.
        var again = Self.cutDuringAPartialEntry()
        again.deliver(Self.thinBar(2, low: "99.00"))
        #expect(again.exchange == h.exchange)
    }
}
