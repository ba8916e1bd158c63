import ASTCalendar
import ASTCore
import Foundation
import Testing

@testable import ASTStrategy

@Suite struct UniverseFilterCriteria {
    let previous = d("2026-02-27")
    let filter: UniverseFilter = {
        var c = UniverseConfig()
        c.minHistorySessions = 50
        c.maxPrice = Price(dollars: 500)!
        c.minAverageDollarVolume = Money(dollars: 10_000_000)!
        return UniverseFilter(config: c)
    }()

    func codes(_ i: SymbolInfo, _ bars: [Bar], previous: LocalDate? = nil) -> [String] {
        filter.exclusions(info: i, bars: barsBefore(scanDate, bars), previousSession: previous ?? self.previous).map(\.code)
    }

    @Test func aLiquidListedSymbolWithEnoughCurrentHistoryIsIncluded() {
        #expect(codes(info("AAPL"), series("AAPL", closes: Array(repeating: 100, count: 60))) == [])
    }

    @Test func anExchangeNotAllowedIsExcluded() {
        let r = filter.exclusions(
            info: info("XYZ", exchange: "OTC"), bars: barsBefore(scanDate, series("XYZ", closes: Array(repeating: 100, count: 60))),
            previousSession: previous)
        #expect(r.map(\.code) == ["EXCHANGE_NOT_ALLOWED"])
        #expect(r[0].detail == "exchange 'OTC' is not among AMEX, NASDAQ, NYSE")
    }

    @Test func exchangesCompareCaseInsensitively() {
        #expect(codes(info("AAPL", exchange: "nasdaq"), series("AAPL", closes: Array(repeating: 100, count: 60))) == [])
    }

