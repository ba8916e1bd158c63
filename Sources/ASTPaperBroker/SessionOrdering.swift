import ASTCalendar
import ASTCore

/// A cancel requested during a session whose daily bar the exchange has not seen yet, for an
/// order that was live during that session: it waits for that bar (see
/// ``PaperExchange`` "Market-time order").
struct PendingCancel: Sendable, Equatable, Codable {
    var id: ClientOrderID
    var symbol: Symbol
    var reason: String
    /// When it was requested.
    var at: Timestamp
    /// The open of the session it waits for (the start of that session's daily bar).
    var sessionOpen: Timestamp
    /// That session's close: a ``PaperInput/sessionClose(_:)`` at or after it applies the cancel.
    var sessionClose: Timestamp
    /// The next session's open: at or after it the cancel applies without the bar (fail closed).
    var deadline: Timestamp

    enum CodingKeys: String, CodingKey {
        case id, symbol, reason, at
        case sessionOpen = "session_open"
        case sessionClose = "session_close"
        case deadline
    }
}

/// Market-time order with daily bars, the same in replay and in wall-clock mode. The exchange
/// matches a session's daily bar only when it arrives: in replay one minute before the pre-close
/// cleanup, in wall-clock mode with the 16:10 fetch, after the cleanup and the close. So that both
/// give what the engine gives (OPEN and INTRABAR on the bar, then the cleanup, then the close):
///
/// - A system cancel of an order that can match a session's bar (live before the session opened,
///   or accepted during it and no bracket child), requested after the open while that session's
///   bar of its symbol has not been matched, is held (notice
///   ``PaperNotice/cancelDeferred(_:session:deadline:)``) and applied, in the order requested,
///   right after that bar is matched; or at that session's ``PaperInput/sessionClose(_:)`` (before
///   the DAY expiries) when no bar of the symbol came; or at the next session's open when neither
///   came (a data failure: the cancel takes effect, no fill is invented).
/// - An order accepted during a session (after its open, before its close) is matched against
///   that session's bar only at its close (the CLOSE phase: the one price known to have traded
///   after it was accepted), slipped as any fill; a bracket child never (it waits for the next bar).
///   So a 14:30 reduce-only market order fills on its session's bar at the close, as in replay and
///   the engine (bar at 15:54), also when the 15:55 cleanup asked to cancel it before the bar came.
extension PaperExchange {
    /// The session whose daily bar starts at `start`, if `start` is a session's open.
    static func session(ofBarStarting start: Timestamp) -> Session? {
        guard let s = TradingCalendar.nyse.session(on: NewYorkTime.local(start).date), s.open == start else { return nil }
        return s
    }

    /// The latest session that opened at or before `now` (looking back at most ten days).
    static func session(openedBy now: Timestamp) -> Session? {
        let today = NewYorkTime.local(now).date
        for back in 0...10 {
            if let s = TradingCalendar.nyse.session(on: today.adding(days: -back)), s.open <= now { return s }
        }
        return nil
    }

    /// The cancel of order `i` to hold for its session's bar, if the rule above says so.
    func deferral(of i: Int, reason: String, now: Timestamp) -> PendingCancel? {
        let o = orders[i]
        guard o.status == .working || o.status == .partiallyFilled, o.workingQuantity > .zero,
            let s = Self.session(openedBy: now),
            o.eligibleAfter < s.open || Self.acceptedDuring(o, start: s.open, end: s.close)
        else { return nil }
        if let m = mark(of: o.spec.symbol), m.lastBarStart >= s.open { return nil }
        guard let next = TradingCalendar.nyse.nextSession(after: s.open) else { return nil }
        return PendingCancel(
            id: o.id, symbol: o.spec.symbol, reason: reason, at: now, sessionOpen: s.open, sessionClose: s.close, deadline: next.open)
    }

    /// Applies the held cancels that `applies` selects, in the order they were requested: an
    /// order still open is cancelled; one that became final meanwhile (filled by the bar) is not.
    mutating func applyPendingCancels(where applies: (PendingCancel) -> Bool, _ ctx: inout Context) {
        let due = pendingCancels.filter(applies)
        guard !due.isEmpty else { return }
        pendingCancels.removeAll(where: applies)
        for p in due {
            guard let i = index[p.id] else { continue }
            guard orders[i].status.isOpen else {
                ctx.outcome.notices.append(.cancelRefused(p.id, .alreadyFinal(orders[i].status)))
                continue
            }
            cancel(i, reason: p.reason, &ctx)
        }
    }

    /// The point bar of `bar`'s close: what an order accepted during the bar's session is matched
    /// against (open, high and low at the close; the same volume).
    static func closeBar(_ bar: Bar) -> Bar {
        var b = bar
        b.open = bar.close
        b.high = bar.close
        b.low = bar.close
        return b
    }

    /// Whether order `o` was accepted during the session of a bar that starts at `start` and
    /// ends at `end` (nil: not a session's bar), so that only the bar's close applies to it.
    static func acceptedDuring(_ o: PaperOrder, start: Timestamp, end: Timestamp?) -> Bool {
        guard let end, o.spec.parent == nil else { return false }
        return o.eligibleAfter >= start && o.eligibleAfter < end
    }
}
