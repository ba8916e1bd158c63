import Testing

@testable import ASTBacktest

/// report.html's charts draw at most four points per pixel column (first, lowest, highest, last):
/// the line covers the same pixels as one through every point.
@Suite struct ChartResolutionTests {
    /// A deterministic random walk (a linear congruential generator, no seed from outside).
    func walk(_ n: Int) -> [Double] {
        var x: UInt64 = 12345, v = 100.0
        return (0..<n).map { _ in
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            v += Double(Int64(x >> 33) % 201 - 100) / 100
            return v
        }
    }

    @Test func aLongSeriesKeepsEachPixelColumnsFirstLowestHighestAndLastPointInOrder() {
        let values = walk(60_000)
        let sc = BacktestHTML.Scale(lo: values.min()!, hi: values.max()!, n: values.count)
        let drawn = BacktestHTML.drawn(values, sc)
        #expect(drawn.count <= 4 * 811 && drawn.count > 810, "\(drawn.count)")
        #expect(drawn.first == 0 && drawn.last == values.count - 1)
        #expect(zip(drawn, drawn.dropFirst()).allSatisfy { $0 < $1 })
        // Per column: every point's column has its extremes, its first and its last point drawn.
        var columns: [Int: [Int]] = [:]
        for i in values.indices { columns[Int(sc.x(i) - BacktestHTML.left), default: []].append(i) }
        let kept = Set(drawn)
        for (_, all) in columns {
            let lo = all.min { values[$0] < values[$1] }!, hi = all.max { values[$0] < values[$1] }!
            let mine = all.filter(kept.contains)
            #expect(mine.contains(all.first!) && mine.contains(all.last!))
            #expect(mine.map { values[$0] }.min() == values[lo] && mine.map { values[$0] }.max() == values[hi])
            #expect(mine.count <= 4)
        }
    }

    @Test func aSeriesWithFewPointsPerColumnIsDrawnWhole() {
        let values = walk(3_000)
        let sc = BacktestHTML.Scale(lo: 0, hi: 200, n: values.count)
        #expect(BacktestHTML.drawn(values, sc) == Array(values.indices))
    }
}
