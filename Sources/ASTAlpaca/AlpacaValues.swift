import ASTCore

/// An exact decimal as Alpaca writes prices and quantities: a JSON string such as `"101.25"`,
/// `"10"` or `"0.000000001"`. Held as an integer significand and a number of decimals, never as
/// a `Double`; converted to AST's ``Price`` or whole-share ``Quantity`` only when exact.
public struct AlpacaDecimal: Sendable, Hashable, CustomStringConvertible {
    /// The value times 10^`scale`.
    public let significand: Int64
    /// Decimal places, 0 ... 18.
    public let scale: Int

    /// The most decimals accepted (fractional quantities have up to 9; averages may carry more).
    public static let maxScale = 18

    public init?(significand: Int64, scale: Int) {
        guard (0...Self.maxScale).contains(scale) else { return nil }
        self.significand = significand
        self.scale = scale
    }

    /// Parses `-?digits(.digits)?` exactly; nil for anything else or a value that does not fit
    /// 64 bits with its decimals. Trailing zero decimals are dropped (`"10.00"` is 10, scale 0).
    public init?(_ text: String) {
        var bytes = text.utf8[...]
        guard !bytes.isEmpty, bytes.count <= 40 else { return nil }
        var negative = false
        if bytes.first == UInt8(ascii: "-") {
            negative = true
            bytes = bytes.dropFirst()
        }
        var value: Int64 = 0
        var digits = 0
        var scale = 0
        var seenPoint = false
        var fractionDigits = 0
        for b in bytes {
            if b == UInt8(ascii: ".") {
                guard !seenPoint, digits > 0 else { return nil }
                seenPoint = true
                continue
            }
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(b - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            value = a
            digits += 1
            if seenPoint {
                fractionDigits += 1
                scale += 1
            }
        }
        guard digits > 0, !seenPoint || fractionDigits > 0, scale <= Self.maxScale else { return nil }
        while scale > 0, value % 10 == 0 {
            value /= 10
            scale -= 1
        }
        self.significand = negative ? -value : value
        self.scale = scale
    }

    /// The decimal text, with its decimals.
    public var description: String {
        let magnitude = String(significand.magnitude)
        let sign = significand < 0 ? "-" : ""
        guard scale > 0 else { return sign + magnitude }
        let padded = String(repeating: "0", count: max(0, scale + 1 - magnitude.count)) + magnitude
        let cut = padded.index(padded.endIndex, offsetBy: -scale)
        return sign + padded[..<cut] + "." + padded[cut...]
    }

    /// The value as a ``Price`` when it has at most four decimals; nil otherwise (never rounded).
    public var exactPrice: Price? {
        guard scale <= 4 else { return nil }
        var units = significand
        for _ in scale..<4 {
            let (m, o) = units.multipliedReportingOverflow(by: 10)
            guard !o else { return nil }
            units = m
        }
        return Price(units: units)
    }

    /// The value as a price rounded half away from zero to 1/10,000 (for an average fill price,
    /// which Alpaca may write with more decimals); nil if it does not fit.
    public var roundedPrice: Price? {
        if let p = exactPrice { return p }
        var units = significand
        var cut: Int64 = 0
        for _ in 4..<scale {
            cut = units % 10
            units /= 10
        }
        if cut.magnitude >= 5 {
            let (r, o) = units.addingReportingOverflow(significand < 0 ? -1 : 1)
            guard !o else { return nil }
            units = r
        }
        return Price(units: units)
    }

    /// The value as whole shares; nil for a fraction.
    public var wholeShares: Quantity? { scale == 0 ? Quantity(significand) : nil }
}

/// RFC 3339 timestamps as Alpaca writes them: `2026-12-07T15:01:02.123456789Z` or with an
/// offset such as `-05:00`, up to nanosecond fractions.
public enum AlpacaTime {
    /// The instant, or nil for text that is not RFC 3339 or is outside AST's accepted range.
    public static func parse(_ text: String) -> Timestamp? {
        let b = Array(text.utf8)
        guard b.count >= 20, b.count <= 40 else { return nil }
        func num(_ at: Int, _ n: Int) -> Int64? {
            var v: Int64 = 0
            for k in at..<(at + n) {
                guard k < b.count, b[k] >= UInt8(ascii: "0"), b[k] <= UInt8(ascii: "9") else { return nil }
                v = v * 10 + Int64(b[k] - UInt8(ascii: "0"))
            }
            return v
        }
        guard let year = num(0, 4), b[4] == UInt8(ascii: "-"), let month = num(5, 2), b[7] == UInt8(ascii: "-"),
            let day = num(8, 2), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == UInt8(ascii: " "),
            let hour = num(11, 2), b[13] == UInt8(ascii: ":"), let minute = num(14, 2), b[16] == UInt8(ascii: ":"),
            let second = num(17, 2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour <= 23, minute <= 59, second <= 60
        else { return nil }
        var k = 19
        var nanos: Int64 = 0
        if k < b.count, b[k] == UInt8(ascii: ".") {
            k += 1
            var digits = 0
            while k < b.count, b[k] >= UInt8(ascii: "0"), b[k] <= UInt8(ascii: "9") {
                guard digits < 9 else { return nil }
                nanos = nanos * 10 + Int64(b[k] - UInt8(ascii: "0"))
                digits += 1
                k += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<9 { nanos *= 10 }
        }
        guard k < b.count else { return nil }
        var offsetSeconds: Int64 = 0
        if b[k] == UInt8(ascii: "Z") || b[k] == UInt8(ascii: "z") {
            k += 1
        } else if b[k] == UInt8(ascii: "+") || b[k] == UInt8(ascii: "-") {
            guard let oh = num(k + 1, 2), k + 3 < b.count, b[k + 3] == UInt8(ascii: ":"), let om = num(k + 4, 2), oh <= 23, om <= 59
            else { return nil }
            offsetSeconds = (oh * 3600 + om * 60) * (b[k] == UInt8(ascii: "-") ? -1 : 1)
            k += 6
        } else {
            return nil
        }
        guard k == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        // A leap second (:60) is read as the next second's start.
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        let (ns, o1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, o2) = ns.addingReportingOverflow(nanos)
        guard !o1, !o2 else { return nil }
        let t = Timestamp(nanoseconds: total)
        guard t >= Timestamp.earliestAccepted, t <= Timestamp.latestAccepted else { return nil }
        return t
    }

    /// RFC 3339 in UTC with nine decimals (`2026-12-07T15:01:02.123456789Z`), for query parameters.
    public static func format(_ t: Timestamp) -> String {
        let wide = Int128(t.nanoseconds)
        let secs = Int64(wide >= 0 ? wide / 1_000_000_000 : (wide - 999_999_999) / 1_000_000_000)
        let nanos = Int64(wide - Int128(secs) * 1_000_000_000)
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let sod = secs - days * 86_400
        let (y, m, d) = civil(fromDays: days)
        func pad(_ v: Int64, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(sod / 3600, 2)):\(pad(sod / 60 % 60, 2)):\(pad(sod % 60, 2))."
            + "\(pad(nanos, 9))Z"
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
