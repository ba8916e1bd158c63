import ASTBus
import ASTCore
import ASTJournal
import ASTProcessKit
import ASTProcesses
import ASTSupervision
import ASTWire
import Dispatch
import FoundationEssentials
import Glibc
import Logging

/// One run of the supervisor: sets up sockets, the notify socket, the journal and the bus, then
/// drives the ``Tree`` until it has stopped every child.
struct Astd {
    /// Development trees only (refused in LIVE): identities astd does not run are admitted by
    /// uid, so that tests can speak as `strategy@test` to a supervised tree.
    static let allowUnspawnedVariable = "AST_FAULT_ADMIT_UNSPAWNED_PEERS"
    let config: TreeConfig
    let identity: ProcessIdentity
    let clock: SystemClock
    let notifier: SystemdNotifier
    let logger: Logger

    /// The children as configured, their executables looked up beside astd's own.
    static func childSpecs(_ config: TreeConfig) -> [ChildSpec] {
        let executableDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        let selfDirectory = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map {
            URL(fileURLWithPath: $0).deletingLastPathComponent().path
        }
        return config.supervisor.specs(executableDirectory: selfDirectory ?? executableDirectory)
    }

    func run() async throws -> Int32 {
        // Every descendant that loses its parent is re-parented to us, and we reap it.
        let reaper = try Reaper.start(subreaper: true, logger: logger)
        try FileManager.default.createDirectory(atPath: config.runtimeDir, withIntermediateDirectories: true)
        // Held until this process ends: astctl status reads it instead of connecting (which would
        // start a stopped ast.service through socket activation).
        let lock = SupervisorLock.acquire(runtimeDir: config.runtimeDir)
        if let problem = lock.problem { logger.error("astd.lock: \(problem); astctl status may report astd as not running") }
        defer { if let fd = lock.fd { close(fd) } }
        let journal = try Journal(
            path: StatePaths.journal(identity: identity, stateDir: config.stateDir),
            process: identity.description, logger: logger, batchLimit: config.journal.batchLimit)
        defer { try? journal.close() }

        // Sockets: each child's by its `role@instance` name from systemd, else bound here. They
        // stay open in astd for the whole run, so a restarted child gets the same socket back.
        let passed = try ListenFDs.take(unsetEnvironment: true)
        func socket(named name: String) throws -> Int32 {
            if let fd = passed.first(named: name) { return fd.fd }
            return try UnixSocket.listen(path: "\(config.runtimeDir)/\(name).sock")
        }
        let specs = Self.childSpecs(config)
        var sockets: [ProcessIdentity: Int32] = [:]
        for spec in specs { sockets[spec.id] = try socket(named: spec.id.description) }
        let controlFD = try socket(named: "control")
        logger.info(
            "astd starting",
            metadata: [
                "pid": "\(getpid())", "children": "\(specs.count)",
                "sockets":
                    "\(passed.descriptors.isEmpty ? "bound under \(config.runtimeDir)" : "\(passed.descriptors.count) from the service manager")",
            ])

        let notify = try NotifySocket(path: "\(config.runtimeDir)/notify.sock", logger: logger)
        defer { notify.close() }

        // Lifecycle events go, acknowledged, to the risk gate and the notifier (when configured).
        let settings = BusSettings(config.bus)
        let lifecycleTargets = specs.map(\.id).filter { $0.role == .risk || $0.role == .notifier }
        let lifecycleClients = try lifecycleTargets.map { target in
            try BusClient(
                identity: identity, target: target.description, path: "\(config.runtimeDir)/\(target).sock",
                expectedRole: target.role, settings: settings, journal: journal, clock: clock, logger: logger)
        }

        var environment = ProcessInfo.processInfo.environment
        for key in [
            "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
            PeerTableLayout.descriptorVariable, ApprovalKey.descriptorVariable,
        ] { environment[key] = nil }

        // Who is who on the bus: the pid of every identity astd runs, in a sealed memfd only astd
        // can write, and the approval key for risk and the brokers (see README, "Identity").
        let allowUnspawned = environment[Self.allowUnspawnedVariable] == "1"
        if allowUnspawned {
            guard config.trading?.mode != .live else {
                throw AstdError("\(Self.allowUnspawnedVariable)=1 is refused with trading.mode LIVE")
            }
            logger.warning("\(Self.allowUnspawnedVariable)=1: identities astd does not run are admitted by uid (development only)")
        }
        let peerTable = try PeerTableWriter(identities: specs.map(\.id) + [identity], allowUnlisted: allowUnspawned)
        peerTable.set(identity, pid: getpid())
        let approvalKeyFD = try ApprovalKey.random().sealedDescriptor()
        let stopRequested = StopRequest()
        let tree = try Tree(
            specs: specs, policy: config.supervisor.policy, sockets: sockets, notifyPath: notify.path,
            watchdogGrace: .milliseconds(config.supervisor.watchdogGraceMs), environment: environment,
            journal: journal, clock: clock, logger: logger, notifier: notifier,
            ownWatchdog: try WatchdogSettings.current(), lifecycleClients: lifecycleClients,
            peerTable: peerTable, approvalKeyFD: approvalKeyFD, stopRequested: stopRequested)

        let control = try BusServer(
            identity: identity,
            policy: EndpointPolicy(name: "control", allowedUIDs: Set(config.bus.allowedUids), permissions: [.control: [.statusRequest]]),
            settings: settings, journal: journal, clock: clock, logger: logger, inbox: ControlInbox(tree: tree),
            identityCheck: .spawned(peerTable),
            // Impersonations at the control socket go to the notifier on astd's lifecycle client.
            alarm: SecurityAlarm(
                client: lifecycleClients.first { $0.target.hasPrefix("notifier@") }, runsClient: false,
                clock: clock, logger: logger))

        // SIGTERM / SIGINT: stop the tree in reverse start order, then exit.
        let (signals, signalContinuation) = AsyncStream<Int32>.makeStream()
        let signalSources = [SIGTERM, SIGINT].map { sig -> any DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                // At once: a child stopped with astd may be reaped before the shutdown begins.
                stopRequested.set()
                signalContinuation.yield(sig)
            }
            source.activate()
            return source
        }
        defer { signalSources.forEach { $0.cancel() } }

