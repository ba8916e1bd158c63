import ASTCore
import ASTRisk
import Foundation
import Testing

@testable import ASTExecution

/// AAPL: 100 long at 50.00 through i-1, its stop (sell 100 at 45.00) working. The broker agrees.
private func heldAAPL() -> (Ledger, BrokerAccountState) {
    var l = Ledger()
    l.hold("i-1", "AAPL", .buy, 100, at: "50.00", stop: "45.00")
    let stop = l.book.order("i-1.S")!.spec
    return (l, account(positions: [position("AAPL", 100, "50.00")], open: [stop.atBroker()]))
}

private func reconcile(_ l: Ledger, _ broker: BrokerAccountState, now: Timestamp = at(600)) -> ReconciliationReport {
    Reconciliation.reconcile(book: l.book, portfolio: l.portfolio, broker: broker, now: now)
}

/// Applies the report's local repairs to the ledger, as the shell does.
private func repair(_ l: inout Ledger, _ report: ReconciliationReport) {
    _ = l.book.apply(repairs: report.repairs, portfolio: &l.portfolio, at: report.at)
}

@Test func agreeingBooksReconcileClean() {
    let (l, broker) = heldAAPL()
    let r = reconcile(l, broker)
    #expect(r.isClean)
    #expect(!r.requiresHalt)
    #expect(r.findings.isEmpty)
    #expect(r.repairs.isEmpty)
    #expect(r.riskResult == .clean)
    #expect(r.summary == "Reconciliation with broker@paper at \(at(600)): clean; 1 position and 1 open order agree.")
}

@Test func aMissedFillIsAppliedAndPositionsAreComparedAfterIt() {
    var l = Ledger()
    let b = bracket("i-1", "AAPL", .buy, 100, stop: "45.00", target: nil)
    l.submitAndAccept(b)
    let missed = fill("x-1", "i-1.E", .buy, 100, "50.00", at: at(300))
    let broker = account(positions: [position("AAPL", 100, "50.00")], open: [b.stopLoss!.atBroker()], executions: [missed])
    let r = reconcile(l, broker)
    // The entry is not open at the broker, but the missed fill completes it: not "missing".
    // And the position matches once the fill is applied: no mismatch.
    #expect(r.findings == [.missedFill(missed)])
    #expect(r.repairs == [.applyFill(missed)])
    #expect(!r.requiresHalt)
    #expect(r.riskResult == .clean)
    #expect(r.findings[0].description == "AAPL: execution x-1 (buy 100 at 50.00 for i-1.E) happened at the broker but was never applied")

    repair(&l, r)
    #expect(l.book.order("i-1.E")?.state == .filled)
    #expect(l.portfolio.quantity(of: "AAPL") == 100)
    #expect(reconcile(l, broker).isClean)
}

@Test func anExecutionAlreadyAppliedIsNotMissed() {
    let (l, broker0) = heldAAPL()
    var broker = broker0
    broker.executions = [fill("x-i-1", "i-1.E", .buy, 100, "50.00")]
    #expect(reconcile(l, broker).isClean)
}

@Test func aBrokerOnlyEntryIsCancelledAtTheBroker() {
    let (l, broker0) = heldAAPL()
    var broker = broker0
    let stray = bracket("stray", "TSLA", .buy, 10).entry.atBroker()
    broker.openOrders.append(stray)
    let r = reconcile(l, broker)
    #expect(r.findings == [.orderAtBrokerOnly(stray)])
    #expect(r.repairs == [.cancelAtBroker("stray.E", reason: "open at the broker but not in the book")])
    #expect(!r.requiresHalt)
    #expect(!r.isClean)
}

@Test func aBrokerOnlyStopThatProtectsAPositionIsAdopted() {
    let (l, broker0) = heldAAPL()
    var broker = broker0
    let foreign = bracket("old", "AAPL", .buy, 100, stop: "40.00").stopLoss!.atBroker()
    broker.openOrders.append(foreign)
    let r = reconcile(l, broker)
    #expect(r.findings == [.orderAtBrokerOnly(foreign)])
    #expect(r.repairs == [.adopt(foreign)])
    var repaired = l
    repair(&repaired, r)
    #expect(repaired.book.order("old.S")?.state == .accepted)
    #expect(repaired.book.order("old.S")?.brokerOrderID == "b-old.S")
    #expect(reconcile(repaired, broker).isClean)
}

