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

    var id: ClientOrderID { spec.clientOrderID }

    var brokerOrder: BrokerOrder {
        let average: Price? = filledQuantity.isZero
            ? nil
            : Price(units: Int64(clamping: FillRules.roundedDivision(Int128(filledNotional.units), Int128(filledQuantity.shares))))
        return BrokerOrder(spec: spec, brokerOrderID: brokerOrderID, status: status, filledQuantity: filledQuantity,
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
        return Price(units: Int64(clamping: FillRules.roundedDivision(Int128(costBasis.units).magnitude.asInt128,
                                                                      Int128(quantity.shares).magnitude.asInt128)))
    }

    /// Applies a fill of `delta` shares (signed) at `price`; returns the P&L it realised.
    /// Reducing removes the average cost of the closed shares (truncated toward zero, the rest
    /// stays in the basis); a fill past zero closes the position and opens the remainder.
    mutating func apply(delta: Quantity, price: Price) -> Money {
        var remaining = Int128(delta.shares)
        var realizedNow: Int128 = 0
        let held = Int128(quantity.shares)
        if held != 0 && (held > 0) != (remaining > 0) {
            let closing = min(remaining.magnitude, held.magnitude).asInt128
            let removed = Int128(costBasis.units) * closing / held.magnitude.asInt128
            let closeDelta = remaining > 0 ? closing : -closing
            realizedNow = -(closeDelta * Int128(price.units)) - removed
            costBasis = Money(units: Int64(clamping: Int128(costBasis.units) - removed))
            quantity = Quantity(Int64(clamping: held + closeDelta))
            remaining -= closeDelta
        }
        if remaining != 0 {
            costBasis = Money(units: Int64(clamping: Int128(costBasis.units) + remaining * Int128(price.units)))
            quantity = Quantity(Int64(clamping: Int128(quantity.shares) + remaining))
        }
        let result = Money(units: Int64(clamping: realizedNow))
        realized = Money(units: Int64(clamping: Int128(realized.units) + Int128(result.units)))
        return result
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
