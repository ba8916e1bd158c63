/// Indicator values as fixed-point text with six decimals, byte for byte what C's `printf("%.6f")`
/// prints (the exact binary value rounded to nearest, ties to even), written into a byte buffer:
/// no Foundation, no `String` and no allocation per number. `ast indicators` prints 14 such cells
/// per bar; through `String(format:)` they cost about 1 µs each.
public enum FixedDecimalText {
    /// Appends `x` with six decimals; `-0.000000` (a negative value that rounds to zero, or
    /// -0) is written `0.000000`; NaN and the infinities as `nan`, `inf`, `-inf`.
    public static func appendSixDecimals(_ x: Double, to out: inout [UInt8]) {
        guard x.isFinite else {
            out.append(contentsOf: x.isNaN ? Array("nan".utf8) : (x > 0 ? Array("inf".utf8) : Array("-inf".utf8)))
            return
        }
        let a = x.magnitude
        if a.exponent >= 64 {
            appendHuge(a, negative: x < 0, to: &out)
            return
        }
        // a = significand × 2^shift exactly, significand < 2^53.
        let significand: UInt64 =
            a.isSubnormal || a == 0 ? a.significandBitPattern : (1 << 52) | a.significandBitPattern
        let shift = a.isSubnormal || a == 0 ? -1074 : Int(a.exponent) - 52
        var whole: UInt64
        var micros: UInt64
        if shift >= 0 {
            // An integer below 2^64: exact.
            whole = significand << UInt64(shift)
            micros = 0
        } else {
            // a × 10^6 = significand × 10^6 / 2^k, rounded to nearest, ties to even.
            let k = -shift
            let scaled = UInt128(significand) * 1_000_000
            var q: UInt128
            if k >= 127 {
                q = 0  // below 2^73 / 2^127: far under half a millionth
            } else {
                q = scaled >> UInt128(k)
                let rest = scaled - (q << UInt128(k))
                let half = UInt128(1) << UInt128(k - 1)
                if rest > half || (rest == half && q & 1 == 1) { q += 1 }
            }
            if q <= UInt128(UInt64.max) {
                // The common case, in 64-bit arithmetic (a 128-bit division is a library call).
                let q64 = UInt64(q)
                whole = q64 / 1_000_000
                micros = q64 % 1_000_000
            } else {
                whole = UInt64(q / 1_000_000)
                micros = UInt64(q % 1_000_000)
            }
        }
        if x < 0, whole != 0 || micros != 0 { out.append(UInt8(ascii: "-")) }
        appendDigits(whole, to: &out)
        out.append(UInt8(ascii: "."))
        var m = micros
        var six: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &six) { raw in
            for i in stride(from: 5, through: 0, by: -1) {
                raw[i] = UInt8(ascii: "0") + UInt8(m % 10)
                m /= 10
            }
            out.append(contentsOf: raw)
        }
    }

    /// Appends `v` in decimal, without leading zeros (`0` for zero).
    public static func appendDigits(_ v: UInt64, to out: inout [UInt8]) {
        // At most 20 digits, written backwards into a fixed buffer, then appended at once.
        var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &buffer) { raw in
            var i = raw.count
            var rest = v
            repeat {
                i -= 1
                raw[i] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[i...]))
        }
    }

    /// An integer of 2^64 or more (no realistic indicator value): its exact decimal digits, by
    /// doubling a base-10^9 number.
    static func appendHuge(_ a: Double, negative: Bool, to out: inout [UInt8]) {
        var limbs: [UInt64] = [(1 << 52) | a.significandBitPattern]  // base 10^9, least significant first
        // Normalise the first limb to base 10^9.
        if limbs[0] >= 1_000_000_000 {
            let v = limbs[0]
            limbs = [v % 1_000_000_000, v / 1_000_000_000 % 1_000_000_000, v / 1_000_000_000_000_000_000]
            while limbs.count > 1, limbs[limbs.count - 1] == 0 { limbs.removeLast() }
        }
        for _ in 0..<(Int(a.exponent) - 52) {
            var carry: UInt64 = 0
            for i in limbs.indices {
                let v = limbs[i] * 2 + carry
                limbs[i] = v % 1_000_000_000
                carry = v / 1_000_000_000
            }
            if carry > 0 { limbs.append(carry) }
        }
        if negative { out.append(UInt8(ascii: "-")) }
        appendDigits(limbs[limbs.count - 1], to: &out)
        for limb in limbs.dropLast().reversed() {
            var divisor: UInt64 = 100_000_000
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(limb / divisor % 10))
                divisor /= 10
            }
        }
        out.append(contentsOf: Array(".000000".utf8))
    }
}
