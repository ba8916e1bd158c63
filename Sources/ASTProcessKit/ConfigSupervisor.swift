import ASTCore
import ASTSupervision

/// The `supervisor:` section: astd's children and how it restarts them.
public struct SupervisorConfig: ConfigSection, Equatable {
    /// `one_for_one` restarts only the crashed child; `rest_for_one` also the children started after it.
    public var strategy: RestartStrategy
    /// Each child's restart budget unless it has its own: more than this many restarts within
    /// `period_ms` and astd gives up on the tree (a critical child) or on the child alone.
    public var intensity: Int
    public var periodMs: Int
    /// First delay before a restart; doubles for consecutive crashes of one child up to the maximum.
    public var restartBackoffMs: Int
    public var restartBackoffMaxMs: Int
    /// After SIGABRT for a missed watchdog, SIGKILL follows after this grace.
    public var watchdogGraceMs: Int
    /// A child's time to report READY unless it has its own (0: no limit); default 30000.
    public var startTimeoutMs: Int?
    /// A non-critical child given up on is started again after this long, doubled for each
    /// give-up in a row up to `given_up_retry_max_ms` (0: it stays down until astd restarts);
    /// defaults 300000 and 3600000.
    public var givenUpRetryMs: Int?
    public var givenUpRetryMaxMs: Int?
    /// The children, in start order.
    public var children: [ChildConfig]

    public init(
        strategy: RestartStrategy, intensity: Int, periodMs: Int, restartBackoffMs: Int, restartBackoffMaxMs: Int,
        watchdogGraceMs: Int, children: [ChildConfig], startTimeoutMs: Int? = nil, givenUpRetryMs: Int? = nil,
        givenUpRetryMaxMs: Int? = nil
    ) {
        self.strategy = strategy
        self.intensity = intensity
        self.periodMs = periodMs
        self.restartBackoffMs = restartBackoffMs
        self.restartBackoffMaxMs = restartBackoffMaxMs
        self.watchdogGraceMs = watchdogGraceMs
        self.children = children
        self.startTimeoutMs = startTimeoutMs
        self.givenUpRetryMs = givenUpRetryMs
        self.givenUpRetryMaxMs = givenUpRetryMaxMs
    }

    public static let defaultStartTimeoutMs = 30_000
    public static let defaultGivenUpRetryMs = 300_000
    public static let defaultGivenUpRetryMaxMs = 3_600_000

    enum CodingKeys: String, CodingKey {
        case strategy, intensity, children
        case periodMs = "period_ms"
        case restartBackoffMs = "restart_backoff_ms"
        case restartBackoffMaxMs = "restart_backoff_max_ms"
        case watchdogGraceMs = "watchdog_grace_ms"
        case startTimeoutMs = "start_timeout_ms"
        case givenUpRetryMs = "given_up_retry_ms"
        case givenUpRetryMaxMs = "given_up_retry_max_ms"
    }

    public func validate(_ v: inout ConfigValidator) {
        v.range(intensity, 0...1000, key: CodingKeys.intensity)
        v.range(periodMs, 1...86_400_000, key: CodingKeys.periodMs)
        v.range(restartBackoffMs, 1...600_000, key: CodingKeys.restartBackoffMs)
        v.range(restartBackoffMaxMs, 1...600_000, key: CodingKeys.restartBackoffMaxMs)
        v.atLeast(restartBackoffMaxMs, key: CodingKeys.restartBackoffMaxMs, restartBackoffMs, minimumKey: CodingKeys.restartBackoffMs)
        v.range(watchdogGraceMs, 1...600_000, key: CodingKeys.watchdogGraceMs)
        if let t = startTimeoutMs { v.range(t, 0...3_600_000, key: CodingKeys.startTimeoutMs) }
        if let r = givenUpRetryMs { v.range(r, 0...86_400_000, key: CodingKeys.givenUpRetryMs) }
        if let m = givenUpRetryMaxMs { v.range(m, 1...86_400_000, key: CodingKeys.givenUpRetryMaxMs) }
        let retry = givenUpRetryMs ?? Self.defaultGivenUpRetryMs
        if retry > 0 {
            v.atLeast(
                givenUpRetryMaxMs ?? Self.defaultGivenUpRetryMaxMs, key: CodingKeys.givenUpRetryMaxMs, retry,
                minimumKey: CodingKeys.givenUpRetryMs)
        }
        v.check(!children.isEmpty, key: CodingKeys.children, must: "name at least one child", got: "[]")
        let names = children.map(\.name)
        let duplicates = Set(names.filter { n in names.filter { $0 == n }.count > 1 })
        v.check(
            duplicates.isEmpty, key: CodingKeys.children, must: "name each child once",
            got: duplicates.sorted().joined(separator: ", "))
        v.sections(children, key: CodingKeys.children)
    }

    /// The policy the restart core runs with.
    public var policy: SupervisorPolicy {
        let retry = givenUpRetryMs ?? Self.defaultGivenUpRetryMs
        return SupervisorPolicy(
            strategy: strategy, intensity: intensity, period: .milliseconds(periodMs),
            restartBackoff: .milliseconds(restartBackoffMs), restartBackoffMax: .milliseconds(restartBackoffMaxMs),
            givenUpRetry: retry > 0 ? .milliseconds(retry) : nil,
            givenUpRetryMax: .milliseconds(givenUpRetryMaxMs ?? Self.defaultGivenUpRetryMaxMs))
    }

