import ASTBus
import ASTCalendar
import ASTCore
import ASTJournal
import ASTWire
import CoreMetrics
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Market time as the replay feed publishes it (``ClockMode/replay``): it moves only forward and
/// only when a `market.time` message says so, so that simulated days pass in seconds and every
/// journal entry carries the market time it happened at.
public final class MarketClock: WallClock, Sendable {
    let current: Mutex<Timestamp>

    public init(start: Timestamp) { current = Mutex(start) }

    public func now() -> Timestamp { current.withLock { $0 } }

    /// Moves the clock to `t`; an earlier time is ignored (the clock never runs backwards).
    public func advance(to t: Timestamp) {
        current.withLock { if t > $0 { $0 = t } }
    }
}

/// What a worker is, as its `main` declares it: its role, who may talk to it, and what it
/// does with what it receives.
public struct WorkerDefinition: Sendable {
    public var role: Role
    /// Role -> message types it may send to this worker.
    public var permissions: [Role: Set<MessageType>]
    /// Builds the worker's logic once the runtime is up (configuration, journal, clock).
    public var makeLogic: @Sendable (WorkerContext) async throws -> any WorkerLogic

    public init(
        role: Role, permissions: [Role: Set<MessageType>], makeLogic: @escaping @Sendable (WorkerContext) async throws -> any WorkerLogic
    ) {
        self.role = role
        self.permissions = permissions
        self.makeLogic = makeLogic
    }

    /// Permissions every worker grants until its milestone defines its own: `astctl` may
    /// send probes (acknowledged diagnostics) to check the must-not-lose path end to end.
    public static let diagnosticPermissions: [Role: Set<MessageType>] = [.control: [.probe], .supervisor: [.probe]]

    /// ``diagnosticPermissions`` plus astd's lifecycle events, for the processes that act on
    /// them (the risk gate and the notifier).
    public static let lifecyclePermissions: [Role: Set<MessageType>] = [.control: [.probe], .supervisor: [.probe, .lifecycle]]
}

/// What the runtime hands a worker's logic: identity, configuration, journal, clocks, logger.
public struct WorkerContext: Sendable {
    public var identity: ProcessIdentity
    public var config: ASTConfig
    public var journal: Journal
    /// The trading clock: the system clock, or market time in replay (``ClockMode/replay``).
    /// Decisions, fills, schedules and journal entries of the logic use it.
    public var clock: any WallClock
    /// Always the system clock: bus timers, rate limits towards outside services.
    public var systemClock: any WallClock
    public var logger: Logger
    /// Set when this start found its journal missing while journals of an earlier run exist
    /// (``JournalStart/missingState(detail:)``): the shell must start fail-closed.
    public var missingState: MissingState? = nil
}

/// A start that found its own journal missing or empty while the journals of an earlier run
/// exist: the state this process held is lost, so it starts fail-closed.
public struct MissingState: Sendable, Equatable {
    /// What is missing and what was found instead, for logs, alerts and `astctl status`.
    public var detail: String
    /// The seq of the `journal.state_missing` entry the runtime wrote into the new journal.
    public var seq: Int64

    /// The journal entry type of ``raiseMessageIDFloor(journal:identity:config:now:)``.
    public static let idFloorType = "bus.id_floor"

    /// A new journal would number this process's outgoing messages from 1 again, and its peers,
    /// which remember the ids they have handled, would drop them as duplicates (the broker's
    /// "disconnected", ast-risk's P0). Before any bus client restores its counter from the
    /// journal, a `.sent` entry per peer whose id carries the wall clock in nanoseconds raises
    /// the floor above any id of an earlier run. Its body is no envelope: nothing is re-sent.
    static func raiseMessageIDFloor(journal: Journal, identity: ProcessIdentity, config: ASTConfig, now: Timestamp) throws {
        let targets = Set(config.supervisor.children.map(\.name) + ["supervisor@main"]).subtracting([identity.description]).sorted()
        let records = targets.map { target in
            JournalRecord(
                kind: .sent, type: idFloorType, timestamp: now, messageID: "\(identity)>\(target)#\(now.nanoseconds)",
                peer: target, body: Array("message id floor after missing state".utf8))
        }
        _ = try journal.append(records, durability: .durable)
    }

