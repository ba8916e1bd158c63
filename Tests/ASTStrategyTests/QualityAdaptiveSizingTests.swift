import ASTCore
import ASTMessages
import Foundation
import Testing

@testable import ASTStrategy

/// Quality-scaled and adaptive sizing, with expectations computed by hand in the comments.
@Suite struct QualityAndAdaptiveSizing {
    let k100 = Money(dollars: 100_000)!

    func quality(_ configure: (inout SizingConfig) -> Void = { _ in }) -> PositionSizer {
        var c = SizingConfig()
        c.method = .qualityScaled
        c.maxPositionPct = nil
        c.qualityMetric = "q"
        c.qualityLow = 0
        c.qualityHigh = 10
        c.minMultiplier = 0.5
        c.maxMultiplier = 1.5
        configure(&c)
        return PositionSizer(config: c)
    }

    func sizeQuality(_ q: Double?, _ sizer: PositionSizer? = nil) -> SizingDetail {
        (sizer ?? quality()).size(
            symbol: "AAPL", entry: px(50), stopLoss: px(47.5), atr: nil, equity: k100, availableCash: k100,
            metrics: q.map { [Metric("other", 99), Metric("q", $0)] } ?? [Metric("other", 99)])
    }

    @Test func qualityScalesTheRiskBudgetLinearlyBetweenTheMultipliers() {
        // q 7.5 in [0, 10] -> t 0.75 -> 0.5 + 1.0 × 0.75 = 1.25; 1 % × 1.25 = 1.25 % of 100,000 =
        // 1,250 / 2.50 a share = 500 shares.
        let s = sizeQuality(7.5)
        #expect(s.multiplier == 1.25)
        #expect(s.effectiveRiskPct == Percent("1.25")!)
        #expect(s.budget == Money(dollars: 1_250)!)
        #expect(s.shares == 500)
        #expect(
            s.explanation
                == "quality q 7.50 in [0.00, 10.00] -> multiplier 1.25 in [0.50, 1.50]; risk 1% × 1.25 = 1.25% of 100000.00 = 1250.00 "
                + "/ per-share risk 2.50 = 500 shares -> 500 shares, notional 25000.00")
        // The middle of the range is the plain risk: 1,000 / 2.50 = 400.
        #expect(sizeQuality(5).shares == 400)
    }

    @Test func qualityOutsideTheRangeIsClampedToTheMultipliers() {
        // Above the high end: 1.5 % = 1,500 / 2.50 = 600; below the low end: 0.5 % = 500 / 2.50 = 200.
        #expect(sizeQuality(25).shares == 600)
        #expect(sizeQuality(25).multiplier == 1.5)
        #expect(sizeQuality(-3).shares == 200)
        #expect(sizeQuality(-3).multiplier == 0.5)
    }

    @Test func theEffectiveRiskIsRoundedDownToATenThousandthOfAPercent() {
        // q 1 in [0, 3] with 1..2: m = 1 + 1/3 = 1.3333…; 1 % × m = 1.3333 % (down) of 100,000 =
        // 1,333.30 / 2.50 = 533.32 -> 533.
        let s = sizeQuality(
            1,
            quality {
                $0.qualityHigh = 3
                $0.minMultiplier = 1
                $0.maxMultiplier = 2
            })
        #expect(s.effectiveRiskPct == Percent("1.3333")!)
        #expect(s.budget == Money("1333.30")!)
        #expect(s.shares == 533)
    }

    @Test func aCandidateWithoutTheQualityMetricGetsNoShares() {
        let s = sizeQuality(nil)
        #expect(s.shares == 0)
        #expect(s.explanation == "quality-scaled sizing: the candidate has no metric 'q'")
    }

    func adaptive(_ configure: (inout SizingConfig) -> Void = { _ in }) -> PositionSizer {
        var c = SizingConfig()
        c.method = .adaptive
        c.maxPositionPct = nil
        c.drawdownLimitPct = 20
        c.maxExposurePct = 100
        c.maxPositions = 5
        configure(&c)
        return PositionSizer(config: c)
    }

    func account(equity: Double = 90_000, peak: Double = 100_000, exposure: Double = 40_000, held: Int = 1, working: Int = 1)
        -> AllocationContext
    {
        AllocationContext(
            equity: Money(units: Int64(equity * 10_000)), peakEquity: Money(units: Int64(peak * 10_000)),
            exposure: Money(units: Int64(exposure * 10_000)), openPositions: held, openOrders: working)
    }

    func sizeAdaptive(_ a: AllocationContext?, _ sizer: PositionSizer? = nil) -> SizingDetail {
        (sizer ?? adaptive()).size(
            symbol: "AAPL", entry: px(50), stopLoss: px(47.5), atr: nil, equity: a?.equity ?? Money(dollars: 90_000)!,
            availableCash: k100, allocation: a)
    }

    @Test func adaptiveShrinksTheRiskWithTheDrawdownFromThePeak() {
        // Drawdown (100,000 − 90,000) / 100,000 = 10 % of the 20 % limit -> m = 0.5; 0.5 % of
        // 90,000 = 450 / 2.50 = 180 shares. Room 90,000 − 40,000 = 50,000 over 5 − 1 − 1 = 3 slots
        // = 16,666.6666 a slot, 333 shares at 50: not binding.
        let s = sizeAdaptive(account())
        #expect(s.multiplier == 0.5)
        #expect(s.effectiveRiskPct == Percent("0.5")!)
        #expect(s.budget == Money(dollars: 450)!)
        #expect(s.allocation == Money("16666.6666")!)
        #expect(s.shares == 180)
        #expect(s.cappedBy == [])
        #expect(
            s.explanation
                == "drawdown 10% of 20% -> multiplier 0.50; risk 1% × 0.50 = 0.5% of 90000.00 = 450.00 / per-share risk 2.50; "
                + "room 50000.00 / 3 free slots = 16666.6666 a slot = 180 shares -> 180 shares, notional 9000.00")
        // At the peak the whole risk: 1 % of 100,000 = 1,000 / 2.50 = 400.
        #expect(sizeAdaptive(account(equity: 100_000, exposure: 0)).shares == 400)
    }

    @Test func adaptiveCapsTheNotionalAtTheRoomOfAFreeSlot() {
        // Room 90,000 − 80,000 = 10,000 over 3 slots = 3,333.3333 -> 66 shares at 50.
        let s = sizeAdaptive(account(exposure: 80_000))
        #expect(s.rawShares == 180)
        #expect(s.shares == 66)
        #expect(s.cappedBy == ["allocation"])
        // 60 % of 90,000 = 54,000 − 40,000 = 14,000 over 3 = 4,666.6666 -> 93 shares.
        #expect(sizeAdaptive(account(), adaptive { $0.maxExposurePct = 60 }).shares == 93)
    }

    @Test func adaptiveTakesNoNewRiskAtTheDrawdownLimitWithoutASlotOrWithoutRoom() {
        let atLimit = sizeAdaptive(account(equity: 80_000))
        #expect(atLimit.shares == 0)
        #expect(atLimit.explanation == "adaptive sizing: drawdown 20% from the peak 100000.00 is at or beyond 20%: no new risk")
        let full = sizeAdaptive(account(held: 3, working: 2))
        #expect(full.shares == 0)
        #expect(full.explanation == "adaptive sizing: no free slot (max_positions 5, 3 held, 2 working, 0 in this scan)")
        let noRoom = sizeAdaptive(account(exposure: 95_000))
        #expect(noRoom.shares == 0)
        #expect(noRoom.explanation.hasPrefix("adaptive sizing: no exposure room"))
        #expect(sizeAdaptive(nil).explanation == "adaptive sizing needs the account's allocation context")
    }

    @Test func theScansOwnIntentsTakeSlotsAndRoom() {
        // Slots 5 − 1 − 1 = 3; after two intents of 20,000 each one slot is left with
        // 50,000 − 40,000 = 10,000 of room -> 200 shares at 50, below the 180 of risk: 180.
        var a = account()
        a.commit(Money(dollars: 20_000)!)
        a.commit(Money(dollars: 20_000)!)
        let s = sizeAdaptive(a)
        #expect(s.allocation == Money(dollars: 10_000)!)
        #expect(s.shares == 180)
        a.commit(Money(dollars: 1)!)
        #expect(sizeAdaptive(a).explanation == "adaptive sizing: no free slot (max_positions 5, 1 held, 1 working, 3 in this scan)")
    }

    @Test func theAllocationContextComesFromThePortfolioSnapshot() {
        // |100| × 50 + |−10| × 100 = 6,000 held in two symbols; a zero position does not count.
        var p = portfolio(
            positions: [
                "AAPL": PositionSnapshot(quantity: 100, averagePrice: px(40), lastMark: px(50)),
                "MSFT": PositionSnapshot(quantity: -10, averagePrice: px(90), lastMark: px(100)),
                "ZERO": PositionSnapshot(quantity: 0, averagePrice: px(1), lastMark: px(1)),
            ])
        p.openOrders = 2
        p.peakEquity = Money(dollars: 120_000)!
        let a = AllocationContext(portfolio: p)
        #expect(a.exposure == Money(dollars: 6_000)!)
        #expect(a.openPositions == 2)
        #expect(a.openOrders == 2)
        #expect(a.peakEquity == Money(dollars: 120_000)!)
        // An absurd book saturates: no room left rather than a trap.
        let huge = portfolio(positions: ["X": PositionSnapshot(quantity: Quantity(Int64.max), averagePrice: px(1), lastMark: px(1000))])
        #expect(AllocationContext(portfolio: huge).exposure == Money(units: Int64.max))
    }

    @Test func theStrategyEngineFillsTheFreeSlotsInSymbolOrder() {
        // max_positions 2 with NVDA held: one slot, so AAPL gets its intent and TSLA none.
        var c = SizingConfig()
        c.method = .adaptive
        c.maxPositions = 2
        let held = PositionSnapshot(quantity: 10, averagePrice: px(90), lastMark: px(100))
        let bars = series("X", closes: Array(repeating: 100, count: 40))
        let inputs = ["TSLA", "AAPL"].map { (s: Symbol) in
            StrategyEngine.Input(
                candidate: Candidate(symbol: s, detector: "d", close: px(100), summary: ""),
                context: context(s, bars, specs: [.atr(period: 14)]))
        }
        let out = StrategyEngine.run(
            strategy: BracketStrategy(), inputs: inputs, sizer: PositionSizer(config: c),
            portfolio: portfolio(positions: ["NVDA": held]), date: scanDate, now: Timestamp(nanoseconds: 0))
        #expect(out.intents.map(\.symbol) == ["AAPL"])
        #expect(out.skipped.map(\.code) == ["ZERO_SHARES"])
        #expect(out.skipped.first?.reason.contains("no free slot (max_positions 2, 1 held, 0 working, 1 in this scan)") == true)
    }

    @Test func newSettingsAreValidatedAtLoad() throws {
        var c = SizingConfig()
        c.method = .qualityScaled
        c.qualityLow = 5
        c.qualityHigh = 5
        c.minMultiplier = 2
        c.maxMultiplier = 1
        c.maxPositions = 0
        c.drawdownLimitPct = 0
        #expect(
            c.problems() == [
                "strategy.sizing.drawdown_limit_pct must be above 0 and at most 100 (got 0)",
                "strategy.sizing.max_positions must be between 1 and 10000 (got 0)",
                "strategy.sizing.quality_low must be below quality_high, both finite (got 5.0 and 5.0)",
                "strategy.sizing.min_multiplier and max_multiplier must satisfy 0 < min ≤ max ≤ 5 (got 2.0 and 1.0)",
                "strategy.sizing.quality_metric must name a candidate metric for quality_scaled sizing (e.g. range_pct)",
            ])
        var risky = SizingConfig()
        risky.method = .qualityScaled
        risky.qualityMetric = "q"
        risky.riskPct = 4
        risky.maxMultiplier = 3
        #expect(risky.problems() == ["strategy.sizing.risk_pct × max_multiplier must be at most 10 (got 4 × 3.0)"])
        let decoded = try JSONDecoder().decode(
            SizingConfig.self,
            from: Data(#"{"method":"adaptive","drawdown_limit_pct":15,"max_exposure_pct":80,"max_positions":4}"#.utf8))
        #expect(decoded.method == .adaptive && decoded.maxPositions == 4 && decoded.drawdownLimitPct == 15)
        #expect(decoded.maxExposurePct == 80 && decoded.problems() == [])
        #expect(try JSONDecoder().decode(SizingConfig.self, from: JSONEncoder().encode(decoded)) == decoded)
        // A configuration without the new keys encodes exactly as before.
        let plain = try JSONSerialization.jsonObject(with: JSONEncoder().encode(SizingConfig())) as! [String: Any]
        #expect(plain.keys.sorted() == ["cap_to_cash", "max_position_pct", "method", "position_pct", "risk_pct", "target_volatility_pct"])
    }
}
