import ASTCore

/// The pure price and quantity rules of the simulated exchange: where an order fills on a bar,
/// slippage, the volume cap and commissions. All integer arithmetic on the 1/10,000 grid.
enum FillRules {
    /// What one bar does to one order: whether its trigger was reached, and at what price it
    /// fills (nil: it does not fill on this bar).
    struct Evaluation: Equatable {
        var triggers: Bool
        var price: Price?
    }

    /// Matches `spec` against `bar`. `triggered` says whether a stop or stop-limit was already
    /// triggered on an earlier bar (a triggered stop is a market order, a triggered stop-limit
    /// a limit order).
    static func evaluate(_ spec: OrderSpec, triggered: Bool, bar: Bar, slippageBps: Int, slippageTicks: Int = 0) -> Evaluation {
        let buy = spec.side == .buy
        func slip(_ price: Price, side: Side, bps: Int) -> Price { FillRules.slip(price, side: side, bps: bps, ticks: slippageTicks) }
        switch spec.type {
        case .market:
            return Evaluation(triggers: true, price: slip(bar.open, side: spec.side, bps: slippageBps))
        case .limit:
            guard let limit = spec.limitPrice else { return Evaluation(triggers: false, price: nil) }
            return limitFill(limit: limit, buy: buy, bar: bar)
        case .stop:
            if triggered { return Evaluation(triggers: true, price: slip(bar.open, side: spec.side, bps: slippageBps)) }
            guard let stop = spec.stopPrice, let base = stopTrigger(stop: stop, buy: buy, bar: bar) else {
                return Evaluation(triggers: false, price: nil)
            }
            return Evaluation(triggers: true, price: slip(base, side: spec.side, bps: slippageBps))
        case .stopLimit:
            guard let limit = spec.limitPrice else { return Evaluation(triggers: false, price: nil) }
            if triggered { return limitFill(limit: limit, buy: buy, bar: bar) }
            guard let stop = spec.stopPrice, let base = stopTrigger(stop: stop, buy: buy, bar: bar) else {
                return Evaluation(triggers: false, price: nil)
            }
            // Within the trigger bar only the trigger price itself is known to have traded after
            // the trigger: it fills if that price is within the limit (slipped, but never worse
            // than the limit); otherwise it rests as a limit order from the next bar.
            let withinLimit = buy ? base <= limit : base >= limit
            guard withinLimit else { return Evaluation(triggers: true, price: nil) }
            let slipped = slip(base, side: spec.side, bps: slippageBps)
            return Evaluation(triggers: true, price: buy ? min(slipped, limit) : max(slipped, limit))
        }
    }

    /// A limit order fills if the bar reaches the limit, at the limit or at the open when the
    /// open is already better ("at the limit or better"). No slippage.
    static func limitFill(limit: Price, buy: Bool, bar: Bar) -> Evaluation {
        if buy {
            guard bar.low <= limit else { return Evaluation(triggers: false, price: nil) }
            return Evaluation(triggers: true, price: min(bar.open, limit))
        } else {
            guard bar.high >= limit else { return Evaluation(triggers: false, price: nil) }
            return Evaluation(triggers: true, price: max(bar.open, limit))
        }
    }

    /// The price a stop triggers at on `bar`, before slippage: the open when the bar gaps
    /// through the stop, the stop when the bar trades through it, nil when it does not reach it.
    static func stopTrigger(stop: Price, buy: Bool, bar: Bar) -> Price? {
        if buy {
            guard bar.high >= stop else { return nil }
            return bar.open >= stop ? bar.open : stop
        } else {
            guard bar.low <= stop else { return nil }
            return bar.open <= stop ? bar.open : stop
        }
    }

    /// `price` moved against the trader by `bps` basis points, the amount rounded up to the next
    /// 1/10,000 (against the trader as well), plus `ticks` cents. A sell never slips below one unit.
    static func slip(_ price: Price, side: Side, bps: Int, ticks: Int = 0) -> Price {
        let bps = Int128(max(0, bps))
        let raw = Int128(price.units) * bps
        let amount = (raw + 9_999) / 10_000 + Int128(max(0, ticks)) * Int128(FillModel.tickUnits)
        let result = side == .buy ? Int128(price.units) + amount : max(1, Int128(price.units) - amount)
        return Price(units: Int64(clamping: result))
    }

    /// The most shares one order may fill on a bar of `volume`: `share` of it, rounded down.
    static func volumeCap(volume: Int64, share: Percent) -> Quantity {
        guard volume > 0, share.units > 0 else { return .zero }
        let cap = Int128(volume) * Int128(share.units) / Int128(Percent.unitsPerWhole * 100)
        return Quantity(Int64(clamping: cap))
    }

    /// clamp(perShare × quantity, minimum, maximum% × notional), where the maximum wins when it
    /// is below the minimum. Never negative.
    static func commission(quantity: Quantity, notional: Money, config: PaperBrokerConfig) -> Money {
        let perShare = Int128(config.commissionPerShare.units) * Int128(quantity.shares)
        let floored = max(perShare, Int128(config.commissionMinimum.units))
        let cap =
            Int128(notional.units).magnitude * UInt128(max(0, config.commissionMaximumPercent.units))
            / UInt128(Percent.unitsPerWhole * 100)
        let charged = min(floored, Int128(cap))
        return Money(units: Int64(clamping: max(0, charged)))
    }

    /// `numerator / denominator` rounded to the nearest integer, halves away from zero.
    static func roundedDivision(_ numerator: Int128, _ denominator: Int128) -> Int128 {
        precondition(denominator != 0)
        let q = numerator / denominator
        let r = numerator % denominator
        if (r.magnitude * 2) >= denominator.magnitude {
            return (numerator < 0) != (denominator < 0) ? q - 1 : q + 1
        }
        return q
    }
}