    /// The children's specs, with the section's defaults; `directory` is where named executables live.
    public func specs(executableDirectory directory: String) -> [ChildSpec] {
        children.map { $0.spec(executableDirectory: directory, defaultStartTimeoutMs: startTimeoutMs ?? Self.defaultStartTimeoutMs) }
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
    /// Critical: exhausting its restart budget stops the tree. Non-critical: it alone is given
    /// up on. Default by role: risk, brokers and the reconciler are critical (and must be), the
    /// rest is not.
    public var critical: Bool?
    /// This child's own restart budget (both or neither); default the section's.
    public var intensity: Int?
    public var periodMs: Int?
    /// This child's time to report READY (0: no limit); default the section's `start_timeout_ms`.
    public var startTimeoutMs: Int?

    public init(
        name: String, executable: String, arguments: [String], restart: RestartType, shutdownTimeoutMs: Int,
        watchdogMs: Int, onCrash: CrashImpact, critical: Bool? = nil, intensity: Int? = nil, periodMs: Int? = nil,
        startTimeoutMs: Int? = nil
    ) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.restart = restart
        self.shutdownTimeoutMs = shutdownTimeoutMs
        self.watchdogMs = watchdogMs
        self.onCrash = onCrash
        self.critical = critical
        self.intensity = intensity
        self.periodMs = periodMs
        self.startTimeoutMs = startTimeoutMs
    }

    enum CodingKeys: String, CodingKey {
        case name, executable, arguments, restart, critical, intensity
        case shutdownTimeoutMs = "shutdown_timeout_ms"
        case watchdogMs = "watchdog_ms"
        case onCrash = "on_crash"
        case periodMs = "period_ms"
        case startTimeoutMs = "start_timeout_ms"
    }

    public func validate(_ v: inout ConfigValidator) {
        v.check(
            ProcessIdentity(parsing: name) != nil, key: CodingKeys.name, must: "be role@instance in lowercase letters, digits, - and _",
            got: name)
        v.check(
            !executable.isEmpty && (executable.hasPrefix("/") || !executable.contains("/")), key: CodingKeys.executable,
            must: "be an executable name or an absolute path", got: executable)
        v.range(shutdownTimeoutMs, 1...600_000, key: CodingKeys.shutdownTimeoutMs)
        v.range(watchdogMs, 0...600_000, key: CodingKeys.watchdogMs)
        if watchdogMs > 0 { v.range(watchdogMs, 100...600_000, key: CodingKeys.watchdogMs) }
        if let id = ProcessIdentity(parsing: name), ChildSpec.criticalRoles.contains(id.role) {
            v.check(
                critical != false, key: CodingKeys.critical,
                must: "be true for \(id.role) (risk, brokers and the reconciler watch positions)", got: false)
        }
        if let intensity { v.range(intensity, 0...1000, key: CodingKeys.intensity) }
        if let periodMs { v.range(periodMs, 1...86_400_000, key: CodingKeys.periodMs) }
        // A child's own restart budget is both keys: report the one given, naming the one missing.
        v.check(
            (intensity == nil) == (periodMs == nil), key: intensity == nil ? CodingKeys.periodMs : CodingKeys.intensity,
            must: "come with \(intensity == nil ? "intensity" : "period_ms") (a child's own restart budget is both)",
            got: intensity.map(String.init) ?? periodMs.map(String.init) ?? "")
        if let startTimeoutMs { v.range(startTimeoutMs, 0...3_600_000, key: CodingKeys.startTimeoutMs) }
    }

    /// Whether this child is critical: as configured, else by its role.
    public var isCritical: Bool {
        if let critical { return critical }
        return ProcessIdentity(parsing: name).map { ChildSpec.criticalRoles.contains($0.role) } ?? true
    }

    /// The spec the restart core runs with; `directory` is where named executables live.
    public func spec(executableDirectory directory: String, defaultStartTimeoutMs: Int = SupervisorConfig.defaultStartTimeoutMs)
        -> ChildSpec
    {
        let start = startTimeoutMs ?? defaultStartTimeoutMs
        let budget = intensity.flatMap { n in periodMs.map { RestartBudget(intensity: n, period: .milliseconds($0)) } }
        return ChildSpec(
            id: ProcessIdentity(parsing: name)!, executable: executable.hasPrefix("/") ? executable : "\(directory)/\(executable)",
            arguments: arguments, restart: restart, shutdownTimeout: .milliseconds(shutdownTimeoutMs),
            watchdog: watchdogMs > 0 ? .milliseconds(watchdogMs) : nil, onCrash: onCrash, critical: isCritical,
            budget: budget, startTimeout: start > 0 ? .milliseconds(start) : nil)
    }
}

extension RestartStrategy: ConfigEnum {}
extension RestartType: ConfigEnum {}
extension CrashImpact: ConfigEnum {}
