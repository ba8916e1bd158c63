import ASTCore
import ASTRisk
import Foundation
import Testing

@testable import ASTExecution

/// The test clock's origin.
let t0 = Timestamp(nanoseconds: 1_700_000_000_000_000_000)
func at(_ seconds: Int64) -> Timestamp { t0.advanced(by: .seconds(seconds)) }
func price(_ text: String) -> Price { Price(text)! }
func money(_ text: String) -> Money { Money(text)! }
let paperBroker = "broker@paper"

/// An approval for a bracket; a buy of 100 AAPL at the market, stop 95, target 110 unless told.
func approval(
    _ intent: IntentID = "i-1", _ symbol: Symbol = "AAPL", _ side: Side = .buy, _ quantity: Int64 = 100,
    limit: String? = nil, stop: String? = "95.00", target: String? = "110.00"
) -> Approval {
    Approval(
        id: ApprovalID(for: intent), intent: intent, symbol: symbol, side: side, quantity: Quantity(quantity),
        requestedQuantity: Quantity(quantity), entry: limit.map { .limit(price($0)) } ?? .market,
        stopLoss: stop.map(price), takeProfit: target.map(price), state: .active, at: t0)
}

func bracket(
    _ intent: IntentID = "i-1", _ symbol: Symbol = "AAPL", _ side: Side = .buy, _ quantity: Int64 = 100,
    stop: String? = "95.00", target: String? = "110.00"
) -> BracketOrder {
    BracketBuilder.bracket(for: approval(intent, symbol, side, quantity, stop: stop, target: target))
}

func fill(
    _ execution: String, _ order: ClientOrderID, _ side: Side, _ quantity: Int64, _ price: String,
    symbol: Symbol = "AAPL", commission: String = "0", at time: Timestamp = t0
) -> Fill {
    Fill(
        executionID: ExecutionID(execution), clientOrderID: order, symbol: symbol, side: side, quantity: Quantity(quantity),
        price: Price(price)!, commission: Money(commission)!, at: time)
}

/// A book and its portfolio driven by reports with consecutive ids, as a broker process sends them.
struct Ledger {
    var book = OrderBook()
    var portfolio = Portfolio(startingCash: money("100000"))
    var sequence = 0
    var log: [ExecutionReport] = []

    @discardableResult
    mutating func send(_ event: ExecutionEvent, at time: Timestamp = t0) -> [BookOutput] {
        sequence += 1
        let report = ExecutionReport(id: "r-\(sequence)", broker: paperBroker, event: event, at: time)
        log.append(report)
        return book.apply(report, portfolio: &portfolio)
    }

    /// Submits, acknowledges and accepts every leg of `bracket`.
    mutating func submitAndAccept(_ bracket: BracketOrder, at time: Timestamp = t0) {
        for leg in bracket.legs {
            send(.submitting(leg), at: time)
            send(.acknowledged(leg.clientOrderID, brokerOrderID: "b-\(leg.clientOrderID)"), at: time)
            send(.accepted(leg.clientOrderID), at: time)
        }
    }

    /// A long (or short) position held through a filled entry with its stop and target working.
    mutating func hold(
        _ intent: IntentID, _ symbol: Symbol, _ side: Side, _ quantity: Int64, at entryPrice: String, stop: String = "1.00",
        time: Timestamp = t0
    ) {
        let b = bracket(intent, symbol, side, quantity, stop: stop, target: nil)
        submitAndAccept(b, at: time)
        send(.fill(fill("x-\(intent)", b.entry.clientOrderID, side, quantity, entryPrice, symbol: symbol, at: time)), at: time)
    }
}

extension OrderSpec {
    /// The broker's view of this order, working its whole quantity unless told.
    func atBroker(_ status: BrokerOrderStatus = .working, working: Int64? = nil, filled: Int64 = 0, average: String? = nil)
        -> BrokerOrder
    {
        BrokerOrder(
            spec: self, brokerOrderID: "b-\(clientOrderID)", status: status, filledQuantity: Quantity(filled),
            workingQuantity: Quantity(working ?? quantity.shares - filled), averageFillPrice: average.map(price))
    }
}

func account(
    positions: [BrokerPosition] = [], open: [BrokerOrder] = [], executions: [Fill] = [], connected: Bool = true,
    asOf: Timestamp = at(600)
) -> BrokerAccountState {
    BrokerAccountState(
        broker: paperBroker, asOf: asOf, connected: connected, account: AccountValues(cash: .zero, equity: .zero),
        positions: positions, openOrders: open, executions: executions)
}

func position(_ symbol: Symbol, _ quantity: Int64, _ average: String) -> BrokerPosition {
    BrokerPosition(symbol: symbol, quantity: Quantity(quantity), averagePrice: price(average))
}

/// Canonical JSON (sorted keys) for byte-for-byte comparisons.
func json(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
