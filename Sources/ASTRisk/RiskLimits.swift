import ASTCore

/// The risk gate's limits, one per rule, as the `risk:` section of `etc/ast.yaml` spells them
/// (snake_case keys; a missing key takes its value from ``cautiousDefaults``).
///
/// Every limit is inclusive: a value equal to the limit is allowed, one above it is not.
/// Percentages are exact (``Percent``) and are compared without rounding. Limits on the size
/// of an entry apply to entries only (orders that open, increase or flip a position); an order
/// that only reduces a position is never held back by them.
public struct RiskLimits: Sendable, Equatable, Codable {
    /// `max_gross_leverage_pct`: gross exposure (the sum over symbols of |shares| x mark,
    /// approved-but-unreported orders included) as a percentage of equity; `100` is a leverage
    /// of 1.0, no margin. Above it an entry is downgraded (or blocked, `MAX_LEVERAGE`); an
    /// existing book above it moves ACTIVE to SAFE_REDUCING.
    public var maxGrossLeveragePct: Percent
    /// `max_drawdown_pct`: the fall of equity from peak equity, as a percentage of the peak.
    /// Above it ACTIVE moves to SAFE_REDUCING; an entry whose loss at its stop would take the
    /// drawdown above it is downgraded or blocked (`MAX_DRAWDOWN`).
    public var maxDrawdownPct: Percent
    /// `daily_loss_limit_pct`: the fall of equity from start-of-day equity, as a percentage of
    /// it. Above it ACTIVE moves to SAFE_REDUCING; an entry whose loss at its stop would take
    /// the day's loss above it is downgraded or blocked (`DAILY_LOSS_LIMIT`). An entry without a
    /// stop (only possible with ``requireProtectiveStop`` off) counts its whole notional as risk.
    public var dailyLossLimitPct: Percent
    /// `max_symbol_concentration_pct`: one symbol's |shares| x mark as a percentage of equity.
    /// Entries are downgraded or blocked (`MAX_CONCENTRATION`); an existing position above it
    /// moves ACTIVE to SAFE_REDUCING.
    public var maxSymbolConcentrationPct: Percent
    /// `max_sector_concentration_pct`: the exposure of all symbols of one sector as a
    /// percentage of equity (`MAX_SECTOR_CONCENTRATION`, downgrade or block; above it in the
    /// book, SAFE_REDUCING). While a sector involved is unknown, entries are
    /// blocked as REFERENCE_DATA_MISSING (never computed with an "unknown" sector).
    public var maxSectorConcentrationPct: Percent
    /// `max_order_notional_pct`: one entry's quantity x price (the limit price, or the last
    /// mark for a market order) as a percentage of equity. Larger entries are downgraded to the
    /// largest whole number of shares within it, or blocked (`NOTIONAL_EXCEEDS_MAX_PER_ORDER`).
    public var maxOrderNotionalPct: Percent
    /// `max_open_positions`: positions plus working entry orders (from the snapshot) plus
    /// entries approved since it. An entry in a symbol with no position is blocked at the limit
    /// (`MAX_OPEN_POSITIONS`); adding to a held symbol is not counted again.
    public var maxOpenPositions: Int
    /// `max_orders_per_window`: approvals (approve or downgrade, entries and exits) within
    /// the rolling window; the next one is blocked (`RATE_LIMIT_EXCEEDED`). A brake on a
    /// runaway strategy loop.
    public var maxOrdersPerWindow: Int
    /// `order_rate_window_seconds`: the length of that window; an approval exactly this long
    /// ago no longer counts.
    public var orderRateWindowSeconds: Int64
    /// `price_band_pct`: how far a limit price may be from the symbol's last mark, as a
    /// percentage of the mark (`PRICE_OUT_OF_BAND`, block): a fat-finger guard.
    public var priceBandPct: Percent
    /// `max_mark_age_seconds`: the oldest last mark an order may be priced against; older is
    /// `STALE_MARKET_DATA`, none at all is `NO_MARKET_DATA` (block). The default, 300 s, suits
    /// intraday quotes; a setup that trades daily bars against the previous close, or runs on a
    /// simulated clock, must raise it to cover the gap to the last bar (345600 s spans a
    /// weekend with a holiday).
    public var maxMarkAgeSeconds: Int64
    /// `require_protective_stop`: every entry carries a stop loss (`MISSING_PROTECTIVE_STOP`,
    /// block). Orders that only reduce a position need none.
    public var requireProtectiveStop: Bool
    /// `resume_requires_clean_reconciliation`: `astctl resume` out of HALTED is refused until a
    /// clean reconciliation has been recorded since the halt (since the latest critical failure,
    /// and since the start of ast-risk when it came back HALTED). Leave it on in production;
    /// it exists for setups without a reconciler, where resume then requires only the brokers
    /// to be up and connected.
    public var resumeRequiresCleanReconciliation: Bool

