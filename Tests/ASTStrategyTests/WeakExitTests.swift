import ASTCalendar
import ASTCore
import ASTIndicators
import Testing

@testable import ASTStrategy

/// `weak_exit` against hand-computed numbers. Twenty closes of 100 before the entry, then the
/// held bars 101, 102, 99, 98 (the entry's session is the 101 bar's). The position: 100 shares
/// at an average of 100.00 with its stop at 96.00 (R = 4.00).
@Suite struct WeakExitTests {
    static let closes = Array(repeating: 100.0, count: 20) + [101, 102, 99, 98]
    static let bars = series("AAA", closes: closes)
    static let entry = NewYorkTime.local(bars[20].start).date

    func rule(_ params: PluginParameters) throws -> WeakExit {
        var w = WeakExit()
        try w.validate(params)
        return w
    }

    func position(_ bars: [Bar], average: Double = 100, stop: Double = 96, entry: LocalDate = entry, holding: Bool = true)
        -> ExitPosition
    {
        ExitPosition(
            symbol: "AAA", quantity: 100, averagePrice: px(average), lastClose: bars.last!.close,
            holding: holding ? Holding(entryDate: entry, sessionsHeld: 4, initialQuantity: 100, initialStop: px(stop)) : nil)
    }

    func ctx(_ bars: [Bar], rsi: Int? = nil) -> SymbolContext { context("AAA", bars, specs: rsi.map { [.rsi(period: $0)] } ?? []) }

    /// SMA5 at the 99 bar: (100 + 100 + 101 + 102 + 99) / 5 = 100.4 > 99; at the 98 bar:
    /// (100 + 101 + 102 + 99 + 98) / 5 = 100 > 98: two closes below, at −0.5 R: closed whole.
    @Test func twoClosesBelowTheirAverageUnderOneRCloseThePosition() throws {
        let w = try rule(["ma_period": .number(5), "below_sessions": .number(2), "momentum": .string("none")])
        guard case .close(let q, let reason) = w.review(position(Self.bars), ctx(Self.bars)) else {
            Issue.record("not closed")
            return
        }
        #expect(q == 100)
        #expect(reason == "weak at -0.50 R (under 1.00 R): 2 closes below SMA5", "\(reason)")
        // A last close of 100.50 equals its SMA5 (100 + 101 + 102 + 99 + 100.5 = 502.5): not below.
        let equal = series("AAA", closes: Array(Self.closes.dropLast()) + [100.5])
        #expect(w.review(position(equal), ctx(equal)) == .hold)
        // The 99 bar before the entry's session does not count: one held close below, not two.
        #expect(w.review(position(Self.bars, entry: NewYorkTime.local(Self.bars[23].start).date), ctx(Self.bars)) == .hold)
        // At (98 − 90) / 4 = 2 R the position has worked: left to the other rules.
        #expect(w.review(position(Self.bars, average: 90, stop: 86), ctx(Self.bars)) == .hold)
        // max_r 3: 2 R is under it.
        let wide = try rule(["ma_period": .number(5), "below_sessions": .number(2), "momentum": .string("none"), "max_r": .number(3)])
        #expect(wide.review(position(Self.bars, average: 90, stop: 86), ctx(Self.bars)) != .hold)
        // Without the entry record, or without R (no stop below the average): it holds.
        #expect(w.review(position(Self.bars, holding: false), ctx(Self.bars)) == .hold)
        #expect(w.review(position(Self.bars, stop: 100), ctx(Self.bars)) == .hold)
        // Too few bars for the averages: it holds.
        #expect(w.review(position(Array(Self.bars.suffix(5))), ctx(Array(Self.bars.suffix(5)))) == .hold)
    }

    /// ROC3 at the last bar: 98 / 101 − 1 = −2.970 %; both conditions must hold.
    @Test func momentumByRateOfChangeAndBothConditionsTogether() throws {
        let roc = try rule(["below_sessions": .number(0), "momentum": .string("roc"), "momentum_period": .number(3)])
        guard case .close(_, let reason) = roc.review(position(Self.bars), ctx(Self.bars)) else {
            Issue.record("not closed")
            return
        }
        #expect(reason.hasSuffix("ROC3 -2.97% < 0.00%"), "\(reason)")
        let deeper = try rule(
            ["below_sessions": .number(0), "momentum": .string("roc"), "momentum_period": .number(3), "momentum_below": .number(-3)])
        #expect(deeper.review(position(Self.bars), ctx(Self.bars)) == .hold)
        // Price and momentum: both hold at −2.97 % < 0; at −3 % the momentum does not.
        let both: PluginParameters = [
            "ma_period": .number(5), "below_sessions": .number(2), "momentum": .string("roc"), "momentum_period": .number(3),
        ]
        #expect(try rule(both).review(position(Self.bars), ctx(Self.bars)) != .hold)
        var stricter = both
        stricter.values["momentum_below"] = .number(-3)
        #expect(try rule(stricter).review(position(Self.bars), ctx(Self.bars)) == .hold)
    }

    /// Wilder's RSI is 0 over closes that only fall and 100 over closes that only rise.
    @Test func momentumByRSI() throws {
        let w = try rule(["below_sessions": .number(0), "momentum_period": .number(14)])  // RSI14 < 40
        #expect(w.indicators == [.rsi(period: 14)])
        let falling = series("AAA", closes: (0..<30).map { 100 - Double($0) * 0.25 })  // last 92.75: −1.8 R
        #expect(ctx(falling, rsi: 14).indicators.value(.rsi(period: 14)) == 0)
        guard case .close(_, let reason) = w.review(position(falling, entry: d("2026-01-02")), ctx(falling, rsi: 14)) else {
            Issue.record("not closed")
            return
        }
        #expect(reason.hasSuffix("RSI14 0.00 < 40.00"), "\(reason)")
        let rising = series("AAA", closes: (0..<30).map { 95 + Double($0) * 0.25 })  // last 102.25: 0.56 R
        #expect(ctx(rising, rsi: 14).indicators.value(.rsi(period: 14)) == 100)
        #expect(w.review(position(rising, entry: d("2026-01-02")), ctx(rising, rsi: 14)) == .hold)
    }

    @Test func settingsAreValidatedAtConfigurationLoad() {
        func problems(_ p: PluginParameters) -> [String] {
            var c = PipelineConfig()
            c.exits = [PluginConfig(name: "weak_exit", params: p)]
            return c.problems()
        }
        #expect(problems([:]).isEmpty)
        #expect(problems(["below_sessions": .number(0), "momentum": .string("none")]).contains { $0.contains("no condition left") })
        #expect(problems(["momentum_below": .number(150)]).contains { $0.contains("momentum_below must be a number from 0") })
        #expect(problems(["momentum": .string("roc"), "momentum_below": .number(150)]).isEmpty)
        #expect(problems(["momentum": .string("macd")]).contains { $0.contains("momentum must be one of rsi, roc, none") })
        #expect(problems(["ma_period": .number(1)]).contains { $0.contains("ma_period") })
        #expect(problems(["ma_perod": .number(10)]).contains { $0.contains("unknown parameter 'ma_perod'") })
    }
}
