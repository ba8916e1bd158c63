import ASTCore

/// Why a child's process ended, as the supervisor attributes it.
public enum ExitReason: Sendable, Equatable, CustomStringConvertible {
    /// The process exited by itself with this status.
    case exited(code: Int32)
    /// The process was killed by a signal it did not ask for.
    case signaled(signal: Int32)
    /// The supervisor killed the process because it missed its watchdog deadline.
    case watchdogTimeout
    /// The supervisor killed the process because it did not report READY within its
    /// start-up timeout.
    case startTimeout
    /// The supervisor stopped the process (a `rest_for_one` sibling, a shutdown, a give-up).
    case stoppedBySupervisor
    /// The process could not be started at all (the executable is missing, exec failed ...).
    case spawnFailed(error: String)

    /// An exit that is a failure: a non-zero code, a signal, a watchdog timeout or a failed
    /// spawn. Exit code 0 and a stop by the supervisor are normal.
    public var isAbnormal: Bool {
        switch self {
        case .exited(let code): code != 0
        case .signaled, .watchdogTimeout, .startTimeout, .spawnFailed: true
        case .stoppedBySupervisor: false
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): "exited with code \(code)"
        case .signaled(let signal):
            if let name = ExitReason.signalName(signal) {
                "killed by signal \(signal) (\(name))"
            } else {
                "killed by signal \(signal)"
            }
        case .watchdogTimeout: "missed its watchdog deadline"
        case .startTimeout: "did not report READY within its start-up timeout"
        case .stoppedBySupervisor: "stopped by the supervisor"
        case .spawnFailed(let error): "could not be spawned: \(error)"
        }
    }

    /// Linux names of the signals a supervised process usually dies of.
    static func signalName(_ signal: Int32) -> String? {
        switch signal {
        case 1: "SIGHUP"
        case 2: "SIGINT"
        case 3: "SIGQUIT"
        case 4: "SIGILL"
        case 5: "SIGTRAP"
        case 6: "SIGABRT"
        case 7: "SIGBUS"
        case 8: "SIGFPE"
        case 9: "SIGKILL"
        case 11: "SIGSEGV"
        case 13: "SIGPIPE"
        case 14: "SIGALRM"
        case 15: "SIGTERM"
        case 24: "SIGXCPU"
        case 25: "SIGXFSZ"
        default: nil
        }
    }
}

/// Where a child is in its life cycle, as `astctl status` shows it.
public enum ChildState: Sendable, Equatable {
    /// The supervisor asked the shell to spawn it and waits for its pid.
    case starting
    /// A process is running; it may or may not have reported READY yet.
    case running(pid: Int32, since: Timestamp)
    /// The supervisor asked the process to stop (or killed it for its watchdog) and waits for
    /// its exit.
    case stopping(pid: Int32)
    /// Down; restarted at the earliest at `until` (later if `rest_for_one` siblings are still
    /// stopping).
    case waitingToRestart(until: Timestamp)
    /// Down for good after a normal exit, a stop by the supervisor, or never started (`nil`).
    case stopped(ExitReason?)
    /// Down for good after an abnormal exit: a temporary or transient child that is not
    /// restarted, or any child when the supervisor gave up on the tree.
    case failed(ExitReason)
    /// A non-critical child that exhausted its restart budget, given up on alone after
    /// `reason`: down until `retryAt`, or for good when nil.
    case givenUp(ExitReason, retryAt: Timestamp?)
}

/// One row of the supervisor's status: what `astctl status` prints for a child.
public struct ChildStatus: Sendable, Equatable {
    public var id: ProcessIdentity
    public var restart: RestartType
    /// See ``ChildSpec/critical``.
    public var critical: Bool
    public var state: ChildState
    /// How many times the supervisor restarted this child (the first start is not counted).
    public var restarts: Int
    /// When the current process reported READY; `nil` while it has not.
    public var readySince: Timestamp?
    public var lastExit: ExitReason?
    public var lastExitAt: Timestamp?

    /// The pid of the child's current process, if it has one.
    public var pid: Int32? {
        switch state {
        case .running(let pid, _), .stopping(let pid): pid
        default: nil
        }
    }

    public init(
        id: ProcessIdentity, restart: RestartType, critical: Bool = true, state: ChildState, restarts: Int,
        readySince: Timestamp?, lastExit: ExitReason?, lastExitAt: Timestamp?
    ) {
        self.id = id
        self.restart = restart
        self.critical = critical
        self.state = state
        self.restarts = restarts
        self.readySince = readySince
        self.lastExit = lastExit
        self.lastExitAt = lastExitAt
    }
}
