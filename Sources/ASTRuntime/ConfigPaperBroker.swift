import ASTCore
import ASTPaperBroker

/// The `paper_broker:` section: the simulated exchange behind `broker@paper` (starting cash,
/// fill rules, slippage, commissions).
extension PaperBrokerConfig: ConfigSection {
    public func validate(_ v: inout ConfigValidator) {
        v.check(startingCash.isPositive, key: CodingKeys.startingCash, must: "be a positive amount", got: startingCash)
        v.check(
            maxVolumeSharePercent > Percent(units: 0) && maxVolumeSharePercent <= Percent(100), key: CodingKeys.maxVolumeSharePercent,
            must: "be above 0 and at most 100", got: maxVolumeSharePercent)
        v.check(
            (0...1_000).contains(slippageBps), key: CodingKeys.slippageBps, must: "be between 0 and 1000 basis points", got: slippageBps)
        v.check(
            (0...1_000).contains(slippageTicks), key: CodingKeys.slippageTicks, must: "be between 0 and 1000 ticks (cents)",
            got: slippageTicks)
        v.check(!commissionPerShare.isNegative, key: CodingKeys.commissionPerShare, must: "not be negative", got: commissionPerShare)
        v.check(!commissionMinimum.isNegative, key: CodingKeys.commissionMinimum, must: "not be negative", got: commissionMinimum)
        v.check(
            commissionMaximumPercent >= Percent(units: 0) && commissionMaximumPercent <= Percent(100),
            key: CodingKeys.commissionMaximumPercent,
            must: "be between 0 and 100", got: commissionMaximumPercent)
    }
}

extension BothTouchedRule: ConfigEnum {}
