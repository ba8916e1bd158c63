import ASTCore
import Foundation
import Testing

@testable import ASTExecution

@Test func registeredBracketLegsWaitInPendingSubmitLinkedToTheirEntry() {
    var book = OrderBook()
    let out = book.register(bracket(), at: t0)
    #expect(
        out == [
            .orderChanged("i-1.E", from: nil, to: .pendingSubmit), .orderChanged("i-1.S", from: nil, to: .pendingSubmit),
            .orderChanged("i-1.T", from: nil, to: .pendingSubmit),
        ])
    #expect(book.children(of: "i-1.E") == ["i-1.S", "i-1.T"])
    #expect(book.children(of: "i-1.S") == [])
    #expect(book.openEntryOrderCount == 1)
}

@Test func submitAcknowledgeAcceptWalksTheStatesAndKeepsTheBrokerID() {
    var l = Ledger()
    let b = bracket()
    _ = l.book.register(b, at: t0)
    #expect(l.send(.submitting(b.entry)) == [.orderChanged("i-1.E", from: .pendingSubmit, to: .submitted)])
    #expect(l.send(.acknowledged("i-1.E", brokerOrderID: "B42")) == [])
    #expect(l.send(.accepted("i-1.E"), at: at(1)) == [.orderChanged("i-1.E", from: .submitted, to: .accepted)])
    let e = l.book.order("i-1.E")
    #expect(e?.brokerOrderID == "B42")
    #expect(e?.updatedAt == at(1))
}

@Test func submittingAnOrderTheBookHasNotSeenAddsItAsSubmitted() {
    var l = Ledger()
    #expect(l.send(.submitting(bracket().entry)) == [.orderChanged("i-1.E", from: nil, to: .submitted)])
}

@Test func aReportSeenTwiceIsAppliedOnce() {
    var l = Ledger()
    l.submitAndAccept(bracket())
    let report = ExecutionReport(
        id: "r-fill", broker: paperBroker, event: .fill(fill("x-1", "i-1.E", .buy, 100, "50.00")), at: t0)
    #expect(l.book.apply(report, portfolio: &l.portfolio).contains(.portfolioChanged))
    let before = (l.book, l.portfolio)
    #expect(l.book.apply(report, portfolio: &l.portfolio) == [.duplicateIgnored("report broker@paper/r-fill")])
    #expect(l.book == before.0)
    #expect(l.portfolio == before.1)
}

@Test func aFillSeenInTwoReportsCountsOnce() {
    var l = Ledger()
    l.submitAndAccept(bracket())
    let f = fill("x-1", "i-1.E", .buy, 40, "50.00")
    l.send(.fill(f))
    #expect(l.send(.fill(f)) == [.duplicateIgnored("execution x-1 of i-1.E")])
    #expect(l.book.order("i-1.E")?.filledQuantity == 40)
    #expect(l.portfolio.quantity(of: "AAPL") == 40)
}

@Test func replayingEveryReportAgainChangesNothing() throws {
    var l = Ledger()
    l.submitAndAccept(bracket())
    l.send(.fill(fill("x-1", "i-1.E", .buy, 40, "50.00")))
    l.send(.fill(fill("x-2", "i-1.E", .buy, 60, "50.50")))
    let state = (l.book, l.portfolio)
    for report in l.log {
        let out = l.book.apply(report, portfolio: &l.portfolio)
        #expect(out.count == 1)
        if case .duplicateIgnored = out.first {} else { Issue.record("\(report.id) was applied again: \(out)") }
    }
    #expect(l.book == state.0)
    #expect(l.portfolio == state.1)

    // A fresh book fed the same log ends in the same state, byte for byte.
    var fresh = Ledger()
    for report in l.log { _ = fresh.book.apply(report, portfolio: &fresh.portfolio) }
    #expect(try json(fresh.book) == json(l.book))
    #expect(fresh.portfolio == l.portfolio)
}

@Test func partialThenCompleteFillsAverageThePrice() {
    var l = Ledger()
    l.submitAndAccept(bracket())
    #expect(
        l.send(.fill(fill("x-1", "i-1.E", .buy, 40, "50.00"))) == [
            .orderChanged("i-1.E", from: .accepted, to: .partiallyFilled), .fillApplied(fill("x-1", "i-1.E", .buy, 40, "50.00")),
            .portfolioChanged,
        ])
    let out = l.send(.fill(fill("x-2", "i-1.E", .buy, 60, "51.00")))
    #expect(out.first == .orderChanged("i-1.E", from: .partiallyFilled, to: .filled))
    let e = l.book.order("i-1.E")
    #expect(e?.filledQuantity == 100)
    #expect(e?.averageFillPrice == price("50.60"))
    #expect(l.portfolio.positions["AAPL"]?.averagePrice == price("50.60"))
    #expect(l.book.openEntryOrderCount == 0)
}

