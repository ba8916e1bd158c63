import ASTCore
import Testing

@testable import ASTPaperBroker

/// ``PaperInput/validate()``: what the broker refuses before journaling, and the exchange's own
/// guard against inputs that would overflow (each crashed the broker before M9.2).
@Suite struct PaperValidationTests {
    @Test func poisonDisconnectIsRefusedAndDoesNotTrapTheExchange() {
        let poison = PaperInput.inject(.disconnect(seconds: 10_000_000_000))
        #expect(poison.validate()?.code == .outOfRange)
        var h = Harness()
        let outcome = h.send(poison, at: t(0, preMarket))
        #expect(outcome.connection == nil)
        #expect(outcome.notices.count == 1)
        #expect(h.exchange.disconnectedUntil == nil)
    }

    @Test(arguments: [0, -1, Int.min, Int.max, PaperExchange.maxDisconnectSeconds + 1])
    func disconnectOutsideOneSecondToOneWeekIsRefused(seconds: Int) {
        #expect(PaperInput.inject(.disconnect(seconds: seconds)).validate()?.code == .outOfRange)
    }

    @Test func disconnectOfAWeekIsAcceptedAndEndsAWeekLater() {
        let input = PaperInput.inject(.disconnect(seconds: PaperExchange.maxDisconnectSeconds))
        #expect(input.validate() == nil)
        var h = Harness()
        let now = t(0, preMarket)
        #expect(h.send(input, at: now).connection == .lost(until: now.advanced(by: .seconds(7 * 86_400))))
    }

    @Test func sessionCloseOutsideTheTimeRangeIsRefused() {
        #expect(PaperInput.sessionClose(Timestamp(nanoseconds: .max)).validate()?.code == .outOfRange)
        #expect(PaperInput.sessionClose(Timestamp(nanoseconds: -1)).validate()?.code == .outOfRange)
        #expect(PaperInput.sessionClose(t(0, afterClose)).validate() == nil)
    }

    @Test func oversizedTextsAreRefused() {
        let huge = String(repeating: "x", count: 1_000_001)
        #expect(PaperInput.cancel(ClientOrderID(intent: "i1", leg: .entry), reason: huge).validate()?.code == .tooLarge)
        #expect(PaperInput.inject(.rejectNext(reason: huge)).validate()?.code == .tooLarge)
        var e = entry()
        e.ocaGroup = huge
        #expect(PaperInput.submit(standalone(e)).validate()?.code == .tooLarge)
    }

    @Test func barWithAnAbsurdPriceIsRefusedAndChangesNothing() {
        var h = Harness()
        h.submit(standalone(entry()))
        var b = bar(0, "100.00", "105.00", "95.00", "101.00")
        b.high = Price(units: .max)
        #expect(PaperInput.bar(b).validate()?.code == .outOfRange)
        #expect(h.deliver(b).fills.isEmpty)
        #expect(h.exchange.marks.isEmpty)
    }

    @Test func ordinaryInputsAreAccepted() {
        #expect(PaperInput.submit(bracket(entry(), stop: "95.00", target: "110.00")).validate() == nil)
        #expect(PaperInput.bar(bar(0, "100.00", "105.00", "95.00", "101.00")).validate() == nil)
        #expect(PaperInput.inject(.disconnect(seconds: 60)).validate() == nil)
        #expect(PaperInput.tick.validate() == nil)
    }

    @Test func fillWhoseCashWouldOverflowIsSkippedNotTrapped() {
        // Cash near Int64.min: one more buy of the largest notional would overflow.
        var config = frictionless
        config.startingCash = Money(units: .min + 1)
        var h = Harness(config)
        h.submit(standalone(entry(quantity: 100)))
        let outcome = h.deliver(bar(0, "100.00", "105.00", "95.00", "101.00"))
        #expect(outcome.fills.isEmpty)
        #expect(outcome.notices.contains { if case .fillSkipped = $0 { true } else { false } })
        #expect(h.exchange.cash == Money(units: .min + 1))
    }
}
