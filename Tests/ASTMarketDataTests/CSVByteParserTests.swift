import ASTCalendar
import ASTCore
import Foundation
import Testing

@testable import ASTMarketData

/// The byte-level CSV reader (M13) against the String-splitting one it replaced
/// (ReferenceCSVParser): the same bars, issues and refusals on files good and bad.
@Suite struct CSVByteParserTests {
    /// A seeded, hostile mix of rows for one of the layouts.
    static func randomFile(seed: UInt64) -> (text: String, file: String) {
        var rng = SplitMix64(seed: seed)
        func pick<T>(_ xs: [T]) -> T { xs[Int.random(in: 0..<xs.count, using: &rng)] }
        let layouts: [(header: String, file: String, columns: Int)] = [
            ("Date,Open,High,Low,Close,Adj Close,Volume", "AAPL.csv", 7),
            ("Date,Open,High,Low,Close,Volume", "xyz.us.txt", 6),
            (" date , OPEN,High,Low,Close", "IDX.csv", 5),
            ("<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>", "aapl.us.txt", 10),
            ("\u{FEFF}Date,Open,High,Low,Close,Volume", "B-RK.csv", 6),
            ("Date,\"Open\",High,Low,Close,Volume", "Q.csv", 6),
            ("when,price", "odd.csv", 2),
            ("", "empty.csv", 0),
        ]
        let layout = pick(layouts)
        let numbers = [
            "12", "12.5", "187.149994", " 9.25 ", "\t10\t", "+3", "-1", "0", "1.", ".5", "1e2", "2E-4", "1e99", "1.2.3", "abc", "",
            "\"1,5\"", "\"12.25\"", "99999999999999999", "0.00005", "-0.00005", "1200.0", "1200.5", "12\"\"", "5e-39", "5e40",
        ]
        let dates = [
            "2024-01-02", "2024-01-03 00:00:00-05:00", "2024-01-04T00:00", "2024-13-01", "2024-1-02", "20240105", "01/08/2024",
            "1969-12-31", "2262-01-02", "not a date", "", "2024-01-09x", "+2024010", "2024-02-30",
        ]
        var lines = [layout.header]
        for _ in 0..<Int.random(in: 0..<40, using: &rng) {
            switch Int.random(in: 0..<12, using: &rng) {
            case 0: lines.append(pick(["", "  ", "\t"]))
            case 1: lines.append((0..<Int.random(in: 1..<9, using: &rng)).map { _ in pick(numbers) }.joined(separator: ","))
            default:
                var f: [String] = []
                if layout.columns == 10 {
                    f = [
                        pick(["AAPL.US", "aapl.us", "MSFT.US", "", "1X"]), pick(["D", "D", " D ", "W"]),
                        pick(["20240102", "20240103", "2024010", "2024-01-02", "+2024010"]), "000000",
                    ]
                    f += (0..<4).map { _ in pick(numbers) } + [pick(["100", "1e3", "-5", "x"]), "0"]
                } else {
                    f = [pick(dates)] + (1..<max(1, layout.columns)).map { _ in pick(numbers) }
                    if Int.random(in: 0..<3, using: &rng) > 0 {
                        f = [pick(Array(dates.prefix(3)))] + ["10", "11", "9", "10.5", "10.5", "1000"].prefix(max(0, layout.columns - 1))
                    }
                }
                lines.append(f.joined(separator: ","))
            }
        }
        var text = lines.joined(separator: "\n")
        if Int.random(in: 0..<2, using: &rng) == 0 { text += pick(["\n", "\n\n", "\n  \n", ""]) }
        return (text, "data/" + layout.file)
    }

    @Test func byteParserGivesTheSameBarsIssuesAndRefusalsAsTheStringParser() {
        var compared = 0
        for seed in UInt64(0)..<3_000 {
            let (text, file) = Self.randomFile(seed: seed)
            for symbol in [nil, Symbol("ZZ")] {
                let new = Result { () throws(CSVError) in try CSVBarParser.parse(text, file: file, symbol: symbol) }
                let old = Result { () throws(CSVError) in try ReferenceCSVParser.parse(text, file: file, symbol: symbol) }
                #expect(new == old, "seed \(seed) symbol \(symbol?.rawValue ?? "-"):\n\(text)")
                compared += 1
            }
        }
        #expect(compared == 6_000)
    }

    @Test func decimalTextOverBytesReadsWhatTheCharacterReaderRead() {
        var rng = SplitMix64(seed: 42)
        let alphabet = Array("0123456789.-+eE 5x")
        for _ in 0..<50_000 {
            let t = String((0..<Int.random(in: 0..<14, using: &rng)).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
            #expect(DecimalText.units(Substring(t)) == ReferenceDecimalText.units(Substring(t)), "'\(t)'")
            #expect(DecimalText.integer(Substring(t)) == ReferenceDecimalText.integer(Substring(t)), "'\(t)'")
        }
        for t in ["9223372036854775807", "-9223372036854775808", "9223372036854775808", "922337203685477.5807", "922337203685477.58075"] {
            #expect(DecimalText.units(Substring(t)) == ReferenceDecimalText.units(Substring(t)), "'\(t)'")
            #expect(DecimalText.integer(Substring(t)) == ReferenceDecimalText.integer(Substring(t)), "'\(t)'")
        }
    }

    /// Before M13 the reader split lines at the Character "\n", and "\r\n" is one Character: a
    /// file with Windows line ends was one long header line and read as an unknown layout.
    @Test func windowsLineEndsReadLikeUnixOnes() throws {
        let unix = "Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9.5,10.5,300\n2024-01-03,10.5,12,10,11,400\n"
        let windows = unix.replacingOccurrences(of: "\n", with: "\r\n")
        let a = try CSVBarParser.parse(unix, file: "XYZ.csv")
        let b = try CSVBarParser.parse(windows, file: "XYZ.csv")
        #expect(a == b)
        #expect(b.bars.count == 2 && b.issues.isEmpty)
    }
}

extension Result where Failure == CSVError {
    init(_ body: () throws(CSVError) -> Success) {
        do { self = .success(try body()) } catch { self = .failure(error) }
    }
}