    /// For a process without a Safe Mode of its own (the broker, the reconciler): quarantines
    /// the `journal.state_missing` entry, before the restore reads the journal, so that the
    /// process refuses to act on its empty state (the broker takes no orders and reports itself
    /// disconnected; the reconciler reports a mismatch at every start) and the risk gate halts,
    /// until the operator acknowledges it: `astctl quarantine ack --process ... --seq ...`.
    public static func quarantine(_ context: WorkerContext) throws {
        guard let missing = context.missingState else { return }
        let entry = QuarantinedEntry(
            process: context.identity.description, journal: context.journal.path, seq: missing.seq,
            type: JournalStart.stateMissingType, cause: missing.detail)
        try context.journal.append(QuarantineJournal.entryRecord(entry, at: context.clock.now()), durability: .durable)
    }
}

/// A worker's logic as the runtime drives it: the inbox of its endpoint, work that runs beside
/// the endpoint (bus clients towards other processes), and a hook after a graceful stop.
public protocol WorkerLogic: BusInbox {
    /// Runs beside the endpoint until the task is cancelled at shutdown.
    func run() async
    /// Called once after a graceful shutdown, before the journal is closed.
    func stopped() async
    /// In replay, the causal clock's settle barrier (`market.settle`): returns once every
    /// consequence of what this process has received so far is handled downstream (its
    /// outboxes acknowledged). The default has nothing in flight.
    func settle() async -> SettleReport
    /// Checks messages before the endpoint journals them (the broker's approval signatures).
    var messageScreen: (any BusMessageScreen)? { get }
}

extension WorkerLogic {
    public var messageScreen: (any BusMessageScreen)? { nil }

    public func run() async {
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
    }

    public func stopped() async {}

    public func settle() async -> SettleReport { SettleReport(hadPending: false) }
}

extension BusClient {
    /// Waits until every message sent through this client is acknowledged (receivers
    /// acknowledge after handling); returns whether anything was pending when called. Polls:
    /// the causal clock's settle barrier calls it a few times per schedule point.
    public func drain() async -> Bool {
        guard pendingCount > 0 else { return false }
        while pendingCount > 0 && !Task.isCancelled { try? await Task.sleep(for: .milliseconds(1)) }
        return true
    }
}

/// An inbox that acknowledges diagnostics probes and otherwise does nothing: what a worker
/// runs before its milestone gives it logic.
public struct ProbeInbox: WorkerLogic {
    let logger: Logger
    public init(logger: Logger) { self.logger = logger }
    public func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message? {
        if case .probe(let p) = envelope.message {
            logger.debug("probe received", metadata: ["counter": "\(p.counter)", "peer": "\(peer.identity)"])
        }
        return nil
    }
}

