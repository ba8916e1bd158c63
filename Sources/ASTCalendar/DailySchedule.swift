import ASTCore

/// A job of the daily schedule.
public enum ScheduledTask: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// Pre-market full scan and order generation (09:00).
    case fullScan = "full_scan"
    /// Execution-only reconciliation (10:30, 12:30).
    case reconcile
    /// Reconciliation and safe reducing (14:30).
    case reconcileAndReduce = "reconcile_and_reduce"
    /// Cancel unfilled entries, verify every position has its stop (15:55, or close − 5 min).
    case preCloseCleanup = "pre_close_cleanup"
    /// After-market reconciliation and the daily report (16:40, or close + 40 min).
    case afterMarket = "after_market"

    public var description: String { rawValue }

    /// Whether the task is a reconciliation, of which a missed run is caught up once.
    var isReconciliation: Bool { self == .reconcile || self == .reconcileAndReduce }
}

/// One task of one session's schedule, at its instant.
public struct ScheduledEvent: Sendable, Equatable, Comparable, CustomStringConvertible {
    public let task: ScheduledTask
    public let time: Timestamp
    /// The session the event belongs to.
    public let session: Session

    public static func < (a: ScheduledEvent, b: ScheduledEvent) -> Bool { a.time < b.time }

    public var description: String { "\(NewYorkTime.format(time)) \(task)" }
}

/// The daily schedule in America/New_York, on trading days only.
///
/// A regular session (close 16:00):
///
///     09:00 fullScan · 10:30 reconcile · 12:30 reconcile · 14:30 reconcileAndReduce
///     15:55 preCloseCleanup · 16:40 afterMarket
///
/// A session that closes early at C (13:00 on every NYSE early close): the pre-close cleanup
/// moves to C − 5 min and the after-market run to C + 40 min; reconciliations that would fall at
/// or after the cleanup are dropped, and the 14:30 reconcile-and-reduce takes the place of the
/// latest reconciliation still before the cleanup (a reconcile-and-reduce also reconciles, and
/// safe reducing needs an open market). For 13:00:
///
///     09:00 fullScan · 10:30 reconcile · 12:30 reconcileAndReduce · 12:55 preCloseCleanup
///     13:40 afterMarket
public enum DailySchedule {
    static let regular: [(ScheduledTask, LocalTime)] = [
        (.fullScan, LocalTime(hour: 9, minute: 0)), (.reconcile, LocalTime(hour: 10, minute: 30)),
        (.reconcile, LocalTime(hour: 12, minute: 30)), (.reconcileAndReduce, LocalTime(hour: 14, minute: 30)),
        (.preCloseCleanup, LocalTime(hour: 15, minute: 55)), (.afterMarket, LocalTime(hour: 16, minute: 40)),
    ]

    /// The wall-clock times of a session that closes at `close`, in order.
    public static func times(closingAt close: LocalTime) -> [(ScheduledTask, LocalTime)] {
        guard close != TradingCalendar.regularClose else { return regular }
        let cleanup = close.adding(minutes: -5)!
        var out: [(ScheduledTask, LocalTime)] = [(.fullScan, LocalTime(hour: 9, minute: 0))]
        var reduceAt: LocalTime?
        for (task, time) in regular where task.isReconciliation {
            if time < cleanup {
                out.append((task, time))
            } else if task == .reconcileAndReduce {
                reduceAt = time
            }
        }
        if reduceAt != nil {
            if let last = out.lastIndex(where: { $0.0.isReconciliation }) {
                out[last].0 = .reconcileAndReduce
            } else {
                out.append((.reconcileAndReduce, close.adding(minutes: -30)!))
            }
        }
        out.append((.preCloseCleanup, cleanup))
        out.append((.afterMarket, close.adding(minutes: 40)!))
        return out
    }

    /// The events of `session`, in time order.
    public static func events(for session: Session) -> [ScheduledEvent] {
        let close = NewYorkTime.local(session.close).time
        return times(closingAt: close).map {
            ScheduledEvent(task: $0.0, time: NewYorkTime.timestamp(session.date, $0.1), session: session)
        }
    }
}

/// What the scheduler decided about one event.
public enum SchedulerDecision: Sendable, Equatable, CustomStringConvertible {
    /// Run the task now.
    case fire(ScheduledEvent)
    /// The event was missed and is not run (why, for the journal).
    case skip(ScheduledEvent, reason: SkipReason)

    public var event: ScheduledEvent {
        switch self {
        case .fire(let e), .skip(let e, _): e
        }
    }

    public var description: String {
        switch self {
        case .fire(let e): "fire \(e)"
        case .skip(let e, let r): "skip \(e) (\(r.rawValue))"
        }
    }
}

