import ASTCalendar
import ASTCore
import ASTIndicators
import Testing

@testable import ASTStrategy

/// The scan's indicators carried from scan to scan (``ScanIndicators``) against the
/// straightforward recomputation over the whole history (``SymbolContext/build``): the same
/// values, bit for bit, whatever the steps between scans, the recent bars handed in and the
/// splits on the way; a fresh set advanced only at the last scan (a restarted strategy) agrees too.
@Suite struct IndicatorTrackTests {
    static let plan = IndicatorPlan([
        .sma(period: 10), .ema(period: 12), .rsi(period: 14), .atr(period: 14), .macd(fast: 12, slow: 26, signal: 9),
        .bollinger(period: 20, multiplier: 2), .adx(period: 14), .supertrend(period: 10, multiplier: 3),
        .kdj(period: 9, kSmoothing: 3, dSmoothing: 3),
    ])

    /// A random walk of `count` sessions before `end`, with a split (ratio `new`:`old`) on each of `splits`.
    static func market(_ rng: inout SplitMix64, count: Int, end: LocalDate) -> (bars: [Bar], dates: [LocalDate]) {
        let days = sessions(before: end, count: count)
        var close = Double.random(in: 5...300, using: &rng)
        var bars: [Bar] = []
        for day in days {
            close = max(0.5, close * (1 + Double.random(in: -0.05...0.05, using: &rng)))
            let range = close * Double.random(in: 0.001...0.06, using: &rng)
            let open = close + Double.random(in: -range...range, using: &rng) / 2
            bars.append(
                bar(
                    "AAA", day, open: open, high: max(open, close) + range / 2, low: max(0.01, min(open, close) - range / 2), close: close,
                    volume: Int64.random(in: 1_000...5_000_000, using: &rng)))
        }
        return (bars, days)
    }

    /// The bars before `date`, each before a split's ex-date (on or before `date`) scaled by `old/new`.
    static func adjusted(_ bars: [Bar], _ dates: [LocalDate], splits: [(LocalDate, Int64, Int64)], through date: LocalDate) -> [Bar] {
        let known = splits.filter { $0.0 <= date }
        return zip(bars, dates).filter { $0.1 < date }.map { b, day in
            var factor = 1.0
            for (ex, new, old) in known where day < ex { factor *= Double(old) / Double(new) }
            guard factor != 1 else { return b }
            func scale(_ p: Price) -> Price { Price(units: Int64((Double(p.units) * factor).rounded())) }
            var a = b
            a.open = scale(b.open)
            a.high = scale(b.high)
            a.low = scale(b.low)
            a.close = scale(b.close)
            return a
        }
    }

    @Test(arguments: 0..<12)
    func carriedIndicatorsEqualTheRecomputationOverTheWholeHistory(seed: Int) {
        var rng = SplitMix64(seed: 0xA57_0000 + UInt64(seed))
        let count = Int.random(in: 150...400, using: &rng)
        let (bars, dates) = Self.market(&rng, count: count, end: d("2026-11-02"))
        var splits: [(LocalDate, Int64, Int64)] = []
        for _ in 0..<Int.random(in: 0...2, using: &rng) {
            let (new, old): (Int64, Int64) = Bool.random(using: &rng) ? (2, 1) : (1, 4)
            splits.append((dates[Int.random(in: 40..<count, using: &rng)], new, old))
        }
        let lookback = Int.random(in: 1...25, using: &rng)
        var carried = ScanIndicators(plan: Self.plan, lookback: lookback)
        var index = Int.random(in: 1...30, using: &rng)
        var scans = 0
        while index < count {
            let date = dates[index]
            let history = Self.adjusted(bars, dates, splits: splits, through: date)
            let known = splits.filter { $0.0 <= date }.count
            // The recent bars handed in: sometimes fewer than the step since the last scan.
            let recent = history.suffix(Int.random(in: 1...max(1, history.count), using: &rng))
            carried.advance("AAA", recent: recent, splits: known) { history[...] }

            let expected = SymbolContext.build(
                date: date, info: info("AAA"), bars: history, plan: Self.plan, lookback: lookback, regime: .undetermined
            ).indicators
            let track = carried.track("AAA")
            #expect(track?.window.rows == expected.rows, "seed \(seed), scan of \(date) (\(history.count) bars)")
            #expect(track?.barCount == history.count)

            var fresh = ScanIndicators(plan: Self.plan, lookback: lookback)
            fresh.advance("AAA", recent: recent, splits: known) { history[...] }
            #expect(fresh.track("AAA")?.window.rows == expected.rows, "a restart at \(date) rebuilds the same values")
            scans += 1
            index += Int.random(in: 1...12, using: &rng)
        }
        #expect(scans > 5)
        // Incremental: most bars were fed one scan at a time, not recomputed.
        #expect(carried.barsFed > 0 && carried.rebuilds < scans, "\(carried.rebuilds) rebuilds in \(scans) scans")
    }

