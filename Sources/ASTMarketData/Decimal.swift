/// Exact decimal text to fixed-point units, for prices read from files and APIs.
///
/// No `Double` is ever involved: the digits are read one by one. Sources often print more than
/// four decimals (Yahoo writes `185.639999`, Polygon JSON numbers such as `0.12345`); those are
/// rounded half away from zero at the fourth decimal, from the digits themselves. An exponent
/// (`1.5e2`) is accepted because JSON allows it, applied exactly to the digits.
enum DecimalText {
    /// Units of 1/10,000 for `text`, or nil when it is not a decimal number or does not fit.
    static func units(_ text: Substring) -> Int64? {
        var text = text
        return text.withUTF8 { units($0) }
    }

    /// Units of 1/10,000 for the UTF-8 bytes `b`, read in place: an optional sign, digits with at
    /// most one `.` (at least one digit after it), an optional exponent `e`/`E` with an optional
    /// sign and digits (|exponent| < 40).
    static func units(_ b: UnsafeBufferPointer<UInt8>) -> Int64? {
        var i = 0
        var negative = false
        if let first = b.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            i = 1
        }
        let digitsStart = i
        var digitCount = 0
        var pointAt: Int?
        var exponent = 0
        var end = b.count  // where the mantissa ends
        while i < b.count {
            let c = b[i]
            if c >= 48 && c <= 57 {
                digitCount += 1
            } else if c == UInt8(ascii: "."), pointAt == nil {
                pointAt = digitCount
            } else if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                guard let e = exponentValue(UnsafeBufferPointer(rebasing: b[(i + 1)...])) else { return nil }
                exponent = e
                end = i
                break
            } else {
                return nil
            }
            i += 1
        }
        guard digitCount > 0 else { return nil }
        if let p = pointAt, p == digitCount { return nil }  // "1." has no fraction digit
        // value = digits × 10^(exponent − fractionDigits); units = value × 10^4.
        let fractionDigits = digitCount - (pointAt ?? digitCount)
        let shift = exponent - fractionDigits + 4
        let keep = shift >= 0 ? digitCount : max(0, digitCount + shift)
        var value: Int64 = 0
        var taken = 0
        var roundingDigit: UInt8 = 0
        var j = digitsStart
        while j < end {
            let c = b[j]
            j += 1
            guard c != UInt8(ascii: ".") else { continue }
            if taken < keep {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(c - 48))
                guard !o1, !o2 else { return nil }
                value = a
                taken += 1
            } else {
                // The first dropped digit decides the rounding (none when every digit is dropped
                // below a zero: digits + shift < 0).
                if digitCount + shift >= 0 { roundingDigit = c - 48 }
                break
            }
        }
        if shift > 0 {
            for _ in 0..<shift {
                let (m, o) = value.multipliedReportingOverflow(by: 10)
                guard !o else { return nil }
                value = m
            }
        }
        if roundingDigit >= 5 {
            let (a, o) = value.addingReportingOverflow(1)
            guard !o else { return nil }
            value = a
        }
        return negative ? -value : value
    }

    /// An exponent: an optional sign and at least one digit, below 40 in magnitude.
    private static func exponentValue(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        var i = 0
        var negative = false
        if let first = b.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            i = 1
        }
        guard i < b.count else { return nil }
        var v = 0
        while i < b.count {
            let c = b[i]
            guard c >= 48 && c <= 57 else { return nil }
            v = min(v * 10 + Int(c - 48), 1_000)
            i += 1
        }
        guard v < 40 else { return nil }
        return negative ? -v : v
    }

    /// A whole number of shares: digits, optionally followed by a fraction of zeros (`1200.0`).
    static func integer(_ text: Substring) -> Int64? {
        var text = text
        return text.withUTF8 { integer($0) }
    }

    /// ``integer(_:)-(Substring)`` over UTF-8 bytes.
    static func integer(_ b: UnsafeBufferPointer<UInt8>) -> Int64? {
        // Int64(text): an optional sign and digits.
        var i = 0
        var negative = false
        if let first = b.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            i = 1
        }
        var plain = i < b.count
        var v: Int64 = 0
        while plain, i < b.count {
            let c = b[i]
            guard c >= 48 && c <= 57 else {
                plain = false
                break
            }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = negative ? m.subtractingReportingOverflow(Int64(c - 48)) : m.addingReportingOverflow(Int64(c - 48))
            if o1 || o2 { plain = false }
            v = a
            i += 1
        }
        if plain { return v }
        guard let units = units(b), units % 10_000 == 0 else { return nil }
        return units / 10_000
    }
}
