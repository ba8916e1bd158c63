import ASTCore
import Testing

@testable import ASTWire

/// A broker's account too large for one frame travels as pages of one snapshot.
@Suite struct BrokerPagesTests {
    static func state(positions: Int, orders: Int, executions: Int) -> BrokerAccountState {
        let symbols = (0..<max(positions, 1)).map { Symbol(stringLiteral: "S\($0)") }
        let spec = { (i: Int) in
            OrderSpec(
                clientOrderID: ClientOrderID(stringLiteral: "2026-03-02.bracket.S\(i).S"),
                intent: IntentID(stringLiteral: "2026-03-02.bracket.S\(i)"),
                leg: .stopLoss, symbol: symbols[i % symbols.count], side: .sell, quantity: 100, type: .stop, stopPrice: Price("95.1234"),
                timeInForce: .gtc, parent: ClientOrderID(stringLiteral: "2026-03-02.bracket.S\(i).E"),
                ocaGroup: "2026-03-02.bracket.S\(i).oca")
        }
        return BrokerAccountState(
            broker: "broker@paper", asOf: Timestamp(nanoseconds: 1), connected: true,
            account: AccountValues(cash: Money("100000")!, equity: Money("100000")!),
            positions: (0..<positions).map { BrokerPosition(symbol: symbols[$0], quantity: 100, averagePrice: Price("100.1234")!) },
            openOrders: (0..<orders).map {
                BrokerOrder(
                    spec: spec($0), brokerOrderID: "broker@paper-o\($0)", status: .working, filledQuantity: 0,
                    workingQuantity: 100, averageFillPrice: nil)
            },
            executions: (0..<executions).map {
                Fill(
                    executionID: ExecutionID("broker@paper-x\($0)"), clientOrderID: spec($0).clientOrderID,
                    symbol: symbols[$0 % symbols.count],
                    side: .buy, quantity: 100, price: Price("100.1234")!, commission: Money("1.00")!, at: Timestamp(nanoseconds: Int64($0)))
            },
            reportsThrough: 42)
    }

    @Test func aThousandPositionsAndFiveThousandOrdersTravelInPagesThatEachFitAFrame() throws {
        let whole = Self.state(positions: 1_000, orders: 5_000, executions: 3_000)
        let first = whole.page(0, snapshot: "s1")
        let count = try #require(first.page?.count)
        #expect(count == 5)
        let pages = (0..<count).map { whole.page($0, snapshot: "s1") }
        for p in pages {
            let bytes = EnvelopeCodec.encode(
                Envelope(
                    sender: ProcessIdentity(role: .broker, instance: "paper"), seq: 1, id: "x",
                    timestamp: Timestamp(nanoseconds: 1), message: .brokerState(p)))
            #expect(bytes.count < 1 << 20, "page \(p.page!.index): \(bytes.count) bytes")
        }
        #expect(BrokerAccountState.merging(pages) == whole)
    }

    @Test func aSmallAccountIsOnePage() {
        let whole = Self.state(positions: 3, orders: 7, executions: 2)
        let only = whole.page(0, snapshot: "s1")
        #expect(only.page == BrokerStatePage(snapshot: "s1", index: 0, count: 1))
        #expect(BrokerAccountState.merging([only]) == whole)
    }
}
