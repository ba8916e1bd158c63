import ASTCore
import ASTMessages
import Testing

@testable import ASTExecution

/// The plan that keeps protective legs within their position (M10: a reduce-only order or a
/// flatten must never leave stops and targets for more shares than are held).
@Suite struct ProtectiveResizeTests {
    /// The legs of `bracket` as the broker lists them once its entry filled `filled` shares:
    /// the children working that many.
    static func open(_ bracket: BracketOrder, working: Int64, filled: Int64 = 0) -> [BrokerOrder] {
        [bracket.stopLoss, bracket.takeProfit].compactMap { $0 }.map {
            BrokerOrder(
                spec: $0, brokerOrderID: "b-\($0.clientOrderID)", status: filled > 0 ? .partiallyFilled : .working,
                filledQuantity: Quantity(filled), workingQuantity: Quantity(working), averageFillPrice: nil)
        }
    }

    static func long(_ shares: Int64, _ symbol: Symbol = "AAPL") -> BrokerPosition {
        BrokerPosition(symbol: symbol, quantity: Quantity(shares), averagePrice: price("100.00"))
    }

    @Test func aBracketAfterAPartialExitIsCutToThePosition() {
        let b = bracket("i-1", "AAPL", .buy, 100)
        let plan = ProtectiveResize.plan(positions: [Self.long(60)], openOrders: Self.open(b, working: 100))
        #expect(plan.map(\.clientOrderID) == ["i-1.S", "i-1.T"])
        for case .modify(_, let quantity, let reason) in plan {
            #expect(quantity == 60)
            #expect(reason.contains("60 shares"))
        }
        #expect(plan.allSatisfy { if case .modify = $0 { true } else { false } })
    }