@Test func aBrokerOnlyChildOfAKnownEntryIsAdopted() {
    var (l, broker) = heldAAPL()
    let b = bracket("i-2", "MSFT", .buy, 10, stop: "90.00", target: "120.00")
    l.send(.submitting(b.entry))
    l.send(.accepted("i-2.E"))
    let heldTarget = b.takeProfit!.atBroker(.held)
    broker.openOrders += [b.entry.atBroker(), heldTarget]
    let r = reconcile(l, broker)
    #expect(r.findings == [.orderAtBrokerOnly(heldTarget)])
    #expect(r.repairs == [.adopt(heldTarget)])
    repair(&l, r)
    #expect(l.book.children(of: "i-2.E") == ["i-2.T"])
}

@Test func anOrderTheBrokerDoesNotListIsMarkedCancelled() {
    var (l, broker) = heldAAPL()
    let b = bracket("i-2", "MSFT", .buy, 10, stop: nil, target: nil)
    l.submitAndAccept(b)
    let r = reconcile(l, broker)
    #expect(r.findings == [.orderMissingAtBroker("i-2.E", symbol: "MSFT", ourState: .accepted)])
    #expect(r.repairs == [.markOrder("i-2.E", .cancelled, reason: "not at the broker")])
    #expect(r.findings[0].description == "MSFT: we have order i-2.E Accepted, the broker does not list it as open")
    repair(&l, r)
    #expect(l.book.order("i-2.E")?.state == .cancelled)
    broker.asOf = at(700)
    #expect(reconcile(l, broker, now: at(700)).isClean)
}

@Test func aSubmitInFlightIsGivenItsGracePeriod() {
    var (l, broker) = heldAAPL()
    _ = l.book.register(bracket("i-2", "MSFT", .buy, 10, stop: nil, target: nil), at: at(590))
    #expect(reconcile(l, broker, now: at(600)).isClean)
    broker.asOf = at(700)
    let r = reconcile(l, broker, now: at(700))
    #expect(r.findings == [.orderMissingAtBroker("i-2.E", symbol: "MSFT", ourState: .pendingSubmit)])
    #expect(r.repairs == [.markOrder("i-2.E", .rejected, reason: "never reached the broker")])
}

@Test func anUnknownOrderTheBrokerNeverSawIsRejected() {
    var (l, broker) = heldAAPL()
    broker.asOf = at(600)
    l.send(.submitting(bracket("i-2", "MSFT", .buy, 10).entry))
    l.send(.unacknowledged("i-2.E", detail: "timeout"))
    let r = reconcile(l, broker)
    #expect(r.findings == [.orderMissingAtBroker("i-2.E", symbol: "MSFT", ourState: .unknown)])
    #expect(r.repairs == [.markOrder("i-2.E", .rejected, reason: "never reached the broker")])
    repair(&l, r)
    #expect(l.book.order("i-2.E")?.state == .rejected)
}

@Test func anUnknownOrderTheBrokerHasTakesTheBrokersState() {
    var (l, broker) = heldAAPL()
    let entry = bracket("i-2", "MSFT", .buy, 10).entry
    l.send(.submitting(entry))
    l.send(.unacknowledged("i-2.E", detail: "timeout"))
    broker.openOrders.append(entry.atBroker())
    let r = reconcile(l, broker)
    #expect(r.findings == [.unknownOrderResolved("i-2.E", symbol: "MSFT", brokerStatus: .working)])
    #expect(r.repairs == [.markOrder("i-2.E", .accepted, reason: "the broker has it working")])
    repair(&l, r)
    #expect(l.book.order("i-2.E")?.state == .accepted)
}

@Test func aQuantityMismatchHalts() {
    let (l, broker0) = heldAAPL()
    var broker = broker0
    broker.positions = [position("AAPL", 60, "50.00")]
    broker.openOrders = [l.book.order("i-1.S")!.spec.atBroker(working: 60)]
    let r = reconcile(l, broker)
    #expect(r.findings == [.positionQuantityMismatch("AAPL", ours: 100, broker: 60)])
    #expect(r.findings[0].severity == .critical)
    #expect(r.findings[0].description == "AAPL: we are long 100 shares, the broker long 60")
    #expect(r.requiresHalt)
    #expect(r.riskResult == .mismatch(r.summary))
    #expect(r.summary.contains("HALT required"))
    #expect(r.summary.contains("AAPL: we are long 100 shares, the broker long 60"))
}

@Test func aPositionOnlyOneSideHoldsIsAMismatch() {
    let (l, broker0) = heldAAPL()
    var broker = broker0
    broker.positions.append(position("MSFT", -20, "300.00"))
    broker.openOrders.append(bracket("m", "MSFT", .sell, 20, stop: "310.00").stopLoss!.atBroker())
    let r = reconcile(l, broker)
    #expect(r.findings.first == .positionQuantityMismatch("MSFT", ours: 0, broker: -20))
    #expect(r.findings.first?.description == "MSFT: we are flat, the broker short 20")
    #expect(r.requiresHalt)
}

