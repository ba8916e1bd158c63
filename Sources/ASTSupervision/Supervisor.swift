import ASTCore
@_exported import ASTMessages

/// What the shell must do for the supervisor. The shell carries the actions out in order
/// and feeds what happens back as inputs (``Supervisor/spawned(_:pid:now:)``,
/// ``Supervisor/exited(pid:reason:now:)`` ...).
public enum SupervisorAction: Sendable, Equatable {
    /// Spawn the child now, then report ``Supervisor/spawned(_:pid:now:)`` or
    /// ``Supervisor/spawnFailed(_:error:now:)``. Successive starts are in start order and do
    /// not wait for READY: listening sockets belong to the parent, so peers wait in the
    /// backlog.
    case start(ProcessIdentity)
    /// Send SIGTERM to `pid`, then SIGKILL once the child's `shutdownTimeout` has passed, and
    /// report the exit. The supervisor stops children one at a time: it emits the next stop
    /// only after this one's exit.
    case stop(ProcessIdentity, pid: Int32)
    /// The child missed its watchdog deadline: send SIGABRT to `pid` (a core dump shows where
    /// it hung), then SIGKILL once its `shutdownTimeout` has passed, and report the exit.
    case abort(ProcessIdentity, pid: Int32)
    /// A restart is due at `at`: call ``Supervisor/tick(now:)`` then. `attempt` counts
    /// consecutive crashes of this child (1 after a stable run). Under `rest_for_one` the
    /// restart comes later if siblings are still stopping: with the last one's exit.
    case restartScheduled(ProcessIdentity, at: Timestamp, attempt: Int)
    /// Journal the event and send it to the risk gate and the notifier.
    case report(LifecycleEvent)
    /// A critical child exceeded its restart budget. The supervisor stops every child in reverse
    /// start order (the ``stop(_:pid:)`` actions follow); once ``Supervisor/isFinished`` the
    /// shell exits non-zero.
    case giveUp(reason: String)
    /// A non-critical child exceeded its restart budget and is left down alone (its
    /// ``LifecycleKind/givenUp`` report comes first): raise a P0 through whatever path still
    /// works. `retryAt` is when it is started again (``Supervisor/tick(now:)``), nil for never.
    case givenUp(ProcessIdentity, reason: String, retryAt: Timestamp?)
}

/// The supervisor's restart policy as a pure state machine: like an OTP supervisor, with
/// time as an input and processes as actions for a shell to carry out.
///
/// - Restarts count toward the crashed child's budget (``SupervisorPolicy/budget(of:)``) when
///   the supervisor decides them (at the crash), one per failure: a `rest_for_one` incident
///   counts once, against the child that crashed, however many siblings it restarts. A
///   restart number `intensity + 1` within `period` (inclusive: a restart exactly `period` ago
///   still counts) is not performed: for a critical child the supervisor gives up on the tree;
///   a non-critical child is given up on alone (it stays down, siblings untouched, also under
///   `rest_for_one`) and started again with a fresh budget after the policy's retry delay.
/// - The exit of a process the supervisor was stopping is `.stoppedBySupervisor` and the exit
///   of a process it killed for its watchdog is `.watchdogTimeout`, whatever the kernel said.
/// - Stops (for `rest_for_one`, shutdown and give-up) go one at a time in reverse start order,
///   each after the previous exit. While stopping, the supervisor starts nothing.
/// - After a shutdown or a give-up only inputs that make processes go away are acted on:
///   exits, late spawns (stopped at once) and missed watchdogs.
/// - Due restarts are performed by ``tick(now:)`` and by any later input.
public struct Supervisor: Sendable {
    /// The children in start order.
    public let childSpecs: [ChildSpec]
    public let policy: SupervisorPolicy

    private var slots: [Slot]
    /// The `rest_for_one` restart in progress, if any (there is at most one).
    private var incident: Incident?
    /// Set once a shutdown or a give-up began: nothing starts any more.
    private var drain: Drain?
    /// Children to stop one at a time, head first (reverse start order).
    private var stopQueue: [Int] = []
    private var started = false

    private struct Slot: Sendable {
        var spec: ChildSpec
        var phase: Phase = .idle
        var restarts = 0
        var consecutiveCrashes = 0
        /// When counted restarts of this child happened, oldest first, pruned to its budget's
        /// period on each crash.
        var restartLog: [Timestamp] = []
        /// Consecutive give-ups (reset once the child stays up for its budget's period).
        var givenUps = 0
        var lastExit: ExitReason?
        var lastExitAt: Timestamp?
    }

