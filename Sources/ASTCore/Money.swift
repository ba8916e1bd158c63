/// A dollar amount held exactly as integer units of 1/10,000 of a dollar.
///
/// ``Price`` and ``Money`` share this representation so that a price times a quantity is a
/// money amount with no rounding. Text and JSON use the canonical decimal form
/// (`"123.4567"`, `"100.00"`, `"-0.50"`), which parses back to the same units.
public protocol FixedPointAmount: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    /// The amount in 1/10,000 of a dollar.
    var units: Int64 { get }
    init(units: Int64)
}

extension FixedPointAmount {
    /// Units per dollar.
    public static var unitsPerDollar: Int64 { FixedPoint.scale }

    /// Zero dollars.
    public static var zero: Self { Self(units: 0) }

    /// Parses a decimal such as `"123.4567"`, `"-5"` or `"0.50"` exactly; `nil` for malformed
    /// text, more than four non-zero decimals, or a value out of range. See ``FixedPoint``.
    public init?(_ description: String) {
        guard let units = FixedPoint.parse(description) else { return nil }
        self.init(units: units)
    }

    /// A whole number of dollars, or `nil` if it does not fit.
    public init?(dollars: Int64) {
        let (u, o) = dollars.multipliedReportingOverflow(by: FixedPoint.scale)
        guard !o else { return nil }
        self.init(units: u)
    }

    /// Canonical text: at least two and at most four decimals (`"100.00"`, `"0.1234"`).
    public var description: String { FixedPoint.format(units, minFractionDigits: 2) }

    public static func < (a: Self, b: Self) -> Bool { a.units < b.units }

    /// Decodes the JSON string form only: a number would have passed through `Double`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let units = FixedPoint.parse(text) else {
            throw DecodingError.dataCorruptedError(
                in: c, debugDescription: "'\(text)' is not an exact decimal with at most 4 decimals")
        }
        self.init(units: units)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    public var isZero: Bool { units == 0 }
    public var isPositive: Bool { units > 0 }
    public var isNegative: Bool { units < 0 }

    /// The sum, or ``FixedPointError/overflow(_:)``.
    public func adding(_ other: Self) throws(FixedPointError) -> Self {
        let (u, o) = units.addingReportingOverflow(other.units)
        guard !o else { throw .overflow("\(self) + \(other)") }
        return Self(units: u)
    }

    /// The difference, or ``FixedPointError/overflow(_:)``.
    public func subtracting(_ other: Self) throws(FixedPointError) -> Self {
        let (u, o) = units.subtractingReportingOverflow(other.units)
        guard !o else { throw .overflow("\(self) - \(other)") }
        return Self(units: u)
    }

    /// The sum; traps on overflow like `Int64`. Use ``adding(_:)`` on values from a peer.
    public static func + (a: Self, b: Self) -> Self { Self(units: a.units + b.units) }
    /// The difference; traps on overflow like `Int64`. Use ``subtracting(_:)`` on values from a peer.
    public static func - (a: Self, b: Self) -> Self { Self(units: a.units - b.units) }
    /// The negation; traps for the minimum value like `Int64`.
    public static prefix func - (a: Self) -> Self { Self(units: -a.units) }
}

/// The price of one share, exact to 1/10,000 of a dollar.
///
/// Any sign is representable (a price difference is a `Price`); a price an order carries is
/// positive, which the consumer checks (the risk gate blocks anything else as an invalid
/// bracket).
public struct Price: FixedPointAmount {
    public var units: Int64
    public init(units: Int64) { self.units = units }

    /// The value of `quantity` shares at this price, exactly, or ``FixedPointError/overflow(_:)``.
    public func notional(_ quantity: Quantity) throws(FixedPointError) -> Money {
        let (u, o) = units.multipliedReportingOverflow(by: quantity.shares)
        guard !o else { throw .overflow("\(self) x \(quantity) shares") }
        return Money(units: u)
    }

    /// The exact value of `quantity` shares; traps on overflow. Use ``notional(_:)`` on values
    /// from a peer.
    public static func * (price: Price, quantity: Quantity) -> Money { Money(units: price.units * quantity.shares) }
}

/// An amount of money (cash, equity, notional, profit and loss), exact to 1/10,000 of a dollar.
/// Signed: a loss or a debit is negative.
public struct Money: FixedPointAmount {
    public var units: Int64
    public init(units: Int64) { self.units = units }

    /// `percent` of this amount, rounded toward zero to 1/10,000 of a dollar: an allowance
    /// computed this way is never larger than the exact one.
    public func percent(_ percent: Percent) throws(FixedPointError) -> Money {
        let exact = Int128(units) * Int128(percent.units) / Int128(Percent.unitsPerWhole * 100)
        return Money(units: try FixedPoint.exact(exact, "\(percent)% of \(self)"))
    }

    /// How many whole shares this amount buys at `price`, rounded toward zero (a partial share
    /// is never bought). `price` must not be zero.
    public func shares(at price: Price) throws(FixedPointError) -> Quantity {
        guard price.units != 0 else { throw .divisionByZero("\(self) / price 0") }
        return Quantity(try FixedPoint.exact(Int128(units) / Int128(price.units), "\(self) / \(price)"))
    }

    /// This amount as a percentage of `base`, rounded toward zero to 1/10,000 of a percent.
    /// For reports and explanations; limits compare exactly without it.
    public func ratio(to base: Money) throws(FixedPointError) -> Percent {
        guard base.units != 0 else { throw .divisionByZero("\(self) / \(base)") }
        let exact = Int128(units) * Int128(Percent.unitsPerWhole * 100) / Int128(base.units)
        return Percent(units: try FixedPoint.exact(exact, "\(self) / \(base) as a percentage"))
    }
}
