import ASTCore
import Foundation
import Testing

@testable import ASTPaperBroker

/// The public fill rules (``FillModel``) the research loop shares with the exchange, each with a
/// hand-computed expectation, and the exchange's own result on the same bar where it has one.
@Suite struct FillModelTests {
    @Test func aGapThroughTheStopFillsAtTheOpenNotAtTheStop() {
        // A long's sell stop at 95.00: opening at 93.00 (below it) fills at 93.00.
        #expect(FillModel.stopFill(stop: p("95"), side: .sell, bar: bar(1, "93", "96", "92", "94")) == p("93"))
        // Trading down through it from 98.00: at the stop.
        #expect(FillModel.stopFill(stop: p("95"), side: .sell, bar: bar(1, "98", "99", "94", "96")) == p("95"))
        // Never reaching it: no fill.
        #expect(FillModel.stopFill(stop: p("95"), side: .sell, bar: bar(1, "98", "99", "96", "97")) == nil)
        // A short's buy stop at 105.00 on a gap up to 107.00: 107.00.
        #expect(FillModel.stopFill(stop: p("105"), side: .buy, bar: bar(1, "107", "108", "104", "106")) == p("107"))
    }

    @Test func slippageIsBasisPointsRoundedAgainstTheTraderPlusTicks() {
        // 5 bps of 100.00 = 0.05.
        #expect(FillModel.slip(p("100"), side: .buy, bps: 5) == p("100.05"))
        // 2 ticks: 2 cents down for a sell.
        #expect(FillModel.slip(p("100"), side: .sell, bps: 0, ticks: 2) == p("99.98"))
        // 3 bps of 10.0001 = 0.00300003, rounded up to 0.0031; plus 1 tick: 10.0001 + 0.0131.
        #expect(FillModel.slip(p("10.0001"), side: .buy, bps: 3, ticks: 1) == p("10.0132"))
        // A sell never goes below one unit.
        #expect(FillModel.slip(p("0.01"), side: .sell, bps: 0, ticks: 5) == Price(units: 1))
    }

    @Test func perShareCommissionHasAMinimumAndAMaximumPercentOfTheValue() {
        let c = PaperBrokerConfig.standard  // 0.005 per share, 1.00 minimum, 1 % maximum
        // 100 × 0.005 = 0.50 -> the 1.00 minimum.
        #expect(FillModel.commission(quantity: 100, price: p("50"), config: c) == money("1"))
        // 10,000 × 0.005 = 50.00 (1 % of 500,000 is far above).
        #expect(FillModel.commission(quantity: 10_000, price: p("50"), config: c) == money("50"))
        // 1,000 × 0.005 = 5.00, but 1 % of 1,000 × 0.20 = 2.00: the maximum wins.
        #expect(FillModel.commission(quantity: 1_000, price: p("0.2"), config: c) == money("2"))
    }

    @Test func theVolumeCapIsAShareOfTheBarsVolumeRoundedDown() {
        #expect(FillModel.volumeCap(volume: 12_345, share: 10) == 1_234)
        #expect(FillModel.volumeCap(volume: 9, share: 10) == 0)
        #expect(FillModel.volumeCap(volume: 0, share: 10) == 0)
    }

    /// A long with its stop at 95 and target at 105 on a bar from 100 that reaches both.
    @Test func theBothTouchedRulePicksTheStopOrTheTarget() {
        let both = bar(2, "100", "106", "94", "101")
        func exit(_ rule: BothTouchedRule, _ b: Bar = both) -> FillModel.ExitLeg? {
            FillModel.exit(position: .buy, stop: p("95"), target: p("105"), bar: b, rule: rule)?.leg
        }
        let worst = FillModel.exit(position: .buy, stop: p("95"), target: p("105"), bar: both, rule: .worstCase)
        #expect(worst?.leg == .stopLoss && worst?.price == p("95"))
        let best = FillModel.exit(position: .buy, stop: p("95"), target: p("105"), bar: both, rule: .bestCase)
        #expect(best?.leg == .takeProfit && best?.price == p("105"))
        // Both 5.00 from the open: a tie goes to the worse fill.
        #expect(exit(.openProximity) == .stopLoss)
        // Opening at 103: the target (2.00 away) is nearer than the stop (8.00).
        #expect(exit(.openProximity, bar(2, "103", "106", "94", "101")) == .takeProfit)
        // Only one reached: that one, whatever the rule.
        #expect(exit(.bestCase, bar(2, "100", "104", "94", "101")) == .stopLoss)
    }

    /// The same bars through the exchange: a bracket's stop and target pick the same leg at the
    /// same price as ``FillModel/exit`` under every rule (one rule, two callers).
    @Test func theExchangeAgreesWithFillModelOnABarThatTouchesBoth() {
        for rule in BothTouchedRule.allCases {
            for b in [bar(2, "100", "106", "94", "101"), bar(2, "103", "106", "94", "101"), bar(2, "93", "106", "92", "101")] {
                var config = frictionless
                config.bothTouched = rule
                config.slippageBps = 7
                config.slippageTicks = 1
                var h = Harness(config)
                h.submit(bracket(entry(), stop: "95", target: "105"))
                #expect(h.deliver(bar(1, "100", "101", "99", "100")).fills.count == 1)
                let fill = h.deliver(b).fills.first
                let model = FillModel.exit(position: .buy, stop: p("95"), target: p("105"), bar: b, rule: rule, bps: 7, ticks: 1)
                #expect(fill?.clientOrderID == (model?.leg == .stopLoss ? S1 : T1), "\(rule) \(b.open)")
                #expect(fill?.price == model?.price, "\(rule) \(b.open)")
            }
        }
    }

    /// `slippage_ticks` reaches the exchange's market and stop fills: 100.00 + 5 bps + 2 ticks.
    @Test func theExchangeSlipsMarketFillsByTicksToo() {
        var config = frictionless
        config.slippageBps = 5
        config.slippageTicks = 2
        var h = Harness(config)
        h.submit(standalone(entry()))
        #expect(h.deliver(bar(0, "100", "105", "95", "101")).fills.map(\.price) == [p("100.07")])
    }

    /// A configuration without `slippage_ticks` decodes to 0 and encodes without the key (the
    /// journals and checkpoints of the default configuration keep their bytes).
    @Test func slippageTicksIsOptionalInTheConfiguration() throws {
        let data = try JSONEncoder().encode(PaperBrokerConfig.standard)
        #expect(!String(decoding: data, as: UTF8.self).contains("slippage_ticks"))
        #expect(try JSONDecoder().decode(PaperBrokerConfig.self, from: data).slippageTicks == 0)
        var c = PaperBrokerConfig.standard
        c.slippageTicks = 3
        #expect(try JSONDecoder().decode(PaperBrokerConfig.self, from: JSONEncoder().encode(c)).slippageTicks == 3)
    }
}
