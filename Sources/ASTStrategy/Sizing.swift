import ASTCore

/// How a position's share count is chosen.
public enum SizingMethod: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Risk a fixed percentage of equity between entry and stop: shares = equity × risk % / (entry − stop).
    case fixedFractionalRisk = "fixed_fractional_risk"
    /// Put a fixed percentage of equity in the position: shares = equity × position % / entry.
    case fixedPercent = "fixed_percent"
    /// Scale by volatility so that a one-ATR move is a fixed percentage of equity:
    /// shares = equity × target % / ATR (the position's notional is equity × target % / ATR %).
    case volatilityScaled = "volatility_scaled"

    public var description: String { rawValue }
}

/// The position sizer's settings. Codable with snake_case keys; percentages are numbers (`1`,
/// `0.5`) with at most four decimals.
public struct SizingConfig: Sendable, Equatable, Codable {
    public var method: SizingMethod = .fixedFractionalRisk
    /// For `fixed_fractional_risk`: equity at risk per trade.
    public var riskPct: Percent = 1
    /// For `fixed_percent`: equity per position.
    public var positionPct: Percent = 10
    /// For `volatility_scaled`: equity one ATR move of the position is worth.
    public var targetVolatilityPct: Percent = Percent("0.5")!
    /// Cap on any position's notional as a percentage of equity; `nil` for none.
    public var maxPositionPct: Percent? = 20
    /// Cap the notional at the cash not yet committed by earlier intents of the same scan
    /// (long-only, no margin).
    public var capToCash: Bool = true

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case method
        case riskPct = "risk_pct"
        case positionPct = "position_pct"
        case targetVolatilityPct = "target_volatility_pct"
        case maxPositionPct = "max_position_pct"
        case capToCash = "cap_to_cash"
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self, section: "strategy.sizing")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SizingConfig()
        method = try c.value(.method, default: d.method)
        riskPct = try c.value(.riskPct, default: d.riskPct)
        positionPct = try c.value(.positionPct, default: d.positionPct)
        targetVolatilityPct = try c.value(.targetVolatilityPct, default: d.targetVolatilityPct)
        maxPositionPct = c.contains(.maxPositionPct) ? try c.decodeIfPresent(Percent.self, forKey: .maxPositionPct) : d.maxPositionPct
        capToCash = try c.value(.capToCash, default: d.capToCash)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(method, forKey: .method)
        try c.encode(riskPct, forKey: .riskPct)
        try c.encode(positionPct, forKey: .positionPct)
        try c.encode(targetVolatilityPct, forKey: .targetVolatilityPct)
        try c.encode(maxPositionPct, forKey: .maxPositionPct)
        try c.encode(capToCash, forKey: .capToCash)
    }

    /// What is wrong with the values; empty when valid.
    public func problems() -> [String] {
        var p: [String] = []
        func check(_ key: String, _ v: Percent, max: Percent) {
            if !(v.isPositiveValue && v <= max) { p.append("strategy.sizing.\(key) must be above 0 and at most \(max) (got \(v))") }
        }
        check("risk_pct", riskPct, max: 10)
        check("position_pct", positionPct, max: 100)
        check("target_volatility_pct", targetVolatilityPct, max: 10)
        if let maxPositionPct { check("max_position_pct", maxPositionPct, max: 100) }
        return p
    }
}

extension Percent {
    fileprivate var isPositiveValue: Bool { units > 0 }
}

/// How one intent's quantity was reached: the inputs, the raw count, the caps and the result.
public struct SizingDetail: Sendable, Equatable, Codable {
    public var symbol: Symbol
    public var method: SizingMethod
    public var equity: Money
    /// Cash not yet committed by earlier intents of the scan.
    public var availableCash: Money
    public var entry: Price
    public var stopLoss: Price
    /// entry − stop.
    public var perShareRisk: Price
    /// ATR rounded up to 1/10,000 of a dollar (volatility-scaled sizing only).
    public var atr: Price?
    /// What the method's budget allows: a budget in money ...
    public var budget: Money
    /// ... and the whole shares it buys before the caps.
    public var rawShares: Quantity
    /// The final whole shares (0: no intent).
    public var shares: Quantity
    /// shares × entry.
    public var notional: Money
    /// Which caps bound the count (`max_position_pct`, `cash`), in that order.
    public var cappedBy: [String]
    public var explanation: String

