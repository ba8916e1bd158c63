import ASTCore
import ASTIndicators
import ASTRisk
import Foundation
import Testing

@testable import ASTStrategy

@Suite struct FilterChainReasons {
    let chain = FilterChain(FilterChainConfig().makeFilters())

    func candidate(_ s: Symbol = "AAPL") -> Candidate { Candidate(symbol: s, detector: "ma_crossover", close: px(100), summary: "") }
    func ctx(_ bars: [Bar], regime: MarketRegime = .bull, position: PositionSnapshot? = nil) -> SymbolContext {
        context("AAPL", bars, specs: FilterChainConfig().makeFilters().flatMap(\.indicators), regime: regime, position: position)
    }

    @Test func aCandidateMeetingEveryRulePasses() {
        #expect(chain.apply(candidate(), ctx(series("AAPL", closes: crossoverCloses()))) == nil)
    }

    @Test func aRegimeThatDoesNotAllowLongsRejects() {
        let r = chain.apply(candidate(), ctx(series("AAPL", closes: crossoverCloses()), regime: .choppy))
        #expect(r?.rejections == [FilterReason(filter: "regime", reason: "regime choppy does not allow long entries (allowed: bull)")])
    }

    @Test func anUndeterminedRegimeRejectsEvenWhenListed() {
        var config = FilterChainConfig()
        config.allowedRegimes = [.bull, .choppy, .undetermined]
        let r = FilterChain(config.makeFilters()).apply(candidate(), ctx(series("AAPL", closes: crossoverCloses()), regime: .undetermined))
        #expect(r?.rejections.map(\.filter) == ["regime"])
    }

    @Test func anOverboughtRSIRejectsWithItsValue() {
        // Rising by 1 on every bar: RSI 100.
        let r = chain.apply(candidate(), ctx(series("AAPL", closes: (0..<60).map { 100 + Double($0) })))
        #expect(r?.rejections == [FilterReason(filter: "max_rsi", reason: "RSI14 100.00 is above 70.00 (overbought)")])
    }

    @Test func tooLittleMovementRejectsOnATRPercent() {
        // Bars ±0.25 around 100: ATR 0.5, 0.50 % of the close.
        let r = chain.apply(candidate(), ctx(series("AAPL", closes: (0..<60).map { $0 % 2 == 0 ? 100 : 100.1 }, halfRange: 0.25)))
        #expect(r?.rejections == [FilterReason(filter: "min_atr_pct", reason: "ATR14 is 0.50% of the close, below 1.00%")])
    }

    @Test func aHeldSymbolIsRejected() {
        let held = PositionSnapshot(quantity: 100, averagePrice: px(90), lastMark: px(100))
        let r = chain.apply(candidate(), ctx(series("AAPL", closes: crossoverCloses()), position: held))
        #expect(r?.rejections == [FilterReason(filter: "not_held", reason: "already holds 100 shares of AAPL")])
    }

    @Test func everyFailingFilterGivesItsReasonInChainOrder() {
        let held = PositionSnapshot(quantity: 5, averagePrice: px(90), lastMark: px(100))
        let r = chain.apply(
            candidate(),
            ctx(
                series("AAPL", closes: (0..<60).map { 100 + Double($0) * 0.2 }, halfRange: 0.2),
                regime: .bear, position: held))
        #expect(r?.rejections.map(\.filter) == ["regime", "not_held", "max_rsi", "min_atr_pct"])
    }

    @Test func nullThresholdsTurnFiltersOff() throws {
        let json = #"{"max_rsi": null, "min_atr_pct": null, "skip_held_symbols": false, "allowed_regimes": ["bull", "choppy"]}"#
        let config = try JSONDecoder().decode(FilterChainConfig.self, from: Data(json.utf8))
        #expect(config.makeFilters().map(\.name) == ["regime"])
    }
}