/// The shell every AST process shares: configuration, logging, journal, the listening bus
/// socket (from `LISTEN_FDS`, or bound by itself when started by hand), `READY=1`/`STATUS=`/
/// `STOPPING=1`, watchdog pings while healthy, and graceful shutdown on SIGTERM.
public enum WorkerRuntime {
    /// Runs a worker until SIGTERM/SIGINT; returns the process exit code.
    ///
    /// Command line: `[--instance NAME]`. Environment: `AST_CONFIG_DIR`, `AST_ENV`, `AST_*`
    /// overrides (see etc/ast.yaml), `LISTEN_FDS`, `NOTIFY_SOCKET`, `WATCHDOG_USEC`.
    public static func main(_ definition: WorkerDefinition, arguments: [String] = CommandLine.arguments) async -> Int32 {
        let processName = "ast-\(definition.role.rawValue)"
        var instance = "main"
        var checkOnly = false
        var args = arguments.dropFirst()
        while let arg = args.popFirst() {
            switch arg {
            case "--instance":
                guard let v = args.popFirst(), ProcessIdentity.isName(v) else {
                    FileHandle.standardError.write(
                        Data("\(processName): --instance needs a name of lowercase letters, digits, - and _\n".utf8))
                    return ProcessExitCode.usage.rawValue
                }
                instance = v
            case "--check-config":
                // astd asks this before it starts anything: load and validate the whole file as
                // this executable would, then exit (0, or 78 with the reasons on stderr).
                checkOnly = true
            case "--help", "-h":
                print(
                    "usage: \(processName) [--instance NAME] [--check-config]\n  configuration from $AST_CONFIG_DIR (default ./etc), "
                        + "see etc/ast.yaml; --check-config validates it and exits (0, or 78)")
                return ProcessExitCode.success.rawValue
            default:
                FileHandle.standardError.write(
                    Data("\(processName): unknown argument '\(arg)' (usage: \(processName) [--instance NAME] [--check-config])\n".utf8))
                return ProcessExitCode.usage.rawValue
            }
        }
        let identity = ProcessIdentity(role: definition.role, instance: instance)
        let notifier = SystemdNotifier()
        let config: ASTConfig
        do {
            config = try ConfigLoader.fromEnvironment().load(ASTConfig.self)
        } catch {
            FileHandle.standardError.write(Data("\(processName): \(error)\n".utf8))
            if !checkOnly { notifier.status("configuration refused") }
            return ProcessExitCode.config.rawValue
        }
        if let refusal = StartupChecks.refusal(config) {
            FileHandle.standardError.write(Data("\(processName): \(refusal)\n".utf8))
            if !checkOnly { notifier.status("configuration refused") }
            return ProcessExitCode.config.rawValue
        }
        if checkOnly { return ProcessExitCode.success.rawValue }
        ASTLogging.bootstrap(processName: processName, level: config.logging.level)
        ProcessMetrics.bootstrap(process: identity.description)
        var logger = Logger(label: "ast.\(definition.role.rawValue)")
        logger[metadataKey: "process"] = "\(identity)"
        do {
            try await run(definition, identity: identity, config: config, notifier: notifier, logger: logger)
            return ProcessExitCode.success.rawValue
        } catch {
            logger.critical("\(identity) stopped: \(error)")
            notifier.send([("STATUS", "failed: \(String(describing: error).replacingOccurrences(of: "\n", with: " "))")])
            return ProcessExitCode.failure.rawValue
        }
    }

    /// The socket a worker serves on: the one systemd or astd passed (named `role@instance`,
    /// or the only one passed), else one bound at `<runtime_dir>/<role>@<instance>.sock`.
    public static func listeningSocket(identity: ProcessIdentity, runtimeDir: String, logger: Logger) throws -> (fd: Int32, origin: String)
    {
        let passed = try ListenFDs.take(unsetEnvironment: true)
        if let fd = passed.first(named: identity.description) ?? (passed.descriptors.count == 1 ? passed.descriptors.first : nil) {
            return (fd.fd, "passed by the service manager as '\(fd.name)'")
        }
        try FileManager.default.createDirectory(atPath: runtimeDir, withIntermediateDirectories: true)
        let path = socketPath(identity: identity, runtimeDir: runtimeDir)
        return (try UnixSocket.listen(path: path), "bound at \(path)")
    }

    /// Where a worker's bus socket lives when it binds its own.
    public static func socketPath(identity: ProcessIdentity, runtimeDir: String) -> String {
        "\(runtimeDir)/\(identity).sock"
    }

    /// The roles whose journal holds state that trading depends on (the Safe Mode, the broker's
    /// orders, the book): a start that finds it missing while other journals exist fails closed.
    public static let failsClosedOnMissingJournal: Set<Role> = [.risk, .broker, .reconciler]

    /// Where a process's journal lives.
    public static func journalPath(identity: ProcessIdentity, stateDir: String) -> String {
        StatePaths.journal(identity: identity, stateDir: stateDir)
    }

