import ASTCalendar
import ASTCore

/// How many NYSE sessions before and after an event entries are refused.
public struct EventWindow: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Sessions before the event (the event's own session counts as 0 away).
    public var before: Int
    /// Sessions after the event.
    public var after: Int

    public init(before: Int, after: Int) {
        self.before = before
        self.after = after
    }

    public var description: String { "\(before) sessions before, \(after) after" }
}

/// The event guard's windows per kind of event. Codable with snake_case keys.
public struct EventGuardConfig: Sendable, Equatable, Codable {
    public var earnings = EventWindow(before: 3, after: 1)
    public var split = EventWindow(before: 1, after: 1)
    public var dividend = EventWindow(before: 1, after: 0)

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable { case earnings, split, dividend }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self, section: "strategy.event_guard")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = EventGuardConfig()
        earnings = try c.value(.earnings, default: d.earnings)
        split = try c.value(.split, default: d.split)
        dividend = try c.value(.dividend, default: d.dividend)
    }

    public func window(for kind: CorporateEventKind) -> EventWindow {
        switch kind {
        case .earnings: earnings
        case .split: split
        case .dividend: dividend
        }
    }

    /// What is wrong with the values; empty when valid.
    public func problems() -> [String] {
        CorporateEventKind.allCases.flatMap { kind -> [String] in
            let w = window(for: kind)
            return [("before", w.before), ("after", w.after)].compactMap { key, v in
                (0...60).contains(v) ? nil : "strategy.event_guard.\(kind).\(key) must be between 0 and 60 sessions (got \(v))"
            }
        }
    }
}

/// An entry the event guard refused, naming the event.
public struct EventBlock: Sendable, Equatable, Codable {
    public var symbol: Symbol
    public var detector: String
    public var event: CorporateEvent
    /// Sessions from the scan date to the event: positive before it, negative after, 0 on it.
    public var sessionsToEvent: Int
    public var window: EventWindow
    public var reason: String

    enum CodingKeys: String, CodingKey {
        case symbol, detector, event, window, reason
        case sessionsToEvent = "sessions_to_event"
    }
}

/// No entries for a symbol within the configured windows around its earnings, splits and
/// dividends, counted in NYSE sessions (a weekend or a holiday in between does not count).
///
/// An event on a day NYSE is closed counts as the next session's (`E`). Distance from the scan
/// date `D` to it: for `E ≥ D`, the number of sessions `s` with `D < s ≤ E` (an event today is 0
/// away, on the next session 1); for `E < D`, minus the number of sessions with `E < s ≤ D` (an
/// event on Friday is −1 from Monday). An entry is refused when `−after ≤ distance ≤ before`.
/// Beyond the calendar's table no day is a session, so near events block rather than admit.
public struct EventGuard: Sendable {
    public let config: EventGuardConfig
    public let calendar: TradingCalendar
    private let bySymbol: [Symbol: [CorporateEvent]]

    public init(events: [CorporateEvent], config: EventGuardConfig = EventGuardConfig(), calendar: TradingCalendar = .nyse) {
        self.config = config
        self.calendar = calendar
        bySymbol = Dictionary(grouping: events, by: \.symbol).mapValues { $0.sorted() }
    }

    /// The events that block an entry in `symbol` on `date`, in date order, with their distance.
    public func blockingEvents(symbol: Symbol, on date: LocalDate) -> [(event: CorporateEvent, sessions: Int)] {
        guard let events = bySymbol[symbol] else { return [] }
        var out: [(CorporateEvent, Int)] = []
        for e in events {
            let w = config.window(for: e.kind)
            if let d = Self.sessionDistance(from: date, to: e.date, calendar: calendar, limitBefore: w.before, limitAfter: w.after) {
                out.append((e, d))
            }
        }
        return out
    }

    /// The block records for a candidate, or empty when it may enter.
    public func check(_ candidate: Candidate, on date: LocalDate) -> [EventBlock] {
        blockingEvents(symbol: candidate.symbol, on: date).map { e, d in
            let w = config.window(for: e.kind)
            let when =
                d > 0 ? "\(d) session\(d == 1 ? "" : "s") before" : d < 0 ? "\(-d) session\(d == -1 ? "" : "s") after" : "on the day of"
            return EventBlock(
                symbol: candidate.symbol, detector: candidate.detector, event: e, sessionsToEvent: d, window: w,
                reason: "\(when) \(e.kind) on \(e.date) (window \(w))")
        }
    }

    /// The signed session distance from `d` to `e` (see the type's documentation) if it lies in
    /// `−limitAfter ... limitBefore`, else `nil`. Walks at most the days in between.
    static func sessionDistance(from d: LocalDate, to eventDate: LocalDate, calendar: TradingCalendar, limitBefore: Int, limitAfter: Int)
        -> Int?
    {
        // An event on a closed day is the next session's (a Saturday report moves Monday's open).
        var e = eventDate
        for _ in 0..<10 where !calendar.isTradingDay(e) { e = e.adding(days: 1) }
        if !calendar.isTradingDay(e) { e = eventDate }
        if e == d { return 0 }
        let forward = e > d
        let limit = forward ? limitBefore : limitAfter
        // `limit` sessions never span more than 2·limit + 14 calendar days (weekends and at most a
        // few holidays in a row), so a farther event is outside the window without walking to it.
        let days = abs(e.daysSinceEpoch - d.daysSinceEpoch)
        if days > 2 * limit + 14 { return nil }
        var count = 0
        if forward {
            var day = d
            for _ in 0..<days {
                day = day.adding(days: 1)
                if calendar.isTradingDay(day) {
                    count += 1
                    if count > limit { return nil }
                }
            }
            return count
        } else {
            var day = d
            for _ in 0..<days {
                if calendar.isTradingDay(day) {
                    count += 1
                    if count > limit { return nil }
                }
                day = day.adding(days: -1)
            }
            return -count
        }
    }
}
