/// A point in time: integer nanoseconds since the Unix epoch, UTC.
///
/// Journals, envelopes and cores carry time only in this form so that a value written
/// today reads back, compares and replays exactly.
public struct Timestamp: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// The timestamp `duration` later (negative durations go back), held at the ends of the
    /// representable range instead of trapping (about years 1677 and 2262). Where the duration
    /// comes from outside the process, use ``advancedReportingOverflow(by:)`` and refuse.
    public func advanced(by duration: Duration) -> Timestamp {
        if let t = advancedReportingOverflow(by: duration) { return t }
        return Timestamp(nanoseconds: duration < .zero ? .min : .max)
    }

    /// The timestamp `duration` later, or nil if it is not representable.
    public func advancedReportingOverflow(by duration: Duration) -> Timestamp? {
        guard let ns = duration.totalNanosecondsReportingOverflow else { return nil }
        let (sum, overflow) = nanoseconds.addingReportingOverflow(ns)
        return overflow ? nil : Timestamp(nanoseconds: sum)
    }

    /// The duration from `other` to `self` (exact: a `Duration` holds any difference of two
    /// timestamps).
    public func duration(since other: Timestamp) -> Duration {
        let (diff, overflow) = nanoseconds.subtractingReportingOverflow(other.nanoseconds)
        guard overflow else { return .nanoseconds(diff) }
        // The difference needs 65 bits: split it into whole seconds and the rest.
        let wide = Int128(nanoseconds) - Int128(other.nanoseconds)
        return .seconds(Int64(wide / 1_000_000_000)) + .nanoseconds(Int64(wide % 1_000_000_000))
    }

    /// The earliest time a message from outside may carry (the epoch).
    public static let earliestAccepted = Timestamp(nanoseconds: 0)
    /// The latest time a message from outside may carry (2200-01-01T00:00:00Z): far beyond any
    /// session, and far enough below `Int64.max` that adding days or weeks cannot overflow.
    public static let latestAccepted = Timestamp(nanoseconds: 7_258_118_400 * 1_000_000_000)

    public init(from decoder: any Decoder) throws {
        nanoseconds = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(nanoseconds)
    }

    /// ISO 8601 in UTC with millisecond precision, for logs and tables.
    public var description: String {
        // Floor division in 128 bits: near Int64.min, `ns - 999_999_999` would overflow.
        let wide = Int128(nanoseconds)
        let secs = Int64(wide >= 0 ? wide / 1_000_000_000 : (wide - 999_999_999) / 1_000_000_000)
        let millis = Int64((wide - Int128(secs) * 1_000_000_000) / 1_000_000)
        let (y, m, d) = Timestamp.civil(fromDays: secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400)
        let sod = secs - (secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400) * 86_400
        func pad(_ v: Int64, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return
            "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(sod / 3600, 2)):\(pad(sod / 60 % 60, 2)):\(pad(sod % 60, 2)).\(pad(millis, 3))Z"
    }

    /// Gregorian date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
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

extension Duration {
    /// The whole duration in nanoseconds (attoseconds below a nanosecond are dropped), held at
    /// `Int64.min`/`Int64.max` for a duration beyond about ±292 years instead of trapping.
    public var totalNanoseconds: Int64 {
        totalNanosecondsReportingOverflow ?? (self < .zero ? .min : .max)
    }

    /// The whole duration in nanoseconds, or nil if it does not fit 64 bits.
    public var totalNanosecondsReportingOverflow: Int64? {
        let (s, atto) = components
        let (whole, o1) = s.multipliedReportingOverflow(by: 1_000_000_000)
        let (sum, o2) = whole.addingReportingOverflow(atto / 1_000_000_000)
        return o1 || o2 ? nil : sum
    }
}

/// The source of "now" for cores and shells. Cores take it as a parameter; only a shell
/// ever uses ``SystemClock``.
public protocol WallClock: Sendable {
    func now() -> Timestamp
}
