import ASTCore
import ASTExecution
import ASTJournal
import ASTReport
import ASTTestKit
import Foundation
import Logging
import Testing

@Suite struct EquitySeriesPropertyTests {
    /// Random walks of equity; every figure is checked against a brute-force reading of the same series.
    @Test(arguments: [UInt64(1), 7, 42, 2026, 99_991])
    func peakTroughEndAndDrawdownAllComeFromOneSeries(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<200 {
            let n = Int.random(in: 1...60, using: &rng)
            var value: Int64 = 1_000_000_000  // $100,000.0000
            var values: [Int64] = []
            for _ in 0..<n {
                value += Int64.random(in: -20_000_000...20_000_000, using: &rng)
                values.append(value)
            }
            var series = EquitySeries()
            for v in values { series.add(Money(units: v)) }

            var worst: Int64 = 0
            for i in values.indices { for j in i..<values.count { worst = max(worst, values[i] - values[j]) } }
            let peak = values.max()!, trough = values.min()!
            #expect(series.start == Money(units: values[0]), "seed \(seed)")
            #expect(series.end == Money(units: values.last!), "seed \(seed)")
            #expect(series.peak == Money(units: peak) && series.trough == Money(units: trough), "seed \(seed)")
            #expect(series.maxDrawdown == Money(units: worst), "seed \(seed): \(values)")
            #expect(peak - trough >= worst, "seed \(seed)")
            #expect(worst >= peak - values.last!, "the fall from the peak to the end is a drawdown: seed \(seed)")
        }
    }

    @Test func aRisingSeriesHasNoDrawdownAndNoPercentage() {
        var series = EquitySeries()
        for v in [100, 101, 105] { series.add(Money(units: Int64(v) * 10_000)) }
        #expect(series.maxDrawdown == .zero)
        #expect(series.maxDrawdownPercent == nil)
    }

    @Test func theDrawdownPercentageIsOfThePeakItFellFrom() {
        var series = EquitySeries()
        for v in ["100.00", "200.00", "150.00", "300.00", "280.00"] { series.add(Money(v)!) }
        #expect(series.maxDrawdown == Money("50.00")!)
        #expect(series.maxDrawdownPercent == "25")
    }
}

@Suite struct ReportFormatTests {
    @Test func dollarsHaveASignTwoDecimalsAndThousandsSeparators() {
        #expect(ReportFormat.dollars(Money("100187.5")!) == "$100,187.50")
        #expect(ReportFormat.dollars(Money("-10.00")!) == "-$10.00")
        #expect(ReportFormat.dollars(Money("0.0049")!) == "$0.00")
        #expect(ReportFormat.dollars(Money("-0.0049")!) == "$0.00", "no negative zero")
        #expect(ReportFormat.dollars(Money("0.005")!) == "$0.01", "half a cent rounds away from zero")
        #expect(ReportFormat.dollars(Money("-1234567.995")!) == "-$1,234,568.00")
        #expect(ReportFormat.dollars(Money(units: .min)).hasPrefix("-$"), "the extreme value formats without a trap")
    }
}

@Suite struct RunReportConsistencyTests {
    @Test func reportedEquityFiguresAgreeWithEachOther() throws {
        let s = try Scenario()
        defer { s.dir.remove() }
        let t = try RunReportBuilder.build(stateDirectory: s.state).totals
        let peak = try #require(t.equityPeak), trough = try #require(t.equityTrough), end = try #require(t.equityEnd)
        #expect(peak - trough >= t.maxDrawdown)
        #expect(t.maxDrawdown >= peak - end)
        #expect(t.equityTrough == Money("99999.00")!)
    }

    @Test func aDayShowsEachOrderInItsStateAsOfThatDay() throws {
        let s = try Scenario()
        defer { s.dir.remove() }
        let r = try RunReportBuilder.build(stateDirectory: s.state)
        let target = ClientOrderID(intent: Scenario.aaa.id, leg: .takeProfit).rawValue
        let stop = ClientOrderID(intent: Scenario.aaa.id, leg: .stopLoss).rawValue
        #expect(r.days[0].orders.first { $0.id == target }?.status == "Accepted", "filled only on day 2")
        #expect(r.days[1].orders.first { $0.id == target }?.status == "Filled")
        #expect(r.days[0].orders.first { $0.id == stop }?.status == "Accepted")
        #expect(r.days[1].orders.first { $0.id == stop }?.status == "Cancelled")
        #expect(r.totals.orders == 6, "each order counted once")
    }
}