    public init(
        maxGrossLeveragePct: Percent = 100,
        maxDrawdownPct: Percent = 10,
        dailyLossLimitPct: Percent = 2,
        maxSymbolConcentrationPct: Percent = 10,
        maxSectorConcentrationPct: Percent = 30,
        maxOrderNotionalPct: Percent = 5,
        maxOpenPositions: Int = 10,
        maxOrdersPerWindow: Int = 10,
        orderRateWindowSeconds: Int64 = 60,
        priceBandPct: Percent = 5,
        maxMarkAgeSeconds: Int64 = 300,
        requireProtectiveStop: Bool = true,
        resumeRequiresCleanReconciliation: Bool = true
    ) {
        self.maxGrossLeveragePct = maxGrossLeveragePct
        self.maxDrawdownPct = maxDrawdownPct
        self.dailyLossLimitPct = dailyLossLimitPct
        self.maxSymbolConcentrationPct = maxSymbolConcentrationPct
        self.maxSectorConcentrationPct = maxSectorConcentrationPct
        self.maxOrderNotionalPct = maxOrderNotionalPct
        self.maxOpenPositions = maxOpenPositions
        self.maxOrdersPerWindow = maxOrdersPerWindow
        self.orderRateWindowSeconds = orderRateWindowSeconds
        self.priceBandPct = priceBandPct
        self.maxMarkAgeSeconds = maxMarkAgeSeconds
        self.requireProtectiveStop = requireProtectiveStop
        self.resumeRequiresCleanReconciliation = resumeRequiresCleanReconciliation
    }

