import ASTCore
import Testing

@testable import ASTCalendar

/// `["09:00 full_scan", ...]` for a session's events, in New York time.
func table(_ events: [ScheduledEvent]) -> [String] {
    events.map { "\(NewYorkTime.local($0.time).time) \($0.task)" }
}

/// Drives `scheduler` with a clock that ticks every `step` from `from` through `to`, as the
/// shell's timer would, and returns every decision with the instant it was made.
func run(_ scheduler: inout Scheduler, from: Timestamp, to: Timestamp, step: Duration = .seconds(60))
    -> [(at: Timestamp, decision: SchedulerDecision)]
{
    var out: [(Timestamp, SchedulerDecision)] = []
    var now = from
    while now <= to {
        out += scheduler.due(at: now).map { (now, $0) }
        now = now.advanced(by: step)
    }
    return out
}

@Suite struct DailyScheduleTimes {
    let cal = TradingCalendar.nyse

    @Test func aRegularSessionHasTheSixEvents() throws {
        let s = try #require(cal.session(on: date("2026-11-25")))
        #expect(
            table(DailySchedule.events(for: s)) == [
                "09:00 full_scan", "10:30 reconcile", "12:30 reconcile", "14:30 reconcile_and_reduce",
                "15:55 pre_close_cleanup", "16:40 after_market",
            ])
    }

    @Test func anEarlyCloseMovesCleanupAndReportAndReducesAtTheLastReconciliation() throws {
        let s = try #require(cal.session(on: date("2026-11-27")))
        #expect(
            table(DailySchedule.events(for: s)) == [
                "09:00 full_scan", "10:30 reconcile", "12:30 reconcile_and_reduce", "12:55 pre_close_cleanup",
                "13:40 after_market",
            ])
        // Every intraday task of the shortened day is before its close.
        for e in DailySchedule.events(for: s) where e.task != .afterMarket { #expect(e.time < s.close) }
    }

    @Test func aCloseSoEarlyThatNoReconciliationFitsStillReducesBeforeIt() {
        let times = DailySchedule.times(closingAt: LocalTime(hour: 10, minute: 30)).map { "\($0.1) \($0.0)" }
        #expect(times == ["09:00 full_scan", "10:00 reconcile_and_reduce", "10:25 pre_close_cleanup", "11:10 after_market"])
    }

    @Test func eventsKeepTheirWallClockTimesAcrossTheDaylightSavingChange() throws {
        let friday = try #require(cal.session(on: date("2026-03-06")))
        let monday = try #require(cal.session(on: date("2026-03-09")))
        #expect(table(DailySchedule.events(for: friday)) == table(DailySchedule.events(for: monday)))
        // 09:00 EST is 14:00Z; 09:00 EDT is 13:00Z.
        #expect(DailySchedule.events(for: friday)[0].time == utc(1_772_805_600))
        #expect(DailySchedule.events(for: monday)[0].time == utc(1_773_061_200))
    }
}

@Suite struct SchedulerDecisions {
    let cal = TradingCalendar.nyse

    @Test func aWeekWithAHolidayAndAnEarlyCloseFiresEachEventOnceOnTime() {
        // Thanksgiving week 2026: Thursday closed, Friday closes at 13:00.
        var scheduler = Scheduler(start: ny("2026-11-22", 0, 0))
        let fired = run(&scheduler, from: ny("2026-11-22", 0, 0), to: ny("2026-11-29", 0, 0))
        let expected = cal.sessions(from: date("2026-11-22"), to: date("2026-11-29")).flatMap(DailySchedule.events(for:))
        #expect(fired.map(\.decision) == expected.map { .fire($0) })
        #expect(fired.allSatisfy { $0.at == $0.decision.event.time })  // a minute clock hits each on the minute
        #expect(!fired.contains { NewYorkTime.local($0.decision.event.time).date == date("2026-11-26") })
        #expect(fired.count == 3 * 6 + 5)
        #expect(table(fired.suffix(5).map(\.decision.event)) == table(DailySchedule.events(for: cal.session(on: date("2026-11-27"))!)))
    }

    @Test func aWeekendWithTheSpringForwardChangeFiresAtLocalTimes() {
        var scheduler = Scheduler(start: ny("2026-03-06", 0, 0))
        let fired = run(&scheduler, from: ny("2026-03-06", 0, 0), to: ny("2026-03-10", 0, 0), step: .seconds(17))
        #expect(fired.count == 12)
        #expect(fired.allSatisfy { if case .fire = $0.decision { true } else { false } })
        #expect(fired.map { NewYorkTime.format($0.decision.event.time) }.first == "2026-03-06 09:00 EST")
        #expect(fired.map { NewYorkTime.format($0.decision.event.time) }[6] == "2026-03-09 09:00 EDT")
        // Each fired within one tick of its time.
        #expect(fired.allSatisfy { $0.at >= $0.decision.event.time && $0.at.duration(since: $0.decision.event.time) < .seconds(17) })
    }

