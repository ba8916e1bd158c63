import ASTCore

/// One NYSE trading session.
public struct Session: Sendable, Equatable, CustomStringConvertible {
    public let date: LocalDate
    /// 09:30 New York time.
    public let open: Timestamp
    /// 16:00 New York time, or the early close (13:00).
    public let close: Timestamp
    public let isEarlyClose: Bool

    public var description: String {
        "\(date) \(NewYorkTime.format(open)) – \(NewYorkTime.local(close).time)\(isEarlyClose ? " (early close)" : "")"
    }
}

/// Which days NYSE trades and when: weekdays, less the holidays of a table, with the table's
/// early closes. Pure: no clock, no files, no tzdata.
///
/// Outside the years its table covers (``coveredYears``) the calendar knows no trading day:
/// a system running past 2030 with this table does nothing rather than trade on a holiday.
public struct TradingCalendar: Sendable {
    /// NYSE, 2024–2030 (see ``MarketException`` and the table's sources).
    public static let nyse = TradingCalendar(exceptions: NYSEHolidays.table, coveredYears: NYSEHolidays.years)

    public static let regularOpen = LocalTime(hour: 9, minute: 30)
    public static let regularClose = LocalTime(hour: 16, minute: 0)

    /// The years for which the exception table is complete.
    public let coveredYears: ClosedRange<Int>
    private let exceptions: [LocalDate: MarketException]

    public init(exceptions: [MarketException], coveredYears: ClosedRange<Int>) {
        self.coveredYears = coveredYears
        self.exceptions = Dictionary(exceptions.map { ($0.date, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The holiday or early close on `date`, if any.
    public func exception(on date: LocalDate) -> MarketException? { exceptions[date] }

    /// Whether NYSE holds a session (full or shortened) on `date`.
    public func isTradingDay(_ date: LocalDate) -> Bool {
        coveredYears.contains(date.year) && !date.weekday.isWeekend && exceptions[date]?.kind != .closed
    }

    /// The session on `date`, or `nil` on a weekend, a holiday or outside ``coveredYears``.
    public func session(on date: LocalDate) -> Session? {
        guard isTradingDay(date) else { return nil }
        var close = Self.regularClose
        if case .earlyClose(let t)? = exceptions[date]?.kind { close = t }
        return Session(
            date: date, open: NewYorkTime.timestamp(date, Self.regularOpen),
            close: NewYorkTime.timestamp(date, close), isEarlyClose: close != Self.regularClose)
    }

    /// Every session from `from` through `to`, inclusive, in order.
    public func sessions(from: LocalDate, to: LocalDate) -> [Session] {
        guard from <= to else { return [] }
        let lo = max(from.daysSinceEpoch, LocalDate(year: coveredYears.lowerBound, month: 1, day: 1)!.daysSinceEpoch)
        let hi = min(to.daysSinceEpoch, LocalDate(year: coveredYears.upperBound, month: 12, day: 31)!.daysSinceEpoch)
        guard lo <= hi else { return [] }
        return (lo...hi).compactMap { session(on: LocalDate(daysSinceEpoch: $0)) }
    }

    /// The first session that opens after `t` (strictly), or `nil` past the table's end.
    public func nextSession(after t: Timestamp) -> Session? {
        var date = NewYorkTime.local(t).date
        while date.year <= coveredYears.upperBound {
            if let s = session(on: date), s.open > t { return s }
            date = date.adding(days: 1)
        }
        return nil
    }
}
