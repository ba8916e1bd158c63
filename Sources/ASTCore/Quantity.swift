/// A number of shares, signed: a position is long when positive and short when negative; an
/// order's quantity is positive and its ``Side`` gives the direction.
///
/// JSON is a plain integer.
public struct Quantity: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public var shares: Int64

    public init(_ shares: Int64) { self.shares = shares }
    public init(integerLiteral value: Int64) { self.shares = value }

    public static let zero = Quantity(0)

    public var isZero: Bool { shares == 0 }
    public var isLong: Bool { shares > 0 }
    public var isShort: Bool { shares < 0 }

    /// The number of shares without its sign; traps for `Int64.min`, which no position reaches
    /// (the risk gate refuses quantities whose notional does not fit long before).
    public var magnitude: Quantity { Quantity(abs(shares)) }

    public var description: String { String(shares) }

    public static func < (a: Quantity, b: Quantity) -> Bool { a.shares < b.shares }

    /// The sum, or ``FixedPointError/overflow(_:)``.
    public func adding(_ other: Quantity) throws(FixedPointError) -> Quantity {
        let (s, o) = shares.addingReportingOverflow(other.shares)
        guard !o else { throw .overflow("\(self) + \(other) shares") }
        return Quantity(s)
    }

    /// The difference, or ``FixedPointError/overflow(_:)``.
    public func subtracting(_ other: Quantity) throws(FixedPointError) -> Quantity {
        let (s, o) = shares.subtractingReportingOverflow(other.shares)
        guard !o else { throw .overflow("\(self) - \(other) shares") }
        return Quantity(s)
    }

    /// The sum; traps on overflow like `Int64`.
    public static func + (a: Quantity, b: Quantity) -> Quantity { Quantity(a.shares + b.shares) }
    /// The difference; traps on overflow like `Int64`.
    public static func - (a: Quantity, b: Quantity) -> Quantity { Quantity(a.shares - b.shares) }
    /// The negation; traps for `Int64.min` like `Int64`.
    public static prefix func - (a: Quantity) -> Quantity { Quantity(-a.shares) }

    public init(from decoder: any Decoder) throws {
        shares = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(shares)
    }
}

/// The direction of an order: buying adds shares to a position, selling takes them away
/// (and, past zero, opens or adds to a short).
public enum Side: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case buy
    case sell

    /// `+1` for a buy, `-1` for a sell.
    public var sign: Int64 { self == .buy ? 1 : -1 }

    /// The change an order of `quantity` shares on this side makes to a position.
    public func signed(_ quantity: Quantity) -> Quantity { self == .buy ? quantity : -quantity }

    /// The side that closes a position of this direction's opposite.
    public var opposite: Side { self == .buy ? .sell : .buy }

    public var description: String { rawValue }
}
