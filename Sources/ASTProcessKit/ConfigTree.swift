import ASTCore
import Logging

/// The part of the configuration file that the whole tree shares and astd itself reads: the
/// deployment, its directories, logging, the bus, the journal, the secrets file, the supervisor
/// and the trading mode.
///
/// The sections of one domain (`risk`, `clock`, `strategy`, `marketdata`, `paper_broker`,
/// `notifier`) are decoded and validated by the processes that use them (`ASTConfig` in
/// ASTRuntime, which every worker links); here they are only known by name, so that a file with
/// them is not refused for unknown keys. astd has the workers check the whole file
/// (`--check-config`) before it starts anything.
public struct TreeConfig: ConfigSection, Equatable {
    public var environment: DeploymentEnvironment
    public var runtimeDir: String
    public var stateDir: String
    public var logging: LoggingConfig
    public var bus: BusConfig
    public var journal: JournalConfig
    public var secretsFile: String
    public var supervisor: SupervisorConfig
    /// DRY_RUN, PAPER or LIVE; ``TradingConfig/paper`` when absent.
    public var trading: TradingConfig?

    /// Top-level sections that belong to one domain's processes, not to the tree.
    public static let domainSections = ["risk", "clock", "strategy", "marketdata", "paper_broker", "notifier", "ibkr", "alpaca", "web"]

    /// Creates the tree's part from values.
    public init(
        environment: DeploymentEnvironment, runtimeDir: String, stateDir: String, logging: LoggingConfig, bus: BusConfig,
        journal: JournalConfig, secretsFile: String, supervisor: SupervisorConfig, trading: TradingConfig?
    ) {
        self.environment = environment
        self.runtimeDir = runtimeDir
        self.stateDir = stateDir
        self.logging = logging
        self.bus = bus
        self.journal = journal
        self.secretsFile = secretsFile
        self.supervisor = supervisor
        self.trading = trading
    }

    enum CodingKeys: String, CodingKey {
        case environment
        case runtimeDir = "runtime_dir"
        case stateDir = "state_dir"
        case logging, bus, journal
        case secretsFile = "secrets_file"
        case supervisor, trading
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        environment = try c.decode(DeploymentEnvironment.self, forKey: .environment)
        runtimeDir = try c.decode(String.self, forKey: .runtimeDir)
        stateDir = try c.decode(String.self, forKey: .stateDir)
        logging = try c.decode(LoggingConfig.self, forKey: .logging)
        bus = try c.decode(BusConfig.self, forKey: .bus)
        journal = try c.decode(JournalConfig.self, forKey: .journal)
        secretsFile = try c.decode(String.self, forKey: .secretsFile)
        supervisor = try c.decode(SupervisorConfig.self, forKey: .supervisor)
        trading = try c.decodeIfPresent(TradingConfig.self, forKey: .trading)
        // Known by name only (asking marks them as known): their processes decode them.
        let domains = try decoder.container(keyedBy: ConfigKey.self)
        for name in Self.domainSections { _ = domains.contains(ConfigKey(name)) }
    }

    /// The trading mode in effect.
    public var tradingInEffect: TradingConfig { trading ?? .paper }

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
        if let trading { v.section(trading, key: CodingKeys.trading) }
        let trading = tradingInEffect
        if trading.mode == .live {
            v.check(
                trading.liveEnabled, keyPath: ["trading", "live_enabled"], related: [["trading", "mode"]],
                must: "be true when trading.mode is LIVE (real money)", got: trading.liveEnabled)
        }
    }
}

/// The `trading:` section: how far orders go (DRY_RUN, PAPER, LIVE) and the switch that must
/// be on, with broker credentials present, before LIVE is accepted.
public struct TradingConfig: ConfigSection, Equatable {
    public var mode: TradingMode
    /// LIVE trades real money: refused unless this is true (and credentials are present).
    public var liveEnabled: Bool

    public init(mode: TradingMode, liveEnabled: Bool) {
        self.mode = mode
        self.liveEnabled = liveEnabled
    }

    /// PAPER, live trading off: what a configuration without the section means.
    public static let paper = TradingConfig(mode: .paper, liveEnabled: false)

    enum CodingKeys: String, CodingKey {
        case mode
        case liveEnabled = "live_enabled"
    }

    public func validate(_ v: inout ConfigValidator) {}
}

extension TradingMode: ConfigEnum {}

/// A configuration key named at run time.
public struct ConfigKey: CodingKey, Sendable {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(_ name: String) { stringValue = name }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
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

/// Exit codes every AST process uses, so that a supervisor and an operator can tell why it stopped.
public enum ProcessExitCode: Int32, Sendable {
    case success = 0
    case failure = 1
    case usage = 64
    /// `EX_CONFIG`: the configuration was refused.
    case config = 78
}

/// Where the state of a process lives under `state_dir`.
public enum StatePaths {
    /// A process's journal: `<state_dir>/journal/<role>@<instance>.sqlite`.
    public static func journal(identity: ProcessIdentity, stateDir: String) -> String {
        "\(stateDir)/journal/\(identity).sqlite"
    }
}
