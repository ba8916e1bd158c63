import ASTCore
import ASTMessages
import ASTWire
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Decides which security refusals become alerts: at most one per peer pid (or, without one,
/// per code and endpoint) per ``window``, and at most ``maximumPerWindow`` in all per window,
/// so that a hostile peer that reconnects in a loop costs a bounded number of alerts.
public struct AlertRateLimit: Sendable, Equatable {
    public static let window: Duration = .seconds(60)
    public static let maximumPerWindow = 10
    var lastByKey: [String: Timestamp] = [:]
    var recent: [Timestamp] = []
    /// How many alerts were admitted in this process: the per-event part of their keys.
    public private(set) var admitted = 0

    public init() {}

    /// Whether an alert for `key` goes out at `now` (and records it when it does).
    public mutating func admit(key: String, now: Timestamp) -> Bool {
        recent.removeAll { now.duration(since: $0) >= Self.window }
        lastByKey = lastByKey.filter { now.duration(since: $0.value) < Self.window }
        guard lastByKey[key] == nil, recent.count < Self.maximumPerWindow else { return false }
        lastByKey[key] = now
        recent.append(now)
        admitted += 1
        return true
    }

    /// The rate-limit key of a refusal: the peer's pid when the detail names one.
    public static func key(_ refusal: Refusal, endpoint: String, peer: PeerInfo?) -> String {
        if let pid = peer?.pid { return "pid \(pid)" }
        if refusal.detail.hasPrefix("pid "), let pid = refusal.detail.dropFirst(4).split(separator: " ").first { return "pid \(pid)" }
        return "\(refusal.code.rawValue) \(endpoint)"
    }
}

/// Raises identity and forgery refusals (``RefusalCode/isSecurityViolation``) as P0 alerts to
/// the notifier, rate-limited by ``AlertRateLimit``. Without a notifier in the tree (or in the
/// notifier itself) the refusal is only logged and journaled by the endpoint.
public final class SecurityAlarm: Sendable {
    let client: BusClient?
    let runsClient: Bool
    let clock: any WallClock
    let logger: Logger
    let limit = Mutex(AlertRateLimit())

    /// - Parameters:
    ///   - client: a client towards the notifier.
    ///   - runsClient: whether ``run()`` keeps the client's connection (false when the client
    ///     is already run elsewhere, as astd's lifecycle client is).
    public init(client: BusClient?, runsClient: Bool = true, clock: any WallClock, logger: Logger) {
        self.client = client
        self.runsClient = runsClient
        self.clock = clock
        self.logger = logger
    }

    /// Keeps the connection to the notifier until cancelled.
    public func run() async {
        if let client, runsClient { await client.run() } else { while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) } }
    }

    /// Raises `refusal` (seen at `endpoint`) unless the rate limit holds it back.
    public func raise(_ refusal: Refusal, endpoint: String, peer: PeerInfo?) {
        let now = clock.now()
        let key = AlertRateLimit.key(refusal, endpoint: endpoint, peer: peer)
        let admitted: Int? = limit.withLock { $0.admit(key: key, now: now) ? $0.admitted : nil }
        guard let admitted, let client else { return }
        // Keyed by the alarm's count, never a clock reading (the envelope id, from the sender's
        // journaled outbox counter, keeps it unique across restarts at the notifier).
        let alert = Alert(
            priority: .p0, key: "security:\(refusal.code.rawValue):\(endpoint)#\(admitted)",
            title: "AST security: \(refusal.code.rawValue) at \(endpoint)",
            text: String((peer.map { "\($0): " } ?? "") + refusal.detail).prefix(500).description, at: now)
        // Off the caller's thread (an event loop): the send commits to the journal.
        let logger = self.logger
        Task.detached {
            do { try client.send(.alert(alert), correlationID: alert.key) } catch {
                logger.error("security alert not sent: \(error)")
            }
        }
    }
}

/// Tells a stale connection from an impostor. An endpoint's listening socket outlives the worker
/// that serves it (astd, or systemd, holds it across restarts), so a connection a worker made
/// while its peer was down waits in the backlog with its hello, and is accepted only after that
/// worker was killed and astd runs the identity under a new pid. Its kernel pid (`SO_PEERCRED`,
/// taken at `connect`) then no longer matches the table. Such a connection is still refused, but
/// it is no attack: the process that made it has exited and can do nothing more. A refusal is
/// stale only when the pid has exited (or is a zombie); a live process passing for another
/// identity, or a pid reused by one, is alarmed.
public enum StaleIdentityClaim {
    /// Whether `refusal`, of a connection from kernel pid `pid`, came from a process that exited.
    public static func isStale(_ refusal: Refusal, pid: Int32?) -> Bool {
        guard refusal.code == .pidMismatch || refusal.code == .identityNotSpawned, let pid, pid > 0 else { return false }
        return hasExited(pid)
    }

    /// Whether no process `pid` runs now: none exists, or it is a zombie waiting to be reaped.
    public static func hasExited(_ pid: Int32) -> Bool {
        if kill(pid, 0) != 0 { return errno == ESRCH }
        guard let file = fopen("/proc/\(pid)/stat", "r") else { return false }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 512)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return false }
        let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // "pid (comm) S ...": the state follows the last ')' (comm may hold one itself).
        guard let close = line.lastIndex(of: ")") else { return false }
        let state = line[line.index(after: close)...].drop { $0 == " " }.first
        return state == "Z" || state == "X"
    }
}
