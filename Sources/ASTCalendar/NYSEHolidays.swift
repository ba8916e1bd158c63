/// A day on which NYSE does not trade a full session.
public struct MarketException: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Closed all day.
        case closed
        /// Trades from 09:30 to the given early close (13:00 on every early close since 1993).
        case earlyClose(LocalTime)
    }

    public let date: LocalDate
    public let kind: Kind
    /// Why: "Good Friday", "Day after Thanksgiving" ...
    public let reason: String

    public init(date: LocalDate, kind: Kind, reason: String) {
        self.date = date
        self.kind = kind
        self.reason = reason
    }
}

/// NYSE holidays and early closes, 2000 through 2035, for the NYSE equities market: the rules
/// NYSE has applied in every one of those years, plus its one-off closures.
///
/// Rules (NYSE Rule 7.2 and the exchange's yearly holiday calendars):
/// - Closed: New Year's Day, Martin Luther King, Jr. Day (third Monday of January), Washington's
///   Birthday (third Monday of February), Good Friday, Memorial Day (last Monday of May),
///   Juneteenth (June 19, from 2022), Independence Day, Labor Day (first Monday of September),
///   Thanksgiving Day (fourth Thursday of November), Christmas Day. A holiday on a Sunday is
///   observed the Monday, on a Saturday the Friday — except New Year's Day, which is then not
///   observed at all (2005, 2011, 2022, 2028, 2033: December 31 trades).
/// - Early close at 13:00: the day after Thanksgiving; December 24 on a Monday to Thursday;
///   July 3 on a Monday, Tuesday or Thursday, and on a Wednesday from 2013 on; before 2013, July 5
///   when it is a Friday (2002).
/// - One-off early close (13:00): 2003-12-26, the Friday after Christmas.
/// - One-off closures: 2001-09-11 to 09-14 (the attacks on the World Trade Center), 2004-06-11
///   (President Reagan's funeral), 2007-01-02 (President Ford), 2012-10-29 and 10-30 (Hurricane
///   Sandy), 2018-12-05 (President George H. W. Bush), 2025-01-09 (President Carter).
///
/// Checked day by day against an independent calendar (`exchange_calendars`' XNYS) by
/// `ASTCalendarTests` and the fixture `scripts/calendar-oracle` generates. Years NYSE has not
/// published yet (after 2028 when this was written) follow the rules: a one-off closure there
/// is unknowable in advance, and the operator's halt is the answer to one.
enum NYSEHolidays {
    static let years = 2000...2035

    static let table: [MarketException] = years.flatMap(exceptions(in:)).sorted { $0.date < $1.date }

    private static let one = LocalTime(hour: 13, minute: 0)

    /// The one-off closures (not rule-based).
    static let closures: [(String, String)] = [
        ("2001-09-11", "Attacks on the World Trade Center"), ("2001-09-12", "Attacks on the World Trade Center"),
        ("2001-09-13", "Attacks on the World Trade Center"), ("2001-09-14", "Attacks on the World Trade Center"),
        ("2004-06-11", "National Day of Mourning for President Reagan"),
        ("2007-01-02", "National Day of Mourning for President Ford"),
        ("2012-10-29", "Hurricane Sandy"), ("2012-10-30", "Hurricane Sandy"),
        ("2018-12-05", "National Day of Mourning for President George H. W. Bush"),
        ("2025-01-09", "National Day of Mourning for President Carter"),
    ]

    /// The one-off early closes (13:00, not rule-based).
    static let earlyCloses: [(String, String)] = [("2003-12-26", "Day after Christmas")]

    /// Every holiday and early close of `year` (in no particular order).
    static func exceptions(in year: Int) -> [MarketException] {
        var out: [MarketException] = []
        func closed(_ d: LocalDate, _ reason: String) { out.append(MarketException(date: d, kind: .closed, reason: reason)) }
        func early(_ d: LocalDate, _ reason: String) { out.append(MarketException(date: d, kind: .earlyClose(one), reason: reason)) }
        func observed(_ d: LocalDate, _ reason: String, saturdayToFriday: Bool = true) {
            switch d.weekday {
            case .saturday: if saturdayToFriday { closed(d.adding(days: -1), "\(reason) (observed)") }
            case .sunday: closed(d.adding(days: 1), "\(reason) (observed)")
            default: closed(d, reason)
            }
        }
        func day(_ m: Int, _ d: Int) -> LocalDate { LocalDate(year: year, month: m, day: d)! }

        observed(day(1, 1), "New Year's Day", saturdayToFriday: false)
        closed(LocalDate.nth(3, .monday, month: 1, year: year), "Martin Luther King, Jr. Day")
        closed(LocalDate.nth(3, .monday, month: 2, year: year), "Washington's Birthday")
        closed(easter(year).adding(days: -2), "Good Friday")
        closed(LocalDate.nth(-1, .monday, month: 5, year: year), "Memorial Day")
        if year >= 2022 { observed(day(6, 19), "Juneteenth") }
        observed(day(7, 4), "Independence Day")
        let july3 = day(7, 3)
        if [.monday, .tuesday, .thursday].contains(july3.weekday) || (july3.weekday == .wednesday && year >= 2013) {
            early(july3, "Day before Independence Day")
        }
        if year < 2013, day(7, 5).weekday == .friday { early(day(7, 5), "Day after Independence Day") }
        closed(LocalDate.nth(1, .monday, month: 9, year: year), "Labor Day")
        let thanksgiving = LocalDate.nth(4, .thursday, month: 11, year: year)
        closed(thanksgiving, "Thanksgiving Day")
        early(thanksgiving.adding(days: 1), "Day after Thanksgiving")
        if [.monday, .tuesday, .wednesday, .thursday].contains(day(12, 24).weekday) { early(day(12, 24), "Christmas Eve") }
        observed(day(12, 25), "Christmas Day")
        for (d, reason) in closures where d.hasPrefix("\(year)-") { closed(LocalDate(d)!, reason) }
        for (d, reason) in earlyCloses where d.hasPrefix("\(year)-") { early(LocalDate(d)!, reason) }
        return out
    }

    /// Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher).
    static func easter(_ y: Int) -> LocalDate {
        let a = y % 19, b = y / 100, c = y % 100, d = b / 4, e = b % 4, f = (b + 8) / 25, g = (b - f + 1) / 3
        let h = (19 * a + b - d - g + 15) % 30, i = c / 4, k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7
        let m = (a + 11 * h + 22 * l) / 451
        return LocalDate(year: y, month: (h + l - 7 * m + 114) / 31, day: (h + l - 7 * m + 114) % 31 + 1)!
    }
}