    private enum Phase: Sendable, Equatable {
        case idle
        case starting
        case running(pid: Int32, since: Timestamp, readySince: Timestamp?)
        case stopping(pid: Int32, since: Timestamp, cause: StopCause)
        case waiting(until: Timestamp)
        /// Given up on alone; started again at `retryAt` (never when nil).
        case givenUp(retryAt: Timestamp?)
        case down

        var pid: Int32? {
            switch self {
            case .running(let pid, _, _), .stopping(let pid, _, _): pid
            default: nil
            }
        }

        var isWaiting: Bool {
            if case .waiting = self { return true }
            return false
        }

        /// Has a process, or one is being spawned.
        var isAlive: Bool {
            switch self {
            case .starting, .running, .stopping: true
            default: false
            }
        }
    }

    private enum StopCause: Sendable, Equatable { case supervisor, watchdog, startTimeout }

    private struct Incident: Sendable {
        var first: Int
        var due: Timestamp
        var cause: String
    }

    private enum Drain: Sendable { case shutdown, gaveUp }

    /// Validates the child list and the policy; children start in array order.
    public init(children: [ChildSpec], policy: SupervisorPolicy = SupervisorPolicy()) throws(SupervisorConfigurationError) {
        for (i, child) in children.enumerated() {
            if children[..<i].contains(where: { $0.id == child.id }) { throw .duplicateChild(child.id) }
            if child.shutdownTimeout <= .zero { throw .nonPositiveShutdownTimeout(child.id, child.shutdownTimeout) }
            if let w = child.watchdog, w <= .zero { throw .nonPositiveWatchdog(child.id, w) }
            if let t = child.startTimeout, t <= .zero { throw .nonPositiveStartTimeout(child.id, t) }
            if let b = child.budget {
                if b.intensity < 0 { throw .negativeChildIntensity(child.id, b.intensity) }
                if b.period <= .zero { throw .nonPositiveChildPeriod(child.id, b.period) }
            }
            if !child.critical, ChildSpec.criticalRoles.contains(child.id.role) { throw .positionWatcherNotCritical(child.id) }
        }
        if policy.intensity < 0 { throw .negativeIntensity(policy.intensity) }
        if policy.period <= .zero { throw .nonPositivePeriod(policy.period) }
        if policy.restartBackoff < .zero { throw .negativeBackoff(policy.restartBackoff) }
        if policy.restartBackoffMax < policy.restartBackoff {
            throw .backoffMaxBelowBackoff(backoff: policy.restartBackoff, maximum: policy.restartBackoffMax)
        }
        if let r = policy.givenUpRetry {
            if r <= .zero { throw .nonPositiveGivenUpRetry(r) }
            if policy.givenUpRetryMax < r { throw .givenUpRetryMaxBelowRetry(retry: r, maximum: policy.givenUpRetryMax) }
        }
        self.childSpecs = children
        self.policy = policy
        self.slots = children.map { Slot(spec: $0) }
    }

    // MARK: Inputs

    /// Starts every child in start order. Only the first call does anything.
    public mutating func start(now: Timestamp) -> [SupervisorAction] {
        guard !started, drain == nil else { return [] }
        started = true
        var out: [SupervisorAction] = []
        for i in slots.indices {
            slots[i].phase = .starting
            out.append(.start(slots[i].spec.id))
        }
        return out
    }

    /// The shell spawned the child as `pid`. A spawn the supervisor did not ask for is
    /// stopped and not tracked, so that a child never runs twice.
    public mutating func spawned(_ id: ProcessIdentity, pid: Int32, now: Timestamp) -> [SupervisorAction] {
        guard let i = index(of: id) else { return [] }
        guard slots[i].phase == .starting else {
            return slots[i].phase.pid == pid ? [] : [.stop(id, pid: pid)]
        }
        slots[i].phase = .running(pid: pid, since: now, readySince: nil)
        var out: [SupervisorAction] = [.report(event(.spawned, i, pid: pid, at: now))]
        out += advance(now: now)
        return out
    }

