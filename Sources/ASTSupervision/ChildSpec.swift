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

/// What a child's crash means for trading. The supervisor only reports it in lifecycle
/// events; the risk gate acts on it.
public enum CrashImpact: String, Sendable, Codable, CaseIterable {
    /// Stop trading: the system moves to HALTED.
    case halt
    /// Only position-reducing orders: the system moves to SAFE_REDUCING.
    case reduce
    /// Trading is unaffected. Spelled `none` in configuration and JSON; the case has another
    /// name so that it never reads as `Optional.none`.
    case noEffect = "none"
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
    /// The child's `WATCHDOG_USEC`; `nil` when it has no watchdog.
    public var watchdog: Duration?
    public var onCrash: CrashImpact

    /// `onCrash` defaults to `.halt`: a crash whose meaning nobody declared stops trading.
    public init(
        id: ProcessIdentity,
        executable: String,
        arguments: [String] = [],
        restart: RestartType = .permanent,
        shutdownTimeout: Duration = .seconds(5),
        watchdog: Duration? = nil,
        onCrash: CrashImpact = .halt
    ) {
        self.id = id
        self.executable = executable
        self.arguments = arguments
        self.restart = restart
        self.shutdownTimeout = shutdownTimeout
        self.watchdog = watchdog
        self.onCrash = onCrash
    }
}

/// How a supervisor restarts its children and when it gives up.
///
/// More than `intensity` restarts within any window of `period` make the supervisor give up
/// (OTP's `MaxR`/`MaxT`). A restart waits `restartBackoff`, doubled for every consecutive
/// crash of the same child up to `restartBackoffMax`, and back to `restartBackoff` once the
/// child has stayed up for `period`.
public struct SupervisorPolicy: Sendable, Equatable {
    public var strategy: RestartStrategy
    public var intensity: Int
    public var period: Duration
    public var restartBackoff: Duration
    public var restartBackoffMax: Duration

    public init(
        strategy: RestartStrategy = .oneForOne,
        intensity: Int = 5,
        period: Duration = .seconds(30),
        restartBackoff: Duration = .milliseconds(100),
        restartBackoffMax: Duration = .seconds(5)
    ) {
        self.strategy = strategy
        self.intensity = intensity
        self.period = period
        self.restartBackoff = restartBackoff
        self.restartBackoffMax = restartBackoffMax
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
        }
    }
}
