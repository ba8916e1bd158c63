/// Exact decimal text to fixed-point units, for prices read from files and APIs.
///
/// No `Double` is ever involved: the digits are read one by one. Sources often print more than
/// four decimals (Yahoo writes `185.639999`, Polygon JSON numbers such as `0.12345`); those are
/// rounded half away from zero at the fourth decimal, from the digits themselves. An exponent
/// (`1.5e2`) is accepted because JSON allows it, applied exactly to the digits.
enum DecimalText {
    /// Units of 1/10,000 for `text`, or nil when it is not a decimal number or does not fit.
    static func units(_ text: Substring) -> Int64? {
        var bytes = Array(text.utf8)
        var negative = false
        if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") {
            negative = bytes.first == UInt8(ascii: "-")
            bytes.removeFirst()
        }
        var digits: [UInt8] = []
        var pointAt: Int?
        var exponent = 0
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c >= 48 && c <= 57 {
                digits.append(c - 48)
            } else if c == UInt8(ascii: "."), pointAt == nil {
                pointAt = digits.count
            } else if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                guard let e = Int(String(decoding: bytes[(i + 1)...], as: UTF8.self)), abs(e) < 40 else { return nil }
                exponent = e
                i = bytes.count
                break
            } else {
                return nil
            }
            i += 1
        }
        guard !digits.isEmpty else { return nil }
        if let p = pointAt, p == digits.count { return nil }  // "1." has no fraction digit
        // value = digits × 10^(exponent − fractionDigits); units = value × 10^4.
        let fractionDigits = digits.count - (pointAt ?? digits.count)
        let shift = exponent - fractionDigits + 4
        var whole: [UInt8]
        var dropped: [UInt8] = []
        if shift >= 0 {
            whole = digits + [UInt8](repeating: 0, count: shift)
        } else {
            let keep = max(0, digits.count + shift)
            whole = Array(digits[..<keep])
            dropped = Array(digits[keep...])
            if digits.count + shift < 0 { dropped = [UInt8](repeating: 0, count: -(digits.count + shift)) + dropped }
        }
        var value: Int64 = 0
        for d in whole {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            value = a
        }
        if let first = dropped.first, first >= 5 {
            let (a, o) = value.addingReportingOverflow(1)
            guard !o else { return nil }
            value = a
        }
        return negative ? -value : value
    }

    /// A whole number of shares: digits, optionally followed by a fraction of zeros (`1200.0`).
    static func integer(_ text: Substring) -> Int64? {
        if let v = Int64(text) { return v }
        guard let units = units(text), units % 10_000 == 0 else { return nil }
        return units / 10_000
    }
}