    /// The shell could not spawn the child: an abnormal exit.
    public mutating func spawnFailed(_ id: ProcessIdentity, error: String, now: Timestamp) -> [SupervisorAction] {
        guard let i = index(of: id), slots[i].phase == .starting else { return [] }
        let reason = ExitReason.spawnFailed(error: error)
        slots[i].lastExit = reason
        slots[i].lastExitAt = now
        var out: [SupervisorAction] = [.report(exitEvent(i, reason: reason, reported: reason, planned: false, pid: nil, at: now))]
        if isClaimed(i) {
            settleClaimed(i)
        } else {
            out += handleExit(i, reason: reason, ranFor: nil, now: now)
        }
        out += advance(now: now)
        return out
    }

    /// The process `pid` reported READY=1. Stale or unknown pids and repeats are ignored.
    public mutating func ready(pid: Int32, now: Timestamp) -> [SupervisorAction] {
        guard drain == nil, let i = index(ofPid: pid),
            case .running(_, let since, nil) = slots[i].phase
        else { return [] }
        slots[i].phase = .running(pid: pid, since: since, readySince: now)
        var out: [SupervisorAction] = [.report(event(.ready, i, pid: pid, at: now))]
        out += advance(now: now)
        return out
    }

    /// The process `pid` ended. `reason` is what the kernel said; the supervisor attributes it
    /// (see the type's documentation). Unknown pids (reaped grandchildren) are ignored.
    public mutating func exited(pid: Int32, reason reported: ExitReason, now: Timestamp) -> [SupervisorAction] {
        guard let i = index(ofPid: pid) else { return [] }
        let reason: ExitReason
        let planned: Bool
        var ranFor: Duration?
        switch slots[i].phase {
        case .stopping(_, let since, .supervisor):
            (reason, planned) = (.stoppedBySupervisor, true)
            ranFor = now.duration(since: since)
        case .stopping(_, let since, .watchdog):
            (reason, planned) = (.watchdogTimeout, false)
            ranFor = now.duration(since: since)
        case .stopping(_, let since, .startTimeout):
            (reason, planned) = (.startTimeout, false)
            ranFor = now.duration(since: since)
        case .running(_, let since, _):
            (reason, planned) = (reported, false)
            ranFor = now.duration(since: since)
        default:
            return []
        }
        slots[i].lastExit = reason
        slots[i].lastExitAt = now
        var out: [SupervisorAction] = [.report(exitEvent(i, reason: reason, reported: reported, planned: planned, pid: pid, at: now))]
        if isClaimed(i) {
            settleClaimed(i)
        } else {
            out += handleExit(i, reason: reason, ranFor: ranFor, now: now)
        }
        out += advance(now: now)
        return out
    }

    /// The process `pid` missed its watchdog deadline: the supervisor aborts it, and its exit
    /// counts as ``ExitReason/watchdogTimeout``. Ignored unless `pid` is running and not
    /// already being stopped.
    public mutating func watchdogMissed(pid: Int32, now: Timestamp) -> [SupervisorAction] {
        guard let i = index(ofPid: pid), case .running(_, let since, _) = slots[i].phase else { return [] }
        slots[i].phase = .stopping(pid: pid, since: since, cause: .watchdog)
        var out: [SupervisorAction] = [
            .report(
                event(
                    .watchdogTimeout, i, pid: pid, reason: ExitReason.watchdogTimeout.description,
                    onCrash: slots[i].spec.onCrash, at: now)),
            .abort(slots[i].spec.id, pid: pid),
        ]
        out += advance(now: now)
        return out
    }

    /// The process `pid` did not report READY within its child's start-up timeout: the
    /// supervisor aborts it like a hung one (reported as ``LifecycleKind/watchdogTimeout``), and
    /// its exit counts as ``ExitReason/startTimeout``. Ignored unless `pid` is running, not yet
    /// ready and not already being stopped.
    public mutating func startTimedOut(pid: Int32, now: Timestamp) -> [SupervisorAction] {
        guard let i = index(ofPid: pid), case .running(_, let since, nil) = slots[i].phase else { return [] }
        slots[i].phase = .stopping(pid: pid, since: since, cause: .startTimeout)
        var out: [SupervisorAction] = [
            .report(
                event(
                    .watchdogTimeout, i, pid: pid, reason: ExitReason.startTimeout.description,
                    onCrash: slots[i].spec.onCrash, at: now)),
            .abort(slots[i].spec.id, pid: pid),
        ]
        out += advance(now: now)
        return out
    }

    /// Performs the restarts that are due at `now`.
    public mutating func tick(now: Timestamp) -> [SupervisorAction] {
        advance(now: now)
    }

