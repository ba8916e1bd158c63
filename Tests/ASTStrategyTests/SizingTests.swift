import ASTCore
import Foundation
import Testing

@testable import ASTStrategy

@Suite struct PositionSizing {
    func sizer(_ method: SizingMethod, maxPct: Percent? = nil, capToCash: Bool = true, configure: (inout SizingConfig) -> Void = { _ in })
        -> PositionSizer
    {
        var c = SizingConfig()
        c.method = method
        c.maxPositionPct = maxPct
        c.capToCash = capToCash
        configure(&c)
        return PositionSizer(config: c)
    }
    let k100 = Money(dollars: 100_000)!

    @Test func fixedFractionalRiskDividesTheRiskBudgetByThePerShareRisk() {
        // 1 % of 100,000 = 1,000; 50.00 − 47.50 = 2.50 a share -> 400 shares.
        let s = sizer(.fixedFractionalRisk).size(
            symbol: "AAPL", entry: px(50), stopLoss: px(47.5), atr: nil, equity: k100, availableCash: k100)
        #expect(s.budget == Money(dollars: 1000)!)
        #expect(s.shares == 400)
        #expect(s.notional == Money(dollars: 20_000)!)
        #expect(s.cappedBy == [])
        #expect(s.explanation == "risk 1% of 100000.00 = 1000.00 / per-share risk 2.50 = 400 shares -> 400 shares, notional 20000.00")
    }

    @Test func fixedFractionalRiskRoundsDownToWholeShares() {
        // 1,000 / 2.70 = 370.37 -> 370.
        let s = sizer(.fixedFractionalRisk).size(
            symbol: "AAPL", entry: px(50), stopLoss: px(47.3), atr: nil, equity: k100, availableCash: k100)
        #expect(s.shares == 370)
    }

    @Test func fixedPercentDividesThePositionBudgetByTheEntry() {
        // 10 % of 100,000 = 10,000 / 33.00 = 303.03 -> 303.
        let s = sizer(.fixedPercent).size(symbol: "AAPL", entry: px(33), stopLoss: px(30), atr: nil, equity: k100, availableCash: k100)
        #expect(s.budget == Money(dollars: 10_000)!)
        #expect(s.shares == 303)
    }

    @Test func volatilityScaledMakesOneATRMoveTheTargetShareOfEquity() {
        // 0.5 % of 100,000 = 500 / ATR 2.50 = 200 shares; notional 10,000 = 100,000 × 0.5 % / 5 % (ATR %).
        let s = sizer(.volatilityScaled).size(symbol: "AAPL", entry: px(50), stopLoss: px(45), atr: 2.5, equity: k100, availableCash: k100)
        #expect(s.shares == 200)
        #expect(s.notional == Money(dollars: 10_000)!)
        // ATR rounds up to 1/10,000 (2.34567 -> 2.3457): 500 / 2.3457 = 213.15 -> 213.
        let r = sizer(.volatilityScaled).size(
            symbol: "AAPL", entry: px(50), stopLoss: px(45), atr: 2.34567, equity: k100, availableCash: k100)
        #expect(r.atr == Price("2.3457")!)
        #expect(r.shares == 213)
    }

    @Test func volatilityScaledWithoutATRGivesNoShares() {
        let s = sizer(.volatilityScaled).size(symbol: "AAPL", entry: px(50), stopLoss: px(45), atr: nil, equity: k100, availableCash: k100)
        #expect(s.shares == 0)
        #expect(s.explanation == "volatility-scaled sizing needs a positive ATR")
    }

    @Test func lessThanOneShareIsZeroSharesWithTheReason() {
        // 1 % of 1,000 = 10 / 20.00 a share.
        let small = Money(dollars: 1_000)!
        let s = sizer(.fixedFractionalRisk).size(
            symbol: "AAPL", entry: px(200), stopLoss: px(180), atr: nil, equity: small, availableCash: small)
        #expect(s.shares == 0)
        #expect(s.explanation == "risk 1% of 1000.00 = 10.00 / per-share risk 20.00 gives 0 shares: less than one whole share")
    }

    @Test func theCashStillAvailableCapsThePosition() {
        // 400 shares would cost 20,000; 5,000 of cash buys 100.
        let s = sizer(.fixedFractionalRisk).size(
            symbol: "AAPL", entry: px(50), stopLoss: px(47.5), atr: nil, equity: k100,
            availableCash: Money(dollars: 5_000)!)
        #expect(s.rawShares == 400)
        #expect(s.shares == 100)
        #expect(s.cappedBy == ["cash"])
    }

    @Test func noCashMeansZeroShares() {
        let s = sizer(.fixedPercent).size(
            symbol: "AAPL", entry: px(50), stopLoss: px(47.5), atr: nil, equity: k100, availableCash: Money(dollars: -10)!)
        #expect(s.shares == 0)
        #expect(s.cappedBy == ["cash"])
    }

    @Test func theLargestPositionCapsBeforeCash() {
        // 5 % risk over 0.50 a share = 10,000 shares; 20 % of equity at 50.00 = 400 shares.
        let s = sizer(.fixedFractionalRisk, maxPct: 20) { $0.riskPct = 5 }
            .size(symbol: "AAPL", entry: px(50), stopLoss: px(49.5), atr: nil, equity: k100, availableCash: k100)
        #expect(s.rawShares == 10_000)
        #expect(s.shares == 400)
        #expect(s.cappedBy == ["max_position_pct"])
    }

    @Test func configProblemsAndDecodingFromNumbers() throws {
        var c = SizingConfig()
        c.riskPct = 0
        c.positionPct = 150
        #expect(
            c.problems() == [
                "strategy.sizing.risk_pct must be above 0 and at most 10 (got 0)",
                "strategy.sizing.position_pct must be above 0 and at most 100 (got 150)",
            ])
        let decoded = try JSONDecoder().decode(
            SizingConfig.self, from: Data(#"{"method":"volatility_scaled","target_volatility_pct":0.75}"#.utf8))
        #expect(decoded.method == .volatilityScaled)
        #expect(decoded.targetVolatilityPct == Percent("0.75")!)
        #expect(decoded.riskPct == 1)
        #expect(throws: DecodingError.self) {
            _ = try JSONDecoder().decode(SizingConfig.self, from: Data(#"{"risk_pc": 1}"#.utf8))
        }
    }
}
