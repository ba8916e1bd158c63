import ASTCalendar
import ASTCore
import Testing

@testable import ASTMarketData

@Suite struct ValidationTests {
    /// Two good sessions, then every kind of bad row; 2024-01-08 and -09 missing (a gap).
    static let badCSV = """
        Date,Open,High,Low,Close,Volume
        2024-01-02,10.00,10.50,9.80,10.20,1000
        2024-01-03,10.20,10.60,10.00,10.40,1100
        2024-01-04,10.40,10.30,10.50,10.35,900
        2024-01-05,0,10.80,10.20,10.60,1200
        2024-01-03,10.20,10.60,10.00,10.40,1100
        2024-01-10,10.60,11.00,10.50,11.20,1300
        2024-01-11,10.90,11.10,10.70,11.00,-5
        2024-01-13,11.00,11.20,10.90,11.10,700
        """

    @Test func badCSVIsReportedPreciselyAndNothingIsStored() throws {
        let f = try StoreFixture()
        try f.store.write(StoreBatch(bars: [bar("XYZ", "2023-12-29", "9.9", "10", "9.8", "9.95")]))
        let before = try f.store.allBars()
        let path = try f.write("XYZ.csv", Self.badCSV)
        let error = #expect(throws: IngestError.self) { try MarketDataIngest.ingestCSV(files: [path], into: f.store, logger: quiet) }
        guard case .refused(let report)? = error else {
            Issue.record("not refused: \(String(describing: error))")
            return
        }
        #expect(report.refused && report.storedBars == 0)
        let lines = report.issues.map { "\($0.line ?? 0) \($0.severity.rawValue) \($0.what)" }
        #expect(
            lines == [
                "4 error high 10.30 is below low 10.50",
                "5 error open 0.00 is not positive",
                "5 error open 0.00 is outside the bar's range [10.20, 10.80]",
                "6 error duplicate bar for the same session as line 3 (identical)",
                "7 error close 11.20 is outside the bar's range [10.50, 11.00]",
                "7 warning gap: no bars for 2 sessions 2024-01-08 … 2024-01-09",
                "8 error volume -5 is negative",
                "9 error not an NYSE session (a Saturday)",
            ])
        #expect(report.issues.allSatisfy { $0.file == path && $0.symbol == "XYZ" })
        #expect(try f.store.allBars() == before)
    }

    /// A bar on a day without a session says which kind of day it was; a Thursday of 2004 is a
    /// session (the calendar covers 2000–2035).
    @Test func aBarOnADayWithoutASessionSaysWhy() {
        let days = ["1999-12-30", "2004-06-10", "2004-06-11", "2004-06-13", "2036-01-02"]
        let bars = days.enumerated().map { SourcedBar(bar("XYZ", $1, "1", "2", "1", "1.5"), line: $0 + 2) }
        let report = BarValidator.validate(bars, symbol: "XYZ", file: "x.csv")
        #expect(
            report.errors.map { "\($0.line ?? 0) \($0.what)" } == [
                "2 not an NYSE session (outside the calendar's years 2000–2035)",
                "4 not an NYSE session (NYSE was closed: National Day of Mourning for President Reagan)",
                "5 not an NYSE session (a Sunday)",
                "6 not an NYSE session (outside the calendar's years 2000–2035)",
            ])
    }

    @Test func outOfOrderRowsAreErrors() {
        let bars = [bar("XYZ", "2024-01-03", "1", "2", "1", "1.5"), bar("XYZ", "2024-01-02", "1", "2", "1", "1.5")]
            .enumerated().map { SourcedBar($1, line: $0 + 2) }
        let report = BarValidator.validate(bars, symbol: "XYZ", file: "x.csv")
        #expect(report.errors.map(\.kind) == [.outOfOrder(previous: date("2024-01-03"))])
        #expect(report.errors.first?.line == 3)
    }

    @Test func lenientModeDropsEachBadRowAndReportsIt() throws {
        let f = try StoreFixture()
        let path = try f.write("XYZ.csv", Self.badCSV)
        let report = try MarketDataIngest.ingestCSV(files: [path], into: f.store, mode: .lenient, logger: quiet)
        #expect(!report.refused && report.hasErrors)
        #expect(report.sources[0].dropped == 6 && report.sources[0].accepted == 2)
        #expect(try f.store.bars("XYZ").map(\.date) == [date("2024-01-02"), date("2024-01-03")])
    }

    @Test func conflictingDuplicatesAreAllDroppedInLenientMode() {
        let bars = [bar("XYZ", "2024-01-02", "1", "2", "1", "1.5"), bar("XYZ", "2024-01-02", "1", "2", "1", "1.7")]
            .enumerated().map { SourcedBar($1, line: $0 + 2) }
        let report = BarValidator.validate(bars, symbol: "XYZ")
        #expect(report.errors.map(\.kind) == [.duplicate(firstLine: 2, identical: false)])
        #expect(BarValidator.keep(bars, report: report).isEmpty)
    }

    @Test func gapsAreWarningsUnlessThePolicySaysErrors() {
        let bars = [bar("XYZ", "2024-01-02", "1", "2", "1", "1.5"), bar("XYZ", "2024-01-05", "1", "2", "1", "1.5")].map { SourcedBar($0) }
        #expect(
            BarValidator.validate(bars, symbol: "XYZ").warnings.map(\.kind) == [
                .gap(from: date("2024-01-03"), to: date("2024-01-04"), count: 2)
            ])
        #expect(BarValidator.validate(bars, symbol: "XYZ", policy: ValidationPolicy(gapsAreErrors: true)).hasErrors)
        // A holiday is no gap: 2024-01-12 (Fri) then 2024-01-16 (Tue after MLK day).
        let holiday = [bar("XYZ", "2024-01-12", "1", "2", "1", "1.5"), bar("XYZ", "2024-01-16", "1", "2", "1", "1.5")].map {
            SourcedBar($0)
        }
        #expect(BarValidator.validate(holiday, symbol: "XYZ").issues.isEmpty)
    }

    @Test func staleDataIsDetectedAgainstTheTradingCalendar() {
        let friday = bar("XYZ", "2024-01-05", "1", "2", "1", "1.5")
        // Monday morning: Friday's bar is the latest there can be.
        #expect(BarValidator.freshness(lastBar: friday, symbol: "XYZ", asOf: date("2024-01-08"), maxSessionsBehind: 0) == .fresh(friday))
        // Wednesday: Monday's and Tuesday's bars are missing.
        guard
            case .stale(let issue) = BarValidator.freshness(lastBar: friday, symbol: "XYZ", asOf: date("2024-01-10"), maxSessionsBehind: 1)
        else {
            Issue.record("not stale")
            return
        }
        #expect(issue.kind == .stale(last: date("2024-01-05"), asOf: date("2024-01-10"), sessionsBehind: 2))
        #expect(issue.description == "error XYZ 2024-01-05: stale: last bar 2024-01-05 is 2 sessions behind 2024-01-10")
        #expect(BarValidator.freshness(lastBar: nil, symbol: "XYZ", asOf: date("2024-01-10"), maxSessionsBehind: 1) == .noData("XYZ"))
        // Over MLK day: Friday's bar is still current on Tuesday.
        let fri12 = bar("XYZ", "2024-01-12", "1", "2", "1", "1.5")
        #expect(BarValidator.freshness(lastBar: fri12, symbol: "XYZ", asOf: date("2024-01-16"), maxSessionsBehind: 0).isUsable)
    }
}
