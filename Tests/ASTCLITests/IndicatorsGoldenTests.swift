import Foundation
import Testing

/// `ast indicators` prints exactly the bytes it printed before M13 moved it from `String(format:)`
/// and String splitting to bytes: GOLD.indicators.csv was written by the earlier implementation
/// from GOLD.csv (420 bars: a flat stretch, a crash to pennies and a jump to $98,765).
@Suite("ast indicators golden output")
struct IndicatorsGoldenTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    @Test func indicatorsPrintTheGoldenBytesForEveryIndicatorKind() async throws {
        let tree = try CLITree()
        let specs = [
            "sma:5", "ema:10", "rsi:14", "macd:12,26,9", "atr:14", "bb:20,2", "adx:14", "supertrend:10,3", "kdj:9,3,3", "bb:7,2.5",
        ]
        let run = try await tree.ast(["indicators", "--csv", "\(Self.fixtures)/GOLD.csv"] + specs.flatMap { ["--indicator", $0] })
        #expect(run.exitCode == 0, "\(run.stderr)")
        let golden = try String(contentsOfFile: "\(Self.fixtures)/GOLD.indicators.csv", encoding: .utf8)
        let got = run.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let want = golden.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(got.count == want.count)
        if let i = zip(got, want).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            Issue.record("line \(i + 1) differs:\n got \(got[i])\nwant \(want[i])")
        }
        #expect(run.stdout == golden)
    }

    @Test func aRowThatGoesBackInTimeIsRefusedWithItsLineAndNothingIsPrinted() async throws {
        let tree = try CLITree()
        let csv = try tree.write("ABC.csv", "Date,Open,High,Low,Close,Volume\n2024-01-03,10,11,9,10,5\n2024-01-02,10,11,9,10,5\n")
        let run = try await tree.ast(["indicators", "--csv", csv, "--indicator", "sma:2"])
        #expect(run.exitCode == 65)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.contains("ABC.csv:3: 2024-01-02 does not come after the previous row"))
    }
}