    @Test func aClockJumpOverDaysSkipsStaleScansAndCatchesUpReconciliationOnce() {
        // Asleep from Wednesday 08:00 to Friday 11:00 across Thanksgiving.
        var scheduler = Scheduler(start: ny("2026-11-25", 8, 0))
        let decisions = scheduler.due(at: ny("2026-11-27", 11, 0)).map(\.description)
        #expect(
            decisions == [
                "skip 2026-11-25 09:00 EST full_scan (SCAN_MISSED_OPEN)",
                "skip 2026-11-25 10:30 EST reconcile (SESSION_CLOSED)",
                "skip 2026-11-25 12:30 EST reconcile (SESSION_CLOSED)",
                "skip 2026-11-25 14:30 EST reconcile_and_reduce (SESSION_CLOSED)",
                "skip 2026-11-25 15:55 EST pre_close_cleanup (SESSION_CLOSED)",
                "fire 2026-11-25 16:40 EST after_market",
                "skip 2026-11-27 09:00 EST full_scan (SCAN_MISSED_OPEN)",
                "fire 2026-11-27 10:30 EST reconcile",
            ])
        // Nothing fires twice.
        #expect(scheduler.due(at: ny("2026-11-27", 11, 0)).isEmpty)
        #expect(scheduler.due(at: ny("2026-11-27", 12, 29)).isEmpty)
        #expect(scheduler.due(at: ny("2026-11-27", 12, 30)).map(\.description) == ["fire 2026-11-27 12:30 EST reconcile_and_reduce"])
    }

    @Test func severalMissedReconciliationsInASessionFireOnlyTheLatest() {
        var scheduler = Scheduler(start: ny("2026-11-24", 10, 0))
        #expect(
            scheduler.due(at: ny("2026-11-24", 15, 0)).map(\.description) == [
                "skip 2026-11-24 10:30 EST reconcile (SUPERSEDED_BY_LATER_RUN)",
                "skip 2026-11-24 12:30 EST reconcile (SUPERSEDED_BY_LATER_RUN)",
                "fire 2026-11-24 14:30 EST reconcile_and_reduce",
            ])
    }

    @Test func aLateScanStillFiresBeforeTheOpenButNeverAfter() {
        var before = Scheduler(start: ny("2026-11-24", 8, 55))
        #expect(before.due(at: ny("2026-11-24", 9, 29)).map(\.description) == ["fire 2026-11-24 09:00 EST full_scan"])
        var after = Scheduler(start: ny("2026-11-24", 8, 55))
        #expect(after.due(at: ny("2026-11-24", 9, 30)).map(\.description) == ["skip 2026-11-24 09:00 EST full_scan (SCAN_MISSED_OPEN)"])
    }

    @Test func aMissedCleanupAfterTheCloseIsSkippedButTheReportStillRuns() {
        var scheduler = Scheduler(start: ny("2026-11-24", 15, 50))
        #expect(
            scheduler.due(at: ny("2026-11-24", 17, 0)).map(\.description) == [
                "skip 2026-11-24 15:55 EST pre_close_cleanup (SESSION_CLOSED)", "fire 2026-11-24 16:40 EST after_market",
            ])
    }

    @Test func aClockThatGoesBackwardsFiresNothingTwice() {
        var scheduler = Scheduler(start: ny("2026-11-24", 10, 0))
        #expect(scheduler.due(at: ny("2026-11-24", 10, 31)).count == 1)
        #expect(scheduler.due(at: ny("2026-11-24", 10, 29)).isEmpty)
        #expect(scheduler.due(at: ny("2026-11-24", 10, 30)).isEmpty)
        #expect(scheduler.due(at: ny("2026-11-24", 12, 30)).map(\.description) == ["fire 2026-11-24 12:30 EST reconcile"])
    }

    @Test func startingMidDayDoesNotRunTheMorning() {
        var scheduler = Scheduler(start: ny("2026-11-24", 11, 0))
        #expect(scheduler.due(at: ny("2026-11-24", 12, 0)).isEmpty)
    }

    @Test func nextEventSkipsHolidaysAndWeekends() {
        let s = Scheduler(start: ny("2026-11-25", 17, 0))
        #expect(s.nextEvent(after: ny("2026-11-25", 17, 0))?.description == "2026-11-27 09:00 EST full_scan")
        #expect(s.nextEvent(after: ny("2026-11-27", 13, 40))?.description == "2026-11-30 09:00 EST full_scan")
        #expect(s.nextEvent(after: ny("2026-11-30", 9, 0))?.description == "2026-11-30 10:30 EST reconcile")
        #expect(s.nextEvent(after: ny("2035-12-31", 17, 0)) == nil)
    }
}
