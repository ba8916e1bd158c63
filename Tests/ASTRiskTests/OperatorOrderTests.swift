import ASTCore
import ASTSupervision
import Foundation
import Testing

@testable import ASTRisk

/// `astctl protect` / `astctl flatten` through the gate: allowed in every state (HALTED too),
/// only on the closing side, never beyond the held position; everything else stays refused.
@Suite struct OperatorOrderTests {
    static func order(
        _ kind: OperatorOrderKind, _ symbol: Symbol = "AAPL", quantity: Int64? = nil, stop: String? = nil, reason: String = "test"
    ) -> RiskInput {
        .operatorOrder(
            OperatorOrder(
                kind: kind, symbol: symbol, quantity: quantity.map { Quantity($0) }, stopPrice: stop.map(price), reason: reason,
                operatorUID: 1000))
    }

    /// A HALTED gate holding `holdings` (AAPL long 100 by default), marked at 100.00.
    static func haltedDesk(_ holdings: [Holding] = [Holding("AAPL", 100)]) throws -> Desk {
        var desk = try Desk(loose, in: .halted)
        desk.send(.portfolio(snapshot(holdings)))
        desk.mark(holdings.map(\.symbol))
        return desk
    }

    static func decision(_ outputs: [RiskOutput]) -> RiskDecision? {
        for case .decision(let d) in outputs { return d.decision }
        return nil
    }

    @Test func haltedApprovesAProtectiveStopForTheWholePositionOnTheClosingSide() throws {
        var desk = try Self.haltedDesk()
        let out = desk.send(Self.order(.protect, stop: "95.00"))
        let approval = try #require(Self.decision(out)?.approval)
        #expect(approval.side == .sell)
        #expect(approval.quantity == Quantity(100))
        #expect(approval.entry == .stop(price("95.00")))
        #expect(approval.stopLoss == nil && approval.takeProfit == nil)
        #expect(approval.state == .halted)
        #expect(approval.intent.rawValue.hasPrefix("op-protect-AAPL-"))
        #expect(desk.gate.state == .halted, "an operator order does not leave HALTED")
        let alerts = out.compactMap { if case .alert(let a) = $0 { a } else { nil } }
        #expect(alerts.count == 1)
        #expect(alerts.first?.text.contains("operator uid 1000") == true)
        #expect(alerts.first?.text.contains("reason: test") == true)
    }

    @Test func haltedApprovesAFlattenAtTheMarketForAShortToo() throws {
        var desk = try Self.haltedDesk([Holding("AAPL", -40)])
        let approval = try #require(Self.decision(desk.send(Self.order(.flatten)))?.approval)
        #expect(approval.side == .buy)
        #expect(approval.quantity == Quantity(40))
        #expect(approval.entry == .market)
        // The flatten counts as pending: a second one finds nothing left to close.
        desk.advance(.seconds(1))
        #expect(Self.decision(desk.send(Self.order(.flatten)))?.reason == .operatorNoPosition)
    }

    @Test func haltedStillBlocksEveryStrategyIntent() throws {
        var desk = try Self.haltedDesk()
        #expect(desk.decide(intent("i-sell", "AAPL", .sell, 100, stop: nil)).reason == .tradingHalted)
        #expect(desk.decide(intent("i-buy", quantity: 10)).reason == .tradingHalted)
    }

    @Test func aStrategyIntentWithAStopEntryIsAnInvalidBracket() throws {
        var desk = try Desk(loose)
        desk.send(.portfolio(snapshot([Holding("AAPL", 100)])))
        desk.mark(["AAPL"])
        var group = intent("i-stop", "AAPL", .sell, 100, stop: nil)
        group.entry = .stop(price("95.00"))
        #expect(desk.decide(group).reason == .invalidBracket)
    }

    @Test(arguments: [
        ("flat symbol", OperatorOrderTests.order(.flatten, "MSFT"), ReasonCode.operatorNoPosition),
        ("protect of a flat symbol", OperatorOrderTests.order(.protect, "MSFT", stop: "90.00"), .operatorNoPosition),
        ("flatten beyond the position", OperatorOrderTests.order(.flatten, quantity: 101), .operatorQuantityExceedsPosition),
        ("protect beyond the position", OperatorOrderTests.order(.protect, quantity: 101, stop: "95.00"), .operatorQuantityExceedsPosition),
        ("zero shares", OperatorOrderTests.order(.flatten, quantity: 0), .operatorOrderInvalid),
        ("negative shares", OperatorOrderTests.order(.flatten, quantity: -5), .operatorOrderInvalid),
        ("no reason", OperatorOrderTests.order(.flatten, reason: "  "), .operatorOrderInvalid),
        ("stop above the mark of a long", OperatorOrderTests.order(.protect, stop: "101.00"), .operatorOrderInvalid),
        ("no stop price known", OperatorOrderTests.order(.protect), .operatorStopPriceUnknown),
    ])
    func refusedWithAReasonCode(_ name: String, _ input: RiskInput, _ code: ReasonCode) throws {
        var desk = try Self.haltedDesk()
        let out = desk.send(input)
        #expect(Self.decision(out)?.reason == code, "\(name): \(out)")
        #expect(out.contains { if case .alert = $0 { true } else { false } }, "a refused operator order is alerted too")
    }

