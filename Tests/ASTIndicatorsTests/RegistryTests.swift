import ASTCore
import Testing

@testable import ASTIndicators

@Suite struct IndicatorRegistry {
    @Test func sharedDependenciesAreComputedOncePerBar() {
        // A strategy wants EMA 12, MACD 12,26,9, Bollinger 20 and SMA 20, SuperTrend 10 and ATR 10,
        // ADX 14 and ATR 14: the EMAs, the SMA, the ATR and the true range are shared.
        let plan = IndicatorPlan([
            .ema(period: 12), .macd(fast: 12, slow: 26, signal: 9), .bollinger(period: 20, multiplier: 2),
            .sma(period: 20), .supertrend(period: 10, multiplier: 3), .atr(period: 10), .adx(period: 14),
            .atr(period: 14), .ema(period: 12),
        ])
        #expect(
            plan.computedNodes == [
                "ema:12", "ema:26", "macd:12,26,9", "sma:20", "stddev:20", "bb:20,2", "true_range", "atr:10",
                "supertrend:10,3", "adx:14", "atr:14",
            ])
        var engine = IndicatorEngine(plan: plan)
        let bars = randomBars(count: 300, seed: 3)
        for b in bars { _ = engine.update(b) }
        // Every node ran exactly once per bar, however many consumers read it.
        #expect(engine.evaluations == Array(repeating: 300, count: plan.computedNodes.count))
        #expect(plan.requested.count == 8)
    }

    @Test func onlyRequestedIndicatorsAndTheirDependenciesAreComputed() {
        let plan = IndicatorPlan([.rsi(period: 14)])
        #expect(plan.computedNodes == ["rsi:14"])
        let macd = IndicatorPlan([.macd(fast: 12, slow: 26, signal: 9)])
        #expect(macd.computedNodes == ["ema:12", "ema:26", "macd:12,26,9"])
        #expect(macd.columns == ["macd_12_26_9", "macd_signal_12_26_9", "macd_hist_12_26_9"])
        var engine = IndicatorEngine(plan: macd)
        let values = engine.update(bar(0, open: 10, high: 10, low: 10, close: 10))!
        // Intermediate EMAs are computed but not reported; an unrequested spec has no values.
        #expect(values.specs == [.macd(fast: 12, slow: 26, signal: 9)])
        #expect(values[.ema(period: 12)] == nil)
        #expect(IndicatorPlan([]).computedNodes.isEmpty)
    }

    @Test func dependenciesAreEvaluatedBeforeTheirDependents() {
        let plan = IndicatorPlan([
            .supertrend(period: 7, multiplier: 2), .bollinger(period: 5, multiplier: 1), .macd(fast: 3, slow: 5, signal: 2),
        ])
        for (i, deps) in plan.inputs.enumerated() { #expect(deps.allSatisfy { $0 < i }) }
    }

    @Test func sharedValuesEqualTheStandaloneIndicators() {
        let bars = randomBars(count: 500, seed: 11)
        var engine = IndicatorEngine(plan: IndicatorPlan([.ema(period: 12), .macd(fast: 12, slow: 26, signal: 9)]))
        var ema = EMA(period: 12), macd = MACD(fast: 12, slow: 26, signal: 9)
        for b in bars {
            let v = engine.update(b)!
            #expect(v.value(.ema(period: 12)) == ema.update(b))
            #expect(v[.macd(fast: 12, slow: 26, signal: 9)] == macd.update(b)?.columnValues)
        }
    }

    @Test func rowFlattensColumnsWithEmptyCellsDuringWarmUp() {
        var engine = IndicatorEngine(plan: IndicatorPlan([.sma(period: 2), .macd(fast: 2, slow: 3, signal: 2)]))
        let r0 = engine.update(bar(0, open: 1, high: 1, low: 1, close: 1))!.row
        #expect(r0 == [nil, nil, nil, nil])
        let r1 = engine.update(bar(1, open: 3, high: 3, low: 3, close: 3))!.row
        #expect(r1 == [2, nil, nil, nil])
    }

    @Test func aBarThatDoesNotAdvanceTimeIsIgnored() {
        var engine = IndicatorEngine(plan: IndicatorPlan([.sma(period: 2)]))
        _ = engine.update(bar(5, open: 1, high: 1, low: 1, close: 1))
        #expect(engine.update(bar(5, open: 9, high: 9, low: 9, close: 9)) == nil)
        #expect(engine.update(bar(4, open: 9, high: 9, low: 9, close: 9)) == nil)
        #expect(engine.update(bar(6, open: 3, high: 3, low: 3, close: 3))?.value(.sma(period: 2)) == 2)
        #expect(engine.barCount == 2)
    }

    @Test func theBookKeepsEachSymbolApart() {
        var book = IndicatorBook(plan: IndicatorPlan([.sma(period: 2)]))
        _ = book.update(bar(0, open: 1, high: 1, low: 1, close: 1, symbol: "AAA"))
        _ = book.update(bar(0, open: 100, high: 100, low: 100, close: 100, symbol: "BBB"))
        #expect(book.update(bar(1, open: 3, high: 3, low: 3, close: 3, symbol: "AAA"))?.value(.sma(period: 2)) == 2)
        #expect(book.update(bar(1, open: 300, high: 300, low: 300, close: 300, symbol: "BBB"))?.value(.sma(period: 2)) == 200)
        #expect(book.engine(for: "AAA")?.barCount == 2)
        #expect(book.engine(for: "CCC") == nil)
    }
}
