import ASTCalendar
import ASTCore
import Testing

@testable import ASTStrategy

@Suite struct RegimeClassification {
    let previous = d("2026-02-27")

    func vix(_ level: Double, count: Int = 300) -> ArraySlice<Bar> {
        series("VIX", closes: Array(repeating: level, count: count), halfRange: 0.5)[...]
    }

    func classify(_ index: [Bar], vix level: Double) -> RegimeAssessment {
        RegimeClassifier.classify(index: index[...], volatility: vix(level), previousSession: previous)
    }

    @Test func aStrongUpTrendWithCalmVolatilityIsBull() {
        let r = classify(pctSeries("SPY", closes: trend(from: 400, count: 300, stepPct: 0.2), rangePct: 1), vix: 15)
        #expect(r.regime == .bull, "\(r.reasons)")
        #expect(r.measures.adx! >= 20)
        #expect(r.measures.shortSMASlopePct! > 0)
        #expect(r.reasons.last == "up-trend with strength and calm volatility")
    }

    @Test func aStrongDownTrendIsBear() {
        let r = classify(pctSeries("SPY", closes: trend(from: 600, count: 300, stepPct: -0.2), rangePct: 1), vix: 22)
        #expect(r.regime == .bear, "\(r.reasons)")
        #expect(r.reasons.last == "down-trend with strength")
    }

    @Test func panicVolatilityIsBearEvenInAnUpTrend() {
        let r = classify(pctSeries("SPY", closes: trend(from: 400, count: 300, stepPct: 0.2), rangePct: 1), vix: 40)
        #expect(r.regime == .bear)
        #expect(r.reasons.contains("volatility index 40.00 ≥ 35.00 (stress)"))
    }

    @Test func aSidewaysMarketIsChoppy() {
        let closes = (0..<300).map { $0 % 2 == 0 ? 400.0 : 402.0 }
        let r = classify(series("SPY", closes: closes), vix: 18)
        #expect(r.regime == .choppy, "\(r.reasons)")
        #expect(r.measures.adx! < 20)
        #expect(r.reasons.last == "no clear trend")
    }

    @Test func anUpTrendWithElevatedVolatilityIsChoppy() {
        let r = classify(pctSeries("SPY", closes: trend(from: 400, count: 300, stepPct: 0.2), rangePct: 1), vix: 28)
        #expect(r.regime == .choppy)
        #expect(r.reasons.last == "up-trend but volatility too high for a bull market")
    }

    @Test func tooLittleIndexHistoryIsUndetermined() {
        let r = classify(pctSeries("SPY", closes: trend(from: 400, count: 150, stepPct: 0.2), rangePct: 1), vix: 15)
        #expect(r.regime == .undetermined)
        #expect(r.reasons == ["150 index bars are too few for SMA200"])
    }

    @Test func staleIndexDataIsUndetermined() {
        let index = pctSeries("SPY", closes: trend(from: 400, count: 300, stepPct: 0.2), rangePct: 1, before: d("2026-02-26"))
        let r = classify(index, vix: 15)
        #expect(r.regime == .undetermined)
        #expect(r.reasons == ["index data is stale (last bar 2026-02-25, expected 2026-02-27)"])
    }

    @Test func missingVolatilityIsUndetermined() {
        let r = RegimeClassifier.classify(
            index: pctSeries("SPY", closes: trend(from: 400, count: 300, stepPct: 0.2), rangePct: 1)[...],
            volatility: [][...], previousSession: previous)
        #expect(r.regime == .undetermined)
        #expect(r.reasons == ["no volatility index bars"])
    }
}
