import ASTPaperBroker
import ASTStrategy
import Logging

/// The configuration every AST process loads at start (`etc/ast.yaml` and its layers).
///
/// Each key's value, with a comment on what it does, lives in `etc/ast.yaml`; these types only
/// say what shape and range a value must have. A later milestone adds a section by adding a
/// struct and a property here, and the key with its value to `etc/ast.yaml`.
public struct ASTConfig: ConfigSection, Equatable {
    /// Which kind of deployment this is.
    public var environment: DeploymentEnvironment
    /// Where sockets are created when systemd does not hand them over.
    public var runtimeDir: String
    /// Where journals live: `<state_dir>/journal/<role>@<instance>.sqlite`.
    public var stateDir: String
    /// How much is logged.
    public var logging: LoggingConfig
    /// Framing limits, peers allowed and timers of the message bus.
    public var bus: BusConfig
    /// Batching of journal writes.
    public var journal: JournalConfig
    /// The secrets file read when `$CREDENTIALS_DIRECTORY` is not set (see `SecretStore`).
    public var secretsFile: String
    /// astd's children and restart policy.
    public var supervisor: SupervisorConfig
    /// The risk gate's limits and the broker it sends approved orders to.
    public var risk: RiskConfig
    /// Where the trading processes take the time from; ``ClockConfig/wall`` when absent.
    public var clock: ClockConfig?
    /// DRY_RUN, PAPER or LIVE; ``TradingConfig/paper`` when absent.
    public var trading: TradingConfig?
    /// The daily pipeline of ast-strategy; its defaults when absent.
    public var strategy: PipelineConfig?
    /// Where bars come from and what the replay plays; ``MarketDataConfig/standard`` when absent.
    public var marketdata: MarketDataConfig?
    /// The simulated exchange of `broker@paper`; ``PaperBrokerConfig/standard`` when absent.
    public var paperBroker: PaperBrokerConfig?
    /// How ast-notifier delivers alerts (Telegram); ``NotifierConfig/shipped`` when absent.
    public var notifier: NotifierConfig?

    /// Creates a configuration from values; processes load theirs with `ConfigLoader`.
    public init(
        environment: DeploymentEnvironment, runtimeDir: String, stateDir: String, logging: LoggingConfig,
        bus: BusConfig, journal: JournalConfig, secretsFile: String, supervisor: SupervisorConfig, risk: RiskConfig,
        clock: ClockConfig? = nil, paperBroker: PaperBrokerConfig? = nil, notifier: NotifierConfig? = nil
    ) {
        self.clock = clock
        self.environment = environment
        self.runtimeDir = runtimeDir
        self.stateDir = stateDir
        self.logging = logging
        self.bus = bus
        self.journal = journal
        self.secretsFile = secretsFile
        self.supervisor = supervisor
        self.risk = risk
        self.paperBroker = paperBroker
        self.notifier = notifier
    }

    enum CodingKeys: String, CodingKey {
        case environment
        case runtimeDir = "runtime_dir"
        case stateDir = "state_dir"
        case logging
        case bus
        case journal
        case secretsFile = "secrets_file"
        case supervisor
        case risk
        case clock, trading, strategy, marketdata
        case paperBroker = "paper_broker"
        case notifier
    }

    /// Longest `runtime_dir` accepted, in bytes: a Unix socket path must fit in the 108 bytes of
    /// `sockaddr_un.sun_path`, and the socket's own name needs the rest.
    public static let maximumRuntimeDirBytes = 80

