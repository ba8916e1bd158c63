import ASTCore

/// The simulated exchange's fill rules (``FillRules``, the code ``PaperExchange`` matches with)
/// as one public, pure surface, so that the single-symbol research loop of `ast backtest` fills
/// stops, targets, slippage and the volume cap by the same rules as the engine's exchange.
/// Integer arithmetic on the 1/10,000 grid throughout.
public enum FillModel {
    /// Units of one cent (a tick of U.S. equities above $1).
    public static let tickUnits: Int64 = Price.unitsPerDollar / 100

    /// `price` moved against the trader: `bps` basis points (the amount rounded up to the next
    /// 1/10,000, as the exchange does), then `ticks` cents. A buy goes up, a sell down (never
    /// below one unit).
    public static func slip(_ price: Price, side: Side, bps: Int, ticks: Int = 0) -> Price {
        FillRules.slip(price, side: side, bps: bps, ticks: ticks)
    }

    /// Where a stop order for `side` fills on `bar`, slipped, or nil when the bar does not reach
    /// it. Gap-aware: a bar that opens through the stop fills at the open, not at the stop.
    public static func stopFill(stop: Price, side: Side, bar: Bar, bps: Int = 0, ticks: Int = 0) -> Price? {
        guard let base = FillRules.stopTrigger(stop: stop, buy: side == .buy, bar: bar) else { return nil }
        return slip(base, side: side, bps: bps, ticks: ticks)
    }

    /// Where a limit order for `side` fills on `bar` (at the limit, or at the open when the open
    /// is already better), or nil when the bar does not reach it. No slippage.
    public static func limitFill(limit: Price, side: Side, bar: Bar) -> Price? {
        FillRules.limitFill(limit: limit, buy: side == .buy, bar: bar).price
    }

    /// The most shares one order may fill on a bar of `volume`: `share` percent of it, rounded down.
    public static func volumeCap(volume: Int64, share: Percent) -> Quantity {
        FillRules.volumeCap(volume: volume, share: share)
    }

    /// The commission of one fill under `config`: clamp(per share × shares, minimum, maximum % of
    /// the notional), the maximum winning over the minimum.
    public static func commission(quantity: Quantity, price: Price, config: PaperBrokerConfig) -> Money {
        let notional = Money(units: Int64(clamping: Int128(quantity.shares) * Int128(price.units)))
        return FillRules.commission(quantity: quantity, notional: notional, config: config)
    }

    /// Which leg of an exit bracket fills.
    public enum ExitLeg: String, Sendable, Equatable {
        case stopLoss = "stop_loss"
        case takeProfit = "take_profit"
    }

    /// One bar against a position's protective stop and take profit (an OCA pair closing
    /// `side`'s position: `.buy` for a long). The stop is gap-aware and slipped, the target a
    /// limit; when the bar reaches both, `rule` picks as ``PaperExchange`` picks between the
    /// members of an OCA group (``BothTouchedRule``): the worse or the better fill for the
    /// trader, or the trigger price nearer the open (a tie: the worse fill).
    public static func exit(
        position side: Side, stop: Price?, target: Price?, bar: Bar, rule: BothTouchedRule, bps: Int = 0, ticks: Int = 0
    ) -> (leg: ExitLeg, price: Price)? {
        let closing = side.opposite
        let s = stop.flatMap { stopFill(stop: $0, side: closing, bar: bar, bps: bps, ticks: ticks) }
        let t = target.flatMap { limitFill(limit: $0, side: closing, bar: bar) }
        switch (s, t) {
        case (nil, nil): return nil
        case (let p?, nil): return (.stopLoss, p)
        case (nil, let p?): return (.takeProfit, p)
        case (let sp?, let tp?):
            // Higher is worse for the trader: a buy pays more, a sell receives less.
            func badness(_ p: Price) -> Int64 { closing == .buy ? p.units : -p.units }
            let worse: (leg: ExitLeg, price: Price) = badness(sp) >= badness(tp) ? (.stopLoss, sp) : (.takeProfit, tp)
            let better: (leg: ExitLeg, price: Price) = worse.leg == .stopLoss ? (.takeProfit, tp) : (.stopLoss, sp)
            switch rule {
            case .worstCase: return worse
            case .bestCase: return badness(sp) == badness(tp) ? worse : better
            case .openProximity:
                let ds = (Int128(stop!.units) - Int128(bar.open.units)).magnitude
                let dt = (Int128(target!.units) - Int128(bar.open.units)).magnitude
                if ds == dt { return worse }
                return ds < dt ? (.stopLoss, sp) : (.takeProfit, tp)
            }
        }
    }
}