    static func run(
        _ definition: WorkerDefinition, identity: ProcessIdentity, config: ASTConfig,
        notifier: SystemdNotifier, logger: Logger
    ) async throws {
        let systemClock = SystemClock()
        let path = journalPath(identity: identity, stateDir: config.stateDir)
        // Decided before the journal is opened (opening creates it): missing state is never a first start.
        let start = failsClosedOnMissingJournal.contains(definition.role) ? JournalStart.inspect(journal: path) : .restore
        let journal = try Journal(
            path: path, process: identity.description,
            logger: logger, batchLimit: config.journal.batchLimit)
        defer { try? journal.close() }
        ProcessMetrics.watchJournalSize(path: path)
        BusLinks.process.exportUnacknowledged()
        // In replay the trading clock is market time, restored from the last `market.time` this
        // process received (on a first start: midnight New York time before the first replayed
        // session). Not from the journal's last entry: bus entries carry wall-clock timestamps,
        // and a restart at wall time would skip every replayed session still to come.
        let replayStart = NewYorkTime.timestamp((config.marketdata ?? .standard).replay.fromDate, LocalTime(hour: 0, minute: 0))
        let marketClock: MarketClock? =
            (config.clock ?? .wall).mode == .replay && definition.role != .marketdata
            ? MarketClock(start: max(replayStart, try lastMarketTime(in: journal) ?? replayStart))
            : nil
        let wall = (config.clock ?? .wall).wallClock(over: systemClock)
        let clock: any WallClock = marketClock ?? wall
        let (fd, origin) = try listeningSocket(identity: identity, runtimeDir: config.runtimeDir, logger: logger)
        defer {
            // A socket we bound ourselves is ours to remove; a passed one belongs to the manager.
            if origin.hasPrefix("bound at ") { unlink(socketPath(identity: identity, runtimeDir: config.runtimeDir)) }
        }
        logger.info("\(identity) starting", metadata: ["socket": "\(origin)", "pid": "\(getpid())"])
        // Everything after this marker is a new run: replay tells a crash between an input and
        // its outputs from a divergence by it (see ``EntryTypes/processStarted``).
        try journal.append(
            JournalRecord(
                kind: .state, type: EntryTypes.processStarted, timestamp: clock.now(),
                body: Array("{\"pid\":\(getpid())}".utf8)), durability: .durable)
        var context = WorkerContext(
            identity: identity, config: config, journal: journal, clock: clock, systemClock: systemClock, logger: logger)
        if case .missingState(let detail) = start {
            logger.critical("\(detail)")
            let seq = try journal.append(
                JournalRecord(
                    kind: .event, type: JournalStart.stateMissingType, timestamp: clock.now(),
                    body: Array(detail.utf8)), durability: .durable)
            context.missingState = MissingState(detail: detail, seq: seq)
            try MissingState.raiseMessageIDFloor(journal: journal, identity: identity, config: config, now: systemClock.now())
        }
        try CrashAfterInputFault.arm(config: config, process: identity.description, logger: logger)
        var permissions = definition.permissions
        if marketClock != nil { permissions[.marketdata, default: []].formUnion([.marketTime, .marketSettle]) }
        // Every worker answers astctl status about its bus links (BusStatusInbox).
        permissions[.control, default: []].insert(.busStatusRequest)
        let policy = EndpointPolicy(name: identity.description, allowedUIDs: Set(config.bus.allowedUids), permissions: permissions)
        let identityCheck = try BusIdentity.check(identity: identity, live: config.trading?.mode == .live, logger: logger)
        let logic = try await definition.makeLogic(context)
        let inbox: any BusInbox = BusStatusInbox(inner: marketClock.map { MarketClockInbox(clock: $0, logic: logic) } ?? logic)
        let alarm = try BusIdentity.alarm(
            identity: identity, notifierConfigured: config.supervisor.children.contains { $0.name == "notifier@main" },
            socketPath: socketPath(identity: ProcessIdentity(role: .notifier), runtimeDir: config.runtimeDir),
            settings: BusSettings(config.bus), journal: journal, clock: systemClock, logger: logger)
        let server = try BusServer(
            identity: identity, policy: policy, settings: BusSettings(config.bus), journal: journal,
            clock: systemClock, logger: logger, inbox: inbox, identityCheck: identityCheck,
            screen: logic.messageScreen, alarm: alarm)
        let health = Health()
        let services: [any Service] = [
            SecurityAlarmService(alarm: alarm),
            BusService(server: server, fd: fd, notifier: notifier, identity: identity),
            LogicService(logic: logic),
            JournalFlushService(journal: journal, interval: config.journal.flushInterval, health: health, logger: logger),
            WatchdogService(notifier: notifier, health: health, logger: logger),
            DiskBudgetService(watch: DiskBudgetWatch(config: config, journal: journal, clock: systemClock, logger: logger)),
            MetricsSnapshotService(runtimeDir: config.runtimeDir),
        ]
        let group = ServiceGroup(
            configuration: .init(
                services: services.map {
                    .init(
                        service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .gracefullyShutdownGroup)
                },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        notifier.stopping(status: "stopping")
        server.flushRefusalSummaries()
        await logic.stopped()
        try journal.flush()
        logger.info("\(identity) stopped")
    }
}

/// The market time of the last `market.time` message `journal` holds as received, if any.
func lastMarketTime(in journal: Journal) throws -> Timestamp? {
    guard let entry = try journal.lastEntry(type: MessageType.marketTime.rawValue),
        case .marketTime(let t) = try EnvelopeCodec.decode(entry.record.body).message
    else { return nil }
    return t.now
}

/// In replay: moves the market clock when a `market.time` arrives, then lets the logic act on it
/// (its answer acknowledges the time only once what was due is done).
struct MarketClockInbox: BusInbox {
    let clock: MarketClock
    let logic: any WorkerLogic

    func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message? {
        switch envelope.message {
        case .marketTime(let t): clock.advance(to: t.now)
        case .marketSettle: return .settled(await logic.settle())
        default: break
        }
        return await logic.receive(envelope, from: peer)
    }

    func validate(_ envelope: Envelope, from peer: PeerInfo) -> InputRefusal? {
        logic.validate(envelope, from: peer)
    }
}

/// The runtime's view of whether this process's own loop is healthy; the watchdog pings only
/// while it is.
final class Health: Sendable {
    let flushFailure = Mutex<String?>(nil)

    /// Why the process is unhealthy now, or nil: the journal failed, or the event loop did not
    /// run a task within `limit`.
    func problem(within limit: Duration) async -> String? {
        if let failure = flushFailure.withLock({ $0 }) { return "journal: \(failure)" }
        let answered = await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await MultiThreadedEventLoopGroup.singleton.next().submit {}.get()) != nil }
            group.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        return answered ? nil : "event loop did not answer within \(limit)"
    }
}