    @Test func anIndexIsNeverTradable() {
        #expect(
            codes(info("SPY", exchange: "NYSE", isIndex: true), series("SPY", closes: Array(repeating: 100, count: 60))) == [
                "INDEX_NOT_TRADABLE"
            ])
    }

    @Test func aPriceBelowTheMinimumIsExcluded() {
        // 4.99 x 5,000,000 shares is plenty of dollar volume; only the price fails.
        let r = filter.exclusions(
            info: info("PNY"),
            bars: barsBefore(scanDate, series("PNY", closes: Array(repeating: 4.99, count: 60), halfRange: 0.01, volume: 5_000_000)),
            previousSession: previous)
        #expect(r.map(\.code) == ["PRICE_BELOW_MIN"])
        #expect(r[0].detail == "last close 4.99 is below 5.00")
    }

    @Test func aPriceAboveTheMaximumIsExcluded() {
        #expect(codes(info("BRK"), series("BRK", closes: Array(repeating: 600, count: 60))) == ["PRICE_ABOVE_MAX"])
    }

    @Test func lowAverageDollarVolumeIsExcluded() {
        // 100 x 90,000 = 9,000,000 a day, below 10,000,000.
        let r = filter.exclusions(
            info: info("THIN"), bars: barsBefore(scanDate, series("THIN", closes: Array(repeating: 100, count: 60), volume: 90_000)),
            previousSession: previous)
        #expect(r.map(\.code) == ["DOLLAR_VOLUME_BELOW_MIN"])
        #expect(r[0].detail == "average dollar volume 9000000.00 over 20 of 20 sessions is below 10000000.00")
    }

    @Test func averageDollarVolumeIsTheExactMeanOfTheLastSessions() {
        var bars = series("AAPL", closes: Array(repeating: 10, count: 30), halfRange: 0.1, volume: 1_000)
        bars[29].close = px(12.5)
        bars[29].volume = 3
        // Last 2 sessions: 10 x 1,000 and 12.5 x 3 -> (10,000 + 37.5) / 2 = 5,018.75.
        #expect(UniverseFilter.averageDollarVolume(bars[...], sessions: 2) == Money("5018.75")!)
    }

    @Test func tooShortAHistoryIsExcluded() {
        let r = filter.exclusions(
            info: info("NEW"), bars: barsBefore(scanDate, series("NEW", closes: Array(repeating: 100, count: 49))),
            previousSession: previous)
        #expect(r.map(\.code) == ["HISTORY_TOO_SHORT"])
        #expect(r[0].detail == "49 sessions of history, need 50")
    }

    @Test func dataThatStopsBeforeThePreviousSessionIsStale() {
        let bars = series("OLD", closes: Array(repeating: 100, count: 60), before: d("2026-02-26"))
        #expect(codes(info("OLD"), bars) == ["STALE_DATA"])
    }

    @Test func barsOfTheScanDateItselfAreIgnored() {
        var bars = series("AAPL", closes: Array(repeating: 100, count: 60))
        bars.append(bar("AAPL", scanDate, high: 1, low: 1, close: 1))  // a bar from the future would fail the price test
        #expect(codes(info("AAPL"), bars) == [])
    }

    @Test func everyFailedCriterionIsReported() {
        let bars = series("BAD", closes: Array(repeating: 3, count: 10), halfRange: 0.1, volume: 10, before: d("2026-02-20"))
        #expect(
            codes(info("BAD", exchange: "OTC"), bars)
                == ["EXCHANGE_NOT_ALLOWED", "STALE_DATA", "PRICE_BELOW_MIN", "DOLLAR_VOLUME_BELOW_MIN", "HISTORY_TOO_SHORT"])
    }

    @Test func noBarsAtAllIsItsOwnReason() {
        #expect(codes(info("NONE"), []) == ["NO_BARS"])
    }

    @Test func barsOutOfOrderAreExcluded() {
        var bars = series("AAPL", closes: Array(repeating: 100, count: 60))
        bars.swapAt(10, 11)
        #expect(codes(info("AAPL"), bars) == ["BARS_OUT_OF_ORDER"])
    }

    @Test func configProblemsNameTheKey() {
        var c = UniverseConfig()
        c.minPrice = .zero
        c.dollarVolumeSessions = 0
        #expect(
            c.problems() == [
                "strategy.universe.min_price must be above 0 (got 0.00)",
                "strategy.universe.dollar_volume_sessions must be between 1 and 1000 (got 0)",
            ])
        #expect(UniverseConfig().problems() == [])
    }

    @Test func aHistoryVouchedAscendingSkipsTheOrderCheckAndOneNotVouchedIsChecked() {
        var bars = series("AAPL", closes: Array(repeating: 100, count: 60))
        bars.swapAt(10, 11)
        let usable = barsBefore(scanDate, bars)
        #expect(filter.exclusions(info: info("AAPL"), bars: usable, previousSession: previous).map(\.code) == ["BARS_OUT_OF_ORDER"])
        // The caller's word is taken (the engine checks its market once): no O(bars) pass.
        #expect(filter.exclusions(info: info("AAPL"), bars: usable, previousSession: previous, ascending: true).isEmpty)
    }

    @Test func exclusionDetailsAreWordedFromTheirNumbersAndEncodeAsText() throws {
        let bars = series("BAD", closes: Array(repeating: 3, count: 10), halfRange: 0.1, volume: 10, before: d("2026-02-20"))
        var swapped = bars
        swapped.swapAt(2, 3)
        let r =
            filter.exclusions(
                info: info("BAD", exchange: "OTC", isIndex: true), bars: barsBefore(scanDate, swapped), previousSession: previous)
        #expect(
            r.map(\.description) == [
                "INDEX_NOT_TRADABLE: BAD is an index",
                "EXCHANGE_NOT_ALLOWED: exchange 'OTC' is not among AMEX, NASDAQ, NYSE",
                "BARS_OUT_OF_ORDER: bar at \(swapped[3].start) does not follow the bar at \(swapped[2].start)",
                "STALE_DATA: last bar is from 2026-02-19, expected the previous session 2026-02-27",
                "PRICE_BELOW_MIN: last close 3.00 is below 5.00",
                "DOLLAR_VOLUME_BELOW_MIN: average dollar volume 30.00 over 10 of 20 sessions is below 10000000.00",
                "HISTORY_TOO_SHORT: 10 sessions of history, need 50",
            ])
        let json = try JSONEncoder().encode(r[4])
        #expect(String(decoding: json, as: UTF8.self).contains(#""detail":"last close 3.00 is below 5.00""#))
        #expect(try JSONDecoder().decode(ExclusionReason.self, from: json) == r[4])
        #expect(try JSONDecoder().decode([ExclusionReason].self, from: JSONEncoder().encode(r)) == r)
    }

    /// The scan compares starts with instants computed once (``dayStart(_:)``) instead of
    /// converting every symbol's last bar to a New York date: the same answers at the edges of a
    /// day, across both daylight-saving switches.
    @Test func startsAgainstTheDaysFirstInstantAgreeWithTheirNewYorkDates() {
        let times = [
            LocalTime(hour: 0, minute: 0), LocalTime(hour: 0, minute: 1), LocalTime(hour: 9, minute: 30), LocalTime(hour: 23, minute: 59),
        ]
        for scan in [d("2026-03-09"), d("2026-03-10"), d("2026-11-02"), d("2026-11-03"), scanDate] {
            guard let previous = previousSession(before: scan, calendar: .nyse) else { continue }
            let span = dayStart(previous)..<dayStart(previous.adding(days: 1))
            for offset in -4...1 {
                for time in times {
                    var bars = series("AAPL", closes: Array(repeating: 100, count: 60), before: previous)
                    var last = bars[bars.count - 1]
                    // On the scan date itself, also the last nanosecond of the day before.
                    let at = NewYorkTime.timestamp(scan.adding(days: offset), time).nanoseconds
                    last.start = Timestamp(nanoseconds: at - (offset == 0 && time.minuteOfDay == 0 ? 1 : 0))
                    bars.append(last)
                    #expect(barsBefore(start: dayStart(scan), bars[...]) == barsBefore(scan, bars), "\(scan) \(offset) \(time)")
                    let usable = barsBefore(scan, bars)
                    #expect(
                        filter.exclusions(info: info("AAPL"), bars: usable, previousSession: previous, span: span, ascending: false)
                            .map(\.code) == filter.exclusions(info: info("AAPL"), bars: usable, previousSession: previous).map(\.code),
                        "\(scan) \(offset) \(time)")
                }
            }
        }
    }
}
