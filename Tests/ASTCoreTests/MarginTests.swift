import ASTCore
import Testing

/// ``MarginRequirements`` (the research loop's and the engine's one margin arithmetic) against
/// hand-computed numbers.
@Suite struct MarginTests {
    /// Buying power = equity / initial − the positions' value: Reg T (50 %) doubles a flat
    /// account; a 40 % house requirement gives 2.5 ×; a held position uses it up.
    @Test func buyingPowerIsEquityOverTheInitialRequirementLessWhatIsHeld() {
        let regT = MarginRequirements.regT
        #expect(regT.buyingPower(equity: 100_000, positionsValue: 0) == 200_000)
        #expect(regT.buyingPower(equity: 100_000, positionsValue: 150_000) == 50_000)
        #expect(regT.buyingPower(equity: 100_000, positionsValue: 250_000) == 0)
        #expect(regT.buyingPower(equity: 0, positionsValue: 0) == 0)
        #expect(MarginRequirements(initialBps: 4_000, maintenanceBps: 2_500).buyingPower(equity: 100_000, positionsValue: 0) == 250_000)
    }

    /// 150 shares bought for 15,000.00 with 10,000.00: cash −5,000.00. Worst case at a low L:
    /// −5,000 + 150 L < 0.25 × 150 L ⇔ L < 44.44…: 44.44 breaches (6,666.00: 1,666.00 against
    /// 1,666.50), 44.45 does not (6,667.50: 1,667.50 against 1,666.875). Money in 1/10,000 units.
    @Test func maintenanceIsBreachedWhenTheWorstCaseEquityFallsBelowItsShareOfTheValue() {
        let cash: Int128 = -5_000 * 10_000
        #expect(MarginRequirements.regT.breachesMaintenance(cash: cash, worstValue: 150 * 444_400))
        #expect(!MarginRequirements.regT.breachesMaintenance(cash: cash, worstValue: 150 * 444_500))
        #expect(RegT.breachesMaintenance(cash: cash, shares: 150, low: 444_400))
        #expect(!RegT.breachesMaintenance(cash: cash, shares: 150, low: 444_500))
        // A cash account's long never breaches: its equity is its whole value.
        #expect(!MarginRequirements.regT.breachesMaintenance(cash: 0, worstValue: 150 * 10_000))
    }
}
