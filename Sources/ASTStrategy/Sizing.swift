import ASTCore
import ASTMessages

/// How a position's share count is chosen.
public enum SizingMethod: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Risk a fixed percentage of equity between entry and stop: shares = equity × risk % / (entry − stop).
    case fixedFractionalRisk = "fixed_fractional_risk"
    /// Put a fixed percentage of equity in the position: shares = equity × position % / entry.
    case fixedPercent = "fixed_percent"
    /// Scale by volatility so that a one-ATR move is a fixed percentage of equity:
    /// shares = equity × target % / ATR (the position's notional is equity × target % / ATR %).
    case volatilityScaled = "volatility_scaled"
    /// Fixed fractional risk scaled by the candidate's quality: the detector's metric named
    /// `quality_metric` mapped linearly from [`quality_low`, `quality_high`] onto
    /// [`min_multiplier`, `max_multiplier`] (clamped at both ends); the risk is
    /// risk % × multiplier, rounded down to 1/10,000 of a percent.
    case qualityScaled = "quality_scaled"
    /// Fixed fractional risk scaled by the account's state (``AllocationContext``): the risk %
    /// shrinks linearly with the drawdown from the peak (none left at `drawdown_limit_pct`), and
    /// the notional is capped at the exposure room (`max_exposure_pct` of equity less what is held
    /// and committed) shared equally by the free slots (`max_positions` less positions, working
    /// entries and this scan's intents).
    case adaptive

    public var description: String { rawValue }
}

/// The account a scan sizes for (`strategy.sizing.margin`).
public enum AccountMargin: String, Sendable, Codable, CaseIterable {
    /// No borrowing.
    case cash
    /// Reg T style margin (``MarginRequirements``).
    case regt
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
    /// (long-only; a `regt` account's buying power instead of its cash).
    public var capToCash: Bool = true
    /// For `quality_scaled`: the candidate metric (``Candidate/metrics``) that measures quality.
    public var qualityMetric: String = ""
    /// For `quality_scaled`: the metric value that gets `min_multiplier` ...
    public var qualityLow: Double = 0
    /// ... and the value that gets `max_multiplier` (above `quality_low`).
    public var qualityHigh: Double = 1
    /// For `quality_scaled`: the multipliers of `risk_pct` at the low and the high end.
    public var minMultiplier: Double = 0.5
    public var maxMultiplier: Double = 1.5
    /// For `adaptive`: the drawdown from the peak (percent) at which no new risk is taken.
    public var drawdownLimitPct: Percent = 10
    /// For `adaptive`: the most equity held in positions and working entries (percent).
    public var maxExposurePct: Percent = 100
    /// For `adaptive`: the most positions and working entries at once.
    public var maxPositions: Int = 10
    /// The account the scan sizes for: `cash` (no borrowing: the cash caps every entry) or
    /// `regt` (margin: the buying power caps them, and the engine applies maintenance).
    public var margin: AccountMargin = .cash
    /// For `regt`: the initial requirement (percent of a purchase's value; 50 is Reg T) ...
    public var initialMarginPct: Percent = 50
    /// ... and the maintenance requirement (percent of the positions' value; 25 is FINRA's minimum).
    public var maintenanceMarginPct: Percent = 25

    public init() {}

    /// The margin requirements of a `regt` account; nil for a cash account.
    public var marginRequirements: MarginRequirements? {
        guard margin == .regt else { return nil }
        return MarginRequirements(
            initialBps: initialMarginPct.units * 100 / Percent.unitsPerWhole,
            maintenanceBps: maintenanceMarginPct.units * 100 / Percent.unitsPerWhole)
    }

    /// What the scan may spend on entries: the cash, or a `regt` account's buying power
    /// (equity / initial − the positions' value at their marks, `exposure`).
    public func spendable(cash: Money, equity: Money, exposure: Money) -> Money {
        guard let m = marginRequirements else { return cash }
        return Money(units: Int64(clamping: m.buyingPower(equity: Int128(equity.units), positionsValue: Int128(exposure.units))))
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case method
        case riskPct = "risk_pct"
        case positionPct = "position_pct"
        case targetVolatilityPct = "target_volatility_pct"
        case maxPositionPct = "max_position_pct"
        case capToCash = "cap_to_cash"
        case qualityMetric = "quality_metric"
        case qualityLow = "quality_low"
        case qualityHigh = "quality_high"
        case minMultiplier = "min_multiplier"
        case maxMultiplier = "max_multiplier"
        case drawdownLimitPct = "drawdown_limit_pct"
        case maxExposurePct = "max_exposure_pct"
        case maxPositions = "max_positions"
        case margin
        case initialMarginPct = "initial_margin_pct"
        case maintenanceMarginPct = "maintenance_margin_pct"
    }

