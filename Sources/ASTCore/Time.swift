/// A point in time: integer nanoseconds since the Unix epoch, UTC.
///
/// Journals, envelopes and cores carry time only in this form so that a value written
/// today reads back, compares and replays exactly.
public struct Timestamp: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// The timestamp `duration` later (negative durations go back).
    public func advanced(by duration: Duration) -> Timestamp {
        Timestamp(nanoseconds: nanoseconds + duration.totalNanoseconds)
    }

    /// The duration from `other` to `self`.
    public func duration(since other: Timestamp) -> Duration {
        .nanoseconds(nanoseconds - other.nanoseconds)
    }

    public init(from decoder: any Decoder) throws {
        nanoseconds = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(nanoseconds)
    }

    /// ISO 8601 in UTC with millisecond precision, for logs and tables.
    public var description: String {
        let ns = nanoseconds
        let secs = ns >= 0 ? ns / 1_000_000_000 : (ns - 999_999_999) / 1_000_000_000
        let millis = (ns - secs * 1_000_000_000) / 1_000_000
        let (y, m, d) = Timestamp.civil(fromDays: secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400)
        let sod = secs - (secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400) * 86_400
        func pad(_ v: Int64, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(sod / 3600, 2)):\(pad(sod / 60 % 60, 2)):\(pad(sod % 60, 2)).\(pad(millis, 3))Z"
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
    /// The whole duration in nanoseconds (attoseconds below a nanosecond are dropped).
    public var totalNanoseconds: Int64 {
        let (s, atto) = components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
}

/// The source of "now" for cores and shells. Cores take it as a parameter; only a shell
/// ever uses ``SystemClock``.
public protocol WallClock: Sendable {
    func now() -> Timestamp
}
