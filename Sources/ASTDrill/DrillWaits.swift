/// The waits of a drill round in progress, innermost last, each with its bound: pure (the instant
/// is an input), so that the drill's watcher only asks ``overrun(at:grace:)`` once a second and
/// reports a wait past its bound with the round, the wait and what it saw last.
public struct DrillWaits: Sendable, Equatable {
    /// One named wait.
    public struct Wait: Sendable, Equatable {
        public var what: String
        public var since: ContinuousClock.Instant
        public var limit: Duration
        public var seen: String = ""
    }

    public private(set) var round = 0
    public private(set) var rounds = 0
    public private(set) var waits: [Wait] = []

    public init() {}

    public mutating func setRound(_ round: Int, of rounds: Int) {
        self.round = round
        self.rounds = rounds
    }

    /// A wait begins (waits nest: a reconcile inside a resume).
    public mutating func begin(_ what: String, at now: ContinuousClock.Instant, limit: Duration) {
        waits.append(Wait(what: what, since: now, limit: limit))
    }

    /// The innermost wait ended.
    public mutating func end() { _ = waits.popLast() }

    /// What the innermost wait saw last (reported if it overruns).
    public mutating func saw(_ seen: String) {
        if !waits.isEmpty { waits[waits.count - 1].seen = seen }
    }

    /// The message for the outermost wait that has run past its bound by more than `grace` at
    /// `now`, or nil when every wait is within its bound.
    public func overrun(at now: ContinuousClock.Instant, grace: Duration) -> String? {
        guard let w = waits.first(where: { now - $0.since > $0.limit + grace }) else { return nil }
        let path = waits.map(\.what).joined(separator: " > ")
        return "astctl drill: round \(round)/\(rounds) gave up: waited \((now - w.since).components.seconds) s for \(w.what)"
            + " (bound \(w.limit.components.seconds) s + \(grace.components.seconds) s) [\(path)]; last seen: "
            + (w.seen.isEmpty ? "nothing" : w.seen)
    }
}
