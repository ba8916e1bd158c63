import ASTCalendar
import ASTCore

/// How the wall-clock (production) feed fetches: when, how far back, how strict.
public struct LiveFeedSettings: Sendable, Equatable {
    /// New York time after each session's close at which its daily bars are fetched (never
    /// before the close itself, so an early close is fetched at this time too).
    public var fetchTime: LocalTime
    /// Sessions fetched into an empty store (history the strategy needs before it can scan).
    public var initialSessions: Int
    /// Seconds to wait after a failed fetch before the next attempt.
    public var retrySeconds: Int64
    /// A grouped day with fewer bars than this is refused (a partial answer is not the market).
    public var minBarsPerDay: Int
    /// `strict` (the default, as `ast ingest`): any bad bar refuses the day; `lenient` drops bad
    /// bars, each reported.
    public var mode: IngestMode
    /// Calendar days after a fetched session for which splits and dividends are fetched too
    /// (the event guard keeps away from announced ones).
    public var eventDays: Int

    public init(
        fetchTime: LocalTime = LocalTime(hour: 16, minute: 10), initialSessions: Int = 300, retrySeconds: Int64 = 900,
        minBarsPerDay: Int = 1_000, mode: IngestMode = .strict, eventDays: Int = 30
    ) {
        self.fetchTime = fetchTime
        self.initialSessions = initialSessions
        self.retrySeconds = retrySeconds
        self.minBarsPerDay = minBarsPerDay
        self.mode = mode
        self.eventDays = eventDays
    }
}

/// What the live feed does next.
public enum LiveFeedAction: Sendable, Equatable {
    /// Fetch these sessions, oldest first, each stored on its own (a failure stops the round).
    case fetch([LocalDate])
    /// Nothing is due; look again at this instant (nil: the calendar knows no later session).
    case wait(until: Timestamp?)
}

/// The fetch plan of the wall-clock feed: which sessions are missing from the store and due at
/// `now`, and when the next one will be. Pure: the time and the store's last session are inputs.
public struct LiveFeedPlan: Sendable {
    public let settings: LiveFeedSettings
    public let calendar: TradingCalendar

    public init(settings: LiveFeedSettings, calendar: TradingCalendar = .nyse) {
        self.settings = settings
        self.calendar = calendar
    }

    /// When the data of `session` is fetched: the configured time on its date, not before its close.
    public func fetchTime(of session: Session) -> Timestamp {
        max(session.close, NewYorkTime.timestamp(session.date, settings.fetchTime))
    }

    /// The latest session whose fetch time is at or before `now`.
    public func latestDueSession(at now: Timestamp) -> Session? {
        let today = NewYorkTime.local(now).date
        // A week back always holds a session (the longest NYSE closure is 4 days), unless the
        // calendar's table has ended: then nothing is due (do nothing rather than guess).
        return calendar.sessions(from: today.adding(days: -10), to: today).last { fetchTime(of: $0) <= now }
    }

    /// The sessions missing from a store whose newest daily bar is of `lastStored` (nil: an empty
    /// store) that are due at `now`, oldest first: every session after `lastStored` through the
    /// latest due one (the backfill after downtime, across weekends and holidays), or the last
    /// ``LiveFeedSettings/initialSessions`` of them for an empty store.
    public func due(lastStored: LocalDate?, now: Timestamp) -> [LocalDate] {
        guard let latest = latestDueSession(at: now) else { return [] }
        if let lastStored {
            guard lastStored < latest.date else { return [] }
            return calendar.sessions(from: lastStored.adding(days: 1), to: latest.date).map(\.date)
        }
        let n = max(0, settings.initialSessions)
        guard n > 0 else { return [] }
        // 7 calendar days hold at least 3 sessions; a generous window, then the last n.
        let from = latest.date.adding(days: -(n * 7 / 3 + 14))
        return Array(calendar.sessions(from: from, to: latest.date).suffix(n).map(\.date))
    }

    /// The next session fetch time after `now`.
    public func nextFetch(after now: Timestamp) -> Timestamp? {
        var date = NewYorkTime.local(now).date
        while date.year <= calendar.coveredYears.upperBound {
            if let s = calendar.session(on: date), fetchTime(of: s) > now { return fetchTime(of: s) }
            date = date.adding(days: 1)
        }
        return nil
    }

    /// What to do at `now`: fetch what is due, unless a failure asked to wait until `retryAt`.
    public func decide(now: Timestamp, lastStored: LocalDate?, retryAt: Timestamp?) -> LiveFeedAction {
        if let retryAt, now < retryAt { return .wait(until: min(retryAt, nextFetch(after: now) ?? retryAt)) }
        let dates = due(lastStored: lastStored, now: now)
        return dates.isEmpty ? .wait(until: nextFetch(after: now)) : .fetch(dates)
    }
}

/// Whether one fetched session may be stored.
public enum LiveDayDecision: Sendable, Equatable {
    /// Store these bars (one transaction with the day's reference data).
    case store(bars: [Bar], report: IngestReport)
    /// Store nothing: `reason` says why, in words for the P1 alert.
    case refuse(reason: String)
}

