import ASTCore

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

/// The kinds of lifecycle event the supervisor reports to the risk gate, the notifier and
/// its journal. Raw values are the stable JSON spelling.
public enum LifecycleKind: String, Sendable, Codable, CaseIterable {
    case spawned
    case ready
    /// The child's process ended without the supervisor asking it to (a crash, a normal exit,
    /// a watchdog kill, a failed spawn).
    case exited
    /// The child missed its watchdog deadline and is being killed.
    case watchdogTimeout = "watchdog_timeout"
    /// The supervisor is starting the child again.
    case restarted
    /// A critical child exceeded its restart budget: the supervisor stops the tree and exits
    /// non-zero. The event concerns the tree (no `child`); its reason names the child.
    case gaveUp = "gave_up"
    /// A non-critical child exceeded its restart budget: it alone is left down (until a retry,
    /// if the policy has one) while the rest of the tree runs. Carries the child's `onCrash`.
    case givenUp = "given_up"
    /// The child's process ended after the supervisor asked it to stop.
    case stopped
}

/// One fact about a child's life, as journaled and sent on the bus.
///
/// `exitCode` and `signal` are what the kernel reported; `reason` is the supervisor's
/// reading of it (a SIGKILL after a missed watchdog reads "missed its watchdog deadline").
/// `onCrash` is set only on events that mean the child is down when it should not be.
public struct LifecycleEvent: Sendable, Equatable, Codable {
    public var kind: LifecycleKind
    /// `nil` for ``LifecycleKind/gaveUp``, which concerns the whole tree.
    public var child: ProcessIdentity?
    public var pid: Int32?
    public var reason: String?
    public var exitCode: Int32?
    public var signal: Int32?
    public var onCrash: CrashImpact?
    /// The child's restart count; for ``LifecycleKind/gaveUp`` and ``LifecycleKind/givenUp``
    /// the child's restarts within its period including the refused one.
    public var restarts: Int
    public var at: Timestamp
    /// Set on an `exited` event when the child announced `STOPPING=1` and then exited with code
    /// 0. True while astd itself was stopping the tree (systemd's or an operator's SIGTERM to
    /// astd): a stop on request, not paged as a crash. False when astd ran on: a signal nobody in
    /// AST requested (a stray `kill -TERM`), paged as a crash.
    public var stoppedOnRequest: Bool?

    public init(
        kind: LifecycleKind, child: ProcessIdentity?, pid: Int32? = nil, reason: String? = nil,
        exitCode: Int32? = nil, signal: Int32? = nil, onCrash: CrashImpact? = nil,
        restarts: Int = 0, at: Timestamp
    ) {
        self.kind = kind
        self.child = child
        self.pid = pid
        self.reason = reason
        self.exitCode = exitCode
        self.signal = signal
        self.onCrash = onCrash
        self.restarts = restarts
        self.at = at
    }

    enum CodingKeys: String, CodingKey {
        case kind, child, pid, reason, signal, restarts, at
        case exitCode = "exit_code"
        case onCrash = "on_crash"
        case stoppedOnRequest = "stopped_on_request"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(LifecycleKind.self, forKey: .kind)
        if let name = try c.decodeIfPresent(String.self, forKey: .child) {
            guard let id = ProcessIdentity(parsing: name) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .child, in: c, debugDescription: "child '\(name)' is not role@instance")
            }
            child = id
        } else {
            child = nil
        }
        pid = try c.decodeIfPresent(Int32.self, forKey: .pid)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        exitCode = try c.decodeIfPresent(Int32.self, forKey: .exitCode)
        signal = try c.decodeIfPresent(Int32.self, forKey: .signal)
        onCrash = try c.decodeIfPresent(CrashImpact.self, forKey: .onCrash)
        restarts = try c.decode(Int.self, forKey: .restarts)
        at = try c.decode(Timestamp.self, forKey: .at)
        stoppedOnRequest = try c.decodeIfPresent(Bool.self, forKey: .stoppedOnRequest)
    }

    /// The child is written as `role@instance`, like everywhere else in journals and logs.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(child?.description, forKey: .child)
        try c.encodeIfPresent(pid, forKey: .pid)
        try c.encodeIfPresent(reason, forKey: .reason)
        try c.encodeIfPresent(exitCode, forKey: .exitCode)
        try c.encodeIfPresent(signal, forKey: .signal)
        try c.encodeIfPresent(onCrash, forKey: .onCrash)
        try c.encode(restarts, forKey: .restarts)
        try c.encode(at, forKey: .at)
        try c.encodeIfPresent(stoppedOnRequest, forKey: .stoppedOnRequest)
    }
}
