import ASTCore
import ASTRisk
import Testing

@testable import ASTExecution

@Test func marketBuyBecomesEntryStopAndTargetLinkedInOneOCAGroup() {
    let b = BracketBuilder.bracket(for: approval("i-7", "AAPL", .buy, 100))
    #expect(b.intent == "i-7")
    #expect(
        b.entry
            == OrderSpec(
                clientOrderID: "i-7.E", intent: "i-7", leg: .entry, symbol: "AAPL", side: .buy, quantity: 100, type: .market,
                timeInForce: .day))
    #expect(
        b.stopLoss
            == OrderSpec(
                clientOrderID: "i-7.S", intent: "i-7", leg: .stopLoss, symbol: "AAPL", side: .sell, quantity: 100, type: .stop,
                stopPrice: price("95.00"), timeInForce: .gtc, parent: "i-7.E", ocaGroup: "i-7.oca"))
    #expect(
        b.takeProfit
            == OrderSpec(
                clientOrderID: "i-7.T", intent: "i-7", leg: .takeProfit, symbol: "AAPL", side: .sell, quantity: 100, type: .limit,
                limitPrice: price("110.00"), timeInForce: .gtc, parent: "i-7.E", ocaGroup: "i-7.oca"))
    #expect(b.legs.map(\.clientOrderID) == ["i-7.E", "i-7.S", "i-7.T"])
}

@Test func limitShortEntryCarriesItsPriceAndTheExitsBuy() {
    let b = BracketBuilder.bracket(
        for: approval("s-1", "MSFT", .sell, 40, limit: "300.00", stop: "310.00", target: "280.00"), timeInForce: .gtc)
    #expect(b.entry.type == .limit)
    #expect(b.entry.limitPrice == price("300.00"))
    #expect(b.entry.timeInForce == .gtc)
    #expect(b.entry.side == .sell)
    #expect(b.stopLoss?.side == .buy)
    #expect(b.takeProfit?.side == .buy)
    #expect(b.stopLoss?.stopPrice == price("310.00"))
    #expect(b.takeProfit?.limitPrice == price("280.00"))
}

@Test func bracketUsesTheApprovedNotTheRequestedQuantity() {
    var a = approval("i-1", "AAPL", .buy, 100)
    a.quantity = 60
    let b = BracketBuilder.bracket(for: a)
    #expect(b.legs.map(\.quantity) == [60, 60, 60])
}

@Test func missingStopOrTargetLeavesThatLegOut() {
    let b = BracketBuilder.bracket(for: approval(stop: "95.00", target: nil))
    #expect(b.stopLoss != nil)
    #expect(b.takeProfit == nil)
    #expect(b.legs.count == 2)
}

@Test func rebuildingTheSameApprovalGivesTheSameIds() {
    #expect(BracketBuilder.bracket(for: approval()) == BracketBuilder.bracket(for: approval()))
}

@Test func anOperatorProtectiveStopIsAStandaloneGTCStopInTheSymbolsOperatorOCAGroup() {
    var a = approval("op-protect-AAPL-5", "AAPL", .sell, 100, stop: nil, target: nil)
    a.entry = .stop(price("95.00"))
    let b = BracketBuilder.bracket(for: a)
    #expect(
        b.entry
            == OrderSpec(
                clientOrderID: "op-protect-AAPL-5.E", intent: "op-protect-AAPL-5", leg: .entry, symbol: "AAPL", side: .sell,
                quantity: 100, type: .stop, stopPrice: price("95.00"), timeInForce: .gtc, ocaGroup: "op-AAPL.oca",
                reduceOnly: true))
    #expect(b.stopLoss == nil && b.takeProfit == nil)
    let flatten = BracketBuilder.bracket(for: approval("op-flatten-AAPL-6", "AAPL", .sell, 100, stop: nil, target: nil))
    #expect(flatten.entry.type == .market && flatten.entry.ocaGroup == "op-AAPL.oca", "one OCA group with the stop")
    #expect(flatten.entry.reduceOnly, "a flatten never sells more than is held")
    #expect(!BracketBuilder.bracket(for: approval()).entry.reduceOnly, "a strategy's entry is not reduce-only")
}
