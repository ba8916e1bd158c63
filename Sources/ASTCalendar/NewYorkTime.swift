import ASTCore

/// America/New_York in pure code, so that the schedule does not depend on the machine's tzdata.
///
/// Eastern Standard Time is UTC−5; Eastern Daylight Time (UTC−4) runs from the second Sunday of
/// March at 02:00 local to the first Sunday of November at 02:00 local: the U.S. rule since 2007
/// (Energy Policy Act of 2005). Before 2007, from the first Sunday of April to the last Sunday of
/// October (the rule of 1987–2006, also applied to earlier years, which the trading calendar
/// does not cover).
public enum NewYorkTime {
    static let nanosPerSecond: Int64 = 1_000_000_000

    /// Whether daylight saving time is in effect at `t`.
    public static func isDaylightSaving(at t: Timestamp) -> Bool {
        let seconds = floorDiv(t.nanoseconds, nanosPerSecond)
        let year = LocalDate(daysSinceEpoch: Int(floorDiv(seconds, 86_400))).year
        let (start, end) =
            year >= tableYears.lowerBound && year <= tableYears.upperBound ? dstTable[year - tableYears.lowerBound] : dst(year)
        return seconds >= start && seconds < end
    }

    /// The years whose daylight-saving bounds ``dstTable`` holds (any other year computes them).
    static let tableYears = 1970...2100

    /// Daylight saving's first and first-after-last second (since 1970, UTC) for each of
    /// ``tableYears``, computed once from ``dst(_:)``: every bar, session and timestamp asks, and
    /// the rule costs four date conversions per question.
    static let dstTable: [(start: Int64, end: Int64)] = tableYears.map(dst)

    /// The rule: daylight saving's first second and the second after its last, in `year`.
    static func dst(_ year: Int) -> (start: Int64, end: Int64) {
        // 02:00 EST = 07:00 UTC at the start; 02:00 EDT = 06:00 UTC at the end.
        let (first, last) =
            year >= 2007
            ? (LocalDate.nth(2, .sunday, month: 3, year: year), LocalDate.nth(1, .sunday, month: 11, year: year))
            : (LocalDate.nth(1, .sunday, month: 4, year: year), LocalDate.nth(-1, .sunday, month: 10, year: year))
        return (Int64(first.daysSinceEpoch) * 86_400 + 7 * 3600, Int64(last.daysSinceEpoch) * 86_400 + 6 * 3600)
    }

    /// The offset from UTC at `t` in seconds: −18,000 (EST) or −14,400 (EDT).
    public static func utcOffsetSeconds(at t: Timestamp) -> Int {
        isDaylightSaving(at: t) ? -4 * 3600 : -5 * 3600
    }

    /// The instant at which New York's wall clock shows `time` on `date`. A wall time skipped by
    /// the spring-forward gap (02:00–02:59) resolves one hour later; one repeated in November
    /// (01:00–01:59) resolves to its first, daylight, occurrence.
    ///
    /// A date whose instant does not fit in nanoseconds since 1970 (before 1677-09-21 or after
    /// 2262-04-11) gives the nearest representable instant; input from outside goes through
    /// ``checkedTimestamp(_:_:)``, which says so instead.
    public static func timestamp(_ date: LocalDate, _ time: LocalTime) -> Timestamp {
        if let t = checkedTimestamp(date, time) { return t }
        return Timestamp(nanoseconds: date.daysSinceEpoch < 0 ? .min : .max)
    }

    /// As ``timestamp(_:_:)``, or nil when the instant does not fit in nanoseconds since 1970.
    public static func checkedTimestamp(_ date: LocalDate, _ time: LocalTime) -> Timestamp? {
        let local = Int64(date.daysSinceEpoch) * 86_400 + Int64(time.minuteOfDay) * 60
        let (daylightNanos, overflowD) = (local + 4 * 3600).multipliedReportingOverflow(by: nanosPerSecond)
        let (standardNanos, overflowS) = (local + 5 * 3600).multipliedReportingOverflow(by: nanosPerSecond)
        guard !overflowD, !overflowS else { return nil }
        let daylight = Timestamp(nanoseconds: daylightNanos)
        if isDaylightSaving(at: daylight) { return daylight }
        return Timestamp(nanoseconds: standardNanos)
    }

    /// New York's wall-clock date and time at `t` (seconds dropped from the time).
    public static func local(_ t: Timestamp) -> (date: LocalDate, time: LocalTime) {
        let seconds = floorDiv(t.nanoseconds, nanosPerSecond) + Int64(utcOffsetSeconds(at: t))
        let days = floorDiv(seconds, 86_400)
        let minute = Int((seconds - days * 86_400) / 60)
        return (LocalDate(daysSinceEpoch: Int(days)), LocalTime(hour: minute / 60, minute: minute % 60))
    }

    /// `2026-03-09 09:00 EDT`: a timestamp as New York reads it, for tables and logs.
    public static func format(_ t: Timestamp) -> String {
        let (d, time) = local(t)
        return "\(d) \(time) \(isDaylightSaving(at: t) ? "EDT" : "EST")"
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : (a - b + 1) / b }
}
