import ASTCore
import ASTRisk

/// The `risk:` section: where ast-risk sends approved orders, and the limits of the risk gate.
public struct RiskConfig: ConfigSection, Equatable {
    /// The broker process (`role@instance`) that receives approved orders.
    public var broker: String
    public var limits: RiskLimits

    public init(broker: String, limits: RiskLimits) {
        self.broker = broker
        self.limits = limits
    }

    enum CodingKeys: String, CodingKey {
        case broker, limits
    }

    public func validate(_ v: inout ConfigValidator) {
        v.check(
            ProcessIdentity(parsing: broker)?.role == .broker, key: CodingKeys.broker,
            must: "name a broker process as broker@instance", got: broker)
        v.section(limits, key: CodingKeys.limits)
    }
}

extension RiskLimits: ConfigSection {
    public func validate(_ v: inout ConfigValidator) {
        for problem in problems {
            guard case .outOfRange(let key, let value, let range) = problem else { continue }
            v.check(false, key: ConfigKey(key), must: "be between \(range)", got: value)
        }
    }
}