@Test func aStopCompletesAtItsEntrysFinalFilledQuantity() {
    var l = Ledger()
    l.submitAndAccept(bracket())
    l.send(.fill(fill("x-1", "i-1.E", .buy, 60, "50.00")))
    l.send(.cancelled("i-1.E", reason: "end of day"))
    // The stop (spec 100) follows its entry's 60 shares: 60 filled completes it.
    let out = l.send(.fill(fill("x-2", "i-1.S", .sell, 60, "95.00")))
    #expect(out.first == .orderChanged("i-1.S", from: .accepted, to: .filled))
    #expect(l.portfolio.positions.isEmpty)
}

@Test func aChildPartlyFilledCompletesWhenItsEntryIsDone() {
    var l = Ledger()
    l.submitAndAccept(bracket())
    l.send(.fill(fill("x-1", "i-1.E", .buy, 60, "50.00")))
    l.send(.fill(fill("x-2", "i-1.S", .sell, 60, "95.00")))
    #expect(l.book.order("i-1.S")?.state == .partiallyFilled)
    let out = l.send(.cancelled("i-1.E", reason: "end of day"))
    #expect(
        out == [
            .orderChanged("i-1.E", from: .partiallyFilled, to: .cancelled), .orderChanged("i-1.S", from: .partiallyFilled, to: .filled),
        ])
}

@Test func bracketLinksFollowTheParentNotTheArrivalOrder() {
    var l = Ledger()
    let b1 = bracket("i-1", "AAPL", .buy, 100)
    let b2 = bracket("i-2", "AAPL", .buy, 50)
    // Children of the second bracket arrive before the first's.
    for leg in [b2.takeProfit!, b1.stopLoss!, b2.entry, b1.entry, b2.stopLoss!, b1.takeProfit!] { l.send(.submitting(leg)) }
    #expect(l.book.children(of: "i-1.E") == ["i-1.S", "i-1.T"])
    #expect(l.book.children(of: "i-2.E") == ["i-2.S", "i-2.T"])
}

@Test func aFillForAnUnknownOrderIsFlaggedAndStillCounted() {
    var l = Ledger()
    let f = fill("x-9", "manual-1", .buy, 10, "20.00", symbol: "MSFT")
    let out = l.send(.fill(f))
    #expect(out.count == 3)
    if case .anomaly(let text) = out.first { #expect(text.contains("does not know")) } else { Issue.record("\(out)") }
    #expect(out.suffix(2) == [.fillApplied(f), .portfolioChanged])
    #expect(l.portfolio.quantity(of: "MSFT") == 10)
    #expect(l.book.hasApplied(ExecutionID("x-9")))
}

@Test func anIllegalTransitionIsAnAnomalyAndTheStateStays() {
    var l = Ledger()
    l.submitAndAccept(bracket())
    l.send(.fill(fill("x-1", "i-1.E", .buy, 100, "50.00")))
    let out = l.send(.cancelled("i-1.E", reason: "too late"))
    #expect(out == [.anomaly("i-1.E: cancelled is not legal in state Filled; ignored")])
    #expect(l.book.order("i-1.E")?.state == .filled)
}

@Test func anEventForAnOrderTheBookDoesNotKnowIsAnAnomaly() {
    var l = Ledger()
    #expect(l.send(.accepted("ghost.E")) == [.anomaly("ghost.E: accepted for an order the book does not know; ignored")])
}

@Test func aFillAfterCancelCountsAndIsFlagged() {
    var l = Ledger()
    l.submitAndAccept(bracket())
    l.send(.cancelled("i-1.E", reason: "operator"))
    let out = l.send(.fill(fill("x-1", "i-1.E", .buy, 30, "50.00")))
    #expect(out.contains(.anomaly("i-1.E: fill after Cancelled (30 at 50.00); counted")))
    #expect(l.book.order("i-1.E")?.state == .cancelled)
    #expect(l.book.order("i-1.E")?.filledQuantity == 30)
    #expect(l.portfolio.quantity(of: "AAPL") == 30)
}

@Test func anOverfillIsFlaggedAndCounted() {
    var l = Ledger()
    l.submitAndAccept(bracket())
    l.send(.fill(fill("x-1", "i-1.E", .buy, 100, "50.00")))
    let out = l.send(.fill(fill("x-2", "i-1.E", .buy, 5, "50.00")))
    #expect(out.contains(.anomaly("i-1.E: filled 105 shares of an order for 100")))
    #expect(l.portfolio.quantity(of: "AAPL") == 105)
}

@Test func anInvalidFillIsNotApplied() {
    var l = Ledger()
    l.submitAndAccept(bracket())
    let out = l.send(.fill(fill("x-1", "i-1.E", .buy, 0, "50.00")))
    #expect(out == [.anomaly("execution x-1 of i-1.E not applied: quantity 0 is not positive")])
    #expect(!l.book.hasApplied(ExecutionID("x-1")))
    #expect(l.portfolio == Portfolio(startingCash: money("100000")))
}

@Test func anUnacknowledgedSubmitResolvesByAskingTheBroker() {
    var l = Ledger()
    let b = bracket()
    l.send(.submitting(b.entry))
    l.send(.submitting(b.stopLoss!))
    #expect(l.send(.unacknowledged("i-1.E", detail: "timeout")) == [.orderChanged("i-1.E", from: .submitted, to: .unknown)])
    #expect(l.send(.unacknowledged("i-1.S", detail: "timeout")) == [.orderChanged("i-1.S", from: .submitted, to: .unknown)])
    // The broker has the entry working; it never heard of the stop.
    #expect(l.book.resolve("i-1.E", brokerStatus: .working, at: at(5)) == [.orderChanged("i-1.E", from: .unknown, to: .accepted)])
    #expect(l.book.resolve("i-1.S", brokerStatus: nil, at: at(5)) == [.orderChanged("i-1.S", from: .unknown, to: .rejected)])
    // Resolution is for Unknown orders only.
    #expect(
        l.book.resolve("i-1.E", brokerStatus: .filled, at: at(6)) == [
            .anomaly("i-1.E: resolved(filled) is not legal in state Accepted; ignored")
        ])
}

