import ASTCore
import Testing

@testable import ASTCalendar

func date(_ text: String) -> LocalDate { LocalDate(text)! }
func ny(_ d: String, _ h: Int, _ m: Int) -> Timestamp { NewYorkTime.timestamp(date(d), LocalTime(hour: h, minute: m)) }
/// An instant given in UTC, seconds since the epoch (checked with `date -u -d @N`).
func utc(_ seconds: Int64) -> Timestamp { Timestamp(nanoseconds: seconds * 1_000_000_000) }

@Suite struct LocalDates {
    @Test func parsesAndPrintsISODates() {
        #expect(LocalDate("2026-11-27") == LocalDate(year: 2026, month: 11, day: 27))
        #expect(LocalDate("2026-11-27")?.description == "2026-11-27")
        for bad in ["2026-02-29", "2026-13-01", "2026-1-01", "26-11-27", "2026-11-27x", "", "2026-11-٢٧", "+026-11-27"] {
            #expect(LocalDate(bad) == nil, "\(bad)")
        }
        #expect(LocalDate("2028-02-29") != nil)
    }

    @Test func daysAndWeekdaysRoundTrip() {
        #expect(LocalDate(daysSinceEpoch: 0).description == "1970-01-01")
        #expect(date("1970-01-01").weekday == .thursday)
        #expect(date("2026-11-27").weekday == .friday)
        #expect(date("2000-02-29").weekday == .tuesday)
        for d in stride(from: -800_000, through: 800_000, by: 997) {
            #expect(LocalDate(daysSinceEpoch: d).daysSinceEpoch == d)
        }
        #expect(date("2024-12-31").adding(days: 1) == date("2025-01-01"))
    }
}

@Suite struct NewYorkTimeZone {
    // Known instants: 2026-03-08 is the second Sunday of March (clocks 02:00 EST -> 03:00 EDT),
    // 2026-11-01 the first Sunday of November (02:00 EDT -> 01:00 EST).
    @Test func convertsKnownInstantsAcrossDaylightSavingChanges() {
        #expect(ny("2026-01-15", 9, 30) == utc(1_768_487_400))  // 14:30Z, EST
        #expect(ny("2026-07-15", 9, 30) == utc(1_784_122_200))  // 13:30Z, EDT
        #expect(ny("2026-03-06", 16, 0) == utc(1_772_830_800))  // Friday before: 21:00Z
        #expect(ny("2026-03-09", 9, 30) == utc(1_773_063_000))  // Monday after: 13:30Z
        #expect(ny("2026-10-30", 16, 0) == utc(1_793_390_400))  // Friday before: 20:00Z
        #expect(ny("2026-11-02", 9, 30) == utc(1_793_629_800))  // Monday after: 14:30Z
    }

    @Test func switchesAtTwoInTheMorningLocalTime() {
        #expect(NewYorkTime.utcOffsetSeconds(at: utc(1_772_953_200 - 1)) == -18_000)  // 2026-03-08 06:59:59Z
        #expect(NewYorkTime.utcOffsetSeconds(at: utc(1_772_953_200)) == -14_400)  // 07:00Z = 03:00 EDT
        #expect(NewYorkTime.utcOffsetSeconds(at: utc(1_793_512_800 - 1)) == -14_400)  // 2026-11-01 05:59:59Z
        #expect(NewYorkTime.utcOffsetSeconds(at: utc(1_793_512_800)) == -18_000)  // 06:00Z = 01:00 EST
        // The skipped 02:30 resolves to 03:30 EDT; the repeated 01:30 to its first (EDT) occurrence.
        #expect(ny("2026-03-08", 2, 30) == ny("2026-03-08", 3, 30))
        #expect(ny("2026-11-01", 1, 30) == utc(1_793_511_000))  // 05:30Z
    }

    @Test func localTimeInvertsTimestampOnEveryMinuteOfADaylightSavingDay() {
        for d in ["2026-03-08", "2026-11-01", "2027-03-14", "2027-11-07"] {
            for m in stride(from: 0, to: 1440, by: 1) where !(d.hasSuffix("03-08") || d.hasSuffix("03-14")) || !(120..<180).contains(m) {
                let t = LocalTime(hour: m / 60, minute: m % 60)
                let local = NewYorkTime.local(NewYorkTime.timestamp(date(d), t))
                #expect(local.date == date(d) && local.time == t, "\(d) \(t)")
            }
        }
    }
}

@Suite struct NYSECalendar {
    let cal = TradingCalendar.nyse

    @Test func holidaysWeekendsAndOrdinaryDays() {
        #expect(cal.isTradingDay(date("2026-11-25")))  // Wednesday before Thanksgiving
        #expect(!cal.isTradingDay(date("2026-11-26")))  // Thanksgiving
        #expect(!cal.isTradingDay(date("2026-11-28")))  // Saturday
        #expect(!cal.isTradingDay(date("2026-04-03")))  // Good Friday
        #expect(!cal.isTradingDay(date("2026-06-19")))  // Juneteenth
        #expect(!cal.isTradingDay(date("2026-07-03")))  // Independence Day observed (Saturday)
        #expect(!cal.isTradingDay(date("2025-01-09")))  // national day of mourning
        #expect(cal.isTradingDay(date("2027-12-31")))  // New Year's Day 2028 is a Saturday: not observed
        #expect(!cal.isTradingDay(date("2031-01-02")))  // beyond the table: no sessions
        #expect(!cal.isTradingDay(date("2023-06-01")))
    }