    public func validate(_ v: inout ConfigValidator) {
        v.check(!runtimeDir.isEmpty, key: CodingKeys.runtimeDir, must: "not be empty", got: runtimeDir)
        v.check(
            runtimeDir.utf8.count <= Self.maximumRuntimeDirBytes, key: CodingKeys.runtimeDir,
            must: "be at most \(Self.maximumRuntimeDirBytes) bytes long so socket paths fit in a Unix socket address",
            got: runtimeDir)
        v.check(!stateDir.isEmpty, key: CodingKeys.stateDir, must: "not be empty", got: stateDir)
        v.check(!secretsFile.isEmpty, key: CodingKeys.secretsFile, must: "not be empty", got: secretsFile)
        if environment == .production {
            // Under systemd the working directory is /; a relative path there is a mistake.
            v.check(
                runtimeDir.isEmpty || runtimeDir.hasPrefix("/"), key: CodingKeys.runtimeDir,
                must: "be an absolute path in production", got: runtimeDir)
            v.check(
                stateDir.isEmpty || stateDir.hasPrefix("/"), key: CodingKeys.stateDir,
                must: "be an absolute path in production", got: stateDir)
            v.check(
                secretsFile.isEmpty || secretsFile.hasPrefix("/"), key: CodingKeys.secretsFile,
                must: "be an absolute path in production", got: secretsFile)
        }
        v.section(logging, key: CodingKeys.logging)
        v.section(bus, key: CodingKeys.bus)
        v.section(journal, key: CodingKeys.journal)
        v.section(supervisor, key: CodingKeys.supervisor)
        v.section(risk, key: CodingKeys.risk)
        if let paperBroker { v.section(paperBroker, key: CodingKeys.paperBroker) }
        if let clock { v.section(clock, key: CodingKeys.clock) }
        if let trading { v.section(trading, key: CodingKeys.trading) }
        if let strategy { v.section(strategy, key: CodingKeys.strategy) }
        if let marketdata { v.section(marketdata, key: CodingKeys.marketdata) }
        if let notifier { v.section(notifier, key: CodingKeys.notifier) }
        validateAcrossSections(&v)
    }

    /// Rules that tie sections together, checked at load so that astd refuses (exit 78) before
    /// it starts anything rather than a child failing after restarts.
    func validateAcrossSections(_ v: inout ConfigValidator) {
        let children = supervisor.children.map(\.name)
        // A risk gate whose broker is not in the tree would approve orders nobody executes.
        if children.contains(where: { $0.hasPrefix("risk@") }) {
            v.check(
                children.contains(risk.broker), keyPath: ["risk", "broker"], related: [["supervisor", "children"]],
                must: "name one of supervisor.children (\(children.joined(separator: ", ")))", got: risk.broker)
        }
        if environment == .production {
            // Fictional tickers in a production store, or a clock that is not the system's, would
            // trade on something that is not the market.
            let source = marketdataInEffect.source
            v.check(
                source != .bundled, keyPath: ["marketdata", "source"], related: [["environment"]],
                must: "not be bundled in production (the generated data set is fictional; use polygon)", got: source.rawValue)
            v.check(
                (clock?.offsetSeconds ?? 0) == 0, keyPath: ["clock", "offset_seconds"], related: [["environment"]],
                must: "be 0 in production", got: clock?.offsetSeconds ?? 0)
        }
        let trading = self.trading ?? .paper
        if trading.mode == .live {
            v.check(
                trading.liveEnabled, keyPath: ["trading", "live_enabled"], related: [["trading", "mode"]],
                must: "be true when trading.mode is LIVE (real money)", got: trading.liveEnabled)
        }
    }
}

/// The kind of deployment: it selects `ast.<environment>.yaml` and tightens some checks in
/// production.
public enum DeploymentEnvironment: String, ConfigEnum, Equatable {
    case development
    case test
    case production
}

/// How much a process logs.
public struct LoggingConfig: ConfigSection, Equatable {
    /// The lowest level that is written.
    public var level: Logger.Level

    /// Creates a logging section from values.
    public init(level: Logger.Level) {
        self.level = level
    }

    enum CodingKeys: String, CodingKey {
        case level
    }

    public func validate(_ v: inout ConfigValidator) {}
}

extension Logger.Level: ConfigEnum {}

/// The message bus between processes: framing limits, who may connect, and its timers.
public struct BusConfig: ConfigSection, Equatable {
    /// Largest frame payload accepted or sent, in bytes.
    public var maxFrameBytes: Int
    /// Uids besides the process's own that may connect; empty means only its own uid.
    public var allowedUids: [UInt32]
    /// First reconnect delay, in milliseconds; it doubles up to `connectBackoffMaxMs`.
    public var connectBackoffInitialMs: Int
    /// Longest reconnect delay, in milliseconds.
    public var connectBackoffMaxMs: Int
    /// After this many milliseconds an unacknowledged must-not-lose message is sent again.
    public var ackTimeoutMs: Int
    /// A peer that has not said hello after this many milliseconds is disconnected.
    public var helloTimeoutMs: Int
    /// Most connections one listening socket serves at once; absent: ``defaultMaxConnections``.
    public var maxConnections: Int?
    /// An established connection silent this long is closed; clients ping at a quarter of it.
    /// Absent: ``defaultIdleTimeoutMs``.
    public var idleTimeoutMs: Int?
    /// Refusals journaled and logged in full per peer uid and code per interval; absent: 20.
    public var refusalBudget: Int?
    /// The refusal budget's window, in milliseconds; absent: 60000.
    public var refusalIntervalMs: Int?

