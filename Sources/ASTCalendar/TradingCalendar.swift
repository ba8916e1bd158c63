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
/// a system running past 2035 with this table does nothing rather than trade on a holiday.
///
/// Every session of the covered years is computed once, at construction (about 9,000 for NYSE's
/// 36 years): a lookup by date is an index into an array, and ``sessions(from:to:)`` a slice.
public struct TradingCalendar: Sendable {
    /// NYSE, 2000–2035 (see ``MarketException`` and the rules of the table).
    public static let nyse = TradingCalendar(exceptions: NYSEHolidays.table, coveredYears: NYSEHolidays.years)

    public static let regularOpen = LocalTime(hour: 9, minute: 30)
    public static let regularClose = LocalTime(hour: 16, minute: 0)

    /// The years for which the exception table is complete.
    public let coveredYears: ClosedRange<Int>
    private let exceptions: [LocalDate: MarketException]
    /// Every session of the covered years, in order.
    private let all: [Session]
    /// Days since 1970-01-01 of the first day of the covered years.
    private let firstDay: Int
    /// Per day from `firstDay`: the index in `all` of the first session on or after that day
    /// (`all.count` past the last one).
    private let firstOnOrAfter: [Int32]

    public init(exceptions: [MarketException], coveredYears: ClosedRange<Int>) {
        self.coveredYears = coveredYears
        let table = Dictionary(exceptions.map { ($0.date, $0) }, uniquingKeysWith: { first, _ in first })
        self.exceptions = table
        let lo = LocalDate(year: coveredYears.lowerBound, month: 1, day: 1)?.daysSinceEpoch ?? 0
        let hi = LocalDate(year: coveredYears.upperBound, month: 12, day: 31)?.daysSinceEpoch ?? -1
        firstDay = lo
        var all: [Session] = []
        var index: [Int32] = []
        if lo <= hi {
            index.reserveCapacity(hi - lo + 1)
            for d in lo...hi {
                index.append(Int32(all.count))
                let date = LocalDate(daysSinceEpoch: d)
                guard !date.weekday.isWeekend else { continue }
                var close = Self.regularClose
                switch table[date]?.kind {
                case .closed?: continue
                case .earlyClose(let t)?: close = t
                case nil: break
                }
                all.append(
                    Session(
                        date: date, open: NewYorkTime.timestamp(date, Self.regularOpen), close: NewYorkTime.timestamp(date, close),
                        isEarlyClose: close != Self.regularClose))
            }
        }
        self.all = all
        firstOnOrAfter = index
    }

    /// The holiday or early close on `date`, if any.
    public func exception(on date: LocalDate) -> MarketException? { exceptions[date] }

    /// The index in ``all`` of the first session on or after the day `days` since 1970-01-01,
    /// clamped to the covered years.
    private func firstIndex(onOrAfter days: Int) -> Int {
        let i = days - firstDay
        if i < 0 { return 0 }
        if i >= firstOnOrAfter.count { return all.count }
        return Int(firstOnOrAfter[i])
    }

    /// Why NYSE holds no session on `date` — `a Saturday`, `NYSE was closed: Good Friday`,
    /// `outside the calendar's years 2000–2035` — or nil when it holds one.
    public func whyNoSession(on date: LocalDate) -> String? {
        guard session(on: date) == nil else { return nil }
        if !coveredYears.contains(date.year) {
            return "outside the calendar's years \(coveredYears.lowerBound)–\(coveredYears.upperBound)"
        }
        if date.weekday.isWeekend { return date.weekday == .saturday ? "a Saturday" : "a Sunday" }
        return "NYSE was closed: \(exceptions[date]?.reason ?? "a holiday")"
    }

    /// Whether NYSE holds a session (full or shortened) on `date`.
    public func isTradingDay(_ date: LocalDate) -> Bool { session(on: date) != nil }

    /// The session on `date`, or `nil` on a weekend, a holiday or outside ``coveredYears``.
    public func session(on date: LocalDate) -> Session? {
        let d = date.daysSinceEpoch
        guard d >= firstDay, d - firstDay < firstOnOrAfter.count else { return nil }
        let i = Int(firstOnOrAfter[d - firstDay])
        return i < all.count && all[i].date == date ? all[i] : nil
    }

    /// Every session from `from` through `to`, inclusive, in order.
    public func sessions(from: LocalDate, to: LocalDate) -> [Session] {
        guard from <= to else { return [] }
        let lo = firstIndex(onOrAfter: from.daysSinceEpoch), hi = firstIndex(onOrAfter: to.daysSinceEpoch + 1)
        return lo < hi ? Array(all[lo..<hi]) : []
    }

    /// The first session that opens after `t` (strictly), or `nil` past the table's end.
    public func nextSession(after t: Timestamp) -> Session? {
        var i = firstIndex(onOrAfter: NewYorkTime.local(t).date.daysSinceEpoch)
        while i < all.count {
            if all[i].open > t { return all[i] }
            i += 1
        }
        return nil
    }
}
