import ASTCalendar
import ASTCore
import Foundation
import Testing

@testable import ASTMarketData

/// The wall-clock feed's pure core: what to fetch when (time is an input), how a grouped day is
/// validated, the freshness gate before the scan, and when marks go out.
@Suite struct LiveFeedTests {
    static func d(_ s: String) -> LocalDate { LocalDate(s)! }
    static func at(_ date: String, _ h: Int, _ m: Int) -> Timestamp { NewYorkTime.timestamp(d(date), LocalTime(hour: h, minute: m)) }
    static let plan = LiveFeedPlan(settings: LiveFeedSettings(initialSessions: 5, minBarsPerDay: 2))

    // MARK: Fetch plan

    @Test func aSessionIsFetchedAtTheConfiguredTimeAfterItsCloseAndNotBefore() {
        // 2026-12-02 is a Wednesday; the store holds Tuesday.
        #expect(Self.plan.due(lastStored: Self.d("2026-12-01"), now: Self.at("2026-12-02", 16, 9)).isEmpty)
        #expect(Self.plan.due(lastStored: Self.d("2026-12-01"), now: Self.at("2026-12-02", 16, 10)) == [Self.d("2026-12-02")])
        #expect(Self.plan.due(lastStored: Self.d("2026-12-02"), now: Self.at("2026-12-02", 23, 0)).isEmpty, "stored once, not again")
        #expect(Self.plan.nextFetch(after: Self.at("2026-12-02", 16, 9)) == Self.at("2026-12-02", 16, 10))
        // Friday evening -> Monday 16:10.
        #expect(Self.plan.nextFetch(after: Self.at("2026-12-04", 17, 0)) == Self.at("2026-12-07", 16, 10))
    }

