import ASTCore

/// One execution AST takes in: `quantity` more shares of order `orderID` at `price`, bringing its
/// filled total to `cumulative`.
public struct AlpacaExecution: Sendable, Equatable {
    public var orderID: String
    public var clientOrderID: String?
    public var symbol: Symbol
    public var side: Side
    public var quantity: Quantity
    public var price: Price
    public var cumulative: Quantity
    public var at: Timestamp?

    /// A stable id for the execution: `<order id>:<cumulative shares>` (an order's filled total
    /// only grows, so it names each execution whichever source reported it first).
    public var executionID: ExecutionID { ExecutionID("\(orderID):\(cumulative.shares)") }
}

/// Applies fills once whichever way they arrive: stream updates (`fill`, `partial_fill`), FILL
/// activities and order listings while closing a gap. Per order it keeps the filled total
/// journaled so far; a report at or below it is a duplicate, one above it is the difference.
/// (`qty` and `price` on a stream partial fill are not documented as per-execution, so the
/// difference of `filled_qty` decides the shares.) Pure; its state is rebuilt from the journal.
public struct AlpacaFillLedger: Sendable, Equatable {
    public private(set) var filled: [String: Quantity] = [:]
    /// The most orders tracked (a bound on hostile input); the oldest-terminal are not evicted:
    /// past it every new order is refused, and the shell HALTs.
    public static let maxOrders = 100_000

    public init() {}

    /// Restores what the journal says an order has filled.
    public mutating func restore(orderID: String, filled quantity: Quantity) {
        if quantity > (filled[orderID] ?? .zero) { filled[orderID] = quantity }
    }

    /// The new execution a stream update carries, if any. A fill update whose total went down,
    /// or past the order's quantity, is an inconsistency: nil and `inconsistent` true.
    public mutating func apply(_ update: AlpacaTradeUpdate) -> (execution: AlpacaExecution?, inconsistent: Bool) {
        let o = update.order
        guard update.event.isFill, let price = update.price ?? o.filledAveragePrice else { return (nil, false) }
        return record(
            o.id, client: o.clientOrderID, symbol: o.symbol, side: o.side, total: o.filledQuantity, limit: o.quantity, price: price,
            at: update.timestamp)
    }

    /// The new execution an order's state shows (its `filled_qty` above what was journaled), priced
    /// at its `filled_avg_price`: the last resort while closing a gap, after the FILL activities
    /// (which carry each execution's own price) were applied.
    public mutating func apply(order o: AlpacaOrder, at: Timestamp?) -> (execution: AlpacaExecution?, inconsistent: Bool) {
        guard o.filledQuantity > .zero, let price = o.filledAveragePrice, price.isPositive else { return (nil, false) }
        return record(
            o.id, client: o.clientOrderID, symbol: o.symbol, side: o.side, total: o.filledQuantity, limit: o.quantity, price: price,
            at: o.filledAt ?? o.updatedAt ?? at)
    }

    /// The new execution a FILL activity carries, if any (its own `price` and `cum_qty`).
    public mutating func apply(_ activity: AlpacaFillActivity) -> (execution: AlpacaExecution?, inconsistent: Bool) {
        record(
            activity.orderID, client: nil, symbol: activity.symbol, side: activity.side, total: activity.cumulativeQuantity, limit: nil,
            price: activity.price, at: activity.transactionTime)
    }

    mutating func record(
        _ id: String, client: String?, symbol: Symbol, side: Side, total: Quantity, limit: Quantity?, price: Price, at: Timestamp?
    ) -> (execution: AlpacaExecution?, inconsistent: Bool) {
        let known = filled[id] ?? .zero
        if let limit, total > limit { return (nil, true) }
        guard total > known else { return (nil, false) }
        guard filled[id] != nil || filled.count < Self.maxOrders else { return (nil, true) }
        guard let delta = try? total.subtracting(known) else { return (nil, true) }
        filled[id] = total
        return (
            AlpacaExecution(
                orderID: id, clientOrderID: client, symbol: symbol, side: side, quantity: delta, price: price, cumulative: total, at: at),
            false
        )
    }
}
