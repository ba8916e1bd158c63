import ASTCore
import CoreMetrics
import Synchronization

/// The broker process's metrics (README, "Metrics"), counted from the execution reports it sends
/// the reconciler: orders submitted, fills (and shares filled), cancellations, rejections by reason.
enum BrokerMetrics {
    /// At most this many distinct rejection reasons get a label of their own; later ones are `OTHER`.
    static let maximumReasons = 20
    static let reasons = Mutex<Set<String>>([])

    static func reported(_ event: ExecutionEvent) {
        switch event {
        case .submitting: Counter(label: "ast_broker_orders_total").increment()
        case .fill(let f):
            Counter(label: "ast_broker_fills_total").increment()
            Counter(label: "ast_broker_filled_shares_total").increment(by: max(0, f.quantity.shares))
        case .cancelled: Counter(label: "ast_broker_cancellations_total").increment()
        case .rejected(_, let reason):
            Counter(label: "ast_broker_rejections_total", dimensions: [("reason", reasonLabel(reason))]).increment()
        default: break
        }
    }

    /// A rejection reason as a label value: the broker's text (outside input) cut to its leading
    /// code (upper-cased letters, digits and `_` up to the first other character, at most 40), and `OTHER` once
    /// ``maximumReasons`` distinct ones are in use, so that no broker text can grow the label set.
    static func reasonLabel(_ reason: String) -> String {
        let code = String(
            reason.uppercased().unicodeScalars.prefix { ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "_" }.prefix(40))
        guard !code.isEmpty else { return "OTHER" }
        return reasons.withLock { known in
            if known.contains(code) { return code }
            guard known.count < maximumReasons else { return "OTHER" }
            known.insert(code)
            return code
        }
    }
}
