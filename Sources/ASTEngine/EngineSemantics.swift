import ASTCalendar
import ASTCore

/// Every choice the engine makes about *when* a consequence happens, in one place, so that it
/// can be aligned with the tree's shells (M8: the causal replay clock) when both change.
///
/// The engine is causal by construction: each schedule point (a ``Beat``) is handled to the end
/// (intents decided, approved brackets handled by the paper exchange, every report reconciled,
/// the portfolio published to the risk gate and the strategy) before the next one begins.
public enum EngineSemantics {
    /// One point of a session's timeline, as ast-marketdata's replay plays it.
    public enum Beat: Sendable, Equatable {
        /// A task of the daily schedule (09:00 scan, reconciliations, pre-close cleanup, 16:40).
        case task(ScheduledTask)
        /// The session's bars to the paper exchange (OPEN: entries at the open, gap-aware
        /// stops; INTRABAR: stops and targets with the `both_touched` tie-break — all inside
        /// ``ASTPaperBroker/PaperExchange``'s match of the daily bar), then the marks to the
        /// risk gate and the reconciler. With daily bars the order of intraday events is
        /// unknown: the bar goes out one minute before the pre-close cleanup, so that the
        /// cleanup sees the day's fills, as in the tree.
        case bars
        /// The session's close: DAY orders expire at the exchange.
        case close
    }

    /// One minute before the pre-close cleanup (close − 5 min: 15:55, 12:55 on an early close).
    public static let barsBeforeCleanup: Int64 = 60_000_000_000

    /// The beats of `session`, in time order (a bars beat at the same time as a task comes after
    /// it; the close comes before the after-market run).
    public static func beats(of session: Session) -> [(time: Timestamp, beat: Beat)] {
        let events = DailySchedule.events(for: session)
        var out: [(time: Timestamp, beat: Beat)] = events.map { ($0.time, .task($0.task)) }
        let cleanup = events.first { $0.task == .preCloseCleanup }?.time ?? session.close
        out.append((Timestamp(nanoseconds: cleanup.nanoseconds - barsBeforeCleanup), .bars))
        out.append((session.close, .close))
        // Stable: ties keep the order above.
        return out.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
    }

    /// At the bars beat the marks (the session's closes) reach the risk gate and the reconciler
    /// before the bars reach the exchange, so that the portfolio published after the fills is
    /// valued at the session's closes. The tree's replay does the same: it sends the bars only
    /// once the risk gate and the reconciler have acknowledged (handled) every mark, so that a
    /// limit broken by the day's own fills is seen at this beat in both (before, the two went out
    /// at once and a fill handled before its mark published a portfolio at the day before's
    /// close: the tree then entered SAFE_REDUCING a minute later, at the cleanup).
    public static let marksBeforeBars = true

    /// The 09:00 scan's intents are all decided first, in id order (the strategy sends them one
    /// by one and waits for each decision); then the approved brackets reach the exchange, in
    /// the order approved; then their reports are reconciled and one portfolio is published.
    public static let decideAllIntentsBeforeSubmitting = true

    /// The pre-close cleanup asks to cancel only the day's entries that are still open with
    /// nothing filled (as the reconciler's book sees them): a filled or partly filled entry is
    /// never cancelled by the cleanup.
    public static let cleanupCancelsOnlyUnfilledEntries = true

    /// Every intent carries `expiresAt` = its session's close (as the tree's strategy sends it):
    /// the risk gate blocks it as INTENT_EXPIRED when decided at or after that time.
    public static func intentExpiry(of session: Session) -> Timestamp { session.close }

    /// An intent not decided by the close of the session it was made for expires: it is never
    /// approved afterwards. (In the engine every intent is decided at 09:00, so none expires;
    /// the rule is applied all the same.)
    public static func isExpired(intentCreatedAt created: Timestamp, session: Session, now: Timestamp) -> Bool {
        now >= session.close && created < session.close
    }

    /// The reasons the strategy gives the reconciler for its scheduled reconciliations (the
    /// tree's `ReconcileRequest.reason`), which become each summary's trigger.
    public static func reconcileTrigger(_ task: ScheduledTask) -> String {
        switch task {
        case .preCloseCleanup: "schedule \(task.rawValue): verify every position has its stop"
        default: "schedule \(task.rawValue)"
        }
    }

    /// The reason of a pre-close cancel, as the risk gate passes it to the broker.
    public static let cleanupCancelReason = "resting_unfilled_entry cancel approved by the risk gate"

    /// The reconciler asks the broker for executions since a day before its last completed
    /// reconciliation (older ones were compared then).
    public static func executionsSince(lastCompleted: Timestamp?) -> Timestamp {
        lastCompleted.map { Timestamp(nanoseconds: $0.nanoseconds - 86_400_000_000_000) } ?? Timestamp(nanoseconds: 0)
    }

    /// The start of the run (the tree's market clock starts at 00:00 New York time of the
    /// replay's first date): the reconciler's starting cash, its first snapshot and the start
    /// reconciliation happen then.
    public static func start(of first: Session) -> Timestamp {
        NewYorkTime.timestamp(first.date, LocalTime(hour: 0, minute: 0))
    }

    /// No `startDay` is sent: like the tree today, start-of-day equity stays the starting cash.
    public static let startsEachDay = false
}
