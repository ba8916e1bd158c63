import ASTCore

/// One order as the simulated exchange holds it.
struct PaperOrder: Sendable, Equatable, Codable {
    var spec: OrderSpec
    var brokerOrderID: String
    var status: BrokerOrderStatus
    var filledQuantity: Quantity
    /// What the order works now (0 while held).
    var workingQuantity: Quantity
    /// Σ price × shares of its fills, for the exact average fill price.
    var filledNotional: Money
    var acceptedAt: Timestamp
    /// Bars must start strictly after this time to match the order: the acceptance time, or for
    /// a bracket child the start of the bar on which its entry first filled.
    var eligibleAfter: Timestamp
    /// A stop or stop-limit whose stop price was reached: now a market or limit order.
    var triggered: Bool
    /// The execution counter at its last fill (0: never filled); orders a group's fills.
    var lastFillSequence: Int
    /// Why it was rejected or cancelled.
    var reason: String?
    /// For a bracket child cut by a modify (``ProtectiveResize``): its quantity before the first
    /// cut. Later fills of its entry grow it back towards this, never above what the entry
    /// filled (see `PaperModify.swift`). Absent in older journals and checkpoints: never cut.
    var cutFrom: Quantity? = nil

    var id: ClientOrderID { spec.clientOrderID }

    var brokerOrder: BrokerOrder {
        let average: Price? =
            filledQuantity.isZero
            ? nil
            : Price(units: Int64(clamping: FillRules.roundedDivision(Int128(filledNotional.units), Int128(filledQuantity.shares))))
        return BrokerOrder(
            spec: spec, brokerOrderID: brokerOrderID, status: status, filledQuantity: filledQuantity,
            workingQuantity: workingQuantity, averageFillPrice: average)
    }
}

/// One position with its exact cost basis (signed Σ shares × price of the shares still held),
/// so that the average price and the realised P&L never drift by rounding.
struct PaperPosition: Sendable, Equatable, Codable {
    var symbol: Symbol
    var quantity: Quantity
    var costBasis: Money
    /// Realised P&L of this symbol so far, gross of commissions.
    var realized: Money

    /// The average price of the shares held, rounded to the nearest 1/10,000 (halves up).
    var averagePrice: Price {
        guard !quantity.isZero else { return .zero }
        return Price(
            units: Int64(
                clamping: FillRules.roundedDivision(
                    Int128(costBasis.units).magnitude.asInt128,
                    Int128(quantity.shares).magnitude.asInt128)))
    }

    /// The position after a fill of `delta` shares (signed) at `price`, and the P&L it realised;
    /// nil when the quantity, the cost basis or the realised P&L would leave 64 bits (the fill
    /// is then not made). Reducing removes the average cost of the closed shares (truncated
    /// toward zero, the rest stays in the basis); a fill past zero closes the position and opens
    /// the remainder.
    func applying(delta: Quantity, price: Price) -> (position: PaperPosition, realized: Money)? {
        var next = self
        var remaining = Int128(delta.shares)
        var realizedNow: Int128 = 0
        var costBasis = Int128(self.costBasis.units)
        var quantity = Int128(self.quantity.shares)
        if quantity != 0 && (quantity > 0) != (remaining > 0) {
            let closing = min(remaining.magnitude, quantity.magnitude).asInt128
            let removed = costBasis * closing / quantity.magnitude.asInt128
            let closeDelta = remaining > 0 ? closing : -closing
            realizedNow = -(closeDelta * Int128(price.units)) - removed
            costBasis -= removed
            quantity += closeDelta
            remaining -= closeDelta
        }
        if remaining != 0 {
            costBasis += remaining * Int128(price.units)
            quantity += remaining
        }
        guard let basis = Int64(exactly: costBasis), let shares = Int64(exactly: quantity), shares != .min,
            let realized = Int64(exactly: realizedNow), let total = Int64(exactly: Int128(self.realized.units) + realizedNow)
        else {
            return nil
        }
        next.costBasis = Money(units: basis)
        next.quantity = Quantity(shares)
        next.realized = Money(units: total)
        return (next, Money(units: realized))
    }
}

/// The last bar seen of one symbol: stale bars are ignored and the close marks positions.
struct SymbolMark: Sendable, Equatable, Codable {
    var symbol: Symbol
    var lastBarStart: Timestamp
    var close: Price
}

extension UInt128 {
    var asInt128: Int128 { Int128(self) }
}