    /// What a careful user starts with: no leverage, 10 % drawdown, 2 % daily loss, 10 % per
    /// symbol, 30 % per sector, 5 % per order, 10 positions, 10 orders a minute, a 5 % price
    /// band, marks at most 5 minutes old, a stop on every entry, and resume only after a clean
    /// reconciliation.
    public static let cautiousDefaults = RiskLimits()

    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxGrossLeveragePct = "max_gross_leverage_pct"
        case maxDrawdownPct = "max_drawdown_pct"
        case dailyLossLimitPct = "daily_loss_limit_pct"
        case maxSymbolConcentrationPct = "max_symbol_concentration_pct"
        case maxSectorConcentrationPct = "max_sector_concentration_pct"
        case maxOrderNotionalPct = "max_order_notional_pct"
        case maxOpenPositions = "max_open_positions"
        case maxOrdersPerWindow = "max_orders_per_window"
        case orderRateWindowSeconds = "order_rate_window_seconds"
        case priceBandPct = "price_band_pct"
        case maxMarkAgeSeconds = "max_mark_age_seconds"
        case requireProtectiveStop = "require_protective_stop"
        case resumeRequiresCleanReconciliation = "resume_requires_clean_reconciliation"
    }

    /// Missing keys take the cautious default; present ones must decode.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = RiskLimits.cautiousDefaults
        maxGrossLeveragePct = try c.decodeIfPresent(Percent.self, forKey: .maxGrossLeveragePct) ?? d.maxGrossLeveragePct
        maxDrawdownPct = try c.decodeIfPresent(Percent.self, forKey: .maxDrawdownPct) ?? d.maxDrawdownPct
        dailyLossLimitPct = try c.decodeIfPresent(Percent.self, forKey: .dailyLossLimitPct) ?? d.dailyLossLimitPct
        maxSymbolConcentrationPct =
            try c.decodeIfPresent(Percent.self, forKey: .maxSymbolConcentrationPct) ?? d.maxSymbolConcentrationPct
        maxSectorConcentrationPct =
            try c.decodeIfPresent(Percent.self, forKey: .maxSectorConcentrationPct) ?? d.maxSectorConcentrationPct
        maxOrderNotionalPct = try c.decodeIfPresent(Percent.self, forKey: .maxOrderNotionalPct) ?? d.maxOrderNotionalPct
        maxOpenPositions = try c.decodeIfPresent(Int.self, forKey: .maxOpenPositions) ?? d.maxOpenPositions
        maxOrdersPerWindow = try c.decodeIfPresent(Int.self, forKey: .maxOrdersPerWindow) ?? d.maxOrdersPerWindow
        orderRateWindowSeconds =
            try c.decodeIfPresent(Int64.self, forKey: .orderRateWindowSeconds) ?? d.orderRateWindowSeconds
        priceBandPct = try c.decodeIfPresent(Percent.self, forKey: .priceBandPct) ?? d.priceBandPct
        maxMarkAgeSeconds = try c.decodeIfPresent(Int64.self, forKey: .maxMarkAgeSeconds) ?? d.maxMarkAgeSeconds
        requireProtectiveStop = try c.decodeIfPresent(Bool.self, forKey: .requireProtectiveStop) ?? d.requireProtectiveStop
        resumeRequiresCleanReconciliation =
            try c.decodeIfPresent(Bool.self, forKey: .resumeRequiresCleanReconciliation)
            ?? d.resumeRequiresCleanReconciliation
    }

    /// Every limit out of its range, in the order of the keys above; empty when the limits are
    /// usable.
    public var problems: [RiskLimitsError] {
        var out: [RiskLimitsError] = []
        func percent(_ key: CodingKeys, _ value: Percent, max: Percent) {
            if value < 0 || value > max { out.append(.outOfRange(key: key.rawValue, value: value.description, range: "0 and \(max)")) }
        }
        func count(_ key: CodingKeys, _ value: Int64, min: Int64, max: Int64) {
            if value < min || value > max { out.append(.outOfRange(key: key.rawValue, value: String(value), range: "\(min) and \(max)")) }
        }
        percent(.maxGrossLeveragePct, maxGrossLeveragePct, max: 1000)
        percent(.maxDrawdownPct, maxDrawdownPct, max: 100)
        percent(.dailyLossLimitPct, dailyLossLimitPct, max: 100)
        percent(.maxSymbolConcentrationPct, maxSymbolConcentrationPct, max: 1000)
        percent(.maxSectorConcentrationPct, maxSectorConcentrationPct, max: 1000)
        percent(.maxOrderNotionalPct, maxOrderNotionalPct, max: 1000)
        count(.maxOpenPositions, Int64(maxOpenPositions), min: 0, max: 100_000)
        count(.maxOrdersPerWindow, Int64(maxOrdersPerWindow), min: 0, max: 1_000_000)
        count(.orderRateWindowSeconds, orderRateWindowSeconds, min: 1, max: 86_400)
        percent(.priceBandPct, priceBandPct, max: 100)
        count(.maxMarkAgeSeconds, maxMarkAgeSeconds, min: 1, max: 31 * 86_400)
        return out
    }
}

/// A limit the risk gate cannot run with, in words an operator can act on.
public enum RiskLimitsError: Error, Sendable, Equatable, CustomStringConvertible {
    case outOfRange(key: String, value: String, range: String)

    public var description: String {
        switch self {
        case .outOfRange(let key, let value, let range):
            "config: risk.\(key) must be between \(range) (got \(value)) in etc/ast.yaml"
        }
    }
}
