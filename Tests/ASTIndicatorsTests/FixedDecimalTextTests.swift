import ASTCore
import Foundation
import Testing

@testable import ASTIndicators

/// `ast indicators` prints through FixedDecimalText instead of `String(format: "%.6f")`: the same
/// bytes for every double, ties and signs included.
@Suite struct FixedDecimalTextTests {
    static func printf(_ x: Double) -> String {
        guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf") }
        let s = String(format: "%.6f", x)
        return s == "-0.000000" ? "0.000000" : s
    }

    static func fast(_ x: Double) -> String {
        var out: [UInt8] = []
        FixedDecimalText.appendSixDecimals(x, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func sixDecimalsAreWhatPrintfPrintsForEveryKindOfDouble() {
        var rng = SplitMix64(seed: 7)
        var values: [Double] = [
            0, -0.0, 1, -1, 0.5, 0.0000005, -0.0000005, 0.0000015, 0.0000025, 1.0 / 128, 3.0 / 128, -5.0 / 128, 0.1, 0.7, 1e-7,
            -4e-7, 123456.7890125, 9_007_199_254_740_993, 1e15, 1.5e15, 18_446_744_073_709_551_615, 1.8446744073709552e19, 1e20,
            -3.7e25, 1e300, Double.greatestFiniteMagnitude, -Double.greatestFiniteMagnitude, Double.leastNonzeroMagnitude,
            Double.leastNormalMagnitude, .nan, .infinity, -.infinity, 4_503_599_627_370_495.5, 0.9999995, 0.99999949999,
        ]
        // Exact ties at the sixth decimal: odd multiples of 2^-k with k <= 7 times any integer part.
        for k in 1...7 { for m in stride(from: 1, to: 1 << k, by: 2) { values.append(Double(m) / Double(1 << k) * 1e-5 + 12) } }
        for i in 0..<200 { values.append(Double(i) / 128 + 0.0000005) }
        for _ in 0..<20_000 {
            let magnitude = Double.random(in: -12...18, using: &rng)
            let x = (Bool.random(using: &rng) ? 1 : -1) * pow(10, magnitude) * Double.random(in: 1..<10, using: &rng)
            values.append(x)
            // Values a price formula gives: cents and ten-thousandths over small integers.
            values.append(
                Double(Int.random(in: -10_000_000...10_000_000, using: &rng))
                    / Double([2, 3, 7, 20, 128, 10_000].randomElement(using: &rng)!))
            values.append(Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng)))
        }
        var mismatches: [String] = []
        for x in values where Self.fast(x) != Self.printf(x) {
            mismatches.append("\(x): \(Self.fast(x)) vs \(Self.printf(x))")
            if mismatches.count > 5 { break }
        }
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))")
    }

    @Test func digitsAreWrittenWithoutLeadingZeros() {
        for v: UInt64 in [0, 7, 10, 99, 100, 12_345, 1_000_000, UInt64.max] {
            var out: [UInt8] = []
            FixedDecimalText.appendDigits(v, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(v))
        }
    }

    /// The exact window converts its Int128 sums through Int64 when they fit: the same double.
    @Test func int128SumsConvertLikeTheGenericConversion() {
        var rng = SplitMix64(seed: 9)
        for _ in 0..<100_000 {
            let v = Int64.random(in: Int64.min...Int64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng)
            #expect(ExactWindow.double(Int128(v)) == Double(Int128(v)))
            let w = Int128(v) * Int128(Int64.random(in: 1...Int64.max, using: &rng))
            #expect(ExactWindow.double(w) == Double(w))
        }
    }

    /// The engine's allocation-free row is the row of its values, bar for bar.
    @Test func columnsUpdateGivesTheRowOfTheValues() throws {
        let specs = try [
            "sma:5", "ema:10", "rsi:14", "macd:12,26,9", "atr:14", "bb:20,2", "adx:14", "supertrend:10,3", "kdj:9,3,3", "bb:7,2.5",
        ]
        .map { try IndicatorSpec(parsing: $0) }
        let plan = IndicatorPlan(specs)
        var a = IndicatorEngine(plan: plan)
        var b = IndicatorEngine(plan: plan)
        var columns: [Double?] = []
        for bar in randomBars(count: 600, seed: 3) {
            let updated = a.update(bar)
            let values = try #require(updated)
            #expect(b.update(bar, columns: &columns))
            #expect(columns.count == plan.columns.count)
            #expect(zip(columns, values.row).allSatisfy { $0 == $1 || ($0?.isNaN == true && $1?.isNaN == true) })
        }
        #expect(b.update(randomBars(count: 1, seed: 3)[0], columns: &columns) == false)
        #expect(a.evaluations == b.evaluations)
    }
}