/// Why a missed event is not run.
public enum SkipReason: String, Sendable, Equatable {
    /// A full scan found due after its session opened: orders generated from a pre-market scan
    /// must not go out into a running market.
    case scanMissedOpen = "SCAN_MISSED_OPEN"
    /// An intraday task found due after its session closed.
    case sessionClosed = "SESSION_CLOSED"
    /// A later run of the same kind is due at the same time and covers this one.
    case supersededByLaterRun = "SUPERSEDED_BY_LATER_RUN"
}

/// The schedule as a pure state machine over an injected clock: given `now`, it says which
/// events are due, each exactly once, in order, and none lost silently.
///
/// Every event whose time is after the last call's `now` and at or before this call's `now`
/// is returned, either to fire or as skipped with a reason. Normally that is the one event
/// whose time has just come. After a gap (a suspended process, a clock jump over days):
/// - a full scan fires only before its session's open (09:30); later it is skipped;
/// - reconciliations fire only before their session's close, and of several due at once only
///   the latest fires;
/// - a pre-close cleanup fires only before its session's close;
/// - the after-market run fires even late (the day must be reconciled and reported), but of
///   several due at once only the latest fires.
/// A clock that goes backwards fires nothing until it passes the last `now` again.
public struct Scheduler: Sendable {
    public let calendar: TradingCalendar
    /// Events at or before this instant have been handled.
    public private(set) var handledThrough: Timestamp

    /// A scheduler that treats everything at or before `start` as already handled: a restart
    /// resumes after the last event its journal records as handled (none twice). A first start
    /// uses ``init(calendar:firstStartAt:)``.
    public init(calendar: TradingCalendar = .nyse, start: Timestamp) {
        self.calendar = calendar
        handledThrough = start
    }

    /// A first start (nothing journaled as handled yet) at `now`. The catch-up window is `now`'s
    /// New York day: the events of that day before `now` are decided at the first ``due(at:)``
    /// by the same rules as after a gap, so a tree started at 08:58 whose strategy first runs at
    /// 09:03 still runs the 09:00 scan (late, before the open, once), and one started at 11:00
    /// journals the morning's scan as skipped (`SCAN_MISSED_OPEN`) and catches up the 10:30
    /// reconciliation. Nothing of an earlier day is run or recorded.
    public init(calendar: TradingCalendar = .nyse, firstStartAt now: Timestamp) {
        let midnight = NewYorkTime.timestamp(NewYorkTime.local(now).date, LocalTime(hour: 0, minute: 0))
        self.init(calendar: calendar, start: min(midnight, now))
    }

    /// The decisions for every event in (``handledThrough``, `now`], in time order.
    public mutating func due(at now: Timestamp) -> [SchedulerDecision] {
        guard now > handledThrough else { return [] }
        let events = Self.events(calendar, after: handledThrough, through: now)
        handledThrough = now
        let lastReconciliation = events.lastIndex { $0.task.isReconciliation && now < $0.session.close }
        let lastAfterMarket = events.lastIndex { $0.task == .afterMarket }
        return events.enumerated().map { i, e in
            switch e.task {
            case .fullScan:
                return now < e.session.open ? .fire(e) : .skip(e, reason: .scanMissedOpen)
            case .reconcile, .reconcileAndReduce:
                if now >= e.session.close { return .skip(e, reason: .sessionClosed) }
                return i == lastReconciliation ? .fire(e) : .skip(e, reason: .supersededByLaterRun)
            case .preCloseCleanup:
                return now < e.session.close ? .fire(e) : .skip(e, reason: .sessionClosed)
            case .afterMarket:
                return i == lastAfterMarket ? .fire(e) : .skip(e, reason: .supersededByLaterRun)
            }
        }
    }

    /// The first event after `t`: when the shell should call ``due(at:)`` next.
    public func nextEvent(after t: Timestamp) -> ScheduledEvent? {
        var date = NewYorkTime.local(t).date
        while date.year <= calendar.coveredYears.upperBound {
            if let s = calendar.session(on: date), let e = DailySchedule.events(for: s).first(where: { $0.time > t }) {
                return e
            }
            date = date.adding(days: 1)
        }
        return nil
    }

    static func events(_ calendar: TradingCalendar, after a: Timestamp, through b: Timestamp) -> [ScheduledEvent] {
        let from = NewYorkTime.local(a).date, to = NewYorkTime.local(b).date
        return calendar.sessions(from: from, to: to).flatMap(DailySchedule.events(for:))
            .filter { $0.time > a && $0.time <= b }
    }
}