    /// The earliest time at which ``tick(now:)`` has something to do (a scheduled restart), or
    /// nil when nothing is scheduled: the shell sleeps until then or until an event arrives.
    public var nextDeadline: Timestamp? {
        // While stopping (a shutdown, a give-up, rest_for_one siblings) progress comes from exits.
        guard drain == nil, stopQueue.isEmpty else { return nil }
        let retries = slots.compactMap { slot -> Timestamp? in
            if case .givenUp(let retryAt?) = slot.phase { return retryAt }
            return nil
        }
        switch policy.strategy {
        case .oneForOne:
            return
                (retries
                + slots.compactMap { slot -> Timestamp? in
                    if case .waiting(let until) = slot.phase { return until }
                    return nil
                }).min()
        case .restForOne:
            return (retries + [incident?.due].compactMap { $0 }).min()
        }
    }

    /// Stops every child in reverse start order, one at a time, and restarts nothing any
    /// more. The shell exits once ``isFinished``. Later calls do nothing.
    public mutating func shutdown(now: Timestamp) -> [SupervisorAction] {
        guard drain == nil else { return [] }
        beginDrain(.shutdown)
        return advance(now: now)
    }

    // MARK: Status

    /// Every child in start order, for `astctl status`.
    public var children: [ChildStatus] {
        slots.indices.map(status(at:))
    }

    /// The status of one child, `nil` if the supervisor has no such child.
    public func status(of id: ProcessIdentity) -> ChildStatus? {
        index(of: id).map(status(at:))
    }

    /// True once started, while no restart is in progress and every permanent child runs and
    /// has reported READY: the tree is whole (`astctl status` says ok).
    public var allPermanentReady: Bool {
        guard started, drain == nil, incident == nil else { return false }
        return slots.allSatisfy { slot in
            guard slot.spec.restart == .permanent else { return true }
            if case .running(_, _, .some) = slot.phase { return true }
            return false
        }
    }

    /// True once started, while no restart is in progress, every permanent critical child runs
    /// and has reported READY, and every permanent non-critical one has too or was given up on:
    /// the tree serves, perhaps degraded (when astd itself reports READY=1).
    public var isServing: Bool {
        guard started, drain == nil, incident == nil else { return false }
        return slots.allSatisfy { slot in
            guard slot.spec.restart == .permanent else { return true }
            switch slot.phase {
            case .running(_, _, .some): return true
            case .givenUp: return !slot.spec.critical
            default: return false
            }
        }
    }

    /// The children given up on alone, in start order.
    public var givenUpChildren: [ProcessIdentity] {
        slots.compactMap { slot in
            if case .givenUp = slot.phase { return slot.spec.id }
            return nil
        }
    }

    /// True once a critical child exceeded its restart budget.
    public private(set) var hasGivenUp = false

    /// True once a shutdown or a give-up has stopped every child: the shell may exit
    /// (non-zero if ``hasGivenUp``).
    public var isFinished: Bool {
        drain != nil && !slots.contains { $0.phase.isAlive }
    }

    // MARK: Decisions

    /// A child that is not being stopped exited (or failed to spawn), and no shutdown or
    /// give-up is under way: restart it, leave it down, or give up.
    private mutating func handleExit(_ i: Int, reason: ExitReason, ranFor: Duration?, now: Timestamp) -> [SupervisorAction] {
        let shouldRestart =
            switch slots[i].spec.restart {
            case .permanent: true
            case .transient: reason.isAbnormal
            case .temporary: false
            }
        guard shouldRestart else {
            slots[i].phase = .down
            return []
        }

        let budget = policy.budget(of: slots[i].spec)
        if let ranFor, ranFor >= budget.period {
            slots[i].consecutiveCrashes = 0
            slots[i].givenUps = 0
        }
        let windowStart = now.advanced(by: .zero - budget.period)
        slots[i].restartLog.removeAll { $0 < windowStart }
        if slots[i].restartLog.count >= budget.intensity {
            let restartsInWindow = slots[i].restartLog.count + 1
            guard slots[i].spec.critical else {
                return giveUpOn(i, reason: reason, restartsInWindow: restartsInWindow, budget: budget, now: now)
            }
            slots[i].phase = .down
            return giveUp(i, reason: reason, restartsInWindow: restartsInWindow, budget: budget, now: now)
        }
        slots[i].restartLog.append(now)

        slots[i].consecutiveCrashes += 1
        let attempt = slots[i].consecutiveCrashes
        let due = now.advanced(by: backoff(attempt: attempt))
        let id = slots[i].spec.id

        switch policy.strategy {
        case .oneForOne:
            slots[i].phase = .waiting(until: due)
            return [.restartScheduled(id, at: due, attempt: attempt)]
        case .restForOne:
            // A crash before the incident's first child widens the incident; one after it
            // cannot reach here, because those children are claimed by the incident.
            var current = incident ?? Incident(first: i, due: due, cause: "")
            current.first = min(current.first, i)
            current.due = max(current.due, due)
            current.cause = "\(id) \(reason)"
            incident = current
            for j in current.first..<slots.count where j == i || slots[j].phase.isWaiting {
                slots[j].phase = .waiting(until: current.due)
            }
            stopQueue = slots.indices.reversed().filter { $0 > current.first && slots[$0].phase.isAlive }
            return [.restartScheduled(id, at: current.due, attempt: attempt)]
        }
    }

