import ASTCore

/// When a child that has exited is started again (OTP's restart types).
public enum RestartType: String, Sendable, Codable, CaseIterable {
    /// Always restarted, whatever the exit.
    case permanent
    /// Restarted only after an abnormal exit (see ``ExitReason/isAbnormal``).
    case transient
    /// Never restarted.
    case temporary
}

/// Which children a crash takes down with it (OTP's restart strategies).
public enum RestartStrategy: String, Sendable, Codable, CaseIterable {
    /// Only the crashed child is restarted.
    case oneForOne = "one_for_one"
    /// The crashed child and every child started after it are restarted, because later
    /// children depend on earlier ones.
    case restForOne = "rest_for_one"
}

/// How many restarts a child may have within a period (OTP's `MaxR`/`MaxT`, per child):
/// restart number `intensity + 1` within `period` is not performed.
public struct RestartBudget: Sendable, Equatable {
    public var intensity: Int
    public var period: Duration

    public init(intensity: Int, period: Duration) {
        self.intensity = intensity
        self.period = period
    }
}

/// How to run one child of the tree. Children start in the order of the array given to
/// ``Supervisor/init(children:policy:)`` and stop in the reverse order.
public struct ChildSpec: Sendable, Equatable {
    public var id: ProcessIdentity
    public var executable: String
    public var arguments: [String]
    public var restart: RestartType
    /// How long the child gets between SIGTERM and SIGKILL when it is stopped.
    public var shutdownTimeout: Duration
    /// The child's `WATCHDOG_USEC`; `nil` when it has no watchdog. The watchdog runs from the
    /// child's READY=1 (see ``hangDeadline(since:readySince:lastPing:)``).
    public var watchdog: Duration?
    public var onCrash: CrashImpact
    /// A critical child that exhausts its restart budget makes the supervisor give up on the
    /// whole tree; a non-critical one is given up on alone while the rest keeps running.
    public var critical: Bool
    /// This child's own restart budget; `nil` takes the policy's `intensity` and `period`.
    public var budget: RestartBudget?
    /// How long a started process has to report READY=1 before it is aborted like a hung one;
    /// `nil` waits for ever.
    public var startTimeout: Duration?

    /// `onCrash` defaults to `.halt` and `critical` to true: a child whose meaning nobody
    /// declared stops trading when it crashes and takes the tree down when it loops.
    public init(
        id: ProcessIdentity,
        executable: String,
        arguments: [String] = [],
        restart: RestartType = .permanent,
        shutdownTimeout: Duration = .seconds(5),
        watchdog: Duration? = nil,
        onCrash: CrashImpact = .halt,
        critical: Bool = true,
        budget: RestartBudget? = nil,
        startTimeout: Duration? = nil
    ) {
        self.id = id
        self.executable = executable
        self.arguments = arguments
        self.restart = restart
        self.shutdownTimeout = shutdownTimeout
        self.watchdog = watchdog
        self.onCrash = onCrash
        self.critical = critical
        self.budget = budget
        self.startTimeout = startTimeout
    }

    /// The roles that watch positions (risk, brokers, reconciler): always critical.
    public static let criticalRoles: Set<Role> = [.risk, .broker, .reconciler]

    /// When a running child is to be declared hung, given when its process started (`since`),
    /// when it reported READY (`readySince`, nil while it has not) and its last WATCHDOG=1.
    ///
    /// Before READY only the start-up timeout runs (counted from the start); from READY only
    /// the watchdog, counted from READY or the last ping after it: a slow start is never a
    /// missed watchdog. The shell acts once the time is strictly past the deadline.
    public func hangDeadline(since: Timestamp, readySince: Timestamp?, lastPing: Timestamp?) -> HangDeadline? {
        guard let readySince else {
            return startTimeout.map { .startTimeout(at: since.advanced(by: $0)) }
        }
        guard let watchdog else { return nil }
        let last = max(lastPing ?? readySince, readySince)
        return .watchdog(at: last.advanced(by: watchdog))
    }
}

/// The next moment at which a running child counts as hung, and which limit it is.
public enum HangDeadline: Sendable, Equatable {
    /// It has not reported READY: ``Supervisor/startTimedOut(pid:now:)`` after `at`.
    case startTimeout(at: Timestamp)
    /// It is ready and silent: ``Supervisor/watchdogMissed(pid:now:)`` after `at`.
    case watchdog(at: Timestamp)

    public var at: Timestamp {
        switch self {
        case .startTimeout(let at), .watchdog(let at): at
        }
    }
}