/// Validation of one grouped day, the same as `ast ingest` (``IngestCore``) plus what a whole
/// market's day must be: an NYSE session, and at least ``LiveFeedSettings/minBarsPerDay`` bars.
/// Pure.
public enum LiveDayValidation {
    /// At most this many issues are named in a refusal (the rest are counted).
    public static let namedIssues = 5

    public static func decide(
        _ day: GroupedDay, settings: LiveFeedSettings, policy: ValidationPolicy = .standard,
        calendar: TradingCalendar = .nyse
    ) -> LiveDayDecision {
        guard calendar.isTradingDay(day.date) else { return .refuse(reason: "\(day.date) is not an NYSE session") }
        guard day.bars.count >= settings.minBarsPerDay else {
            return .refuse(
                reason: "Polygon returned \(day.bars.count) bars for \(day.date); at least \(settings.minBarsPerDay) expected "
                    + "(marketdata.live.min_bars_per_day): the day is not complete")
        }
        // One input per symbol, in symbol order (a ticker twice is a duplicate of that symbol).
        var bySymbol: [Symbol: [SourcedBar]] = [:]
        for b in day.bars { bySymbol[b.bar.symbol, default: []].append(b) }
        let inputs = bySymbol.keys.sorted().map { s in
            (source: "polygon:grouped:\(day.date)", symbol: s, bars: bySymbol[s] ?? [], parseIssues: [ValidationIssue]())
        }
        let (report, bars) = IngestCore.decide(inputs, mode: settings.mode, policy: policy, calendar: calendar)
        if report.refused {
            let errors = report.sources.flatMap(\.report.errors)
            let named = errors.prefix(namedIssues).map(\.description).joined(separator: "; ")
            let more = errors.count > namedIssues ? " and \(errors.count - namedIssues) more" : ""
            return .refuse(
                reason: "\(day.date): \(errors.count) invalid bar\(errors.count == 1 ? "" : "s"), nothing stored: \(named)\(more)")
        }
        return .store(bars: bars, report: report)
    }
}

/// The freshness gate before the 09:00 scan: the store must hold the previous session's bars.
/// Pure.
public enum FreshnessGate {
    /// The gate's answer.
    public enum Decision: Sendable, Equatable {
        /// The store holds the session before the scan date.
        case fresh(lastSession: LocalDate)
        /// Stale or missing data: the scan does nothing; `reason` says why.
        case degraded(reason: String)
    }

    /// `lastStored`: the date of the newest daily bar in the store (nil: none at all).
    public static func decide(scanDate: LocalDate, lastStored: LocalDate?, calendar: TradingCalendar = .nyse) -> Decision {
        guard let expected = calendar.sessions(from: scanDate.adding(days: -10), to: scanDate.adding(days: -1)).last?.date else {
            return .degraded(reason: "the NYSE calendar knows no session before \(scanDate)")
        }
        guard let lastStored else {
            return .degraded(reason: "the bar store holds no daily bars; the scan of \(scanDate) needs the session of \(expected)")
        }
        guard lastStored >= expected else {
            let behind = calendar.sessions(from: lastStored.adding(days: 1), to: expected).count
            return .degraded(
                reason: "stale market data: the newest bars are of \(lastStored), \(behind) session\(behind == 1 ? "" : "s") "
                    + "behind \(expected), which the scan of \(scanDate) needs")
        }
        return .fresh(lastSession: expected)
    }
}

/// Which last closes become marks in wall-clock mode. Pure.
public enum LiveMarks {
    /// The bars of the newest session among `lastBars` (symbols without a bar that day are no
    /// longer traded), whose close × volume is at least `minDollarVolume` dollars.
    public static func current(_ lastBars: [Bar], minDollarVolume: Int64) -> [Bar] {
        guard let newest = lastBars.map(\.start).max() else { return [] }
        return lastBars.filter { b in
            guard b.start == newest else { return false }
            let (units, o) = b.close.units.multipliedReportingOverflow(by: max(0, b.volume))
            return o || units / 10_000 >= minDollarVolume
        }
    }

    /// The latest schedule point in `(after, through]` (09:00, 10:30, … 16:40 of NYSE sessions):
    /// when marks are published again; nil when none passed.
    public static func point(after: Timestamp, through: Timestamp, calendar: TradingCalendar = .nyse) -> ScheduledEvent? {
        guard through > after else { return nil }
        let from = NewYorkTime.local(after).date
        var to = NewYorkTime.local(through).date
        // A long gap needs only the latest point: look back at most two weeks.
        if to.adding(days: -14) > from {
            return point(
                after: NewYorkTime.timestamp(to.adding(days: -14), LocalTime(hour: 0, minute: 0)), through: through, calendar: calendar)
        }
        var latest: ScheduledEvent?
        while to >= from {
            if let s = calendar.session(on: to) {
                latest = DailySchedule.events(for: s).last { $0.time > after && $0.time <= through }
                if latest != nil { break }
            }
            to = to.adding(days: -1)
        }
        return latest
    }
}
