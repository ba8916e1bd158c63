/// A percentage held exactly as integer units of 1/10,000 of a percent (`10` is
/// `Percent(units: 100_000)`), for limits such as "drawdown at most 10 %".
///
/// In configuration it is a plain number (`max_drawdown_pct: 10`, `price_band_pct: 2.5`) or
/// a string (`"2.5"`); more than four decimals are refused rather than rounded. It encodes
/// as a number: a whole number as an integer, anything else as the `Double` closest to it,
/// which prints and reads back as the same decimal.
public struct Percent: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible,
    ExpressibleByIntegerLiteral
{
    /// The percentage in 1/10,000 of a percent.
    public var units: Int64
    /// Units per whole percent.
    public static let unitsPerWhole: Int64 = FixedPoint.scale

    public init(units: Int64) { self.units = units }

    /// A whole number of percent; traps if it does not fit (only for literals and constants).
    public init(integerLiteral value: Int64) { self.units = value * Percent.unitsPerWhole }

    /// Parses `"10"`, `"2.5"`, `"0.0001"` exactly; `nil` for anything else (see ``FixedPoint``).
    public init?(_ description: String) {
        guard let units = FixedPoint.parse(description) else { return nil }
        self.units = units
    }

    /// Canonical text without trailing zeros: `"10"`, `"2.5"`.
    public var description: String { FixedPoint.format(units, minFractionDigits: 0) }

    public static func < (a: Percent, b: Percent) -> Bool { a.units < b.units }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let text = try? c.decode(String.self) {
            guard let p = Percent(text) else {
                throw DecodingError.dataCorruptedError(
                    in: c, debugDescription: "'\(text)' is not a percentage with at most 4 decimals")
            }
            self = p
        } else if let whole = try? c.decode(Int64.self) {
            let (u, o) = whole.multipliedReportingOverflow(by: Percent.unitsPerWhole)
            guard !o else { throw DecodingError.dataCorruptedError(in: c, debugDescription: "\(whole) % is out of range") }
            units = u
        } else {
            let d = try c.decode(Double.self)
            let scaled = (d * Double(Percent.unitsPerWhole)).rounded()
            guard scaled.isFinite, abs(scaled) < 9.0e15, Double(Int64(scaled)) / Double(Percent.unitsPerWhole) == d else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "\(d) is not a percentage with at most 4 decimals")
            }
            units = Int64(scaled)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if units % Percent.unitsPerWhole == 0 {
            try c.encode(units / Percent.unitsPerWhole)
        } else {
            try c.encode(Double(units) / Double(Percent.unitsPerWhole))
        }
    }
}