    enum CodingKeys: String, CodingKey {
        case symbol, method, equity, entry, atr, budget, shares, notional, explanation
        case availableCash = "available_cash"
        case stopLoss = "stop_loss"
        case perShareRisk = "per_share_risk"
        case rawShares = "raw_shares"
        case cappedBy = "capped_by"
    }
}

/// Chooses a share count for a long entry: fixed fractional risk, fixed percent or volatility
/// scaled, then capped by the largest position and by the cash still available, and always
/// rounded down to whole shares. All arithmetic is exact (``Money``, ``Price``).
public struct PositionSizer: Sendable {
    public let config: SizingConfig
    public init(config: SizingConfig) { self.config = config }

    /// The sizing for `symbol`; `atr` is required for volatility-scaled sizing. A result with zero
    /// ``SizingDetail/shares`` means no intent, and its explanation says why.
    public func size(symbol: Symbol, entry: Price, stopLoss: Price, atr: Double?, equity: Money, availableCash: Money) -> SizingDetail {
        let perShare = entry - stopLoss
        var d = SizingDetail(
            symbol: symbol, method: config.method, equity: equity, availableCash: availableCash, entry: entry,
            stopLoss: stopLoss, perShareRisk: perShare, atr: nil, budget: .zero, rawShares: .zero, shares: .zero,
            notional: .zero, cappedBy: [], explanation: "")
        func zero(_ why: String) -> SizingDetail {
            d.shares = .zero
            d.notional = .zero
            d.explanation = why
            return d
        }
        guard entry.isPositive else { return zero("entry \(entry) is not positive") }
        guard equity.isPositive else { return zero("equity \(equity) is not positive") }
        do {
            let what: String
            switch config.method {
            case .fixedFractionalRisk:
                guard perShare.isPositive else { return zero("per-share risk \(perShare) (entry − stop) is not positive") }
                d.budget = try equity.percent(config.riskPct)
                d.rawShares = try d.budget.shares(at: perShare)
                what = "risk \(config.riskPct)% of \(equity) = \(d.budget) / per-share risk \(perShare)"
            case .fixedPercent:
                d.budget = try equity.percent(config.positionPct)
                d.rawShares = try d.budget.shares(at: entry)
                what = "\(config.positionPct)% of \(equity) = \(d.budget) / entry \(entry)"
            case .volatilityScaled:
                guard let atr, atr.isFinite, atr > 0, atr < 1e9 else { return zero("volatility-scaled sizing needs a positive ATR") }
                let atrPrice = Price(units: Int64((atr * Double(Price.unitsPerDollar)).rounded(.up)))
                d.atr = atrPrice
                d.budget = try equity.percent(config.targetVolatilityPct)
                d.rawShares = try d.budget.shares(at: atrPrice)
                what = "target volatility \(config.targetVolatilityPct)% of \(equity) = \(d.budget) / ATR \(atrPrice)"
            }
            var shares = d.rawShares
            if let maxPct = config.maxPositionPct {
                let cap = try equity.percent(maxPct).shares(at: entry)
                if cap < shares {
                    shares = cap
                    d.cappedBy.append("max_position_pct")
                }
            }
            if config.capToCash {
                let cap = try max(availableCash, .zero).shares(at: entry)
                if cap < shares {
                    shares = cap
                    d.cappedBy.append("cash")
                }
            }
            d.shares = max(shares, .zero)
            d.notional = try entry.notional(d.shares)
            let caps = d.cappedBy.isEmpty ? "" : ", capped by \(d.cappedBy.joined(separator: " and ")) (cash available \(availableCash))"
            d.explanation =
                d.shares.isZero
                ? "\(what) gives \(d.rawShares) shares\(caps): less than one whole share"
                : "\(what) = \(d.rawShares) shares\(caps) -> \(d.shares) shares, notional \(d.notional)"
        } catch {
            return zero("sizing does not fit exact arithmetic: \(error)")
        }
        return d
    }
}
