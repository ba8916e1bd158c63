import ASTCalendar
import ASTCore
import ASTIndicators
import Foundation
import Testing

@testable import ASTStrategy

@Suite struct MACrossover {
    func detector(fast: Int = 5, slow: Int = 20, average: String = "sma") throws -> MACrossoverDetector {
        var det = MACrossoverDetector()
        try det.validate(["fast": .number(Double(fast)), "slow": .number(Double(slow)), "average": .string(average)])
        return det
    }

    /// The bars on which the detector fires when the scan is run after each bar in turn.
    func firingBars(_ det: MACrossoverDetector, _ bars: [Bar]) -> [Int] {
        let plan = IndicatorPlan(det.indicators)
        return bars.indices.filter { i in
            let next = i + 1 < bars.count ? sessionDate(of: bars[i + 1]) : scanDate
            let ctx = SymbolContext.build(
                date: next, info: info("AAPL"), bars: Array(bars[...i]), plan: plan, lookback: det.lookback,
                regime: .bull)
            return det.detect(ctx) != nil
        }
    }

    @Test func firesOnTheCrossingBarAndOnNoOther() throws {
        let closes = crossoverCloses()
        let bars = series("AAPL", closes: closes)
        let fired = firingBars(try detector(), bars)
        // The path ends on its first crossing after the decline; the flat stretch before has none.
        #expect(fired == [closes.count - 1])
    }

    @Test func firingMatchesAnIndependentCrossingCountOverAWavySeries() throws {
        let closes: [Double] = (0..<200).map { (i: Int) -> Double in
            let wave: Double = 10 * sin(Double(i) / 7)
            return ((100 + wave + Double(i % 3)) * 10_000).rounded() / 10_000  // on the Price grid
        }
        let bars = series("AAPL", closes: closes, halfRange: 15)
        func sma(_ n: Int, _ i: Int) -> Double? { i >= n - 1 ? closes[(i - n + 1)...i].reduce(0, +) / Double(n) : nil }
        let expected = closes.indices.filter { i in
            guard i >= 1, let f0 = sma(5, i), let s0 = sma(20, i), let f1 = sma(5, i - 1), let s1 = sma(20, i - 1) else { return false }
            return f0 > s0 && f1 <= s1
        }
        #expect(expected.count >= 3)
        #expect(firingBars(try detector(), bars) == expected)
    }

    @Test func doesNotFireWhileTheFastAverageStaysAbove() throws {
        let bars = series("AAPL", closes: trend(from: 50, count: 100, stepPct: 0.3), halfRange: 0.2)
        #expect(firingBars(try detector(), bars).isEmpty)
    }

    @Test func emaAverageReadsEMAs() throws {
        let det = try detector(fast: 3, slow: 8, average: "ema")
        #expect(det.indicators == [.ema(period: 3), .ema(period: 8)])
    }

    @Test func refusesFastNotBelowSlowAndUnknownParameters() {
        var det = MACrossoverDetector()
        #expect(
            throws: PluginConfigError(
                plugin: "detector ma_crossover",
                problems: [
                    "average must be one of sma, ema (got 'wma')", "fast must be below slow (got fast 30, slow 10)",
                    "unknown parameter 'sloww' (known: average, fast, slow)",
                ])
        ) {
            try det.validate(["fast": 30, "slow": 10, "average": "wma", "sloww": 5])
        }
    }
}

extension PluginValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(stringLiteral value: String) { self = .string(value) }
}

@Suite struct PlatformBreakout {
    /// 40 wide bars rising into a 15-session platform of 99.5–101, then the last bar.
    func bars(
        platformLow: Double = 99.5, platformHigh: Double = 101, lastClose: Double = 103, lastVolume: Int64 = 3_000_000,
        wideRunUp: Bool = true
    ) -> [Bar] {
        let days = sessions(before: scanDate, count: 56)
        var out: [Bar] = []
        let runUp = trend(from: 100 / pow(1.005, 40.0), count: 40, stepPct: 0.5)
        for (i, c) in runUp.enumerated() {
            let half: Double = wideRunUp ? c * 0.02 : (platformHigh - platformLow) / 2
            out.append(bar("PLAT", days[i], high: c + half, low: c - half, close: c, volume: 1_000_000))
        }
        for i in 0..<15 {
            out.append(
                bar("PLAT", days[40 + i], high: platformHigh, low: platformLow, close: i % 2 == 0 ? 100.2 : 100.6, volume: 1_000_000))
        }
        out.append(bar("PLAT", days[55], high: lastClose + 0.5, low: 100.5, close: lastClose, volume: lastVolume))
        return out
    }

    func detect(_ bars: [Bar]) throws -> Detection? {
        var det = PlatformBreakoutDetector()
        try det.validate([:])
        let ctx = SymbolContext.build(
            date: scanDate, info: info("PLAT"), bars: bars, plan: IndicatorPlan(det.indicators),
            lookback: det.lookback, regime: .bull)
        return det.detect(ctx)
    }

    @Test func aTightPlatformOnContractingATRBrokenOnHeavyVolumeIsFound() throws {
        let found = try #require(try detect(bars()))
        let m = Dictionary(uniqueKeysWithValues: found.metrics.map { ($0.name, $0.value) })
        #expect(m["platform_high"] == 101)
        #expect(m["platform_low"] == 99.5)
        #expect(m["atr_end"]! < 0.9 * m["atr_start"]!)
        #expect(m["average_volume"] == 1_000_000)
        #expect(found.summary.hasPrefix("close 103.00 above the 15-session platform 99.50–101.00"))
    }

    @Test func noBreakoutWithoutVolume() throws {
        #expect(try detect(bars(lastVolume: 1_400_000)) == nil)
    }

    @Test func noBreakoutWhenTheCloseStaysInsideThePlatform() throws {
        #expect(try detect(bars(lastClose: 100.9)) == nil)
    }

    @Test func noPlatformWhenTheRangeIsTooWide() throws {
        #expect(try detect(bars(platformLow: 92, platformHigh: 101)) == nil)
    }

    @Test func noPlatformWhenVolatilityDidNotContract() throws {
        #expect(try detect(bars(wideRunUp: false)) == nil)
    }
}
