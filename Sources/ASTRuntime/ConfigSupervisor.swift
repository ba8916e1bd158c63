import ASTCore
import ASTSupervision

/// The `supervisor:` section: astd's children and how it restarts them.
public struct SupervisorConfig: ConfigSection, Equatable {
    /// `one_for_one` restarts only the crashed child; `rest_for_one` also the children started after it.
    public var strategy: RestartStrategy
    /// More than this many restarts within `period_ms` and astd gives up (stops the tree, exits non-zero).
    public var intensity: Int
    public var periodMs: Int
    /// First delay before a restart; doubles for consecutive crashes of one child up to the maximum.
    public var restartBackoffMs: Int
    public var restartBackoffMaxMs: Int
    /// After SIGABRT for a missed watchdog, SIGKILL follows after this grace.
    public var watchdogGraceMs: Int
    /// The children, in start order.
    public var children: [ChildConfig]

    public init(strategy: RestartStrategy, intensity: Int, periodMs: Int, restartBackoffMs: Int, restartBackoffMaxMs: Int,
                watchdogGraceMs: Int, children: [ChildConfig]) {
        self.strategy = strategy
        self.intensity = intensity
        self.periodMs = periodMs
        self.restartBackoffMs = restartBackoffMs
        self.restartBackoffMaxMs = restartBackoffMaxMs
        self.watchdogGraceMs = watchdogGraceMs
        self.children = children
    }

    enum CodingKeys: String, CodingKey {
        case strategy, intensity, children
        case periodMs = "period_ms"
        case restartBackoffMs = "restart_backoff_ms"
        case restartBackoffMaxMs = "restart_backoff_max_ms"
        case watchdogGraceMs = "watchdog_grace_ms"
    }

    public func validate(_ v: inout ConfigValidator) {
        v.range(intensity, 0...1000, key: CodingKeys.intensity)
        v.range(periodMs, 1...86_400_000, key: CodingKeys.periodMs)
        v.range(restartBackoffMs, 1...600_000, key: CodingKeys.restartBackoffMs)
        v.range(restartBackoffMaxMs, 1...600_000, key: CodingKeys.restartBackoffMaxMs)
        v.atLeast(restartBackoffMaxMs, key: CodingKeys.restartBackoffMaxMs, restartBackoffMs, minimumKey: CodingKeys.restartBackoffMs)
        v.range(watchdogGraceMs, 1...600_000, key: CodingKeys.watchdogGraceMs)
        v.check(!children.isEmpty, key: CodingKeys.children, must: "name at least one child", got: "[]")
        let names = children.map(\.name)
        let duplicates = Set(names.filter { n in names.filter { $0 == n }.count > 1 })
        v.check(duplicates.isEmpty, key: CodingKeys.children, must: "name each child once",
                got: duplicates.sorted().joined(separator: ", "))
        v.sections(children, key: CodingKeys.children)
    }

    /// The policy the restart core runs with.
    public var policy: SupervisorPolicy {
        SupervisorPolicy(strategy: strategy, intensity: intensity, period: .milliseconds(periodMs),
                         restartBackoff: .milliseconds(restartBackoffMs), restartBackoffMax: .milliseconds(restartBackoffMaxMs))
    }
}

/// One child of astd: which executable, how it restarts, and what its crash means for trading.
public struct ChildConfig: ConfigSection, Equatable {
    /// `role@instance`, e.g. `broker@paper`; also the name of its socket (`FileDescriptorName=`).
    public var name: String
    /// An executable name (looked up beside astd) or an absolute path.
    public var executable: String
    public var arguments: [String]
    public var restart: RestartType
    public var shutdownTimeoutMs: Int
    /// The child must send WATCHDOG=1 within this many milliseconds; 0 disables its watchdog.
    public var watchdogMs: Int
    /// What a crash means for trading: `halt` (every broker), `reduce` or `none`.
    public var onCrash: CrashImpact

    public init(name: String, executable: String, arguments: [String], restart: RestartType, shutdownTimeoutMs: Int,
                watchdogMs: Int, onCrash: CrashImpact) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.restart = restart
        self.shutdownTimeoutMs = shutdownTimeoutMs
        self.watchdogMs = watchdogMs
        self.onCrash = onCrash
    }

    enum CodingKeys: String, CodingKey {
        case name, executable, arguments, restart
        case shutdownTimeoutMs = "shutdown_timeout_ms"
        case watchdogMs = "watchdog_ms"
        case onCrash = "on_crash"
    }

    public func validate(_ v: inout ConfigValidator) {
        v.check(ProcessIdentity(parsing: name) != nil, key: CodingKeys.name, must: "be role@instance in lowercase letters, digits, - and _", got: name)
        v.check(!executable.isEmpty && (executable.hasPrefix("/") || !executable.contains("/")), key: CodingKeys.executable,
                must: "be an executable name or an absolute path", got: executable)
        v.range(shutdownTimeoutMs, 1...600_000, key: CodingKeys.shutdownTimeoutMs)
        v.range(watchdogMs, 0...600_000, key: CodingKeys.watchdogMs)
        if watchdogMs > 0 { v.range(watchdogMs, 100...600_000, key: CodingKeys.watchdogMs) }
    }

    /// The spec the restart core runs with; `directory` is where named executables live.
    public func spec(executableDirectory directory: String) -> ChildSpec {
        ChildSpec(id: ProcessIdentity(parsing: name)!, executable: executable.hasPrefix("/") ? executable : "\(directory)/\(executable)",
                  arguments: arguments, restart: restart, shutdownTimeout: .milliseconds(shutdownTimeoutMs),
                  watchdog: watchdogMs > 0 ? .milliseconds(watchdogMs) : nil, onCrash: onCrash)
    }
}

extension RestartStrategy: ConfigEnum {}
extension RestartType: ConfigEnum {}
extension CrashImpact: ConfigEnum {}