    public init(from decoder: any Decoder) throws {
        try self.init(from: decoder, over: SizingConfig(), section: "strategy.sizing")
    }

    /// Decodes the keys present over `d` (a regime overlay's sizing over the base's).
    init(from decoder: any Decoder, over d: SizingConfig, section: String) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self, section: section)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        method = try c.value(.method, default: d.method)
        riskPct = try c.value(.riskPct, default: d.riskPct)
        positionPct = try c.value(.positionPct, default: d.positionPct)
        targetVolatilityPct = try c.value(.targetVolatilityPct, default: d.targetVolatilityPct)
        maxPositionPct = c.contains(.maxPositionPct) ? try c.decodeIfPresent(Percent.self, forKey: .maxPositionPct) : d.maxPositionPct
        capToCash = try c.value(.capToCash, default: d.capToCash)
        qualityMetric = try c.value(.qualityMetric, default: d.qualityMetric)
        qualityLow = try c.value(.qualityLow, default: d.qualityLow)
        qualityHigh = try c.value(.qualityHigh, default: d.qualityHigh)
        minMultiplier = try c.value(.minMultiplier, default: d.minMultiplier)
        maxMultiplier = try c.value(.maxMultiplier, default: d.maxMultiplier)
        drawdownLimitPct = try c.value(.drawdownLimitPct, default: d.drawdownLimitPct)
        maxExposurePct = try c.value(.maxExposurePct, default: d.maxExposurePct)
        maxPositions = try c.value(.maxPositions, default: d.maxPositions)
        margin = try c.value(.margin, default: d.margin)
        initialMarginPct = try c.value(.initialMarginPct, default: d.initialMarginPct)
        maintenanceMarginPct = try c.value(.maintenanceMarginPct, default: d.maintenanceMarginPct)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(method, forKey: .method)
        try c.encode(riskPct, forKey: .riskPct)
        try c.encode(positionPct, forKey: .positionPct)
        try c.encode(targetVolatilityPct, forKey: .targetVolatilityPct)
        try c.encode(maxPositionPct, forKey: .maxPositionPct)
        try c.encode(capToCash, forKey: .capToCash)
        // The newer keys only when set: a configuration without them encodes as before.
        let d = SizingConfig()
        if qualityMetric != d.qualityMetric { try c.encode(qualityMetric, forKey: .qualityMetric) }
        if qualityLow != d.qualityLow { try c.encode(qualityLow, forKey: .qualityLow) }
        if qualityHigh != d.qualityHigh { try c.encode(qualityHigh, forKey: .qualityHigh) }
        if minMultiplier != d.minMultiplier { try c.encode(minMultiplier, forKey: .minMultiplier) }
        if maxMultiplier != d.maxMultiplier { try c.encode(maxMultiplier, forKey: .maxMultiplier) }
        if drawdownLimitPct != d.drawdownLimitPct { try c.encode(drawdownLimitPct, forKey: .drawdownLimitPct) }
        if maxExposurePct != d.maxExposurePct { try c.encode(maxExposurePct, forKey: .maxExposurePct) }
        if maxPositions != d.maxPositions { try c.encode(maxPositions, forKey: .maxPositions) }
        if margin != d.margin { try c.encode(margin, forKey: .margin) }
        if initialMarginPct != d.initialMarginPct { try c.encode(initialMarginPct, forKey: .initialMarginPct) }
        if maintenanceMarginPct != d.maintenanceMarginPct { try c.encode(maintenanceMarginPct, forKey: .maintenanceMarginPct) }
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
        check("drawdown_limit_pct", drawdownLimitPct, max: 100)
        check("max_exposure_pct", maxExposurePct, max: 100)
        check("initial_margin_pct", initialMarginPct, max: 100)
        check("maintenance_margin_pct", maintenanceMarginPct, max: 100)
        if margin == .regt, maintenanceMarginPct > initialMarginPct {
            p.append(
                "strategy.sizing.maintenance_margin_pct must not exceed initial_margin_pct (got \(maintenanceMarginPct) and \(initialMarginPct))"
            )
        }
        if !(1...10_000).contains(maxPositions) {
            p.append("strategy.sizing.max_positions must be between 1 and 10000 (got \(maxPositions))")
        }
        if !(qualityLow.isFinite && qualityHigh.isFinite && qualityLow < qualityHigh) {
            p.append("strategy.sizing.quality_low must be below quality_high, both finite (got \(qualityLow) and \(qualityHigh))")
        }
        if !(minMultiplier.isFinite && maxMultiplier.isFinite && minMultiplier > 0 && minMultiplier <= maxMultiplier && maxMultiplier <= 5)
        {
            p.append(
                "strategy.sizing.min_multiplier and max_multiplier must satisfy 0 < min ≤ max ≤ 5 (got \(minMultiplier) and \(maxMultiplier))"
            )
        }
        if method == .qualityScaled, maxMultiplier.isFinite, Double(riskPct.units) * maxMultiplier > 10 * Double(Percent.unitsPerWhole) {
            p.append("strategy.sizing.risk_pct × max_multiplier must be at most 10 (got \(riskPct) × \(maxMultiplier))")
        }
        if method == .qualityScaled && qualityMetric.isEmpty {
            p.append("strategy.sizing.quality_metric must name a candidate metric for quality_scaled sizing (e.g. range_pct)")
        }
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
    /// Which caps bound the count (`allocation`, `max_position_pct`, `cash`), in that order.
    public var cappedBy: [String]
    public var explanation: String
    /// Quality-scaled and adaptive sizing: the multiplier applied to `risk_pct` ...
    public var multiplier: Double? = nil
    /// ... and the risk percentage it gave (rounded down to 1/10,000 of a percent).
    public var effectiveRiskPct: Percent? = nil
    /// Adaptive sizing: the notional one free slot may take.
    public var allocation: Money? = nil

    enum CodingKeys: String, CodingKey {
        case symbol, method, equity, entry, atr, budget, shares, notional, explanation, multiplier, allocation
        case effectiveRiskPct = "effective_risk_pct"
        case availableCash = "available_cash"
        case stopLoss = "stop_loss"
        case perShareRisk = "per_share_risk"
        case rawShares = "raw_shares"
        case cappedBy = "capped_by"
    }
}

