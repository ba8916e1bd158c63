/// Why an exact arithmetic operation on trading values has no exact result.
///
/// Cores treat it like bad input: a quantity times a price that does not fit is refused,
/// never rounded or wrapped.
public enum FixedPointError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The exact result is outside the range of the value's 64-bit representation.
    case overflow(String)
    /// A division or ratio whose divisor is zero.
    case divisionByZero(String)

    public var description: String {
        switch self {
        case .overflow(let what): "arithmetic overflow: \(what) does not fit in 64 bits"
        case .divisionByZero(let what): "division by zero: \(what)"
        }
    }
}

/// Decimal text <-> integer units of 1/10,000, shared by ``Price``, ``Money`` and ``Percent``.
///
/// Parsing is exact and strict: an optional `-`, at least one digit, and optionally `.`
/// followed by at least one digit. Digits past the fourth decimal are accepted only when they
/// are zeros (`"1.23450"`), because anything else would need rounding. No `+`, no exponent,
/// no spaces, no thousands separators.
enum FixedPoint {
    /// Units per whole: four decimal places.
    static let scale: Int64 = 10_000
    static let fractionDigits = 4

    static func parse(_ text: String) -> Int64? {
        var bytes = text.utf8[...]
        var negative = false
        if bytes.first == UInt8(ascii: "-") {
            negative = true
            bytes = bytes.dropFirst()
        }
        var whole: UInt64 = 0
        var wholeDigits = 0
        while let c = bytes.first, let d = digit(c) {
            let (m, o1) = whole.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(d)
            guard !o1, !o2 else { return nil }
            whole = a
            wholeDigits += 1
            bytes = bytes.dropFirst()
        }
        guard wholeDigits > 0 else { return nil }
        var fraction: UInt64 = 0
        if let c = bytes.first {
            guard c == UInt8(ascii: ".") else { return nil }
            bytes = bytes.dropFirst()
            var fractionCount = 0
            while let c = bytes.first, let d = digit(c) {
                if fractionCount < fractionDigits {
                    fraction = fraction * 10 + d
                } else if d != 0 {
                    return nil
                }
                fractionCount += 1
                bytes = bytes.dropFirst()
            }
            guard fractionCount > 0, bytes.isEmpty else { return nil }
            for _ in min(fractionCount, fractionDigits)..<fractionDigits { fraction *= 10 }
        }
        let (scaled, o1) = whole.multipliedReportingOverflow(by: UInt64(scale))
        let (total, o2) = scaled.addingReportingOverflow(fraction)
        guard !o1, !o2 else { return nil }
        if negative {
            guard total <= UInt64(Int64.max) + 1 else { return nil }
            return total == UInt64(Int64.max) + 1 ? Int64.min : -Int64(total)
        }
        guard total <= UInt64(Int64.max) else { return nil }
        return Int64(total)
    }

    /// The canonical text of `units`: `-` for negatives, the whole part without leading zeros,
    /// then the four decimals with trailing zeros removed down to `minFractionDigits`.
    static func format(_ units: Int64, minFractionDigits: Int) -> String {
        let magnitude = units.magnitude
        let whole = magnitude / UInt64(scale)
        var fraction = String(magnitude % UInt64(scale))
        fraction = String(repeating: "0", count: fractionDigits - fraction.count) + fraction
        while fraction.count > minFractionDigits, fraction.last == "0" { fraction.removeLast() }
        let sign = units < 0 ? "-" : ""
        return fraction.isEmpty ? "\(sign)\(whole)" : "\(sign)\(whole).\(fraction)"
    }

    private static func digit(_ c: UInt8) -> UInt64? {
        c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") ? UInt64(c - UInt8(ascii: "0")) : nil
    }

    /// `value` as Int64, or an overflow error naming `what`.
    static func exact(_ value: Int128, _ what: @autoclosure () -> String) throws(FixedPointError) -> Int64 {
        guard let v = Int64(exactly: value) else { throw .overflow(what()) }
        return v
    }
}
