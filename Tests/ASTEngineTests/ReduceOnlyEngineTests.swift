import ASTCore
import ASTExecution
import ASTMessages
import ASTPaperBroker
import ASTRisk
import Testing

@testable import ASTEngine

/// The 14:30 reduction and a bracket stop on the same daily bar, through the engine's wiring
/// (the approval turned into an order by ``BracketBuilder`` as ast-broker does, the exchange, the
/// reconciler): the position ends flat, never short, and the reconciler's book agrees.
@Suite struct ReduceOnlyEngineTests {
    @Test func aStopAndTheTwoThirtyReductionOnTheSameBarEndFlatInTheExchangeAndTheBook() throws {
        typealias T = ProtectiveResizeEngineTests
        let engine = try Engine(config: Fixture.config, market: Fixture.market)
        let paper = PaperBrokerConfig(maxVolumeSharePercent: 100, slippageBps: 0, commissionPerShare: .zero, commissionMinimum: .zero)
        var run = EngineRun(
            engine: engine, gate: try RiskGate(limits: Fixture.config.limits, restoring: .firstStart(at: T.open(-1))),
            exchange: PaperExchange(name: "broker@paper", config: paper))
        let e = T.entry("b1", .buy, 100)
        let stop = OrderSpec(
            clientOrderID: "b1.S", intent: "b1", leg: .stopLoss, symbol: "AAPL", side: .sell, quantity: 100, type: .stop,
            stopPrice: Price("95.00")!, timeInForce: .gtc, parent: e.clientOrderID, ocaGroup: "b1.oca")
        run.broker(.submit(BracketOrder(intent: "b1", entry: e, stopLoss: stop, takeProfit: nil)), T.open(-1))
        run.broker(.bar(T.bar(0, low: "99.00", high: "101.00")), T.open(0).advanced(by: .seconds(25_000)))
        #expect(run.exchange.positions.map(\.quantity) == [100])

        // 14:30 of the next session: the gate's approval of the safe-reducing sell of 40.
        let at = T.open(1).advanced(by: .seconds(5 * 3_600))
        let intent: IntentID = "2025-07-02.safe-reduce.AAPL"
        let approval = Approval(
            id: ApprovalID(for: intent), intent: intent, symbol: "AAPL", side: .sell, quantity: 40, requestedQuantity: 40,
            entry: .market, stopLoss: nil, takeProfit: nil, state: .safeReducing, at: at)
        let order = BracketBuilder.bracket(for: approval)
        #expect(order.entry.reduceOnly && order.stopLoss == nil && order.takeProfit == nil)
        run.broker(.submit(order), at)
        // That session's bar goes through the stop: the stop sells the 100 held first; the
        // reduction, due at the close, has nothing left to reduce.
        run.broker(.bar(T.bar(1, low: "90.00", high: "100.00")), T.open(1).advanced(by: .seconds(25_000)))
        #expect(run.exchange.positions.isEmpty, "flat, never short: \(run.exchange.positions)")
        #expect(run.exchange.order(order.entry.clientOrderID)?.status == .cancelled)
        #expect(run.reconciler.portfolio.quantity(of: "AAPL") == .zero, "the reconciler's book agrees")
        #expect(run.reconciler.book.order(order.entry.clientOrderID)?.state.isOpen == false)
        #expect(
            !run.out.reports.contains { if case .fill(let f) = $0.event { f.clientOrderID == order.entry.clientOrderID } else { false } })
    }
}