/// The account as adaptive sizing sees it at the scan: derived from the scan's
/// ``PortfolioSnapshot`` (the same input in the tree and in the engine), then advanced by the
/// strategy engine as each intent of the scan commits its notional and takes a slot.
public struct AllocationContext: Sendable, Equatable {
    public var equity: Money
    /// The highest equity so far (the drawdown's reference).
    public var peakEquity: Money
    /// Held positions at their last marks (|quantity| × mark, summed); saturated to the largest
    /// amount if it does not fit, so that an absurd book leaves no room (fail closed).
    public var exposure: Money
    /// Symbols held (non-zero quantity).
    public var openPositions: Int
    /// Working entry orders at the broker.
    public var openOrders: Int
    /// What this scan's earlier intents committed, and how many there were.
    public var committed: Money = .zero
    public var intentsMade: Int = 0

    public init(equity: Money, peakEquity: Money, exposure: Money, openPositions: Int, openOrders: Int) {
        self.equity = equity
        self.peakEquity = peakEquity
        self.exposure = exposure
        self.openPositions = openPositions
        self.openOrders = openOrders
    }

    public init(portfolio: PortfolioSnapshot) {
        var total = Money.zero
        var held = 0
        for (_, p) in portfolio.positions where !p.quantity.isZero {
            held += 1
            let magnitude = Quantity(p.quantity.shares == Int64.min ? Int64.max : abs(p.quantity.shares))
            guard let value = try? p.lastMark.notional(magnitude), value >= .zero else {
                total = Money(units: Int64.max)
                break
            }
            let (sum, overflow) = total.units.addingReportingOverflow(value.units)
            total = Money(units: overflow ? Int64.max : sum)
            if overflow { break }
        }
        self.init(
            equity: portfolio.equity, peakEquity: portfolio.peakEquity, exposure: total, openPositions: held,
            openOrders: max(portfolio.openOrders, 0))
    }

    /// Records an intent of the scan: its notional is committed and it takes a slot.
    public mutating func commit(_ notional: Money) {
        let (sum, overflow) = committed.units.addingReportingOverflow(notional.units)
        committed = Money(units: overflow ? Int64.max : sum)
        intentsMade += 1
    }
}

/// Chooses a share count for a long entry: fixed fractional risk, fixed percent, volatility
/// scaled, quality scaled or adaptive, then capped by the largest position and by the cash still
/// available, and always rounded down to whole shares. All money arithmetic is exact (``Money``,
/// ``Price``); the multipliers of quality-scaled and adaptive sizing are `Double`s applied once to
/// the risk percentage, which is then rounded down to 1/10,000 of a percent.
public struct PositionSizer: Sendable {
    public let config: SizingConfig
    public init(config: SizingConfig) { self.config = config }

