import ASTCore

/// Exact helpers for the fixed-point arithmetic of the portfolio and the book.
enum Exact {
    /// `a / b` rounded to the nearest integer, halves away from zero. `b` must not be zero;
    /// traps if the result does not fit, which bounded inputs (the book validates every fill's
    /// notional) never reach.
    static func roundedDivide(_ a: Int128, _ b: Int128) -> Int64 {
        precondition(b != 0, "division by zero")
        let q = a / b
        let r = a % b
        let twiceR = r.magnitude * 2
        guard twiceR >= b.magnitude else { return Int64(q) }
        return Int64((a < 0) != (b < 0) ? q - 1 : q + 1)
    }

    /// The average price of `quantity` shares that cost `cost` in total, to the nearest 1/10,000.
    static func averagePrice(cost: Money, quantity: Quantity) -> Price {
        Price(units: roundedDivide(Int128(cost.units), Int128(quantity.shares)))
    }

    /// The value of a signed quantity at `price`, exactly (traps when beyond Int64).
    static func value(_ quantity: Quantity, at price: Price) -> Money {
        Money(units: Int64(Int128(quantity.shares) * Int128(price.units)))
    }
}

extension Quantity {
    /// "long 100", "short 40" or "flat", for operator text.
    var holdingText: String {
        shares > 0 ? "long \(shares)" : shares < 0 ? "short \(-shares)" : "flat"
    }

    /// "long 100 shares", "short 40 shares" or "flat".
    var sharesText: String { isZero ? "flat" : "\(holdingText) shares" }
}