    private mutating func giveUp(
        _ i: Int, reason: ExitReason, restartsInWindow: Int, budget: RestartBudget, now: Timestamp
    ) -> [SupervisorAction] {
        hasGivenUp = true
        let text =
            "\(slots[i].spec.id) \(reason): restart \(restartsInWindow) within \(Supervisor.format(budget.period)) "
            + "would exceed the intensity of \(budget.intensity)"
        beginDrain(.gaveUp)
        return [
            .report(LifecycleEvent(kind: .gaveUp, child: nil, reason: text, restarts: restartsInWindow, at: now)),
            .giveUp(reason: text),
        ]
    }

    /// Leaves the non-critical child `i` down alone, with a fresh budget for its retry.
    private mutating func giveUpOn(
        _ i: Int, reason: ExitReason, restartsInWindow: Int, budget: RestartBudget, now: Timestamp
    ) -> [SupervisorAction] {
        slots[i].givenUps += 1
        slots[i].restartLog = []
        slots[i].consecutiveCrashes = 0
        let retryAt = policy.givenUpRetry.map { now.advanced(by: givenUpRetryDelay(giveUps: slots[i].givenUps, first: $0)) }
        slots[i].phase = .givenUp(retryAt: retryAt)
        let id = slots[i].spec.id
        let text =
            "\(id) \(reason): restart \(restartsInWindow) within \(Supervisor.format(budget.period)) "
            + "would exceed its intensity of \(budget.intensity); non-critical, so it alone is left down "
            + (retryAt.map { "and retried in \(Supervisor.format($0.duration(since: now)))" } ?? "until astd restarts")
        var e = event(.givenUp, i, reason: text, onCrash: slots[i].spec.onCrash, at: now)
        e.restarts = restartsInWindow
        return [.report(e), .givenUp(id, reason: text, retryAt: retryAt)]
    }

    /// The delay before the retry after give-up number `giveUps` in a row.
    private func givenUpRetryDelay(giveUps: Int, first: Duration) -> Duration {
        let maximum = policy.givenUpRetryMax.totalNanoseconds
        var delay = first.totalNanoseconds
        var n = 1
        while n < giveUps, delay < maximum {
            delay = delay > maximum / 2 ? maximum : delay * 2
            n += 1
        }
        return .nanoseconds(min(delay, maximum))
    }

    private mutating func beginDrain(_ kind: Drain) {
        drain = kind
        incident = nil
        for i in slots.indices where slots[i].phase.isWaiting {
            slots[i].phase = .down
        }
        stopQueue = slots.indices.reversed().filter { slots[$0].phase.isAlive }
    }

    /// A child whose exit belongs to a stop the supervisor is carrying out.
    private func isClaimed(_ i: Int) -> Bool {
        if drain != nil { return true }
        if let incident, i > incident.first { return true }
        return false
    }

    private mutating func settleClaimed(_ i: Int) {
        if drain == nil, let incident, slots[i].spec.restart != .temporary {
            slots[i].phase = .waiting(until: incident.due)
        } else {
            slots[i].phase = .down
        }
    }

