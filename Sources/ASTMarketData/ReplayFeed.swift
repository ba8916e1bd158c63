import ASTCalendar
import ASTCore

/// The last price of a symbol at an instant: what positions are valued at.
public struct Mark: Sendable, Equatable, Codable {
    public var symbol: Symbol
    public var price: Price
    /// When the price was last set (the close of the session of its bar).
    public var asOf: Timestamp

    public init(symbol: Symbol, price: Price, asOf: Timestamp) {
        self.symbol = symbol
        self.price = price
        self.asOf = asOf
    }
}

/// One replayed session: its bars, published at its close, and the marks after it.
public struct ReplayStep: Sendable, Equatable {
    public var session: Session
    /// The session's bars in symbol order.
    public var bars: [Bar]
    /// The last close of every symbol seen so far (also those without a bar this session), in
    /// symbol order, stamped with the close of the session of its bar.
    public var marks: [Mark]
    /// When the step is published: the session's close (13:00 on an early close).
    public var publishAt: Timestamp { session.close }
}

/// A replay of stored daily bars driven by a simulated clock. Pure: the shell owns the clock.
///
/// Every NYSE session from the first bar's to the last bar's becomes one ``ReplayStep`` at its
/// close, whether or not it has bars (a day with no data publishes marks only, so a consumer can
/// see the gap). ``advance(to:)`` returns the steps whose close is at or before the simulated
/// `now`, each exactly once and in order; a clock that goes back returns nothing. Advancing the
/// clock from one close to the next publishes a trading day as fast as the shell can send it.
public struct ReplayFeed: Sendable {
    /// Sessions to replay, in order.
    public let sessions: [Session]
    private let barsBySession: [[Bar]]
    /// The index of the next session to publish.
    public private(set) var position = 0
    private var marks: [Symbol: Mark] = [:]

    /// A feed of `bars` (any symbols, any order; non-daily bars are ignored) over the sessions
    /// of `calendar` between the first and the last bar's dates, optionally narrowed to
    /// `[from, to]`.
    public init(bars: [Bar], calendar: TradingCalendar = .nyse, from: LocalDate? = nil, to: LocalDate? = nil) {
        let daily = bars.filter { $0.resolution == .day }
        guard let first = daily.map(\.start).min(), let last = daily.map(\.start).max() else {
            sessions = []
            barsBySession = []
            return
        }
        let lo = max(NewYorkTime.local(first).date, from ?? NewYorkTime.local(first).date)
        let hi = min(NewYorkTime.local(last).date, to ?? NewYorkTime.local(last).date)
        sessions = calendar.sessions(from: lo, to: hi)
        var index: [LocalDate: Int] = [:]
        for (i, s) in sessions.enumerated() { index[s.date] = i }
        var grouped = [[Bar]](repeating: [], count: sessions.count)
        for b in daily {
            if let i = index[b.date] { grouped[i].append(b) }
        }
        barsBySession = grouped.map { $0.sorted { $0.symbol < $1.symbol } }
    }

    /// Whether every session has been published.
    public var isFinished: Bool { position >= sessions.count }

    /// The close of the next session to publish: where the shell sets its simulated clock next.
    public var nextPublishAt: Timestamp? { isFinished ? nil : sessions[position].close }

    /// The steps due at simulated time `now`: every unpublished session whose close is at or
    /// before it, in order.
    public mutating func advance(to now: Timestamp) -> [ReplayStep] {
        var out: [ReplayStep] = []
        while position < sessions.count, sessions[position].close <= now {
            out.append(step(position))
            position += 1
        }
        return out
    }

    /// Publishes the next session regardless of the clock (a demo's "next day").
    public mutating func next() -> ReplayStep? {
        guard let t = nextPublishAt else { return nil }
        return advance(to: t).first
    }

    private mutating func step(_ i: Int) -> ReplayStep {
        let s = sessions[i]
        for b in barsBySession[i] { marks[b.symbol] = Mark(symbol: b.symbol, price: b.close, asOf: s.close) }
        return ReplayStep(session: s, bars: barsBySession[i], marks: marks.values.sorted { $0.symbol < $1.symbol })
    }
}