@Test(arguments: [("50.01", false), ("49.99", false), ("50.0101", true), ("49.98", true)])
func anAveragePriceMismatchBeyondACentHalts(brokerAverage: String, halts: Bool) {
    let (l, broker0) = heldAAPL()
    var broker = broker0
    broker.positions = [position("AAPL", 100, brokerAverage)]
    let r = reconcile(l, broker)
    #expect(r.requiresHalt == halts)
    #expect(r.findings == (halts ? [.averagePriceMismatch("AAPL", ours: price("50.00"), broker: price(brokerAverage))] : []))
}

@Test func aPositionNotFullyCoveredByWorkingStopsHalts() {
    let (l, broker0) = heldAAPL()
    var broker = broker0
    broker.openOrders = [l.book.order("i-1.S")!.spec.atBroker(working: 60)]
    let r = reconcile(l, broker)
    #expect(r.findings == [.unprotectedPosition("AAPL", quantity: 100, covered: 60)])
    #expect(r.findings[0].description == "AAPL: the broker position is long 100 shares but working stops cover only 60")
    #expect(r.requiresHalt)
}

@Test func heldStopsAndTakeProfitsDoNotProtect() {
    let (l, broker0) = heldAAPL()
    var broker = broker0
    let target = bracket("i-1", "AAPL", .buy, 100, target: "60.00").takeProfit!
    broker.openOrders = [l.book.order("i-1.S")!.spec.atBroker(.held), target.atBroker()]
    let r = reconcile(l, broker)
    #expect(r.findings.contains(.unprotectedPosition("AAPL", quantity: 100, covered: 0)))
}

@Test func stopsOnTheWrongSideDoNotProtectAShort() {
    var l = Ledger()
    l.hold("s-1", "MSFT", .sell, 50, at: "300.00", stop: "310.00")
    let buyStop = l.book.order("s-1.S")!.spec
    #expect(buyStop.side == .buy)
    var broker = account(positions: [position("MSFT", -50, "300.00")], open: [buyStop.atBroker()])
    #expect(reconcile(l, broker).isClean)
    var wrongSide = buyStop
    wrongSide.side = .sell
    broker.openOrders = [wrongSide.atBroker()]
    let r = reconcile(l, broker)
    #expect(r.findings.contains(.unprotectedPosition("MSFT", quantity: -50, covered: 0)))
    #expect(r.findings.contains(.stopWithoutPosition("s-1.S", symbol: "MSFT")))
}

@Test func aStopWithNoPositionIsCancelledAtTheBroker() {
    var (l, broker) = heldAAPL()
    // The MSFT entry was cancelled unfilled, yet its stop works at the broker.
    let b = bracket("i-2", "MSFT", .buy, 10, stop: "90.00", target: nil)
    l.submitAndAccept(b)
    l.send(.cancelled("i-2.E", reason: "end of day"))
    broker.openOrders.append(b.stopLoss!.atBroker())
    let r = reconcile(l, broker)
    #expect(r.findings == [.stopWithoutPosition("i-2.S", symbol: "MSFT")])
    #expect(r.repairs == [.cancelAtBroker("i-2.S", reason: "stop with no position to protect")])
    #expect(!r.requiresHalt)
}

@Test func aStopIsKeptWhileOurBookHoldsAPositionTheBrokerDoesNot() {
    let (l, broker0) = heldAAPL()
    var broker = broker0
    broker.positions = []
    let r = reconcile(l, broker)
    #expect(r.findings == [.positionQuantityMismatch("AAPL", ours: 100, broker: 0)])
    #expect(r.repairs.isEmpty)
}

@Test func aDisconnectedBrokerIsNotReconciled() {
    let (l, broker0) = heldAAPL()
    var broker = broker0
    broker.connected = false
    broker.positions = []
    let r = reconcile(l, broker)
    #expect(r.findings == [.brokerUnavailable(broker: "broker@paper")])
    #expect(r.repairs.isEmpty)
    #expect(r.requiresHalt)
}

/// Every class at once, in one book, on four symbols.
private func combinedScenario() -> (Ledger, BrokerAccountState, [Fill], [BrokerOrder]) {
    var (l, _) = heldAAPL()
    l.hold("n-1", "NVDA", .buy, 10, at: "400.00", stop: "380.00")
    let msft = bracket("m-1", "MSFT", .buy, 20, stop: "290.00", target: nil)
    l.submitAndAccept(msft)
    let missed = fill("x-m", "m-1.E", .buy, 20, "300.00", symbol: "MSFT", at: at(100))
    let stray = bracket("stray", "TSLA", .buy, 5).entry.atBroker()
    let broker = account(
        positions: [position("AAPL", 60, "50.00"), position("MSFT", 20, "300.00"), position("NVDA", 10, "400.00")],
        open: [
            l.book.order("i-1.S")!.spec.atBroker(working: 60), msft.stopLoss!.atBroker(), stray,
            l.book.order("n-1.S")!.spec.atBroker(working: 4),
        ],
        executions: [missed])
    return (l, broker, [missed], [stray])
}