    @Test func theBackfillAfterDowntimeListsEveryMissedSessionAcrossHolidaysAndWeekends() {
        // Thanksgiving 2026-11-26 is closed, 11-27 closes early; then a weekend.
        #expect(
            Self.plan.due(lastStored: Self.d("2026-11-24"), now: Self.at("2026-11-30", 18, 0))
                == ["2026-11-25", "2026-11-27", "2026-11-30"].map(Self.d))
        // Christmas 2026-12-25 is closed; 12-24 closes early at 13:00, fetched at 16:10 all the same.
        #expect(Self.plan.due(lastStored: Self.d("2026-12-23"), now: Self.at("2026-12-28", 9, 0)) == [Self.d("2026-12-24")])
        #expect(Self.plan.fetchTime(of: TradingCalendar.nyse.session(on: Self.d("2026-12-24"))!) == Self.at("2026-12-24", 16, 10))
        // On a Sunday the latest due session is Friday's.
        #expect(Self.plan.due(lastStored: Self.d("2026-12-03"), now: Self.at("2026-12-06", 12, 0)) == [Self.d("2026-12-04")])
    }

    @Test func anEmptyStoreGetsTheLastInitialSessions() {
        let due = Self.plan.due(lastStored: nil, now: Self.at("2026-11-30", 8, 0))
        #expect(due == ["2026-11-20", "2026-11-23", "2026-11-24", "2026-11-25", "2026-11-27"].map(Self.d))
    }

    @Test func aStoreAheadOfTheClockOrACalendarPastItsTableFetchesNothing() {
        #expect(Self.plan.due(lastStored: Self.d("2026-12-10"), now: Self.at("2026-12-02", 18, 0)).isEmpty)
        #expect(Self.plan.due(lastStored: Self.d("2035-12-31"), now: Self.at("2036-06-02", 18, 0)).isEmpty)
        #expect(Self.plan.nextFetch(after: Self.at("2036-06-02", 18, 0)) == nil)
    }

    @Test func aFailureWaitsForItsRetryTimeThenFetchesAgain() {
        let now = Self.at("2026-12-02", 16, 11)
        let retry = Self.at("2026-12-02", 16, 26)
        #expect(Self.plan.decide(now: now, lastStored: Self.d("2026-12-01"), retryAt: retry) == .wait(until: retry))
        #expect(Self.plan.decide(now: retry, lastStored: Self.d("2026-12-01"), retryAt: retry) == .fetch([Self.d("2026-12-02")]))
        #expect(Self.plan.decide(now: now, lastStored: Self.d("2026-12-02"), retryAt: nil) == .wait(until: Self.at("2026-12-03", 16, 10)))
    }

    // MARK: Validation of a grouped day

    static func bar(_ symbol: String, _ date: String, o: Int64 = 100_000, h: Int64 = 110_000, l: Int64 = 90_000, c: Int64 = 105_000)
        -> SourcedBar
    {
        SourcedBar(
            Bar(
                symbol: Symbol(validating: symbol)!, resolution: .day, start: at(date, 9, 30), open: Price(units: o),
                high: Price(units: h), low: Price(units: l), close: Price(units: c), volume: 1_000))
    }

    @Test func aGoodDayIsStoredWhole() {
        let day = GroupedDay(date: Self.d("2026-12-02"), bars: [Self.bar("XYZ", "2026-12-02"), Self.bar("ABC", "2026-12-02")])
        guard case .store(let bars, let report) = LiveDayValidation.decide(day, settings: Self.plan.settings) else {
            Issue.record("refused a good day")
            return
        }
        #expect(bars.map(\.symbol.rawValue) == ["ABC", "XYZ"])
        #expect(!report.refused && report.storedBars == 2)
    }

    @Test func oneInvalidBarRefusesTheWholeDayAndNamesIt() {
        let day = GroupedDay(date: Self.d("2026-12-02"), bars: [Self.bar("ABC", "2026-12-02"), Self.bar("BAD", "2026-12-02", h: 80_000)])
        guard case .refuse(let reason) = LiveDayValidation.decide(day, settings: Self.plan.settings) else {
            Issue.record("stored a day with an invalid bar")
            return
        }
        #expect(reason.contains("BAD") && reason.contains("high 8.00 is below low 9.00") && reason.contains("nothing stored"), "\(reason)")
    }

    @Test func aDuplicateTickerAnIncompleteDayOrAClosedDayIsRefused() {
        let dup = GroupedDay(date: Self.d("2026-12-02"), bars: [Self.bar("ABC", "2026-12-02"), Self.bar("ABC", "2026-12-02", c: 100_000)])
        #expect(
            {
                if case .refuse(let r) = LiveDayValidation.decide(dup, settings: Self.plan.settings) {
                    r.contains("duplicate")
                } else {
                    false
                }
            }())
        let small = GroupedDay(date: Self.d("2026-12-02"), bars: [Self.bar("ABC", "2026-12-02")])
        #expect(
            {
                if case .refuse(let r) = LiveDayValidation.decide(small, settings: Self.plan.settings) {
                    r.contains("1 bars")
                } else {
                    false
                }
            }())
        let holiday = GroupedDay(date: Self.d("2026-12-25"), bars: [Self.bar("ABC", "2026-12-25"), Self.bar("XYZ", "2026-12-25")])
        #expect(LiveDayValidation.decide(holiday, settings: Self.plan.settings) == .refuse(reason: "2026-12-25 is not an NYSE session"))
    }

    @Test func lenientValidationDropsTheBadBarAndKeepsTheRest() {
        var settings = Self.plan.settings
        settings.mode = .lenient
        let day = GroupedDay(date: Self.d("2026-12-02"), bars: [Self.bar("ABC", "2026-12-02"), Self.bar("BAD", "2026-12-02", o: -1)])
        guard case .store(let bars, _) = LiveDayValidation.decide(day, settings: settings) else {
            Issue.record("lenient mode refused")
            return
        }
        #expect(bars.map(\.symbol.rawValue) == ["ABC"])
    }

    // MARK: Polygon's JSON

    @Test func theGroupedAnswerBecomesOneBarPerTickerAndSkipsTickersThatAreNotSymbols() throws {
        let t = Self.at("2026-12-02", 0, 0).nanoseconds / 1_000_000
        let json =
            #"{"adjusted":false,"queryCount":3,"resultsCount":3,"status":"OK","results":["#
            + #"{"T":"ABC","v":1.5e3,"vw":10.1,"o":10,"c":10.25,"h":10.5,"l":9.75,"t":\#(t),"n":7},"#
            + #"{"T":"abcw","v":10,"o":1,"c":1,"h":1,"l":1,"t":\#(t)},"#
            + #"{"T":"BRK.B","v":2000,"o":400.1,"c":401,"h":402,"l":399,"t":\#(t)}]}"#
        let day = try PolygonMarketJSON.groupedDaily(Array(json.utf8), date: Self.d("2026-12-02")).get()
        #expect(day.bars.map(\.bar.symbol.rawValue) == ["ABC", "BRK.B"])
        #expect(day.bars[0].bar.close == Price(units: 102_500) && day.bars[0].bar.volume == 1_500)
        #expect(day.bars[0].bar.start == Self.at("2026-12-02", 9, 30))
        #expect(day.skippedTickers == ["abcw"])
    }

    @Test func aGroupedAnswerForAnotherDateOrWithAMissingFieldIsRefusedWhole() {
        let t = Self.at("2026-12-01", 0, 0).nanoseconds / 1_000_000
        let other = #"{"status":"OK","results":[{"T":"ABC","v":1,"o":1,"c":1,"h":1,"l":1,"t":\#(t)}]}"#
        #expect(throws: PolygonError.self) { try PolygonMarketJSON.groupedDaily(Array(other.utf8), date: Self.d("2026-12-02")).get() }
        let missing = #"{"status":"OK","results":[{"T":"ABC","v":1,"o":1,"h":1,"l":1,"t":\#(t)}]}"#
        #expect(throws: PolygonError.self) { try PolygonMarketJSON.groupedDaily(Array(missing.utf8), date: Self.d("2026-12-01")).get() }
        #expect(throws: PolygonError.self) {
            try PolygonMarketJSON.groupedDaily(Array(#"{"results":[{"o":1.0,"#.utf8), date: Self.d("2026-12-01")).get()
        }
        let huge = #"{"status":"OK","results":[{"T":"ABC","v":1,"o":1,"c":1,"h":1,"l":1,"t":9223372036854775807}]}"#
        #expect(throws: PolygonError.self) { try PolygonMarketJSON.groupedDaily(Array(huge.utf8), date: Self.d("2026-12-01")).get() }
    }

    @Test func splitsDividendsAndTickersReadAsCorporateActionsAndSymbolInfo() throws {
        let splits = try JSONParser.parse(
            Array(
                #"""
                {"status":"OK","results":[{"ticker":"ABC","execution_date":"2026-12-03","split_from":2,"split_to":3},
                {"ticker":"XYZ","execution_date":"2026-12-04","split_from":10,"split_to":1},{"ticker":"BAD","execution_date":"x","split_from":1,"split_to":2}]}
                """#.utf8))
        let s = try PolygonMarketJSON.splits(splits).get()
        #expect(
            s.actions == [
                CorporateAction(symbol: "ABC", exDate: Self.d("2026-12-03"), kind: .split(newShares: 3, oldShares: 2)),
                CorporateAction(symbol: "XYZ", exDate: Self.d("2026-12-04"), kind: .split(newShares: 1, oldShares: 10)),
            ])
        #expect(s.skipped == 1)
        let dividends = try JSONParser.parse(
            Array(
                #"""
                {"status":"OK","results":[{"ticker":"ABC","ex_dividend_date":"2026-12-03","cash_amount":0.24,"currency":"USD"},
                {"ticker":"ENB","ex_dividend_date":"2026-12-03","cash_amount":0.88,"currency":"CAD"}]}
                """#.utf8))
        let v = try PolygonMarketJSON.dividends(dividends).get()
        #expect(
            v.actions == [CorporateAction(symbol: "ABC", exDate: Self.d("2026-12-03"), kind: .dividend(Price(units: 2_400)))]
                && v.skipped == 1)
        let tickers = try JSONParser.parse(
            Array(
                #"""
                {"status":"OK","results":[{"ticker":"ABC","name":"ABC Corp","primary_exchange":"XNAS","type":"CS"}]}
                """#.utf8))
        #expect(
            try PolygonMarketJSON.tickers(tickers).get().symbols == [
                SymbolInfo(symbol: "ABC", name: "ABC Corp", exchange: "NASDAQ", sector: "")
            ])
    }

    // MARK: Freshness gate

    @Test(arguments: [
        ("2026-12-02", "2026-12-01", true),  // Wednesday's scan, Tuesday stored
        ("2026-12-07", "2026-12-04", true),  // Monday's scan, Friday stored
        ("2026-11-27", "2026-11-25", true),  // the day after Thanksgiving needs Wednesday
        ("2026-12-02", "2026-11-30", false),  // one session behind
        ("2026-12-07", "2026-12-03", false),
    ])
    func theScanRunsOnlyWhenTheStoreHoldsThePreviousSession(scan: String, last: String, fresh: Bool) {
        let decision = FreshnessGate.decide(scanDate: Self.d(scan), lastStored: Self.d(last))
        if fresh {
            #expect(decision == .fresh(lastSession: Self.d(last)))
        } else if case .degraded(let reason) = decision {
            #expect(reason.contains("stale market data") && reason.contains(last), "\(reason)")
        } else {
            Issue.record("\(scan) with \(last) passed the gate")
        }
    }

    @Test func anEmptyStoreDegradesTheScan() {
        guard case .degraded(let reason) = FreshnessGate.decide(scanDate: Self.d("2026-12-02"), lastStored: nil) else {
            Issue.record("an empty store passed the gate")
            return
        }
        #expect(reason.contains("no daily bars") && reason.contains("2026-12-01"))
    }

    // MARK: Marks

    @Test func marksGoOutOncePerSchedulePointPassed() {
        #expect(LiveMarks.point(after: Self.at("2026-12-02", 8, 59), through: Self.at("2026-12-02", 9, 0))?.task == .fullScan)
        #expect(LiveMarks.point(after: Self.at("2026-12-02", 9, 0), through: Self.at("2026-12-02", 10, 29)) == nil)
        #expect(
            LiveMarks.point(after: Self.at("2026-12-02", 9, 0), through: Self.at("2026-12-02", 12, 31))?.time
                == Self.at("2026-12-02", 12, 30))
        #expect(
            LiveMarks.point(after: Self.at("2026-12-05", 9, 0), through: Self.at("2026-12-06", 23, 0)) == nil, "a weekend has no points")
        #expect(
            LiveMarks.point(after: Self.at("2026-01-02", 9, 0), through: Self.at("2026-12-02", 9, 1))?.time == Self.at("2026-12-02", 9, 0))
    }

    @Test func marksAreTheNewestSessionsLiquidSymbolsOnly() {
        let old = Self.bar("OLD", "2026-12-01").bar
        let liquid = Self.bar("ABC", "2026-12-02").bar  // 10.50 x 1000 = 10,500 dollars
        var thin = Self.bar("THN", "2026-12-02").bar
        thin.volume = 10
        #expect(LiveMarks.current([old, liquid, thin], minDollarVolume: 1_000).map(\.symbol.rawValue) == ["ABC"])
    }
}
