import ASTCore

/// Which order of an OCA group fills when one bar reaches the trigger prices of more than one
/// member (typically a bracket's stop loss and take profit): daily bars do not say which price
/// traded first.
public enum BothTouchedRule: String, Sendable, Codable, CaseIterable {
    /// The member with the worse fill price for the trader (the stop loss of a bracket).
    case worstCase = "worst_case"
    /// The member with the better fill price for the trader (the take profit of a bracket).
    case bestCase = "best_case"
    /// The member whose trigger price (stop or limit price) is nearer the bar's open; a tie
    /// goes to the worse fill, as under `worst_case`.
    case openProximity = "open_proximity"
}

/// How the simulated exchange fills and charges orders. Keys are snake_case in
/// configuration; a missing key takes the value of ``standard``.
public struct PaperBrokerConfig: Sendable, Equatable, Codable {
    /// Cash in the account before any fill.
    public var startingCash: Money
    /// See ``BothTouchedRule``.
    public var bothTouched: BothTouchedRule
    /// The most one order may fill on one bar, as a share of the bar's volume (rounded down to
    /// whole shares); the rest keeps working on the next bars.
    public var maxVolumeSharePercent: Percent
    /// Slippage of market and stop fills against the trader, in basis points of the price.
    /// Negative values count as zero.
    public var slippageBps: Int
    /// Slippage of market and stop fills against the trader, in ticks of one cent, added to
    /// ``slippageBps``. Negative values count as zero. Encoded only when not zero.
    public var slippageTicks: Int = 0
    /// Commission per share filled.
    public var commissionPerShare: Money
    /// The least commission charged on one fill.
    public var commissionMinimum: Money
    /// The most commission charged on one fill, as a percentage of the fill's notional. It wins
    /// over ``commissionMinimum``: a fill never costs more than this share of its value.
    public var commissionMaximumPercent: Percent

    public init(
        startingCash: Money = Money(units: 100_000 * 10_000), bothTouched: BothTouchedRule = .worstCase,
        maxVolumeSharePercent: Percent = 10, slippageBps: Int = 5,
        commissionPerShare: Money = Money(units: 50), commissionMinimum: Money = Money(units: 10_000),
        commissionMaximumPercent: Percent = 1
    ) {
        self.startingCash = startingCash
        self.bothTouched = bothTouched
        self.maxVolumeSharePercent = maxVolumeSharePercent
        self.slippageBps = slippageBps
        self.commissionPerShare = commissionPerShare
        self.commissionMinimum = commissionMinimum
        self.commissionMaximumPercent = commissionMaximumPercent
    }

    /// 100,000.00 cash, worst case, 10 % of volume, 5 bps slippage, 0.005 per share with a
    /// 1.00 minimum and a 1 % maximum.
    public static let standard = PaperBrokerConfig()

    public enum CodingKeys: String, CodingKey {
        case startingCash = "starting_cash"
        case bothTouched = "both_touched"
        case maxVolumeSharePercent = "max_volume_share_percent"
        case slippageBps = "slippage_bps"
        case slippageTicks = "slippage_ticks"
        case commissionPerShare = "commission_per_share"
        case commissionMinimum = "commission_minimum"
        case commissionMaximumPercent = "commission_maximum_percent"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = PaperBrokerConfig.standard
        startingCash = try c.decodeIfPresent(Money.self, forKey: .startingCash) ?? d.startingCash
        bothTouched = try c.decodeIfPresent(BothTouchedRule.self, forKey: .bothTouched) ?? d.bothTouched
        maxVolumeSharePercent = try c.decodeIfPresent(Percent.self, forKey: .maxVolumeSharePercent) ?? d.maxVolumeSharePercent
        slippageBps = try c.decodeIfPresent(Int.self, forKey: .slippageBps) ?? d.slippageBps
        slippageTicks = try c.decodeIfPresent(Int.self, forKey: .slippageTicks) ?? d.slippageTicks
        commissionPerShare = try c.decodeIfPresent(Money.self, forKey: .commissionPerShare) ?? d.commissionPerShare
        commissionMinimum = try c.decodeIfPresent(Money.self, forKey: .commissionMinimum) ?? d.commissionMinimum
        commissionMaximumPercent =
            try c.decodeIfPresent(Percent.self, forKey: .commissionMaximumPercent)
            ?? d.commissionMaximumPercent
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(startingCash, forKey: .startingCash)
        try c.encode(bothTouched, forKey: .bothTouched)
        try c.encode(maxVolumeSharePercent, forKey: .maxVolumeSharePercent)
        try c.encode(slippageBps, forKey: .slippageBps)
        if slippageTicks != 0 { try c.encode(slippageTicks, forKey: .slippageTicks) }
        try c.encode(commissionPerShare, forKey: .commissionPerShare)
        try c.encode(commissionMinimum, forKey: .commissionMinimum)
        try c.encode(commissionMaximumPercent, forKey: .commissionMaximumPercent)
    }
}