@Test func everyDifferenceAtOnceIsReportedInADeterministicOrder() {
    let (l, broker, fills, strays) = combinedScenario()
    let r = reconcile(l, broker)
    #expect(
        r.findings == [
            .positionQuantityMismatch("AAPL", ours: 100, broker: 60),
            .unprotectedPosition("NVDA", quantity: 10, covered: 4),
            .missedFill(fills[0]),
            .orderAtBrokerOnly(strays[0]),
        ])
    #expect(r.repairs == [.applyFill(fills[0]), .cancelAtBroker("stray.E", reason: "open at the broker but not in the book")])
    #expect(r.requiresHalt)
    #expect(
        r.summary.hasPrefix(
            "Reconciliation with broker@paper at \(at(600)): 2 critical and 2 benign findings; HALT required. AAPL: we are long 100 shares, the broker long 60; NVDA:"
        ))
    #expect(r.summary.hasSuffix("Repairs: apply missed fills: 1, cancel at the broker: 1."))
}

@Test(arguments: 0..<8)
func theReportDoesNotDependOnTheOrderTheBrokerListsThings(seed: Int) throws {
    let (l, broker0, _, _) = combinedScenario()
    var broker = broker0
    var rng = SplitMix64(seed: UInt64(seed))
    broker.openOrders.shuffle(using: &rng)
    broker.positions.shuffle(using: &rng)
    #expect(try json(reconcile(l, broker)) == json(reconcile(l, broker0)))
}

@Test func aReportRoundTripsThroughJSON() throws {
    let (l, broker, _, _) = combinedScenario()
    let r = reconcile(l, broker)
    let back = try JSONDecoder().decode(ReconciliationReport.self, from: Data(try json(r).utf8))
    #expect(back == r)
}

@Test func aThousandPositionsAndFiveThousandOrdersReconcileInLinearTime() {
    var l = Ledger()
    var open: [BrokerOrder] = []
    var positions: [BrokerPosition] = []
    for i in 0..<1000 {
        let symbol = Symbol(validating: "S\(1000 + i)")!
        let b = bracket(IntentID(validating: "h-\(i)")!, symbol, .buy, 100, stop: "40.00", target: "70.00")
        l.submitAndAccept(b)
        l.send(.fill(fill("x-\(i)", b.entry.clientOrderID, .buy, 100, "50.00", symbol: symbol)))
        open += [b.stopLoss!.atBroker(), b.takeProfit!.atBroker()]
        positions.append(position(symbol, 100, "50.00"))
        for k in 0..<2 {
            let e = bracket(IntentID(validating: "e-\(i)-\(k)")!, symbol, .buy, 10, stop: nil, target: nil).entry
            l.submitAndAccept(bracket(IntentID(validating: "e-\(i)-\(k)")!, symbol, .buy, 10, stop: nil, target: nil))
            open.append(e.atBroker())
        }
    }
    #expect(l.book.orders.count == 5000)
    let broker = account(positions: positions, open: open)
    let clock = ContinuousClock()
    var report: ReconciliationReport?
    let elapsed = clock.measure { report = reconcile(l, broker) }
    #expect(report?.isClean == true)
    #expect(report?.summary.contains("1000 positions and 4000 open orders agree") == true)
    #expect(elapsed < .seconds(10), "reconciling took \(elapsed)")
}

@Test func anEntryWeConsiderCancelledButTheBrokerStillWorksIsCancelledAgain() {
    var (l, broker) = heldAAPL()
    let b = bracket("i-2", "MSFT", .buy, 10, stop: nil, target: nil)
    l.submitAndAccept(b)
    l.send(.cancelled("i-2.E", reason: "operator"))
    let working = b.entry.atBroker()
    broker.openOrders.append(working)
    let r = reconcile(l, broker)
    #expect(r.findings == [.orderAtBrokerOnly(working)])
    #expect(r.repairs == [.cancelAtBroker("i-2.E", reason: "open at the broker but not in the book")])
}

@Test func applyingRepairsLeavesCancelsToTheShell() {
    var (l, broker) = heldAAPL()
    let stray = bracket("stray", "TSLA", .buy, 5).entry.atBroker()
    broker.openOrders.append(stray)
    let r = reconcile(l, broker)
    let before = l.book
    repair(&l, r)
    #expect(l.book == before)
    #expect(r.repairs.allSatisfy { !$0.isLocal })
}
