import ASTCore
import ASTExecution
import ASTPaperBroker
import ASTRisk
import Testing

@testable import ASTEngine

/// The engine's wiring between the exchange and ``ProtectiveResize``, as the tree's broker
/// process does it: after a partial exit the bracket's legs are resized to the position, so
/// its stop never sells more than is held.
@Suite struct ProtectiveResizeEngineTests {
    static let day: Int64 = 86_400_000_000_000
    /// 2025-07-01 09:30 New York, plus `days`.
    static func open(_ days: Int64) -> Timestamp { Timestamp(nanoseconds: 1_751_376_600_000_000_000 + days * day) }

    static func bar(_ days: Int64, low: String, high: String) -> Bar {
        Bar(
            symbol: "AAPL", resolution: .day, start: open(days), open: Price("100.00")!, high: Price(high)!, low: Price(low)!,
            close: Price("100.00")!, volume: 10_000_000)
    }

    static func entry(_ intent: IntentID, _ side: Side, _ quantity: Int64) -> OrderSpec {
        OrderSpec(
            clientOrderID: ClientOrderID(intent: intent, leg: .entry), intent: intent, leg: .entry, symbol: "AAPL", side: side,
            quantity: Quantity(quantity), type: .market, timeInForce: .gtc)
    }

    @Test func aPartialExitResizesTheBracketsLegsAndItsStopSellsOnlyWhatIsHeld() throws {
        let engine = try Engine(config: Fixture.config, market: Fixture.market)
        let paper = PaperBrokerConfig(maxVolumeSharePercent: 100, slippageBps: 0, commissionPerShare: .zero, commissionMinimum: .zero)
        var run = EngineRun(
            engine: engine, gate: try RiskGate(limits: Fixture.config.limits, restoring: .firstStart(at: Self.open(-1))),
            exchange: PaperExchange(name: "broker@paper", config: paper))
        let e = Self.entry("b1", .buy, 100)
        let stop = OrderSpec(
            clientOrderID: "b1.S", intent: "b1", leg: .stopLoss, symbol: "AAPL", side: .sell, quantity: 100, type: .stop,
            stopPrice: Price("95.00")!, timeInForce: .gtc, parent: e.clientOrderID, ocaGroup: "b1.oca")
        let target = OrderSpec(
            clientOrderID: "b1.T", intent: "b1", leg: .takeProfit, symbol: "AAPL", side: .sell, quantity: 100, type: .limit,
            limitPrice: Price("110.00")!, timeInForce: .gtc, parent: e.clientOrderID, ocaGroup: "b1.oca")
        run.broker(.submit(BracketOrder(intent: "b1", entry: e, stopLoss: stop, takeProfit: target)), Self.open(-1))
        run.broker(.bar(Self.bar(0, low: "99.00", high: "101.00")), Self.open(0).advanced(by: .seconds(25_000)))
        // A reduce-only sell of 40 (as at 14:30 in SAFE_REDUCING) fills on the next bar.
        let reduce = Self.entry("r1", .sell, 40)
        run.broker(
            .submit(BracketOrder(intent: "r1", entry: reduce, stopLoss: nil, takeProfit: nil)), Self.open(0).advanced(by: .seconds(30_000)))
        run.broker(.bar(Self.bar(1, low: "99.00", high: "101.00")), Self.open(1).advanced(by: .seconds(25_000)))
        #expect(run.exchange.positions.map(\.quantity) == [60])
        #expect(run.exchange.order("b1.S")?.spec.quantity == 60 && run.exchange.order("b1.T")?.spec.quantity == 60)
        #expect(
            run.out.reports.contains {
                $0.event == .modified("b1.S", quantity: 60, reason: "protection of AAPL cut to the position of 60 shares")
            })
        // The reconciler's book follows the broker's resize.
        #expect(run.reconciler.book.order("b1.S")?.spec.quantity == 60)
        // The stop fires: the position is closed, never turned into a short.
        run.broker(.bar(Self.bar(2, low: "90.00", high: "100.00")), Self.open(2).advanced(by: .seconds(25_000)))
        #expect(run.exchange.positions.isEmpty, "\(run.exchange.positions)")
        #expect(run.exchange.openOrders.isEmpty)
    }

    /// A bar of 1,000 shares: with a 5 % volume share an order fills at most 50 on it.
    static func thinBar(_ days: Int64, low: String) -> Bar {
        Bar(
            symbol: "AAPL", resolution: .day, start: open(days), open: Price("101.00")!, high: Price("102.00")!, low: Price(low)!,
            close: Price("101.00")!, volume: 1_000)
    }

    @Test func legsCutDuringAPartialEntryGrowBackWithItsLaterFillsInTheExchangeAndTheBook() throws {
        let engine = try Engine(config: Fixture.config, market: Fixture.market)
        let paper = PaperBrokerConfig(maxVolumeSharePercent: 5, slippageBps: 0, commissionPerShare: .zero, commissionMinimum: .zero)
        var run = EngineRun(
            engine: engine, gate: try RiskGate(limits: Fixture.config.limits, restoring: .firstStart(at: Self.open(-1))),
            exchange: PaperExchange(name: "broker@paper", config: paper))
        var e = Self.entry("b1", .buy, 100)
        e.type = .limit
        e.limitPrice = Price("100.00")!
        let stop = OrderSpec(
            clientOrderID: "b1.S", intent: "b1", leg: .stopLoss, symbol: "AAPL", side: .sell, quantity: 100, type: .stop,
            stopPrice: Price("95.00")!, timeInForce: .gtc, parent: e.clientOrderID, ocaGroup: "b1.oca")
        run.broker(.submit(BracketOrder(intent: "b1", entry: e, stopLoss: stop, takeProfit: nil)), Self.open(-1))
        run.broker(.bar(Self.thinBar(0, low: "99.00")), Self.open(0).advanced(by: .seconds(25_000)))
        #expect(run.exchange.order("b1.E")?.filledQuantity == 50)
        // A sell of 20 (a reduction) fills while the entry does not trade: the stop is cut to 30.
        let reduce = Self.entry("r1", .sell, 20)
        run.broker(
            .submit(BracketOrder(intent: "r1", entry: reduce, stopLoss: nil, takeProfit: nil)), Self.open(0).advanced(by: .seconds(30_000)))
        run.broker(.bar(Self.thinBar(1, low: "100.50")), Self.open(1).advanced(by: .seconds(25_000)))
        #expect(run.exchange.positions.map(\.quantity) == [30])
        #expect(run.exchange.order("b1.S")?.spec.quantity == 30)
        // The entry fills its last 50: the stop grows back to the 80 held, in the book too.
        run.broker(.bar(Self.thinBar(2, low: "99.00")), Self.open(2).advanced(by: .seconds(25_000)))
        #expect(run.exchange.positions.map(\.quantity) == [80])
        #expect(run.exchange.order("b1.S")?.spec.quantity == 80 && run.exchange.order("b1.S")?.workingQuantity == 80)
        #expect(run.reconciler.book.order("b1.S")?.spec.quantity == 80, "the reconciler's book follows the growth")
        #expect(!run.out.reports.contains { if case .modified(_, let q, _) = $0.event { q > 80 } else { false } })
    }
}
