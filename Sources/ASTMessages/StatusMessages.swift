import ASTCore

/// `astctl status` asks astd for the tree; answered by ``TreeStatus``.
public struct StatusRequest: Codable, Sendable, Equatable {
    public init() {}
}

/// The state of the supervision tree as astd sees it. This is also the documented, stable
/// JSON schema of `astctl status --json` (see README.md): fields are only ever added.
public struct TreeStatus: Codable, Sendable, Equatable {
    /// `ok` when every permanent child is ready, else `degraded`.
    public var state: String
    public var supervisorPID: Int32
    public var startedAt: Timestamp
    public var now: Timestamp
    /// One-line summary, as in astd's own STATUS= (`6/6 ready`).
    public var summary: String
    public var children: [ChildStatusReport]
    /// The risk gate's Safe Mode, filled in by `astctl` from ast-risk (absent when it did not answer).
    public var safeMode: RiskStatusReport?
    /// The reconciler's last reconciliation, filled in by `astctl` (absent when it did not answer).
    public var reconciliation: ReconciliationSummary?
    /// The notifier's outbox, filled in by `astctl` from ast-notifier (absent when it did not answer).
    public var notifier: NotifierStatusReport?
    /// astd's own outgoing bus links (lifecycle events to the risk gate and the notifier), as
    /// astd reports them (absent from an astd that predates it).
    public var supervisorBus: BusStatusReport?

    public init(state: String, supervisorPID: Int32, startedAt: Timestamp, now: Timestamp, summary: String, children: [ChildStatusReport]) {
        self.state = state
        self.supervisorPID = supervisorPID
        self.startedAt = startedAt
        self.now = now
        self.summary = summary
        self.children = children
    }

    enum CodingKeys: String, CodingKey {
        case state, now, summary, children
        case supervisorPID = "supervisor_pid"
        case startedAt = "started_at"
        case safeMode = "safe_mode"
        case reconciliation
        case notifier
        case supervisorBus = "supervisor_bus"
    }
}

/// One child of the tree in ``TreeStatus``.
public struct ChildStatusReport: Codable, Sendable, Equatable {
    /// `role@instance`.
    public var name: String
    public var pid: Int32?
    /// `starting`, `running`, `stopping`, `restarting`, `stopped` or `failed`.
    public var state: String
    public var ready: Bool
    /// Seconds since the current process started; nil when not running.
    public var uptimeSeconds: Double?
    public var restarts: Int
    /// When the child last sent WATCHDOG=1; nil when it never did or has no watchdog.
    public var lastWatchdogPing: Timestamp?
    /// The child's own STATUS= text.
    public var statusText: String?
    /// Why the previous process of this child ended (`exited with code 3`, `killed by SIGKILL`, ...).
    public var lastExit: String?
    /// What a crash of this child means for trading: `halt`, `reduce` or `none`.
    public var onCrash: String
    /// The child's outgoing bus links as the child reports them, filled in by `astctl` (absent
    /// when it did not answer).
    public var bus: BusStatusReport?

    public init(
        name: String, pid: Int32?, state: String, ready: Bool, uptimeSeconds: Double?, restarts: Int,
        lastWatchdogPing: Timestamp?, statusText: String?, lastExit: String?, onCrash: String
    ) {
        self.name = name
        self.pid = pid
        self.state = state
        self.ready = ready
        self.uptimeSeconds = uptimeSeconds
        self.restarts = restarts
        self.lastWatchdogPing = lastWatchdogPing
        self.statusText = statusText
        self.lastExit = lastExit
        self.onCrash = onCrash
    }

    enum CodingKeys: String, CodingKey {
        case name, pid, state, ready, restarts
        case uptimeSeconds = "uptime_s"
        case lastWatchdogPing = "last_watchdog_ping"
        case statusText = "status_text"
        case lastExit = "last_exit"
        case onCrash = "on_crash"
        case bus
    }
}

/// `astctl status` -> a worker: its outgoing bus links; answered by ``BusStatusReport``.
public struct BusStatusRequest: Codable, Sendable, Equatable {
    public init() {}
}

/// One outgoing bus link of a worker, as that worker sees it.
public struct BusLinkReport: Codable, Sendable, Equatable {
    /// The peer (`role@instance`).
    public var target: String
    public var connected: Bool
    /// When the peer last sent anything on this link; nil when never since the worker started.
    public var lastHeard: Timestamp?
    /// Must-not-lose messages (orders, fills, alerts, lifecycle events) sent and not yet
    /// acknowledged: journaled, and sent again until they are.
    public var unacknowledged: Int
    /// When the oldest of them was first sent.
    public var oldestUnacknowledged: Timestamp?

    public init(target: String, connected: Bool, lastHeard: Timestamp?, unacknowledged: Int, oldestUnacknowledged: Timestamp? = nil) {
        self.target = target
        self.connected = connected
        self.lastHeard = lastHeard
        self.unacknowledged = unacknowledged
        self.oldestUnacknowledged = oldestUnacknowledged
    }

    enum CodingKeys: String, CodingKey {
        case target, connected, unacknowledged
        case lastHeard = "last_heard"
        case oldestUnacknowledged = "oldest_unacknowledged"
    }
}

/// A worker's answer to ``BusStatusRequest``: every outgoing link it has, sorted by target.
public struct BusStatusReport: Codable, Sendable, Equatable {
    public var links: [BusLinkReport]

    public init(links: [BusLinkReport]) { self.links = links }

    /// The most links a report may carry; `astctl` ignores a report with more (a peer's numbers
    /// are shown, never trusted to be small).
    public static let maxLinks = 64
}
