import ASTCore
import ASTMessages
import ASTWire
import Logging
import Synchronization

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