        // The loop sleeps until the tree's next deadline or until an event has been handled.
        let wakeup = Wakeup()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await exit in reaper.exits {
                    await tree.childExited(exit)
                    wakeup.kick()
                }
            }
            group.addTask {
                for await message in notify.messages {
                    await tree.notified(message)
                    wakeup.kick()
                }
            }
            group.addTask { try? await control.run(listeningFD: controlFD) }
            for client in lifecycleClients { group.addTask { await client.run() } }
            // The disk budget's P1 goes from here, where the notifier client already is.
            let alerts = lifecycleClients.filter { $0.target.hasPrefix("notifier@") }
            group.addTask {
                await DiskBudgetWatch(config: config, journal: journal, clock: clock, logger: logger).run { alert in
                    for client in alerts { _ = try? client.send(.alert(alert)) }
                }
            }
            group.addTask {
                for await sig in signals {
                    logger.notice("received signal \(sig)")
                    await tree.shutdown()
                    wakeup.kick()
                }
            }
            await tree.start()
            while !(await tree.isFinished) {
                await tree.tick()
                await wakeup.wait(until: await tree.nextDeadline(), clock: clock)
            }
            group.cancelAll()
        }
        control.flushRefusalSummaries()
        try journal.flush()
        if await tree.hasGivenUp {
            logger.critical("astd gave up (restart intensity exceeded); exiting non-zero so that systemd sees the failure")
            return ProcessExitCode.failure.rawValue
        }
        notifier.stopping(status: "stopped")
        logger.notice("astd stopped")
        return ProcessExitCode.success.rawValue
    }
}

/// astd cannot start as configured.
struct AstdError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
