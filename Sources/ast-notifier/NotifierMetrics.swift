import ASTNotify
import CoreMetrics
import Synchronization

/// The notifier's metrics (README, "Metrics"): the outbox's backlog (all alerts and P0 alone) after
/// every input, and each Telegram request's latency and outcome.
enum NotifierMetrics {
    /// When each message in flight was handed to the sender (by message id; at most 1,000 kept).
    static let started = Mutex<[String: ContinuousClock.Instant]>([:])

    static func backlog(_ status: OutboxStatus) {
        Gauge(label: "ast_notifier_pending_alerts").record(status.pending)
        Gauge(label: "ast_notifier_pending_p0_alerts").record(status.pendingP0)
        Gauge(label: "ast_notifier_abandoned_alerts").record(status.abandoned)
    }

    static func sending(_ id: String) {
        started.withLock { s in
            if s.count >= 1000 { s.removeAll() }
            s[id] = .now
        }
    }

    /// `ast_notifier_delivery_latency_seconds{outcome}` and `ast_notifier_deliveries_total{outcome}`.
    static func completed(_ id: String, _ outcome: DeliveryOutcome) {
        let label: String =
            switch outcome {
            case .delivered: "delivered"
            case .rateLimited: "rate_limited"
            case .transientFailure: "transient_failure"
            case .deliveryUnknown: "delivery_unknown"
            case .refused: "refused"
            }
        Counter(label: "ast_notifier_deliveries_total", dimensions: [("outcome", label)]).increment()
        if let start = started.withLock({ $0.removeValue(forKey: id) }) {
            Timer(label: "ast_notifier_delivery_latency_seconds", dimensions: [("outcome", label)]).recordInterval(since: start)
        }
    }
}

extension Timer {
    /// Records the time from `start` until now.
    func recordInterval(since start: ContinuousClock.Instant) {
        let d = ContinuousClock.now - start
        recordNanoseconds(d.components.seconds &* 1_000_000_000 &+ d.components.attoseconds / 1_000_000_000)
    }
}