    /// Creates a bus section from values.
    public init(
        maxFrameBytes: Int, allowedUids: [UInt32], connectBackoffInitialMs: Int, connectBackoffMaxMs: Int,
        ackTimeoutMs: Int, helloTimeoutMs: Int, maxConnections: Int? = nil, idleTimeoutMs: Int? = nil,
        refusalBudget: Int? = nil, refusalIntervalMs: Int? = nil
    ) {
        self.maxFrameBytes = maxFrameBytes
        self.allowedUids = allowedUids
        self.connectBackoffInitialMs = connectBackoffInitialMs
        self.connectBackoffMaxMs = connectBackoffMaxMs
        self.ackTimeoutMs = ackTimeoutMs
        self.helloTimeoutMs = helloTimeoutMs
        self.maxConnections = maxConnections
        self.idleTimeoutMs = idleTimeoutMs
        self.refusalBudget = refusalBudget
        self.refusalIntervalMs = refusalIntervalMs
    }

    /// `max_connections` when absent: far above the tree's own dozen connections per socket,
    /// far below the 1,024 descriptors a process gets by default.
    public static let defaultMaxConnections = 256
    /// `idle_timeout_ms` when absent: five minutes (clients ping every 75 s).
    public static let defaultIdleTimeoutMs = 300_000
    /// Accepted `max_connections`.
    public static let maxConnectionsRange = 8...65_536
    /// Accepted `idle_timeout_ms`: 1 s ... 1 day.
    public static let idleTimeoutRangeMs = 1_000...86_400_000
    /// Accepted `refusal_budget`.
    public static let refusalBudgetRange = 0...10_000
    /// Accepted `refusal_interval_ms`: 1 s ... 1 hour.
    public static let refusalIntervalRangeMs = 1_000...3_600_000

    enum CodingKeys: String, CodingKey {
        case maxFrameBytes = "max_frame_bytes"
        case allowedUids = "allowed_uids"
        case connectBackoffInitialMs = "connect_backoff_initial_ms"
        case connectBackoffMaxMs = "connect_backoff_max_ms"
        case ackTimeoutMs = "ack_timeout_ms"
        case helloTimeoutMs = "hello_timeout_ms"
        case maxConnections = "max_connections"
        case idleTimeoutMs = "idle_timeout_ms"
        case refusalBudget = "refusal_budget"
        case refusalIntervalMs = "refusal_interval_ms"
    }

    /// Accepted `max_frame_bytes`: 1 KiB ... 64 MiB.
    public static let maxFrameBytesRange = 1024...(64 * 1024 * 1024)
    /// Accepted reconnect delays, in milliseconds (up to ten minutes).
    public static let connectBackoffRangeMs = 1...600_000
    /// Accepted acknowledgement and hello timeouts, in milliseconds (up to ten minutes).
    public static let timeoutRangeMs = 1...600_000

    /// `connect_backoff_initial_ms` as a duration.
    public var connectBackoffInitial: Duration { .milliseconds(connectBackoffInitialMs) }
    /// `connect_backoff_max_ms` as a duration.
    public var connectBackoffMax: Duration { .milliseconds(connectBackoffMaxMs) }
    /// `ack_timeout_ms` as a duration.
    public var ackTimeout: Duration { .milliseconds(ackTimeoutMs) }
    /// `hello_timeout_ms` as a duration.
    public var helloTimeout: Duration { .milliseconds(helloTimeoutMs) }

    public func validate(_ v: inout ConfigValidator) {
        v.range(maxFrameBytes, Self.maxFrameBytesRange, key: CodingKeys.maxFrameBytes)
        for (index, uid) in allowedUids.enumerated() {
            // (uid_t)-1 means "no uid" to the kernel; no peer can have it.
            v.range(uid, 0...(UInt32.max - 1), key: CodingKeys.allowedUids, index: index)
        }
        v.range(connectBackoffInitialMs, Self.connectBackoffRangeMs, key: CodingKeys.connectBackoffInitialMs)
        v.range(connectBackoffMaxMs, Self.connectBackoffRangeMs, key: CodingKeys.connectBackoffMaxMs)
        v.atLeast(
            connectBackoffMaxMs, key: CodingKeys.connectBackoffMaxMs,
            connectBackoffInitialMs, minimumKey: CodingKeys.connectBackoffInitialMs)
        v.range(ackTimeoutMs, Self.timeoutRangeMs, key: CodingKeys.ackTimeoutMs)
        v.range(helloTimeoutMs, Self.timeoutRangeMs, key: CodingKeys.helloTimeoutMs)
        if let maxConnections { v.range(maxConnections, Self.maxConnectionsRange, key: CodingKeys.maxConnections) }
        if let idleTimeoutMs { v.range(idleTimeoutMs, Self.idleTimeoutRangeMs, key: CodingKeys.idleTimeoutMs) }
        if let refusalBudget { v.range(refusalBudget, Self.refusalBudgetRange, key: CodingKeys.refusalBudget) }
        if let refusalIntervalMs { v.range(refusalIntervalMs, Self.refusalIntervalRangeMs, key: CodingKeys.refusalIntervalMs) }
    }
}