@Test func aFillResolvesAnUnknownOrderToo() {
    var l = Ledger()
    l.send(.submitting(bracket().entry))
    l.send(.unacknowledged("i-1.E", detail: "timeout"))
    l.send(.fill(fill("x-1", "i-1.E", .buy, 100, "50.00")))
    #expect(l.book.order("i-1.E")?.state == .filled)
}

@Test func reportsFromTwoBrokersWithTheSameIdAreBothApplied() {
    var book = OrderBook()
    var portfolio = Portfolio(startingCash: money("1000"))
    let a = ExecutionReport(id: "1", broker: "broker@paper", event: .submitting(bracket("i-1").entry), at: t0)
    let b = ExecutionReport(id: "1", broker: "broker@ibkr", event: .submitting(bracket("i-2").entry), at: t0)
    _ = book.apply(a, portfolio: &portfolio)
    _ = book.apply(b, portfolio: &portfolio)
    #expect(book.orders.count == 2)
}

@Test func bookRoundTripsThroughJSONAndKeepsItsLinksAndDedup() throws {
    var l = Ledger()
    l.submitAndAccept(bracket())
    l.send(.fill(fill("x-1", "i-1.E", .buy, 100, "50.00")))
    let back = try JSONDecoder().decode(OrderBook.self, from: Data(try json(l.book).utf8))
    #expect(back == l.book)
    #expect(back.children(of: "i-1.E") == ["i-1.S", "i-1.T"])
    var p = l.portfolio
    var copy = back
    #expect(copy.apply(l.log.last!, portfolio: &p).count == 1)
}

@Test func aCommissionReportedAfterItsFillIsChargedOnceAndOnlyForAnAppliedExecution() {
    var l = Ledger()
    l.submitAndAccept(bracket())
    l.send(.fill(fill("x-1", "i-1.E", .buy, 100, "50.00")))
    let cash = l.portfolio.cash
    let late = ExecutionEvent.commission(ExecutionID("x-1"), "i-1.E", amount: money("1.25"))
    #expect(l.send(late) == [.portfolioChanged])
    #expect(l.portfolio.cash == cash - money("1.25") && l.portfolio.commissions == money("1.25"))
    // The same report again changes nothing; a commission of an execution the book never applied is an anomaly.
    let again = l.log.last!
    #expect(l.book.apply(again, portfolio: &l.portfolio) == [.duplicateIgnored("report broker@paper/\(again.id)")])
    let unknown = l.send(.commission(ExecutionID("x-9"), "i-1.E", amount: money("1.00")))
    #expect(unknown.count == 1 && unknown.allSatisfy { if case .anomaly = $0 { true } else { false } })
    #expect(l.portfolio.cash == cash - money("1.25"))
}
