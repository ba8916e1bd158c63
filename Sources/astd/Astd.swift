import ASTBus
import ASTCore
import ASTJournal
import ASTProcesses
import ASTRuntime
import ASTSupervision
import ASTWire
import Dispatch
import Foundation
import Logging

/// One run of the supervisor: sets up sockets, the notify socket, the journal and the bus, then
/// drives the ``Tree`` until it has stopped every child.
struct Astd {
    let config: ASTConfig
    let identity: ProcessIdentity
    let clock: SystemClock
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws -> Int32 {
        // Every descendant that loses its parent is re-parented to us, and we reap it.
        let reaper = try Reaper.start(subreaper: true, logger: logger)
        try FileManager.default.createDirectory(atPath: config.runtimeDir, withIntermediateDirectories: true)
        let journal = try Journal(path: WorkerRuntime.journalPath(identity: identity, stateDir: config.stateDir),
                                  process: identity.description, logger: logger, batchLimit: config.journal.batchLimit)
        defer { try? journal.close() }

        // Sockets: each child's by its `role@instance` name from systemd, else bound here. They
        // stay open in astd for the whole run, so a restarted child gets the same socket back.
        let passed = try ListenFDs.take(unsetEnvironment: true)
        func socket(named name: String) throws -> Int32 {
            if let fd = passed.first(named: name) { return fd.fd }
            return try UnixSocket.listen(path: "\(config.runtimeDir)/\(name).sock")
        }
        let executableDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        let selfDirectory = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map { ($0 as NSString).deletingLastPathComponent }
        let specs = config.supervisor.children.map { $0.spec(executableDirectory: selfDirectory ?? executableDirectory) }
        var sockets: [ProcessIdentity: Int32] = [:]
        for spec in specs { sockets[spec.id] = try socket(named: spec.id.description) }
        let controlFD = try socket(named: "control")
        logger.info("astd starting", metadata: [
            "pid": "\(getpid())", "children": "\(specs.count)",
            "sockets": "\(passed.descriptors.isEmpty ? "bound under \(config.runtimeDir)" : "\(passed.descriptors.count) from the service manager")",
        ])

        let notify = try NotifySocket(path: "\(config.runtimeDir)/notify.sock", logger: logger)
        defer { notify.close() }

        // Lifecycle events go, acknowledged, to the risk gate and the notifier (when configured).
        let settings = BusSettings(config.bus)
        let lifecycleTargets = specs.map(\.id).filter { $0.role == .risk || $0.role == .notifier }
        let lifecycleClients = try lifecycleTargets.map { target in
            try BusClient(identity: identity, target: target.description, path: "\(config.runtimeDir)/\(target).sock",
                          expectedRole: target.role, settings: settings, journal: journal, clock: clock, logger: logger)
        }

        var environment = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] { environment[key] = nil }
        let tree = try Tree(specs: specs, policy: config.supervisor.policy, sockets: sockets, notifyPath: notify.path,
                            watchdogGrace: .milliseconds(config.supervisor.watchdogGraceMs), environment: environment,
                            journal: journal, clock: clock, logger: logger, notifier: notifier,
                            ownWatchdog: try WatchdogSettings.current(), lifecycleClients: lifecycleClients)

        let control = try BusServer(
            identity: identity,
            policy: EndpointPolicy(name: "control", allowedUIDs: Set(config.bus.allowedUids), permissions: [.control: [.statusRequest]]),
            settings: settings, journal: journal, clock: clock, logger: logger, inbox: ControlInbox(tree: tree))

        // SIGTERM / SIGINT: stop the tree in reverse start order, then exit.
        let (signals, signalContinuation) = AsyncStream<Int32>.makeStream()
        let signalSources = [SIGTERM, SIGINT].map { sig -> any DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { signalContinuation.yield(sig) }
            source.activate()
            return source
        }
        defer { signalSources.forEach { $0.cancel() } }

        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await exit in reaper.exits { await tree.childExited(exit) } }
            group.addTask { for await message in notify.messages { await tree.notified(message) } }
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
                }
            }
            await tree.start()
            while !(await tree.isFinished) {
                await tree.tick()
                try? await Task.sleep(for: .milliseconds(20))
            }
            group.cancelAll()
        }
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