    @Test func aNewSplitRebuildsTheTrackAndAnUnchangedHistoryDoesNot() {
        let closes = trend(from: 50, count: 120, stepPct: 0.4)
        let bars = series("AAA", closes: closes)
        var carried = ScanIndicators(plan: Self.plan, lookback: 3)
        var histories = 0
        carried.advance("AAA", recent: bars.dropLast(10).suffix(5), splits: 0) {
            histories += 1
            return bars.dropLast(10)
        }
        carried.advance("AAA", recent: bars.suffix(20), splits: 0) {
            histories += 1
            return bars[...]
        }
        #expect(histories == 1 && carried.barsFed == 10 && carried.rebuilds == 1)
        // The same bars said to be adjusted for one more split: the track is rebuilt.
        carried.advance("AAA", recent: bars.suffix(20), splits: 1) {
            histories += 1
            return bars[...]
        }
        #expect(histories == 2 && carried.rebuilds == 2)
        // A corrected last bar does not continue the track either.
        var corrected = bars
        corrected[corrected.count - 1].close = Price(units: corrected[corrected.count - 1].close.units + 1)
        carried.advance("AAA", recent: corrected.suffix(20), splits: 1) { corrected[...] }
        #expect(carried.rebuilds == 3)
        let expected = SymbolContext.build(
            date: scanDate, info: info("AAA"), bars: corrected, plan: Self.plan, lookback: 3, regime: .undetermined
        ).indicators
        #expect(carried.track("AAA")?.window.rows == expected.rows)
    }

    @Test func barsOutOfOrderGiveNoValuesAsTheRecomputationDoes() {
        var bars = series("AAA", closes: trend(from: 20, count: 40, stepPct: 1))
        bars.swapAt(30, 31)
        var carried = ScanIndicators(plan: Self.plan, lookback: 2)
        carried.advance("AAA", recent: bars[...], splits: 0) { bars[...] }
        let expected = SymbolContext.build(
            date: scanDate, info: info("AAA"), bars: bars, plan: Self.plan, lookback: 2, regime: .undetermined
        ).indicators
        #expect(expected.count == 0 && carried.track("AAA")?.window.count == 0)
    }

    /// Tracks are found by position while the universe keeps its order, and by symbol when it
    /// does not (reordered, a symbol gone, a new one): each symbol always advances its own track.
    @Test func aUniverseWhoseOrderChangesAdvancesEachSymbolsOwnTrack() {
        let series: [Symbol: [Bar]] = [
            "AAA": pctSeries("AAA", closes: trend(from: 20, count: 80, stepPct: 1), rangePct: 2),
            "BBB": pctSeries("BBB", closes: trend(from: 90, count: 80, stepPct: -0.5), rangePct: 4),
            "CCC": pctSeries("CCC", closes: trend(from: 40, count: 80, stepPct: 0.2), rangePct: 1),
        ]
        let days = sessions(before: scanDate, count: 6)
        let orders: [[Symbol]] = [
            ["AAA", "BBB"], ["AAA", "BBB"], ["BBB", "AAA"], ["CCC", "AAA"], ["AAA", "CCC", "BBB"], ["BBB", "CCC", "AAA"],
        ]
        var carried = ScanIndicators(plan: Self.plan, lookback: 4)
        for (date, order) in zip(days, orders) {
            let universe = order.map { SymbolHistory(info: info($0), bars: barsBefore(date, series[$0]!)) }
            let input = ScanInput(date: date, universe: universe, index: [], volatilityIndex: [], portfolio: portfolio())
            carried.advance(input) { i in series[universe[i].info.symbol]! }
            for symbol in order {
                let usable = barsBefore(date, series[symbol]!)
                let expected = SymbolContext.build(
                    date: date, info: info(symbol), bars: series[symbol]!, plan: Self.plan, lookback: 4, regime: .undetermined
                ).indicators
                #expect(carried.track(symbol)?.window.rows == expected.rows, "\(symbol) on \(date)")
                #expect(carried.window(symbol, lastStart: usable.last?.start)?.rows == expected.rows)
                #expect(carried.window(symbol, lastStart: usable.dropLast().last?.start) == nil, "another last bar: no window")
            }
        }
        // BBB skipped a scan and came back: its track continued from the bars after its last one.
        #expect(carried.rebuilds == 3, "one build per symbol, \(carried.rebuilds) in all")
    }
}