    @Test func theOperatorPrefixIsReservedAndAnOperatorStopIsNeverCancelledAsAnEntry() throws {
        var desk = try Desk(loose)
        desk.send(.portfolio(snapshot([Holding("AAPL", 100)])))
        desk.mark(["AAPL"])
        #expect(desk.decide(intent("op-protect-AAPL-1", "AAPL", .sell, 100, stop: nil)).reason == .invalidBracket)
        let cancel = desk.gate.cancelDecision(for: CancelRequest(orderID: "op-protect-AAPL-5.E", kind: .restingUnfilledEntry))
        #expect(!cancel.allowed && cancel.reason == .protectiveStopUntouchable)
        #expect(desk.gate.cancelDecision(for: CancelRequest(orderID: "i-1.E", kind: .restingUnfilledEntry)).allowed)
    }

    @Test func withoutASnapshotNothingIsKnownSoNothingIsApproved() throws {
        var desk = try Desk(loose, in: .halted)
        #expect(Self.decision(desk.send(Self.order(.flatten)))?.reason == .noPortfolio)
    }

    @Test func protectiveStopsNeverCoverMoreThanTheHeldQuantity() throws {
        var desk = try Self.haltedDesk()
        #expect(Self.decision(desk.send(Self.order(.protect, quantity: 60, stop: "95.00")))?.approval?.quantity == Quantity(60))
        desk.advance(.seconds(1))
        // Without a quantity: what the first stop leaves uncovered.
        #expect(Self.decision(desk.send(Self.order(.protect, stop: "95.00")))?.approval?.quantity == Quantity(40))
        desk.advance(.seconds(1))
        #expect(Self.decision(desk.send(Self.order(.protect, stop: "95.00")))?.reason == .operatorQuantityExceedsPosition)
        // A snapshot that shows the position gone forgets the stops.
        desk.send(.portfolio(snapshot([], asOf: desk.now)))
        desk.send(.portfolio(snapshot([Holding("AAPL", 100)], asOf: desk.now)))
        desk.advance(.seconds(1))
        #expect(Self.decision(desk.send(Self.order(.protect, stop: "95.00")))?.approval?.quantity == Quantity(100))
    }

    @Test func protectWithoutAStopPriceUsesTheStopOfThePositionsBracket() throws {
        var desk = try Desk(loose)
        desk.send(.portfolio(snapshot()))
        desk.mark(["AAPL"])
        #expect(desk.decide(intent("i-entry", quantity: 100)).approval != nil)
        desk.advance(.seconds(1))
        desk.send(.portfolio(snapshot([Holding("AAPL", 100)], asOf: desk.now)))
        desk.send(.command(.halt(reason: "stop cancelled at the broker")))
        let approval = try #require(Self.decision(desk.send(Self.order(.protect)))?.approval)
        #expect(approval.entry == .stop(price("95.00")), "the bracket's stop")
    }

    @Test(arguments: [TradingState.active, .safeReducing])
    func allowedInEveryStateNotOnlyHalted(_ state: TradingState) throws {
        var desk = try Desk(loose, in: state)
        desk.send(.portfolio(snapshot([Holding("AAPL", 100)])))
        desk.mark(["AAPL"])
        #expect(Self.decision(desk.send(Self.order(.flatten)))?.approval?.quantity == Quantity(100))
    }

    @Test func replayingTheSameInputsGivesTheSameOperatorDecisions() throws {
        func run() throws -> [RiskOutput] {
            var desk = try Self.haltedDesk()
            var out = desk.send(Self.order(.protect, stop: "95.00"))
            desk.advance(.seconds(1))
            out += desk.send(Self.order(.flatten))
            return out
        }
        #expect(try run() == run())
    }

    @Test func operatorOrdersOutOfRangeAreRefusedBeforeTheJournal() {
        #expect(Self.order(.flatten, quantity: 2_000_000_000).validate() != nil)
        #expect(Self.order(.protect, stop: "2000000.00").validate() != nil)
        #expect(Self.order(.protect, reason: String(repeating: "x", count: 100_000)).validate() != nil)
        #expect(Self.order(.protect, stop: "95.00").validate() == nil)
    }

    @Test func aStopEntryRoundTripsThroughJSON() throws {
        let entry = EntryOrder.stop(price("95.50"))
        let data = try JSONEncoder().encode(entry)
        #expect(String(decoding: data, as: UTF8.self).contains("\"stop\""))
        #expect(try JSONDecoder().decode(EntryOrder.self, from: data) == entry)
    }
}
