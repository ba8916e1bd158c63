import ASTBus
import ASTCore
import ASTJournal
import ASTMessages
import ASTProcessKit
import ASTProcesses
import ASTSupervision
import ASTWire
import CoreMetrics
import FoundationEssentials
import Glibc
import Logging
import Synchronization

/// The supervisor shell: owns the restart core and carries out its actions with real
/// processes, signals, the notify socket and the bus. Every input (an exit, a notification, a
/// tick, a status request) goes through this actor, one at a time.
actor Tree {
    var core: Supervisor
    let specs: [ProcessIdentity: ChildSpec]
    let sockets: [ProcessIdentity: Int32]
    let notifyPath: String
    let watchdogGrace: Duration
    let spawner = Spawner()
    let environment: [String: String]
    let journal: Journal
    let clock: any WallClock
    let logger: Logger
    let notifier: SystemdNotifier
    let ownWatchdog: WatchdogSettings?
    let lifecycleClients: [BusClient]
    let startedAt: Timestamp
    /// identity -> current pid, which every child maps read-only and checks peers against.
    let peerTable: PeerTableWriter
    /// The approval key's read-only descriptor, passed to risk and the brokers only.
    let approvalKeyFD: Int32

    struct Runtime {
        var spawnedAt: Timestamp?
        var lastPing: Timestamp?
        var statusText: String?
        var watchdogMissedFor: Int32?
    }

    var runtime: [ProcessIdentity: Runtime] = [:]
    /// How often each child was spawned by this astd (one run of the tree): a child started again
    /// whose journal is gone has lost its state (``JournalStart/spawnCountVariable``).
    var spawnCounts: [ProcessIdentity: Int] = [:]
    /// pid -> when SIGKILL follows if it has not exited (after SIGTERM or SIGABRT).
    var killDeadlines: [Int32: Timestamp] = [:]
    /// Exits reaped before `spawn` returned their pid (the child died at once).
    var unclaimedExits: [Int32: ProcessExit] = [:]
    /// Notifications (READY=1 ...) that arrived before `spawn` returned their sender's pid.
    var unclaimedNotifications: [Int32: [NotifyMessage]] = [:]
    /// Children that announced `STOPPING=1` (a graceful stop began). A child astd stops is
    /// reported `stopped`; one that exits with code 0 after `STOPPING=1` while astd runs on was
    /// stopped by a signal nobody in AST sent (a stray `kill -TERM`): a P0 like a crash. Only
    /// while astd itself is stopping (``stopRequested``: systemd's SIGTERM, `systemctl
    /// stop|restart`) is such an exit a stop on request.
    var announcedStopping: Set<Int32> = []
    /// Set from astd's own SIGTERM/SIGINT handler, before the shutdown reaches this actor: a
    /// child that the service manager stopped with astd (`systemctl kill`, a cgroup-wide
    /// SIGTERM) may exit before ``shutdown()`` runs, and is still a stop on request.
    let stopRequested: StopRequest
    var readySent = false
    var lastSummary = ""
    var lastOwnPing: Timestamp?
    var gaveUpReason: String?

    init(
        specs: [ChildSpec], policy: SupervisorPolicy, sockets: [ProcessIdentity: Int32], notifyPath: String, watchdogGrace: Duration,
        environment: [String: String], journal: Journal, clock: any WallClock, logger: Logger, notifier: SystemdNotifier,
        ownWatchdog: WatchdogSettings?, lifecycleClients: [BusClient], peerTable: PeerTableWriter, approvalKeyFD: Int32,
        stopRequested: StopRequest = StopRequest()
    ) throws {
        self.stopRequested = stopRequested
        self.peerTable = peerTable
        self.approvalKeyFD = approvalKeyFD
        core = try Supervisor(children: specs, policy: policy)
        self.specs = Dictionary(uniqueKeysWithValues: specs.map { ($0.id, $0) })
        self.sockets = sockets
        self.notifyPath = notifyPath
        self.watchdogGrace = watchdogGrace
        self.environment = environment
        self.journal = journal
        self.clock = clock
        self.logger = logger
        self.notifier = notifier
        self.ownWatchdog = ownWatchdog
        self.lifecycleClients = lifecycleClients
        startedAt = clock.now()
    }

    /// True once the core has stopped every child after a shutdown or giving up.
    var isFinished: Bool { core.isFinished }
    var hasGivenUp: Bool { core.hasGivenUp }

    func start() async {
        await perform(core.start(now: clock.now()))
    }

    func shutdown() async {
        stopRequested.set()
        logger.notice("stopping the tree in reverse start order")
        notifier.stopping(status: "stopping the tree")
        await perform(core.shutdown(now: clock.now()))
    }

    func childExited(_ exit: ProcessExit) async {
        killDeadlines[exit.pid] = nil
        if let child = core.children.first(where: { $0.pid == exit.pid }) {
            // A dead process's pid may be reused: it no longer names the identity.
            peerTable.clear(child.id, ifPID: exit.pid)
        }
        guard core.children.contains(where: { $0.pid == exit.pid }) else {
            // Either a grandchild we reaped as subreaper, or a child whose spawn has not returned yet.
            unclaimedExits[exit.pid] = exit
            unclaimedNotifications[exit.pid] = nil
            logger.debug("reaped a process that is not a current child", metadata: ["pid": "\(exit.pid)", "exit": "\(exit)"])
            return
        }
        await perform(core.exited(pid: exit.pid, reason: Self.reason(exit), now: clock.now()))
    }

    static func reason(_ exit: ProcessExit) -> ExitReason {
        switch exit.termination {
        case .exited(let code): .exited(code: code)
        case .signaled(let signal, _): .signaled(signal: signal)
        }
    }

    func notified(_ message: NotifyMessage) async {
        guard let child = core.children.first(where: { $0.pid == message.pid }) else {
            // A child can send READY=1 before `spawn` has returned its pid: keep it for then.
            // (Bounded: messages of pids that never become children are dropped at 64.)
            if unclaimedNotifications.count < 64 { unclaimedNotifications[message.pid, default: []].append(message) }
            logger.debug("notification from a process that is not a current child (yet)", metadata: ["pid": "\(message.pid)"])
            return
        }
        let now = clock.now()
        if message.isWatchdogPing { runtime[child.id, default: Runtime()].lastPing = now }
        if let status = message.status { runtime[child.id, default: Runtime()].statusText = status }
        if message.isStopping { announcedStopping.insert(message.pid) }
        if message.isReady { await perform(core.ready(pid: message.pid, now: now)) }
    }

    /// Periodic work: due restarts, SIGKILL escalations, children's watchdog deadlines, and
    /// astd's own READY/STATUS/WATCHDOG towards systemd.
    func tick() async {
        let now = clock.now()
        // The core keeps every scheduled restart; asking it each tick performs whichever are due.
        await perform(core.tick(now: now))
        for (pid, deadline) in killDeadlines where deadline <= now {
            killDeadlines[pid] = nil
            logger.warning("process did not exit in time: SIGKILL", metadata: ["pid": "\(pid)"])
            try? Signals.send(.kill, to: pid)
        }
        // Before READY the start-up timeout runs, from READY the watchdog (a slow start under
        // load is not a missed watchdog).
        for child in core.children {
            guard case .running(let pid, let since) = child.state, let spec = specs[child.id] else { continue }
            let r = runtime[child.id, default: Runtime()]
            guard r.watchdogMissedFor != pid,
                let hang = spec.hangDeadline(since: since, readySince: child.readySince, lastPing: r.lastPing),
                now > hang.at
            else { continue }
            runtime[child.id, default: Runtime()].watchdogMissedFor = pid
            switch hang {
            case .watchdog:
                logger.error(
                    "\(child.id) missed its watchdog", metadata: ["pid": "\(pid)", "limit": "\(spec.watchdog.map { "\($0)" } ?? "-")"])
                await perform(core.watchdogMissed(pid: pid, now: now))
            case .startTimeout:
                logger.error(
                    "\(child.id) did not report READY within its start-up timeout",
                    metadata: ["pid": "\(pid)", "limit": "\(spec.startTimeout.map { "\($0)" } ?? "-")"])
                await perform(core.startTimedOut(pid: pid, now: now))
            }
        }
        reportOwnState(now: now)
    }

    func reportOwnState(now: Timestamp) {
        let summary = self.summary
        if summary != lastSummary {
            lastSummary = summary
            notifier.status(summary)
        }
        if !readySent, core.isServing {
            readySent = true
            notifier.ready(status: summary)
            logger.notice("tree ready: \(summary)")
        }
        // Ping systemd only while this loop runs and the tree has not been given up.
        if let w = ownWatchdog, gaveUpReason == nil, lastOwnPing.map({ now.duration(since: $0) >= w.pingInterval }) ?? true {
            lastOwnPing = now
            notifier.watchdog()
        }
    }

    var summary: String {
        if let reason = gaveUpReason { return "gave up: \(reason)" }
        let permanent = core.children.filter { $0.restart == .permanent }
        let ready = permanent.filter { $0.readySince != nil && $0.pid != nil }.count
        let givenUp = core.givenUpChildren
        return "\(ready)/\(permanent.count) ready"
            + (givenUp.isEmpty ? "" : "; given up: " + givenUp.map(\.description).joined(separator: ", "))
    }

    func perform(_ actions: [SupervisorAction]) async {
        for action in actions {
            let now = clock.now()
            switch action {
            case .start(let id):
                await spawn(id)
            case .stop(let id, let pid):
                logger.info("stopping \(id)", metadata: ["pid": "\(pid)"])
                try? Signals.send(.terminate, to: pid)
                killDeadlines[pid] = now.advanced(by: specs[id]?.shutdownTimeout ?? .seconds(5))
            case .abort(let id, let pid):
                logger.error("aborting \(id) (missed watchdog)", metadata: ["pid": "\(pid)"])
                try? Signals.send(.abort, to: pid)
                killDeadlines[pid] = now.advanced(by: watchdogGrace)
            case .restartScheduled(let id, let at, let attempt):
                logger.info("restarting \(id) in \(at.duration(since: now))", metadata: ["attempt": "\(attempt)"])
            case .report(let event):
                if event.kind == .restarted, let child = event.child {
                    Counter(label: "ast_supervisor_restarts_total", dimensions: [("child", child.description)]).increment()
                }
                record(event)
            case .giveUp(let reason):
                gaveUpReason = reason
                logger.critical("giving up: \(reason); stopping every child")
                notifier.status("gave up: \(reason)")
            case .givenUp(let id, let reason, let retryAt):
                // The P0 went with the `given_up` report just before (see `record`).
                logger.error(
                    "given up on \(id) alone, the rest of the tree keeps running: \(reason)",
                    metadata: ["retry_at": "\(retryAt.map { "\($0)" } ?? "never")"])
            }
        }
    }

    func spawn(_ id: ProcessIdentity) async {
        guard let spec = specs[id], let fd = sockets[id] else { return }
        var inherited = [InheritedDescriptor(fd: peerTable.readOnlyFD, variable: PeerTableLayout.descriptorVariable)]
        if id.role == .risk || id.role == .broker {
            inherited.append(InheritedDescriptor(fd: approvalKeyFD, variable: ApprovalKey.descriptorVariable))
        }
        spawnCounts[id, default: 0] += 1
        var environment = self.environment
        environment[JournalStart.spawnCountVariable] = "\(spawnCounts[id, default: 1])"
        do {
            // The spawner writes the child's pid into its table slot between fork and exec.
            let pid = try await spawner.spawn(
                executable: spec.executable, arguments: spec.arguments + ["--instance", id.instance], environment: environment,
                listenFDs: [(fd: fd, name: id.description)], notifySocket: notifyPath, watchdog: spec.watchdog,
                inheritedFDs: inherited, identitySlot: peerTable.slot(for: id).map(IdentitySlot.init))
            runtime[id] = Runtime(spawnedAt: clock.now())
            await perform(core.spawned(id, pid: pid, now: clock.now()))
            for message in unclaimedNotifications.removeValue(forKey: pid) ?? [] { await notified(message) }
            if let early = unclaimedExits.removeValue(forKey: pid) { await childExited(early) }
        } catch {
            peerTable.set(id, pid: 0)
            logger.error("could not start \(id): \(error)")
            await perform(core.spawnFailed(id, error: "\(error)", now: clock.now()))
        }
    }

    /// A non-critical child was given up on: its `given_up` lifecycle event (already journaled
    /// and sent) becomes a P0 in the notifier. When the notifier is the child given up (or the
    /// tree has none), the P0 is journaled here and logged at CRIT, for the system log
    /// (journald) to keep; it also waits in the notifier's outbox for a retry.
    func raiseGivenUp(_ event: LifecycleEvent, seq: Int64) {
        guard let id = event.child else { return }
        let givenUp = Set(core.givenUpChildren.map(\.description))
        let notifierUp = lifecycleClients.contains { $0.target.hasPrefix("notifier@") && !givenUp.contains($0.target) }
        guard !notifierUp else { return }
        let reason = event.reason ?? "\(id) exceeded its restart budget"
        let at = event.at
        // Keyed to the journal sequence of the lifecycle event it reports: unique per event,
        // never a clock reading.
        let alert = Alert(
            priority: .p0, key: "lifecycle:\(LifecycleKind.givenUp.rawValue):\(id)#\(seq)",
            title: "AST process given up: \(id)", text: reason, at: at)
        logger.critical("P0 \(alert.title): \(reason) (no notifier to send it: journaled by astd)")
        do {
            try journal.append(
                JournalRecord(
                    kind: .event, type: MessageType.alert.rawValue, timestamp: at, correlationID: alert.key,
                    body: Array(try JSONEncoder().encode(alert))), durability: .durable)
        } catch {
            logger.critical("could not journal the P0 for \(id): \(error)")
        }
    }

    /// Journals a lifecycle event and sends it (acknowledged) to the risk gate and the notifier.
    func record(_ event: LifecycleEvent) {
        var event = event
        if event.kind == .exited || event.kind == .stopped, let pid = event.pid {
            let announced = announcedStopping.remove(pid) != nil
            if announced, event.kind == .exited, event.exitCode == 0 {
                // Not stopped by astd (that is `stopped`): planned only while astd stops the tree.
                let planned = stopRequested.isSet
                event.stoppedOnRequest = planned
                event.reason =
                    planned
                    ? "\(event.reason ?? "exited with code 0") after STOPPING=1 while the tree is stopping: stopped on request, not a crash"
                    : "was terminated by a signal nobody in AST requested (STOPPING=1, then exit code 0, while astd was not "
                        + "stopping it or the tree): treated as a crash"
            }
        }
        let line =
            "\(event.kind.rawValue) \(event.child?.description ?? "tree")"
            + (event.pid.map { " pid \($0)" } ?? "") + (event.reason.map { ": \($0)" } ?? "")
        switch event.kind {
        case .exited, .watchdogTimeout, .gaveUp, .givenUp: logger.warning("\(line)")
        default: logger.info("\(line)")
        }
        let body = (try? JSONEncoder().encode(event)).map(Array.init) ?? []
        var seq: Int64 = 0
        do {
            seq = try journal.append(
                JournalRecord(
                    kind: .event, type: MessageType.lifecycle.rawValue, timestamp: event.at,
                    correlationID: event.child?.description, body: body), durability: .durable)
            for client in lifecycleClients { try client.send(.lifecycle(event), correlationID: event.child?.description) }
        } catch {
            logger.critical("could not journal a lifecycle event: \(error)")
        }
        if event.kind == .givenUp { raiseGivenUp(event, seq: seq) }
    }

    func status() -> TreeStatus {
        let now = clock.now()
        let children = core.children.map { c -> ChildStatusReport in
            let r = runtime[c.id] ?? Runtime()
            let (state, uptime): (String, Double?) =
                switch c.state {
                case .starting: ("starting", nil)
                case .running(_, let since): ("running", Double(now.duration(since: since).totalNanoseconds) / 1e9)
                case .stopping: ("stopping", nil)
                case .waitingToRestart: ("restarting", nil)
                case .stopped: ("stopped", nil)
                case .failed: ("failed", nil)
                case .givenUp: ("given_up", nil)
                }
            return ChildStatusReport(
                name: c.id.description, pid: c.pid, state: state, ready: c.readySince != nil && c.pid != nil,
                uptimeSeconds: uptime, restarts: c.restarts, lastWatchdogPing: c.pid == nil ? nil : r.lastPing,
                statusText: r.statusText, lastExit: c.lastExit?.description, onCrash: specs[c.id]?.onCrash.rawValue ?? "halt")
        }
        let allReady = core.allPermanentReady && gaveUpReason == nil
        var status = TreeStatus(
            state: allReady ? "ok" : "degraded", supervisorPID: getpid(), startedAt: startedAt, now: now,
            summary: summary, children: children)
        status.supervisorBus = BusStatusReport(links: lifecycleClients.map(\.link).sorted { $0.target < $1.target })
        return status
    }
}

/// Answers `astctl status` on the control socket.
struct ControlInbox: BusInbox {
    let tree: Tree

    func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message? {
        switch envelope.message {
        case .statusRequest: .statusReply(await tree.status())
        default: nil
        }
    }
}

/// Whether astd was asked to stop (SIGTERM or SIGINT, from systemd or an operator): set from the
/// signal handler itself, so that it holds before the shutdown reaches the ``Tree`` actor.
final class StopRequest: Sendable {
    let flag = Atomic<Bool>(false)
    init() {}
    func set() { flag.store(true, ordering: .sequentiallyConsistent) }
    var isSet: Bool { flag.load(ordering: .sequentiallyConsistent) }
}
