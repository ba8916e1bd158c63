import ASTCalendar
import ASTCore
import Testing

@testable import ASTMarketData

@Suite struct CSVTests {
    @Test func yahooLayoutIsDetectedAndPricesAreExact() throws {
        let text = """
            Date,Open,High,Low,Close,Adj Close,Volume
            2024-01-02,187.149994,188.440002,183.889999,185.639999,184.290405,82488700
            2024-01-03,184.220001,185.880005,183.429993,184.250000,182.910522,58414500

            """
        let parsed = try CSVBarParser.parse(text, file: "data/AAPL.csv")
        #expect(parsed.layout == .yahoo)
        #expect(parsed.symbol == "AAPL")
        #expect(parsed.issues.isEmpty)
        #expect(parsed.bars.map(\.line) == [2, 3])
        let b = parsed.bars[0].bar
        // Rounded half away from zero at the fourth decimal, from the digits (no Double).
        #expect(b.open == price("187.15") && b.high == price("188.44") && b.low == price("183.89") && b.close == price("185.64"))
        #expect(b.volume == 82_488_700)
        #expect(b.start == TradingCalendar.nyse.session(on: date("2024-01-02"))!.open)
    }

    @Test func stooqLayoutsAreDetected() throws {
        let daily = try CSVBarParser.parse("Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9.5,10.5,300\n", file: "xyz.us.txt")
        #expect(daily.layout == .stooq && daily.symbol == "XYZ")
        #expect(daily.bars.first?.bar == bar("XYZ", "2024-01-02", "10", "11", "9.5", "10.5", 300))

        let index = try CSVBarParser.parse("Date,Open,High,Low,Close\n2024-01-02,4700.1,4710,4690,4705\n", file: "IDX.csv")
        #expect(index.layout.volume == nil && index.bars.first?.bar.volume == 0)

        let bulk = """
            <TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>
            AAPL.US,D,20240102,000000,187.15,188.44,183.89,185.64,82488700,0
            AAPL.US,D,20240103,000000,184.22,185.88,183.43,184.25,58414500,0
            """
        let parsed = try CSVBarParser.parse(bulk, file: "data/daily/us/nasdaq stocks/1/aapl.us.txt")
        #expect(parsed.layout == .stooqBulk && parsed.symbol == "AAPL" && parsed.bars.count == 2)
        #expect(parsed.bars[1].bar == bar("AAPL", "2024-01-03", "184.22", "185.88", "183.43", "184.25", 58_414_500))
    }

    @Test func genericMappingReadsOtherColumnNamesAndDateFormats() throws {
        let layout = CSVLayout(date: "day", open: "o", high: "h", low: "l", close: "c", volume: "shares", dateFormat: .monthDayYear)
        let text = "shares,c,l,h,o,day\n1200.0,10.05,9.90,10.10,10.00,01/02/2024\n"
        let parsed = try CSVBarParser.parse(text, file: "feed.csv", symbol: "ABC", layout: layout)
        #expect(parsed.issues.isEmpty)
        #expect(parsed.bars.map(\.bar) == [bar("ABC", "2024-01-02", "10.00", "10.10", "9.90", "10.05", 1200)])

        let compact = CSVLayout(date: "Date", open: "Open", high: "High", low: "Low", close: "Close", volume: nil, dateFormat: .compact)
        let c = try CSVBarParser.parse("Date,Open,High,Low,Close\n20240102,1,2,0.5,1.5\n", file: "x.csv", symbol: "ABC", layout: compact)
        #expect(c.bars.first?.bar.date == date("2024-01-02"))
    }

    @Test func unknownHeaderAndMissingColumnNameTheFileAndLine() {
        #expect(throws: CSVError.self) { try CSVBarParser.parse("when,price\n2024-01-02,1\n", file: "odd.csv") }
        do {
            _ = try CSVBarParser.parse("when,price\n", file: "odd.csv")
        } catch {
            #expect(error.description.hasPrefix("odd.csv:1: unknown layout"))
        }
        do {
            _ = try CSVBarParser.parse("Date,Open,High,Low,Close\n", file: "y.csv", layout: .yahoo)
        } catch {
            #expect(error.description == "y.csv:1: missing column \"Volume\" of layout yahoo")
        }
    }

    @Test func unreadableRowsAreIssuesNamingLineAndColumn() throws {
        let text = """
            Date,Open,High,Low,Close,Adj Close,Volume
            2024-01-02,10,11,9,10.5,10.5,100
            2024-01-03,null,null,null,null,null,null
            2024-13-04,10,11,9,10.5,10.5,100
            2024-01-05,10,11,9,10.5,10.5
            2024-01-08,10,11,9,1O.5,10.5,100
            """
        let parsed = try CSVBarParser.parse(text, file: "XYZ.csv")
        #expect(parsed.bars.map(\.line) == [2])
        let described = parsed.issues.map(\.description)
        #expect(
            described == [
                "error XYZ.csv:3 XYZ 2024-01-03: column Open: \"null\" is not a price",
                "error XYZ.csv:4 XYZ: column Date: \"2024-13-04\" is not a date (iso)",
                "error XYZ.csv:5 XYZ: 6 fields where the header has 7",
                "error XYZ.csv:6 XYZ 2024-01-08: column Close: \"1O.5\" is not a price",
            ])
    }

    @Test(
        arguments: [
            ("12", 120_000), ("12.3456", 123_456), ("12.34565", 123_457), ("-0.00005", -1), ("1.5e2", 1_500_000), ("2E-4", 2),
            ("0.12344999", 1_234),
        ] as [(String, Int64)])
    func decimalTextIsExact(text: String, units: Int64) {
        #expect(DecimalText.units(Substring(text)) == units)
    }

    @Test func decimalTextRefusesNonNumbers() {
        for t in ["", "1.", "abc", "1,5", "--1", "1e", "NaN"] { #expect(DecimalText.units(Substring(t)) == nil, "\(t)") }
    }
}