    /// Sends the next stop of the queue, or performs the restarts that are due.
    private mutating func advance(now: Timestamp) -> [SupervisorAction] {
        while let head = stopQueue.first {
            switch slots[head].phase {
            case .running(let pid, let since, _):
                slots[head].phase = .stopping(pid: pid, since: since, cause: .supervisor)
                return [.stop(slots[head].spec.id, pid: pid)]
            case .starting, .stopping:
                return []
            case .idle, .waiting, .givenUp, .down:
                stopQueue.removeFirst()
            }
        }
        guard drain == nil else { return [] }
        var out: [SupervisorAction] = []
        for i in slots.indices {
            if case .givenUp(let retryAt?) = slots[i].phase, retryAt <= now {
                out += restart(i, because: "\(slots[i].spec.id) retried after it was given up on", now: now)
            }
        }
        switch policy.strategy {
        case .oneForOne:
            for i in slots.indices {
                if case .waiting(let until) = slots[i].phase, until <= now {
                    out += restart(i, because: slots[i].lastExit.map { "\(slots[i].spec.id) \($0)" } ?? "", now: now)
                }
            }
        case .restForOne:
            guard let current = incident, current.due <= now else { break }
            incident = nil
            for i in current.first..<slots.count where slots[i].phase.isWaiting {
                out += restart(i, because: "rest_for_one after \(current.cause)", now: now)
            }
        }
        return out
    }

    private mutating func restart(_ i: Int, because cause: String, now: Timestamp) -> [SupervisorAction] {
        slots[i].restarts += 1
        slots[i].phase = .starting
        return [
            .report(event(.restarted, i, reason: cause, at: now)),
            .start(slots[i].spec.id),
        ]
    }

    /// The delay before restart number `attempt` of a run of consecutive crashes.
    private func backoff(attempt: Int) -> Duration {
        let maximum = policy.restartBackoffMax.totalNanoseconds
        var delay = policy.restartBackoff.totalNanoseconds
        var n = 1
        while n < attempt, delay > 0, delay < maximum {
            delay = delay > maximum / 2 ? maximum : delay * 2
            n += 1
        }
        return .nanoseconds(min(delay, maximum))
    }

    // MARK: Helpers

    private func index(of id: ProcessIdentity) -> Int? {
        slots.firstIndex { $0.spec.id == id }
    }

    private func index(ofPid pid: Int32) -> Int? {
        slots.firstIndex { $0.phase.pid == pid }
    }

    private func status(at i: Int) -> ChildStatus {
        let slot = slots[i]
        let state: ChildState
        var readySince: Timestamp?
        switch slot.phase {
        case .idle: state = .stopped(nil)
        case .starting: state = .starting
        case .running(let pid, let since, let ready):
            state = .running(pid: pid, since: since)
            readySince = ready
        case .stopping(let pid, _, _): state = .stopping(pid: pid)
        case .waiting(let until): state = .waitingToRestart(until: until)
        case .givenUp(let retryAt): state = .givenUp(slot.lastExit ?? .stoppedBySupervisor, retryAt: retryAt)
        case .down:
            if let exit = slot.lastExit, exit.isAbnormal {
                state = .failed(exit)
            } else {
                state = .stopped(slot.lastExit)
            }
        }
        return ChildStatus(
            id: slot.spec.id, restart: slot.spec.restart, critical: slot.spec.critical, state: state, restarts: slot.restarts,
            readySince: readySince, lastExit: slot.lastExit, lastExitAt: slot.lastExitAt)
    }

    private func event(
        _ kind: LifecycleKind, _ i: Int, pid: Int32? = nil, reason: String? = nil,
        onCrash: CrashImpact? = nil, at: Timestamp
    ) -> LifecycleEvent {
        LifecycleEvent(
            kind: kind, child: slots[i].spec.id, pid: pid, reason: reason, onCrash: onCrash,
            restarts: slots[i].restarts, at: at)
    }

    /// `exited` for an exit the supervisor did not ask for, `stopped` for one it did. A child
    /// is down when it should not be (and `onCrash` applies) after an abnormal exit, or after
    /// any exit of a permanent child.
    private func exitEvent(
        _ i: Int, reason: ExitReason, reported: ExitReason, planned: Bool, pid: Int32?, at: Timestamp
    ) -> LifecycleEvent {
        var e = event(planned ? .stopped : .exited, i, pid: pid, reason: reason.description, at: at)
        if case .exited(let code) = reported { e.exitCode = code }
        if case .signaled(let signal) = reported { e.signal = signal }
        if !planned, reason.isAbnormal || slots[i].spec.restart == .permanent {
            e.onCrash = slots[i].spec.onCrash
        }
        return e
    }

    static func format(_ d: Duration) -> String {
        let ns = d.totalNanoseconds
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000) s" }
        if ns % 1_000_000 == 0 { return "\(ns / 1_000_000) ms" }
        return "\(ns) ns"
    }
}