/// How each process batches writes to its journal (off the order path, where every entry is
/// written at once).
public struct JournalConfig: ConfigSection, Equatable {
    /// Most entries written in one transaction.
    public var batchLimit: Int
    /// Longest an entry waits for its batch to be written, in milliseconds.
    public var flushIntervalMs: Int
    /// A P1 is raised when less than this many MiB are free under `state_dir`; absent: 1024.
    public var diskMinFreeMb: Int?
    /// A P1 is raised when the journals take more than this many MiB; absent or 0: no limit.
    public var diskMaxJournalMb: Int?
    /// How often the disk budget is checked, in milliseconds; absent: 60000.
    public var diskCheckIntervalMs: Int?
    /// A process with checkpoints journals one every this many inputs; absent: 10000.
    public var checkpointEvery: Int?

    /// Creates a journal section from values.
    public init(
        batchLimit: Int, flushIntervalMs: Int, diskMinFreeMb: Int? = nil, diskMaxJournalMb: Int? = nil,
        diskCheckIntervalMs: Int? = nil, checkpointEvery: Int? = nil
    ) {
        self.checkpointEvery = checkpointEvery
        self.batchLimit = batchLimit
        self.flushIntervalMs = flushIntervalMs
        self.diskMinFreeMb = diskMinFreeMb
        self.diskMaxJournalMb = diskMaxJournalMb
        self.diskCheckIntervalMs = diskCheckIntervalMs
    }

    enum CodingKeys: String, CodingKey {
        case batchLimit = "batch_limit"
        case flushIntervalMs = "flush_interval_ms"
        case diskMinFreeMb = "disk_min_free_mb"
        case diskMaxJournalMb = "disk_max_journal_mb"
        case diskCheckIntervalMs = "disk_check_interval_ms"
        case checkpointEvery = "checkpoint_every"
    }

    /// `checkpoint_every` when absent.
    public static let defaultCheckpointEvery = 10_000
    /// Accepted `checkpoint_every`.
    public static let checkpointEveryRange = 1...10_000_000

    /// `disk_min_free_mb` when absent.
    public static let defaultDiskMinFreeMb = 1024
    /// `disk_check_interval_ms` when absent: once a minute.
    public static let defaultDiskCheckIntervalMs = 60_000
    /// Accepted `disk_min_free_mb` and `disk_max_journal_mb` (up to 16 TiB).
    public static let diskMbRange = 0...16_777_216
    /// Accepted `disk_check_interval_ms`: 10 s ... 1 hour (the check is cheap, but not free).
    public static let diskCheckIntervalRangeMs = 10_000...3_600_000

    /// Accepted `batch_limit`.
    public static let batchLimitRange = 1...100_000
    /// Accepted `flush_interval_ms` (up to a minute).
    public static let flushIntervalRangeMs = 1...60_000

    /// `flush_interval_ms` as a duration.
    public var flushInterval: Duration { .milliseconds(flushIntervalMs) }

    public func validate(_ v: inout ConfigValidator) {
        v.range(batchLimit, Self.batchLimitRange, key: CodingKeys.batchLimit)
        v.range(flushIntervalMs, Self.flushIntervalRangeMs, key: CodingKeys.flushIntervalMs)
        if let checkpointEvery { v.range(checkpointEvery, Self.checkpointEveryRange, key: CodingKeys.checkpointEvery) }
        if let diskMinFreeMb { v.range(diskMinFreeMb, Self.diskMbRange, key: CodingKeys.diskMinFreeMb) }
        if let diskMaxJournalMb { v.range(diskMaxJournalMb, Self.diskMbRange, key: CodingKeys.diskMaxJournalMb) }
        if let diskCheckIntervalMs { v.range(diskCheckIntervalMs, Self.diskCheckIntervalRangeMs, key: CodingKeys.diskCheckIntervalMs) }
    }
}
