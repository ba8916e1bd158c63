import ASTCore
import Foundation
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

    /// The bounds come from a table for 1970–2100 and from the rule outside it: both give the
    /// U.S. rule's changes (checked with Python's `datetime`) at their first second.
    @Test func daylightSavingStartsAndEndsAtTheRulesSecondInAndOutsideTheTable() {
        let changes: [(year: Int, start: Int64, end: Int64)] = [
            (1970, 8_146_800, 25_682_400), (2006, 1_143_961_200, 1_162_101_600),
            (2007, 1_173_596_400, 1_194_156_000), (2100, 4_108_690_800, 4_129_250_400), (2101, 4_140_140_400, 4_160_700_000),
        ]
        for c in changes {
            #expect(!NewYorkTime.isDaylightSaving(at: utc(c.start - 1)), "\(c.year)")
            #expect(NewYorkTime.isDaylightSaving(at: utc(c.start)), "\(c.year)")
            #expect(NewYorkTime.isDaylightSaving(at: utc(c.end - 1)), "\(c.year)")
            #expect(!NewYorkTime.isDaylightSaving(at: utc(c.end)), "\(c.year)")
        }
        // Every year the table holds, and its neighbours outside it, against the rule.
        for year in (NewYorkTime.tableYears.lowerBound - 3)...(NewYorkTime.tableYears.upperBound + 3) {
            let (start, end) = NewYorkTime.dst(year)
            for (t, expected) in [(start - 1, false), (start, true), (end - 1, true), (end, false)] {
                #expect(NewYorkTime.isDaylightSaving(at: utc(t)) == expected, "\(year) at \(t)")
            }
        }
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
        #expect(!cal.isTradingDay(date("2036-01-02")))  // beyond the table: no sessions
        #expect(!cal.isTradingDay(date("1999-12-30")))
        #expect(cal.isTradingDay(date("2023-06-01")))
        #expect(cal.isTradingDay(date("2004-06-10")))  // a Thursday of 2004 (the table used to start in 2024)
        #expect(!cal.isTradingDay(date("2004-06-11")))  // President Reagan's funeral
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
        #expect(cal.nextSession(after: ny("2035-12-31", 17, 0)) == nil)
        #expect(cal.nextSession(after: ny("1990-01-01", 0, 0))?.date == date("2000-01-03"))
    }

    /// Every session of 2000–2035, its open and its close (in UTC, so that New York's older
    /// daylight-saving rule before 2007 is checked too), equal to an independent calendar's:
    /// `exchange_calendars`' XNYS, written to the fixture by `scripts/calendar-oracle`. Every
    /// holiday, early close and one-off closure of those years is thereby checked; there is no
    /// deliberate difference (the oracle projects the same rules into the unpublished years).
    @Test func everySessionOfTwoThousandToTwentyThirtyFiveMatchesTheOracle() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/nyse-sessions.txt").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        func hhmm(_ t: Timestamp) -> String {
            let m = Int((t.nanoseconds / 60_000_000_000) % 1440)
            return (m / 60 < 10 ? "0" : "") + "\(m / 60):" + (m % 60 < 10 ? "0" : "") + "\(m % 60)"
        }
        let expected = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
        let ours = cal.sessions(from: date("2000-01-01"), to: date("2035-12-31")).map { "\($0.date) \(hhmm($0.open)) \(hhmm($0.close))" }
        #expect(expected.count > 9_000)
        let first = (0..<max(expected.count, ours.count)).first { i in
            (i < expected.count ? expected[i] : nil) != (i < ours.count ? ours[i] : nil)
        }
        let oracleLine = first.flatMap { $0 < expected.count ? expected[$0] : nil } ?? "-"
        let ourLine = first.flatMap { $0 < ours.count ? ours[$0] : nil } ?? "-"
        #expect(first == nil, "first difference at session \((first ?? 0) + 1): oracle \(oracleLine), ours \(ourLine)")
        // Each session's own lookups agree with the list.
        for s in cal.sessions(from: date("2000-01-01"), to: date("2035-12-31")) where s.date.day == 1 || s.isEarlyClose {
            #expect(cal.session(on: s.date) == s && cal.nextSession(after: s.open.advanced(by: .seconds(-1))) == s)
        }
    }

    /// The one-off closures and the early-close rules that changed within the range.
    @Test func specialClosuresAndEarlyClosesOfEarlierYears() {
        for d in [
            "2001-09-11", "2001-09-12", "2001-09-13", "2001-09-14", "2004-06-11", "2007-01-02", "2012-10-29", "2012-10-30",
            "2018-12-05", "2025-01-09",
        ] {
            #expect(cal.exception(on: date(d))?.kind == .closed && !cal.isTradingDay(date(d)), "\(d)")
        }
        #expect(cal.isTradingDay(date("2001-09-17")))
        #expect(cal.isTradingDay(date("2021-06-18")))  // Juneteenth only from 2022
        #expect(!cal.isTradingDay(date("2022-06-20")))  // Juneteenth 2022 (a Sunday), observed
        #expect(cal.session(on: date("2003-12-26"))?.isEarlyClose == true)  // a one-off early close
        #expect(cal.session(on: date("2002-07-05"))?.isEarlyClose == true)  // Friday after July 4, before 2013
        #expect(cal.session(on: date("2002-07-03"))?.isEarlyClose == false)  // a Wednesday before 2013
        #expect(cal.session(on: date("2013-07-03"))?.isEarlyClose == true)  // a Wednesday from 2013
        #expect(cal.session(on: date("2010-12-23"))?.isEarlyClose == false)  // Dec 24 2010 a Friday: Christmas observed
        #expect(cal.isTradingDay(date("2010-12-31")))  // New Year's Day 2011 is a Saturday: not observed
        #expect(cal.sessions(from: date("2000-01-01"), to: date("2000-12-31")).count == 252)
        #expect(cal.sessions(from: date("2001-01-01"), to: date("2001-12-31")).count == 248)
    }
}
