import ASTCalendar
import ASTCore
import Testing

@testable import ASTStrategy

@Suite struct EventGuardWindows {
    func blocked(_ kind: CorporateEventKind, on event: String, scan: String, window: EventWindow) -> [EventBlock] {
        var config = EventGuardConfig()
        config.earnings = window
        config.split = window
        config.dividend = window
        let g = EventGuard(events: [CorporateEvent(symbol: "AAPL", date: d(event), kind: kind)], config: config)
        return g.check(Candidate(symbol: "AAPL", detector: "ma_crossover", close: px(100), summary: ""), on: d(scan))
    }

    @Test(arguments: [
        // Monday 2026-03-02 scan; earnings window 3 before, 1 after.
        ("2026-03-02", 0, true), ("2026-03-05", 3, true), ("2026-03-06", 4, false),
        ("2026-02-27", -1, true), ("2026-02-26", -2, false),
        // A Saturday event counts as Monday's session: 0 away.
        ("2026-02-28", 0, true),
    ])
    func earningsWindowCountsSessions(event: String, distance: Int, isBlocked: Bool) {
        let b = blocked(.earnings, on: event, scan: "2026-03-02", window: EventWindow(before: 3, after: 1))
        #expect(!b.isEmpty == isBlocked)
        if isBlocked { #expect(b[0].sessionsToEvent == distance) }
    }

    @Test func aWeekendInsideTheWindowDoesNotCount() {
        // Thursday scan, earnings the next Tuesday: Fri, Mon, Tue = 3 sessions (5 calendar days).
        let b = blocked(.earnings, on: "2026-03-10", scan: "2026-03-05", window: EventWindow(before: 3, after: 0))
        #expect(b.map(\.sessionsToEvent) == [3])
        #expect(b[0].reason == "3 sessions before earnings on 2026-03-10 (window 3 sessions before, 0 after)")
        // Wednesday earnings are 4 sessions away: admitted.
        #expect(blocked(.earnings, on: "2026-03-11", scan: "2026-03-05", window: EventWindow(before: 3, after: 0)).isEmpty)
    }

    @Test func aHolidayInsideTheWindowDoesNotCount() {
        // Good Friday 2026-04-03: from Thursday 04-02, Monday 04-06 is the next session.
        let before = blocked(.split, on: "2026-04-06", scan: "2026-04-02", window: EventWindow(before: 1, after: 0))
        #expect(before.map(\.sessionsToEvent) == [1])
        // And back: a Thursday dividend is one session before the Monday after Good Friday.
        let after = blocked(.dividend, on: "2026-04-02", scan: "2026-04-06", window: EventWindow(before: 0, after: 1))
        #expect(after.map(\.sessionsToEvent) == [-1])
        #expect(after[0].reason == "1 session after dividend on 2026-04-02 (window 0 sessions before, 1 after)")
        // Without the holiday the same calendar distance would be 2 sessions: outside.
        #expect(blocked(.dividend, on: "2026-03-05", scan: "2026-03-09", window: EventWindow(before: 0, after: 1)).isEmpty)
    }

    @Test func eachKindHasItsOwnWindow() {
        let g = EventGuard(events: [
            CorporateEvent(symbol: "AAPL", date: d("2026-03-04"), kind: .earnings),  // 2 before: earnings window 3 -> blocks
            CorporateEvent(symbol: "AAPL", date: d("2026-03-04"), kind: .dividend),  // 2 before: dividend window 1 -> admits
            CorporateEvent(symbol: "MSFT", date: d("2026-03-02"), kind: .split),  // another symbol
        ])
        let b = g.check(Candidate(symbol: "AAPL", detector: "x", close: px(1), summary: ""), on: scanDate)
        #expect(b.map(\.event.kind) == [.earnings])
        #expect(b[0].window == EventWindow(before: 3, after: 1))
    }

    @Test func farEventsAreOutsideEveryWindow() {
        #expect(blocked(.earnings, on: "2027-01-15", scan: "2026-03-02", window: EventWindow(before: 3, after: 1)).isEmpty)
        #expect(blocked(.earnings, on: "2025-01-15", scan: "2026-03-02", window: EventWindow(before: 3, after: 1)).isEmpty)
    }
}

@Suite struct EventCalendarFile {
    @Test func parsesHeaderCommentsBlanksAndKindsSortedAndDeduplicated() throws {
        let text =
            "symbol,date,kind\n# next quarter\nMSFT, 2026-04-28 ,Earnings\r\n\nAAPL,2026-03-05,dividend\nAAPL,2026-03-05,dividend\nBRK.B,2026-03-05,split\n"
        #expect(
            try EventCalendar.parse(text) == [
                CorporateEvent(symbol: "AAPL", date: d("2026-03-05"), kind: .dividend),
                CorporateEvent(symbol: "BRK.B", date: d("2026-03-05"), kind: .split),
                CorporateEvent(symbol: "MSFT", date: d("2026-04-28"), kind: .earnings),
            ])
    }

    @Test func reportsEveryBadLineWithItsNumber() {
        let text = "AAPL,2026-03-05,earnings\naapl,2026-03-05,earnings\nMSFT,2026-02-30,split\nTSLA,2026-03-05,divdend\nNVDA,2026-03-05\n"
        #expect {
            _ = try EventCalendar.parse(text, source: "etc/events.csv")
        } throws: { error in
            (error as? EventCalendarError)?.description == """
                etc/events.csv line 2: 'aapl' is not a valid ticker (uppercase, e.g. AAPL or BRK.B)
                etc/events.csv line 3: '2026-02-30' is not a date YYYY-MM-DD
                etc/events.csv line 4: unknown event kind 'divdend' (expected earnings, split or dividend)
                etc/events.csv line 5: expected 3 fields symbol,date,kind (got 2): 'NVDA,2026-03-05'
                """
        }
    }
}
