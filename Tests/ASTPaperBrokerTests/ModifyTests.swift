import ASTCore
import Foundation
import Testing

@testable import ASTPaperBroker

/// `modify`: a protective leg reduced to a smaller position, so that it never sells more than
/// is held (a 14:30 reduce-only order or a flatten sold part of the position).
@Suite struct ModifyTests {
    /// A long of 100 (bracket stop 95, target 110) of which a standalone market sell sold 40.
    static func reducedLong() -> Harness {
        var h = BracketTests.filledLongBracket()
        h.submit(standalone(entry("r1", side: .sell, quantity: 40)), at: t(1, preMarket))
        let out = h.deliver(bar(1, "100.00", "101.00", "99.00", "100.00"))
        #expect(out.fills.map(\.clientOrderID) == ["r1.E"])
        #expect(h.exchange.positions.map(\.quantity) == [60])
        return h
    }

    @Test func withoutAResizeTheBracketsStopSellsMoreThanIsHeld() {
        // What the resize exists for: the stop still works the entry's 100 shares.
        var h = Self.reducedLong()
        #expect(h.working(S1) == 100)
        h.deliver(bar(2, "96.00", "97.00", "94.00", "94.50"))
        #expect(h.exchange.positions.map(\.quantity) == [-40])
    }

    @Test func aResizedStopSellsOnlyWhatIsHeldAndItsTargetFollows() {
        var h = Self.reducedLong()
        let s = h.send(.modify(S1, quantity: 60, reason: "cut to the position"), at: t(1, afterClose + 1))
        #expect(s.events == [.modified(S1, quantity: 60, reason: "cut to the position")])
        h.send(.modify(T1, quantity: 60, reason: "cut to the position"), at: t(1, afterClose + 1))
        #expect(h.working(S1) == 60 && h.working(T1) == 60)
        #expect(h.exchange.order(S1)?.spec.quantity == 60)
        let out = h.deliver(bar(2, "96.00", "97.00", "94.00", "94.50"))
        #expect(out.fills.map(\.quantity) == [60])
        #expect(h.status(S1) == .filled && h.status(T1) == .cancelled)
        #expect(h.exchange.positions.isEmpty)
    }

    @Test func onlyAReductionOfAnOpenOrderAboveItsFillsIsTaken() {
        var h = Self.reducedLong()
        let now = t(1, afterClose + 1)
        func refused(_ input: PaperInput) -> Bool {
            let out = h.send(input, at: now)
            return out.reports.isEmpty && out.notices.contains { if case .modifyRefused = $0 { true } else { false } }
        }
        #expect(refused(.modify(S1, quantity: 100, reason: "same")))
        #expect(refused(.modify(S1, quantity: 150, reason: "up")))
        #expect(refused(.modify("nope.S", quantity: 10, reason: "unknown")))
        #expect(refused(.modify(E1, quantity: 50, reason: "filled entry")))
        #expect(h.working(S1) == 100)
        // Zero or a negative quantity is not an input at all (cancel the order instead).
        #expect(PaperInput.modify(S1, quantity: 0, reason: "zero").validate() != nil)
        #expect(PaperInput.modify(S1, quantity: -5, reason: "negative").validate() != nil)
        // While disconnected the request does not reach the exchange.
        h.send(.inject(.disconnect(seconds: 60)), at: now)
        #expect(refused(.modify(S1, quantity: 60, reason: "offline")))
        #expect(h.working(S1) == 100)
    }

    @Test func aModifyIsReplayedToTheSameExchange() throws {
        var h = Self.reducedLong()
        h.send(.modify(S1, quantity: 60, reason: "cut"), at: t(1, afterClose + 1))
        let decoded = try JSONDecoder().decode(PaperExchange.self, from: try JSONEncoder().encode(h.exchange))
        #expect(decoded == h.exchange)
        let input = try JSONDecoder().decode(
            PaperInput.self, from: try JSONEncoder().encode(PaperInput.modify(S1, quantity: 60, reason: "cut")))
        #expect(input == .modify(S1, quantity: 60, reason: "cut"))
    }
}
