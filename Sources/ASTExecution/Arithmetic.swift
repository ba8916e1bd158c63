import ASTCore

/// Exact helpers for the fixed-point arithmetic of the portfolio and the book.
enum Exact {
    /// `a / b` rounded to the nearest integer, halves away from zero; 0 for `b == 0`, and held
    /// at the ends of `Int64` when the result does not fit (bounded inputs never get there, and
    /// a value from a peer must not trap).
    static func roundedDivide(_ a: Int128, _ b: Int128) -> Int64 {
        guard b != 0 else { return 0 }
        let q = a / b
        let r = a % b
        let twiceR = r.magnitude * 2
        guard twiceR >= b.magnitude else { return Int64(clamping: q) }
        return Int64(clamping: (a < 0) != (b < 0) ? q - 1 : q + 1)
    }

    /// The average price of `quantity` shares that cost `cost` in total, to the nearest 1/10,000.
    static func averagePrice(cost: Money, quantity: Quantity) -> Price {
        Price(units: roundedDivide(Int128(cost.units), Int128(quantity.shares)))
    }

    /// The value of a signed quantity at `price`, exactly within Int64 (held at its ends beyond:
    /// a mark from a peer must not trap; ``ReconcilerInput/validate()`` refuses such marks).
    static func value(_ quantity: Quantity, at price: Price) -> Money {
        Money(units: Int64(clamping: Int128(quantity.shares) * Int128(price.units)))
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
