import ASTCore
import Testing

@testable import ASTCalendar

/// A first start (no schedule journaled yet) catches up the events of its New York day that are
/// already past, by the rules of a gap, and nothing of an earlier day (README, "The daily schedule").
@Suite struct FirstStartCatchUp {
    let cal = TradingCalendar.nyse

    @Test func aTreeStartedAt0858WhoseStrategyFirstRunsAt0901StillRunsTheScan() {
        // The shell used to create its scheduler at its first run with `start: now`: the tree was
        // started at 08:58, ast-strategy first ran at 09:01, and the 09:00 scan was neither run
        // nor recorded.
        var scheduler = Scheduler(firstStartAt: ny("2026-11-24", 9, 1))
        #expect(scheduler.due(at: ny("2026-11-24", 9, 1)).map(\.description) == ["fire 2026-11-24 09:00 EST full_scan"])
        #expect(scheduler.due(at: ny("2026-11-24", 9, 2)).isEmpty, "never twice")
    }

    @Test func aStartAt0903RunsTheScanOnceLateAndTheRestOfTheDayOnTime() {
        var scheduler = Scheduler(firstStartAt: ny("2026-11-24", 9, 3))
        let fired = run(&scheduler, from: ny("2026-11-24", 9, 3), to: ny("2026-11-25", 0, 0))
        #expect(
            fired.map { "\(NewYorkTime.local($0.at).time) \($0.decision)" } == [
                "09:03 fire 2026-11-24 09:00 EST full_scan", "10:30 fire 2026-11-24 10:30 EST reconcile",
                "12:30 fire 2026-11-24 12:30 EST reconcile", "14:30 fire 2026-11-24 14:30 EST reconcile_and_reduce",
                "15:55 fire 2026-11-24 15:55 EST pre_close_cleanup", "16:40 fire 2026-11-24 16:40 EST after_market",
            ])
    }

    @Test func aStartAt1100JournalsTheMissedScanAndCatchesUpTheReconciliation() {
        var scheduler = Scheduler(firstStartAt: ny("2026-11-24", 11, 0))
        #expect(
            scheduler.due(at: ny("2026-11-24", 11, 0)).map(\.description) == [
                "skip 2026-11-24 09:00 EST full_scan (SCAN_MISSED_OPEN)", "fire 2026-11-24 10:30 EST reconcile",
            ])
    }

    @Test func aStartAfterTheCloseReportsTheDayButRunsNoIntradayTask() {
        var scheduler = Scheduler(firstStartAt: ny("2026-11-24", 20, 0))
        #expect(
            scheduler.due(at: ny("2026-11-24", 20, 0)).map(\.description) == [
                "skip 2026-11-24 09:00 EST full_scan (SCAN_MISSED_OPEN)", "skip 2026-11-24 10:30 EST reconcile (SESSION_CLOSED)",
                "skip 2026-11-24 12:30 EST reconcile (SESSION_CLOSED)",
                "skip 2026-11-24 14:30 EST reconcile_and_reduce (SESSION_CLOSED)",
                "skip 2026-11-24 15:55 EST pre_close_cleanup (SESSION_CLOSED)", "fire 2026-11-24 16:40 EST after_market",
            ])
    }

    @Test func aFirstStartCatchesUpNothingOfAnEarlierDay() {
        var tuesdayNight = Scheduler(firstStartAt: ny("2026-11-25", 2, 0))
        #expect(tuesdayNight.due(at: ny("2026-11-25", 2, 0)).isEmpty)
        var saturday = Scheduler(firstStartAt: ny("2026-11-28", 12, 0))
        #expect(saturday.due(at: ny("2026-11-28", 12, 0)).isEmpty)
    }

    /// How the clock is polled after the first start: exactly at each event's time, or as late as a
    /// 5-minute poll could be (the shell polls every 5 s of trading time).
    enum Poll: CaseIterable { case onTime, lateBy4m59s }

    /// A regular day, an early close, a holiday, a Saturday, both daylight-saving Sundays
    /// (23 and 25 hours) and the Mondays after them.
    static let days = ["2026-11-24", "2026-11-27", "2026-11-26", "2026-11-28", "2026-03-08", "2026-03-09", "2026-11-01", "2026-11-02"]

    @Test(arguments: days)
    func everyStartMinuteOfTheDayRunsEachTaskAtMostOnceAndNoneDueAfterTheStartIsMissed(_ day: String) {
        let d = date(day)
        let midnight = NewYorkTime.timestamp(d, LocalTime(hour: 0, minute: 0))
        let next = NewYorkTime.timestamp(d.adding(days: 1), LocalTime(hour: 0, minute: 0))
        let horizonDate = d.adding(days: 4)
        let all = cal.sessions(from: d, to: horizonDate).flatMap(DailySchedule.events(for:))
        var problems: [String] = []
        var start = midnight
        while start < next, problems.count < 10 {
            for poll in Poll.allCases {
                problems += check(start: start, day: d, events: all, poll: poll)
            }
            start = start.advanced(by: .seconds(60))
        }
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))")
    }

    /// The invariants for one first start at `start` on `day`, in words for each one broken.
    func check(start: Timestamp, day: LocalDate, events all: [ScheduledEvent], poll: Poll) -> [String] {
        var scheduler = Scheduler(firstStartAt: start)
        var made: [(at: Timestamp, decision: SchedulerDecision)] = scheduler.due(at: start).map { (start, $0) }
        for e in all where e.time > start {
            let at = poll == .onTime ? e.time : e.time.advanced(by: .seconds(299))
            made += scheduler.due(at: at).map { (at, $0) }
        }
        let horizon = made.last?.at ?? start
        let label = "start \(NewYorkTime.format(start)) (\(poll))"
        var problems: [String] = []
        // Every event of the start's day and later is decided exactly once: fired, or skipped with
        // a reason (none lost silently, none twice); nothing of an earlier day.
        let expected = all.filter { NewYorkTime.local($0.time).date >= day && $0.time <= horizon }
        if made.map(\.decision.event) != expected {
            problems.append("\(label): decided \(made.map(\.decision.event.description)), expected \(expected.map(\.description))")
        }
        // Before the start: the rules of a gap, applied at the start.
        let before = expected.filter { $0.time <= start }
        let lastReconciliation = before.last { $0.task.isReconciliation }
        for (at, decision) in made {
            let e = decision.event
            let fired = if case .fire = decision { true } else { false }
            if fired && at < e.time { problems.append("\(label): \(e) fired early at \(NewYorkTime.format(at))") }
            if fired && e.task == .fullScan && at >= e.session.open { problems.append("\(label): \(e) fired after the open") }
            if fired && e.task != .afterMarket && at >= e.session.close { problems.append("\(label): \(e) fired after the close") }
            let shouldFire: Bool
            if e.time >= start {
                shouldFire = true  // never a missed task whose time is at or after the start
            } else {
                switch e.task {
                case .fullScan: shouldFire = start < e.session.open
                case .reconcile, .reconcileAndReduce: shouldFire = start < e.session.close && e == lastReconciliation
                case .preCloseCleanup: shouldFire = start < e.session.close
                case .afterMarket: shouldFire = true
                }
            }
            if fired != shouldFire { problems.append("\(label): \(decision) at \(NewYorkTime.format(at)), expected fired = \(shouldFire)") }
        }
        // Never a task twice per session.
        for session in Set(made.map { $0.decision.event.session.date }) {
            let firedTasks = made.filter { if case .fire = $0.decision { $0.decision.event.session.date == session } else { false } }
                .map(\.decision.event)
            for task in ScheduledTask.allCases where task != .reconcile {
                if firedTasks.filter({ $0.task == task }).count > 1 { problems.append("\(label): \(task) fired twice on \(session)") }
            }
            if Set(firedTasks.map(\.time)).count != firedTasks.count { problems.append("\(label): an event fired twice on \(session)") }
        }
        return problems
    }
}
