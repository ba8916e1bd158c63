import ASTCore
import ASTSupervision

/// The test clock's origin.
let t0 = Timestamp(nanoseconds: 1_700_000_000_000_000_000)

func id(_ name: String) -> ProcessIdentity { ProcessIdentity(parsing: name)! }

func child(
    _ name: String, _ restart: RestartType = .permanent, onCrash: CrashImpact = .halt, watchdog: Duration? = nil,
    critical: Bool = true, budget: RestartBudget? = nil, startTimeout: Duration? = nil
) -> ChildSpec {
    ChildSpec(
        id: id(name), executable: "/usr/libexec/ast/ast-\(name)", restart: restart, watchdog: watchdog, onCrash: onCrash,
        critical: critical, budget: budget, startTimeout: startTimeout)
}

/// A supervisor driven by a test clock: plain timestamps that tests advance, and pids handed
/// out in order, the way the shell would.
struct Rig {
    var sup: Supervisor
    var now = t0
    var lastPid: Int32 = 1000

    init(_ children: [ChildSpec], _ policy: SupervisorPolicy = SupervisorPolicy()) throws {
        sup = try Supervisor(children: children, policy: policy)
    }

    init(_ names: [String], _ policy: SupervisorPolicy = SupervisorPolicy()) throws {
        try self.init(names.map { child($0) }, policy)
    }

    mutating func advance(_ d: Duration) { now = now.advanced(by: d) }
    mutating func start() -> [SupervisorAction] { sup.start(now: now) }
    mutating func tick() -> [SupervisorAction] { sup.tick(now: now) }
    mutating func shutdown() -> [SupervisorAction] { sup.shutdown(now: now) }

    mutating func spawn(_ name: String) -> [SupervisorAction] {
        lastPid += 1
        return sup.spawned(id(name), pid: lastPid, now: now)
    }

    mutating func ready(_ name: String) -> [SupervisorAction] { sup.ready(pid: pid(name)!, now: now) }

    /// The child's process ends, as the kernel reports it.
    mutating func exit(_ name: String, _ reason: ExitReason = .exited(code: 1)) -> [SupervisorAction] {
        sup.exited(pid: pid(name)!, reason: reason, now: now)
    }

    mutating func watchdogMissed(_ name: String) -> [SupervisorAction] { sup.watchdogMissed(pid: pid(name)!, now: now) }
    mutating func startTimedOut(_ name: String) -> [SupervisorAction] { sup.startTimedOut(pid: pid(name)!, now: now) }

    func pid(_ name: String) -> Int32? { sup.status(of: id(name))?.pid }
    func state(_ name: String) -> ChildState? { sup.status(of: id(name))?.state }
    func status(_ name: String) -> ChildStatus { sup.status(of: id(name))! }

    /// Spawns every child the actions start, in order.
    @discardableResult
    mutating func spawnStarted(_ actions: [SupervisorAction]) -> [SupervisorAction] {
        actions.starts.flatMap { spawn($0.description) }
    }

    /// Starts the whole tree and makes every child ready.
    mutating func boot() {
        let started = start()
        spawnStarted(started)
        for s in started.starts { _ = ready(s.description) }
    }

    /// What the supervisor reports, as the shell would see it.
    func event(
        _ kind: LifecycleKind, _ name: String?, pid: Int32? = nil, reason: String? = nil,
        exitCode: Int32? = nil, signal: Int32? = nil, onCrash: CrashImpact? = nil, restarts: Int = 0
    ) -> SupervisorAction {
        .report(
            LifecycleEvent(
                kind: kind, child: name.map(id), pid: pid, reason: reason, exitCode: exitCode,
                signal: signal, onCrash: onCrash, restarts: restarts, at: now))
    }
}

extension Array where Element == SupervisorAction {
    var starts: [ProcessIdentity] {
        compactMap { if case .start(let id) = $0 { id } else { nil } }
    }
    var stops: [ProcessIdentity] {
        compactMap { if case .stop(let id, _) = $0 { id } else { nil } }
    }
    var events: [LifecycleEvent] {
        compactMap { if case .report(let e) = $0 { e } else { nil } }
    }
    var kinds: [LifecycleKind] { events.map(\.kind) }
    var scheduled: [SupervisorAction] {
        filter { if case .restartScheduled = $0 { true } else { false } }
    }
    var gaveUp: Bool {
        contains { if case .giveUp = $0 { true } else { false } }
    }
    /// The children given up on alone by these actions.
    var givenUp: [ProcessIdentity] {
        compactMap { if case .givenUp(let id, _, _) = $0 { id } else { nil } }
    }
}

func ids(_ names: String...) -> [ProcessIdentity] { names.map(id) }