/// How a supervisor restarts its children and when it gives up.
///
/// Every child has a restart budget: its own ``ChildSpec/budget``, else `intensity` restarts
/// within any window of `period` (OTP's `MaxR`/`MaxT`, counted per child). A critical child
/// over its budget makes the supervisor give up on the tree; a non-critical one is given up
/// on alone, and retried after `givenUpRetry` (doubled for each consecutive give-up up to
/// `givenUpRetryMax`), or never when `givenUpRetry` is nil. A restart waits `restartBackoff`,
/// doubled for every consecutive crash of the same child up to `restartBackoffMax`, and back
/// to `restartBackoff` once the child has stayed up for its budget's period.
public struct SupervisorPolicy: Sendable, Equatable {
    public var strategy: RestartStrategy
    public var intensity: Int
    public var period: Duration
    public var restartBackoff: Duration
    public var restartBackoffMax: Duration
    public var givenUpRetry: Duration?
    public var givenUpRetryMax: Duration

    public init(
        strategy: RestartStrategy = .oneForOne,
        intensity: Int = 5,
        period: Duration = .seconds(30),
        restartBackoff: Duration = .milliseconds(100),
        restartBackoffMax: Duration = .seconds(5),
        givenUpRetry: Duration? = .seconds(300),
        givenUpRetryMax: Duration = .seconds(3600)
    ) {
        self.strategy = strategy
        self.intensity = intensity
        self.period = period
        self.restartBackoff = restartBackoff
        self.restartBackoffMax = restartBackoffMax
        self.givenUpRetry = givenUpRetry
        self.givenUpRetryMax = givenUpRetryMax
    }

    /// The restart budget `child` runs with.
    public func budget(of child: ChildSpec) -> RestartBudget {
        child.budget ?? RestartBudget(intensity: intensity, period: period)
    }
}

/// A child list or policy the supervisor cannot run, in words an operator can act on.
public enum SupervisorConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    case duplicateChild(ProcessIdentity)
    case negativeIntensity(Int)
    case nonPositivePeriod(Duration)
    case negativeBackoff(Duration)
    case backoffMaxBelowBackoff(backoff: Duration, maximum: Duration)
    case nonPositiveShutdownTimeout(ProcessIdentity, Duration)
    case nonPositiveWatchdog(ProcessIdentity, Duration)
    case nonPositiveStartTimeout(ProcessIdentity, Duration)
    case negativeChildIntensity(ProcessIdentity, Int)
    case nonPositiveChildPeriod(ProcessIdentity, Duration)
    /// Risk, brokers and the reconciler watch positions: the tree is not worth running without them.
    case positionWatcherNotCritical(ProcessIdentity)
    case nonPositiveGivenUpRetry(Duration)
    case givenUpRetryMaxBelowRetry(retry: Duration, maximum: Duration)

    public var description: String {
        switch self {
        case .duplicateChild(let id):
            "supervisor: child \(id) is listed twice; every child needs its own role@instance"
        case .negativeIntensity(let n):
            "supervisor: intensity must be 0 or more restarts (got \(n))"
        case .nonPositivePeriod(let d):
            "supervisor: period must be longer than zero (got \(d))"
        case .negativeBackoff(let d):
            "supervisor: restart back-off must not be negative (got \(d))"
        case .backoffMaxBelowBackoff(let b, let m):
            "supervisor: restart back-off maximum (\(m)) must be at least the first back-off (\(b))"
        case .nonPositiveShutdownTimeout(let id, let d):
            "supervisor: child \(id) needs a shutdown timeout longer than zero (got \(d))"
        case .nonPositiveWatchdog(let id, let d):
            "supervisor: child \(id) needs a watchdog interval longer than zero, or none (got \(d))"
        case .nonPositiveStartTimeout(let id, let d):
            "supervisor: child \(id) needs a start-up timeout longer than zero, or none (got \(d))"
        case .negativeChildIntensity(let id, let n):
            "supervisor: child \(id) needs an intensity of 0 or more restarts (got \(n))"
        case .nonPositiveChildPeriod(let id, let d):
            "supervisor: child \(id) needs a period longer than zero (got \(d))"
        case .positionWatcherNotCritical(let id):
            "supervisor: child \(id) watches positions and must be critical (risk, brokers and the reconciler always are)"
        case .nonPositiveGivenUpRetry(let d):
            "supervisor: the retry of a child given up on must come after more than zero, or never (got \(d))"
        case .givenUpRetryMaxBelowRetry(let r, let m):
            "supervisor: the maximum retry delay of a child given up on (\(m)) must be at least the first (\(r))"
        }
    }
}
