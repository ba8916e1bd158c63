import ASTCalendar
import ASTCore
import Testing

@testable import ASTMarketData

/// Dates a bar cannot have are ingest errors with file and line, never a trap.
@Suite struct CSVDateRangeTests {
    @Test(arguments: ["1969-12-31", "1900-01-02", "0001-01-01", "2262-06-01", "9999-12-31"])
    func aDateOutsideTheBarRangeIsAnErrorOfItsLine(date: String) throws {
        let text = "Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9.5,10.5,300\n\(date),10,11,9.5,10.5,300\n"
        let parsed = try CSVBarParser.parse(text, file: "old/XYZ.csv")
        #expect(parsed.bars.count == 1)
        #expect(parsed.issues.count == 1)
        let issue = try #require(parsed.issues.first)
        #expect(issue.line == 3 && issue.file == "old/XYZ.csv")
        #expect(issue.description.contains("outside the dates bars may have (1970-01-01 ... 2261-12-31)"), "\(issue.description)")
    }

    @Test func theFirstAndLastDatesAreAccepted() throws {
        let text = "Date,Open,High,Low,Close,Volume\n1970-01-02,10,11,9.5,10.5,300\n2261-12-30,10,11,9.5,10.5,300\n"
        let parsed = try CSVBarParser.parse(text, file: "XYZ.csv")
        #expect(parsed.issues.isEmpty)
        #expect(parsed.bars.count == 2)
    }
}

@Suite struct NewYorkTimeRangeTests {
    @Test func instantsOutsideNanosecondsSince1970AreNilNotATrap() {
        let open = LocalTime(hour: 9, minute: 30)
        #expect(NewYorkTime.checkedTimestamp(LocalDate(year: 1, month: 1, day: 1)!, open) == nil)
        #expect(NewYorkTime.checkedTimestamp(LocalDate(year: 9999, month: 12, day: 31)!, open) == nil)
        #expect(NewYorkTime.timestamp(LocalDate(year: 1, month: 1, day: 1)!, open) == Timestamp(nanoseconds: .min))
        #expect(NewYorkTime.timestamp(LocalDate(year: 9999, month: 12, day: 31)!, open) == Timestamp(nanoseconds: .max))
        // 1969-12-31 09:30 EST is 14:30 UTC, 34,200 s before the epoch.
        #expect(
            NewYorkTime.checkedTimestamp(LocalDate(year: 1969, month: 12, day: 31)!, open) == Timestamp(nanoseconds: -34_200_000_000_000))
    }
}