/// Serves the bus endpoint; reports READY once it accepts connections.
struct BusService: Service {
    let server: BusServer
    let fd: Int32
    let notifier: SystemdNotifier
    let identity: ProcessIdentity

    func run() async throws {
        do {
            try await withThrowingTaskGroup { tasks in
                tasks.addTask { try await cancelWhenGracefulShutdown { try await server.run(listeningFD: fd) } }
                // The socket is already listening: peers that connect now wait in the backlog.
                notifier.ready(status: "\(identity) serving")
                try await tasks.next()
                tasks.cancelAll()
            }
        } catch is CancellationError {
            // Graceful shutdown cancels the endpoint: a clean stop.
        }
        notifier.stopping(status: "\(identity) stopping")
    }
}

/// Keeps the security alarm's connection to the notifier until graceful shutdown.
struct SecurityAlarmService: Service {
    let alarm: SecurityAlarm
    func run() async throws { await cancelWhenGracefulShutdown { await alarm.run() } }
}

/// Runs a worker's own background work until graceful shutdown.
struct LogicService: Service {
    let logic: any WorkerLogic

    func run() async throws {
        await cancelWhenGracefulShutdown { await logic.run() }
    }
}

/// Commits batched journal entries every flush interval.
struct JournalFlushService: Service {
    let journal: Journal
    let interval: Duration
    let health: Health
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                do {
                    try journal.flush()
                    health.flushFailure.withLock { $0 = nil }
                } catch {
                    health.flushFailure.withLock { $0 = "\(error)" }
                    throw error
                }
            }
        }
    }
}

/// Pings `WATCHDOG=1` at half the manager's interval, but only while the process's own loop
/// is healthy: the event loop answers and the journal writes. A hung or stopped process
/// therefore misses its deadline and is replaced.
struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let health: Health
    let logger: Logger

    func run() async throws {
        guard let settings = try WatchdogSettings.current() else {
            try? await gracefulShutdown()
            return
        }
        logger.info("watchdog enabled", metadata: ["interval": "\(settings.interval)", "ping": "\(settings.pingInterval)"])
        let pings = Counter(label: "ast_watchdog_pings_total")
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if let problem = await health.problem(within: settings.pingInterval / 2) {
                    logger.warning("watchdog ping withheld", metadata: ["reason": "\(problem)"])
                } else {
                    notifier.watchdog()
                    pings.increment()
                }
                do { try await Task.sleep(for: settings.pingInterval) } catch { return }
            }
        }
    }
}

/// Writes this process's metrics snapshot for ast-web every second (``ProcessMetrics``), and a
/// last one at a graceful stop.
struct MetricsSnapshotService: Service {
    let runtimeDir: String

    func run() async throws {
        await cancelWhenGracefulShutdown { await ProcessMetrics.writeSnapshots(runtimeDir: runtimeDir) }
    }
}