    /// The sizing for `symbol`; `atr` is required for volatility-scaled sizing, the candidate's
    /// `metrics` for quality-scaled sizing and `allocation` for adaptive sizing. A result with
    /// zero ``SizingDetail/shares`` means no intent, and its explanation says why.
    public func size(
        symbol: Symbol, entry: Price, stopLoss: Price, atr: Double?, equity: Money, availableCash: Money,
        metrics: [Metric] = [], allocation: AllocationContext? = nil
    ) -> SizingDetail {
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
        /// risk_pct × m, rounded down to 1/10,000 of a percent.
        func scaledRisk(_ m: Double) -> Percent {
            Percent(units: Int64((Double(config.riskPct.units) * m).rounded(.down)))
        }
        guard entry.isPositive else { return zero("entry \(entry) is not positive") }
        guard equity.isPositive else { return zero("equity \(equity) is not positive") }
        do {
            var what: String
            var slotCap: Money?
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
            case .qualityScaled:
                guard perShare.isPositive else { return zero("per-share risk \(perShare) (entry − stop) is not positive") }
                let name = config.qualityMetric
                guard let q = metrics.first(where: { $0.name == name })?.value, q.isFinite else {
                    return zero("quality-scaled sizing: the candidate has no metric '\(name)'")
                }
                let low = config.qualityLow, high = config.qualityHigh
                let t = min(max((q - low) / (high - low), 0), 1)
                let m = config.minMultiplier + (config.maxMultiplier - config.minMultiplier) * t
                let pct = scaledRisk(m)
                d.multiplier = m
                d.effectiveRiskPct = pct
                d.budget = try equity.percent(pct)
                d.rawShares = try d.budget.shares(at: perShare)
                what =
                    "quality \(name) \(f(q)) in [\(f(low)), \(f(high))] -> multiplier \(f(m)) in [\(f(config.minMultiplier)), "
                    + "\(f(config.maxMultiplier))]; risk \(config.riskPct)% × \(f(m)) = \(pct)% of \(equity) = \(d.budget) "
                    + "/ per-share risk \(perShare)"
            case .adaptive:
                guard perShare.isPositive else { return zero("per-share risk \(perShare) (entry − stop) is not positive") }
                guard let a = allocation else { return zero("adaptive sizing needs the account's allocation context") }
                guard a.peakEquity.isPositive else { return zero("adaptive sizing: peak equity \(a.peakEquity) is not positive") }
                // Drawdown from the peak, in units of 1/10,000 of a percent (0 at or above the peak).
                let drawdown = try max(a.peakEquity - equity, .zero).ratio(to: a.peakEquity)
                let limit = config.drawdownLimitPct
                guard drawdown < limit else {
                    return zero(
                        "adaptive sizing: drawdown \(drawdown)% from the peak \(a.peakEquity) is at or beyond \(limit)%: no new risk")
                }
                let slots = config.maxPositions - a.openPositions - a.openOrders - a.intentsMade
                guard slots > 0 else {
                    return zero(
                        "adaptive sizing: no free slot (max_positions \(config.maxPositions), \(a.openPositions) held, "
                            + "\(a.openOrders) working, \(a.intentsMade) in this scan)")
                }
                let ceiling = try equity.percent(config.maxExposurePct)
                let used = a.exposure.units.addingReportingOverflow(a.committed.units)
                let room = used.overflow ? Money.zero : max(ceiling - Money(units: used.partialValue), .zero)
                guard room.isPositive else {
                    return zero(
                        "adaptive sizing: no exposure room (max_exposure_pct \(config.maxExposurePct)% of \(equity) = \(ceiling), "
                            + "held \(a.exposure), committed \(a.committed))")
                }
                let perSlot = Money(units: room.units / Int64(slots))
                let m = 1 - Double(drawdown.units) / Double(limit.units)
                let pct = scaledRisk(m)
                d.multiplier = m
                d.effectiveRiskPct = pct
                d.allocation = perSlot
                d.budget = try equity.percent(pct)
                d.rawShares = try d.budget.shares(at: perShare)
                slotCap = perSlot
                what =
                    "drawdown \(drawdown)% of \(limit)% -> multiplier \(f(m)); risk \(config.riskPct)% × \(f(m)) = \(pct)% of \(equity) "
                    + "= \(d.budget) / per-share risk \(perShare); room \(room) / \(slots) free slots = \(perSlot) a slot"
            }
            var shares = d.rawShares
            if let slotCap {
                let cap = try slotCap.shares(at: entry)
                if cap < shares {
                    shares = cap
                    d.cappedBy.append("allocation")
                }
            }
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