    @Test func sessionsOpenAtNineThirtyAndCloseAtFourOrOneOnEarlyCloses() throws {
        let regular = try #require(cal.session(on: date("2026-11-25")))
        #expect(regular.open == ny("2026-11-25", 9, 30) && regular.close == ny("2026-11-25", 16, 0))
        #expect(!regular.isEarlyClose)
        let early = try #require(cal.session(on: date("2026-11-27")))
        #expect(early.close == ny("2026-11-27", 13, 0) && early.isEarlyClose)
        #expect(cal.session(on: date("2026-12-24"))?.isEarlyClose == true)
        #expect(cal.session(on: date("2025-07-03"))?.isEarlyClose == true)
        #expect(cal.session(on: date("2026-07-02"))?.isEarlyClose == false)
        #expect(cal.session(on: date("2026-11-26")) == nil)
    }

    @Test func sessionsBetweenDatesSkipClosedDays() {
        let s = cal.sessions(from: date("2026-11-23"), to: date("2026-11-30")).map(\.date.description)
        #expect(s == ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-27", "2026-11-30"])
        #expect(cal.sessions(from: date("2026-11-30"), to: date("2026-11-23")).isEmpty)
        #expect(cal.sessions(from: date("2024-01-01"), to: date("2024-12-31")).count == 252)
        #expect(cal.sessions(from: date("2025-01-01"), to: date("2025-12-31")).count == 250)
    }

    @Test func nextSessionIsTheNextOpenStrictlyAfterTheInstant() {
        #expect(cal.nextSession(after: ny("2026-11-25", 17, 0))?.date == date("2026-11-27"))
        #expect(cal.nextSession(after: ny("2026-11-25", 9, 29))?.date == date("2026-11-25"))
        #expect(cal.nextSession(after: ny("2026-11-25", 9, 30))?.date == date("2026-11-27"))
        #expect(cal.nextSession(after: ny("2026-04-02", 20, 0))?.date == date("2026-04-06"))
        #expect(cal.nextSession(after: ny("2030-12-31", 17, 0)) == nil)
    }

    /// Re-derives every holiday and early close of the table from NYSE's rules, so that a typo
    /// in the table fails here. (The one-off closure of 2025-01-09 is not rule-based.)
    @Test func tableMatchesTheNYSERulesForEveryYear() {
        for year in NYSEHolidays.years {
            var expected: [(LocalDate, MarketException.Kind)] = []
            func observed(_ d: LocalDate, newYear: Bool = false) {
                switch d.weekday {
                case .saturday: if !newYear { expected.append((d.adding(days: -1), .closed)) }
                case .sunday: expected.append((d.adding(days: 1), .closed))
                default: expected.append((d, .closed))
                }
            }
            let one = MarketException.Kind.earlyClose(LocalTime(hour: 13, minute: 0))
            observed(LocalDate(year: year, month: 1, day: 1)!, newYear: true)
            expected.append((LocalDate.nth(3, .monday, month: 1, year: year), .closed))
            expected.append((LocalDate.nth(3, .monday, month: 2, year: year), .closed))
            expected.append((easter(year).adding(days: -2), .closed))
            expected.append((LocalDate.nth(-1, .monday, month: 5, year: year), .closed))
            observed(LocalDate(year: year, month: 6, day: 19)!)
            let july4 = LocalDate(year: year, month: 7, day: 4)!
            observed(july4)
            if [.tuesday, .wednesday, .thursday, .friday].contains(july4.weekday) { expected.append((july4.adding(days: -1), one)) }
            expected.append((LocalDate.nth(1, .monday, month: 9, year: year), .closed))
            let thanksgiving = LocalDate.nth(4, .thursday, month: 11, year: year)
            expected.append((thanksgiving, .closed))
            expected.append((thanksgiving.adding(days: 1), one))
            let eve = LocalDate(year: year, month: 12, day: 24)!
            if [.monday, .tuesday, .wednesday, .thursday].contains(eve.weekday) { expected.append((eve, one)) }
            observed(LocalDate(year: year, month: 12, day: 25)!)
            let table = NYSEHolidays.table.filter { $0.date.year == year && $0.date != date("2025-01-09") }
            #expect(table.map(\.date) == expected.map(\.0).sorted(), "\(year)")
            for (d, kind) in expected { #expect(cal.exception(on: d)?.kind == kind, "\(d)") }
        }
    }

    /// Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher).
    func easter(_ y: Int) -> LocalDate {
        let a = y % 19, b = y / 100, c = y % 100, d = b / 4, e = b % 4, f = (b + 8) / 25, g = (b - f + 1) / 3
        let h = (19 * a + b - d - g + 15) % 30, i = c / 4, k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7
        let m = (a + 11 * h + 22 * l) / 451
        return LocalDate(year: y, month: (h + l - 7 * m + 114) / 31, day: (h + l - 7 * m + 114) % 31 + 1)!
    }
}