    @Test func aFlatSymbolsProtectionIsCancelled() {
        let b = bracket("i-1", "AAPL", .buy, 100)
        let plan = ProtectiveResize.plan(positions: [], openOrders: Self.open(b, working: 100))
        #expect(
            plan == [
                .cancel("i-1.S", reason: "AAPL is flat: no position left to protect"),
                .cancel("i-1.T", reason: "AAPL is flat: no position left to protect"),
            ])
    }

    @Test func protectionWithinThePositionIsLeftAlone() {
        let b = bracket("i-1", "AAPL", .buy, 100)
        #expect(ProtectiveResize.plan(positions: [Self.long(100)], openOrders: Self.open(b, working: 100)).isEmpty)
        #expect(ProtectiveResize.plan(positions: [Self.long(150)], openOrders: Self.open(b, working: 100)).isEmpty)
        // Held children (their entry has not filled) cover nothing yet and are never touched.
        var held = Self.open(b, working: 0)
        for i in held.indices { held[i].status = .held }
        #expect(ProtectiveResize.plan(positions: [], openOrders: held).isEmpty)
    }

    @Test func aPartlyFilledLegKeepsItsFillsAndWorksOnlyWhatIsHeld() {
        // The target sold 30 of 100; its stop works the other 70; an exit then sold 50: 20 held.
        let b = bracket("i-1", "AAPL", .buy, 100)
        var legs = Self.open(b, working: 70)
        legs[1].filledQuantity = 30
        legs[1].status = .partiallyFilled
        let plan = ProtectiveResize.plan(positions: [Self.long(20)], openOrders: legs)
        #expect(plan.count == 2)
        #expect(plan.contains { $0 == .modify("i-1.S", quantity: 20, reason: "protection of AAPL cut to the position of 20 shares") })
        #expect(plan.contains { $0 == .modify("i-1.T", quantity: 50, reason: "protection of AAPL cut to the position of 20 shares") })
    }

    @Test func twoBracketsAreCutFromTheHighestGroupDownAndCancelledWhenNothingIsLeft() {
        // Two brackets of 100 and 50 on one long of 150; an exit sold 80: 70 held.
        let first = bracket("i-1", "AAPL", .buy, 100)
        let second = bracket("i-2", "AAPL", .buy, 50)
        let plan = ProtectiveResize.plan(
            positions: [Self.long(70)], openOrders: Self.open(first, working: 100) + Self.open(second, working: 50))
        // i-2's group (50) goes first and entirely, then i-1's is cut by the other 30 to 70.
        #expect(plan.map(\.clientOrderID) == ["i-1.S", "i-1.T", "i-2.S", "i-2.T"])
        #expect(plan[0] == .modify("i-1.S", quantity: 70, reason: "protection of AAPL cut to the position of 70 shares"))
        if case .cancel = plan[2], case .cancel = plan[3] {} else { Issue.record("i-2's legs are not cancelled: \(plan)") }
    }

    @Test func anOperatorsProtectiveStopIsResizedToo() {
        let stop = OrderSpec(
            clientOrderID: "op-protect-AAPL-1.E", intent: "op-protect-AAPL-1", leg: .entry, symbol: "AAPL", side: .sell,
            quantity: 100, type: .stop, stopPrice: price("90.00"), timeInForce: .gtc, ocaGroup: OperatorOrder.ocaGroup(symbol: "AAPL"))
        #expect(OperatorOrder.isOperatorIntent(stop.intent), "the fixture's intent must be an operator's")
        let order = BrokerOrder(
            spec: stop, brokerOrderID: "b1", status: .working, filledQuantity: .zero, workingQuantity: 100, averageFillPrice: nil)
        let plan = ProtectiveResize.plan(positions: [Self.long(40)], openOrders: [order])
        #expect(plan.map(\.clientOrderID) == ["op-protect-AAPL-1.E"])
        // An entry (a buy or a strategy's sell) is never a protective leg.
        var entry = stop
        entry.type = .market
        entry.stopPrice = nil
        entry.intent = "i-9"
        #expect(!ProtectiveResize.isProtective(entry))
    }

    @Test func aLegOnTheSideThatWouldAddToThePositionIsCancelled() {
        // The long's protection after an exit sold more than was held (now short 10).
        let b = bracket("i-1", "AAPL", .buy, 100)
        let plan = ProtectiveResize.plan(
            positions: [BrokerPosition(symbol: "AAPL", quantity: -10, averagePrice: price("100.00"))],
            openOrders: Self.open(b, working: 100))
        #expect(plan.map(\.clientOrderID) == ["i-1.S", "i-1.T"])
        #expect(plan.allSatisfy { if case .cancel = $0 { true } else { false } })
    }

    @Test func theBookTakesAResizeAndCompletesALegWhoseFillsReachIt() {
        var ledger = Ledger()
        let b = bracket("i-1", "AAPL", .buy, 100)
        ledger.submitAndAccept(b)
        ledger.send(.fill(fill("x1", "i-1.E", .buy, 100, "100.00")))
        ledger.send(.fill(fill("x2", "i-1.T", .sell, 30, "110.00")))
        #expect(ledger.book.order("i-1.T")?.state == .partiallyFilled)
        let out = ledger.send(.modified("i-1.T", quantity: 30, reason: "cut"))
        #expect(ledger.book.order("i-1.T")?.spec.quantity == 30)
        #expect(ledger.book.order("i-1.T")?.state == .filled)
        #expect(out.contains(.orderChanged("i-1.T", from: .partiallyFilled, to: .filled)))
        ledger.send(.modified("i-1.S", quantity: 70, reason: "cut"))
        #expect(ledger.book.order("i-1.S")?.spec.quantity == 70 && ledger.book.order("i-1.S")?.state == .accepted)
        // A resize upwards beyond what the entry bought less what the siblings sold (100 - 30),
        // of a final order or of an unknown one changes nothing.
        #expect(ledger.send(.modified("i-1.S", quantity: 80, reason: "up")).contains { if case .anomaly = $0 { true } else { false } })
        #expect(ledger.book.order("i-1.S")?.spec.quantity == 70)
        #expect(ledger.send(.modified("i-1.T", quantity: 10, reason: "final")).contains { if case .anomaly = $0 { true } else { false } })
        #expect(ledger.send(.modified("nope.S", quantity: 10, reason: "?")).contains { if case .anomaly = $0 { true } else { false } })
    }
}
