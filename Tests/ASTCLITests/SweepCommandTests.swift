import ASTTestKit
import Foundation
import Testing

/// `ast sweep` on this machine: the same table whatever the number of threads or shard processes,
/// each cell's statistics those of `ast backtest` with the cell's options, and a collect that
/// refuses missing cells. (The Slurm job array: IntegrationTests/SweepSlurmTests.)
@Suite(.serialized) struct SweepCommandTests {
    @Test(.timeLimit(.minutes(3)))
    func aSweepGivesTheSameTableOnOneAndTwoThreadsAndAsShardsAndEachCellIsItsBacktest() async throws {
        let tree = try CLITree()
        let csv = try tree.write("WALK.csv", BacktestCommandTests.walkCSV(500))
        let base = ["--", "--csv", csv, "--size", "percent:100", "--capital", "10000"]
        let grid = ["--grid", "fast=5..10:5", "--grid", "slow=20,30"]
        let one = try await tree.ast(["sweep"] + grid + ["--jobs", "1", "--out", tree.dir("one")] + base)
        let two = try await tree.ast(
            ["sweep"] + grid + ["--jobs", "2", "--rank-by", "sharpe", "--cell-files", "--out", tree.dir("two")] + base)
        #expect(one.exitCode == 0 && two.exitCode == 0, "\(one.stderr)\(two.stderr)")
        #expect(two.stdout.contains("4 cells in 2 threads"), "\(two.stdout)")
        // The cells' own files only when asked for.
        #expect(!FileManager.default.fileExists(atPath: tree.dir("one/cells")))
        let table = try String(contentsOfFile: tree.dir("one/results.csv"), encoding: .utf8)
        #expect(table == (try String(contentsOfFile: tree.dir("two/results.csv"), encoding: .utf8)))
        #expect(table.split(separator: "\n").count == 5, "\(table)")
        #expect(FileManager.default.fileExists(atPath: tree.dir("one/report.md")))

        // Cell 2 is fast=10 slow=20: its statistics are those `ast backtest` writes for it.
        let single = try await tree.ast(
            [
                "backtest", "--csv", csv, "--size", "percent:100", "--capital", "10000", "--strategy", "sma_cross:10,20", "--out",
                tree.dir("b"),
            ])
        #expect(single.exitCode == 0, "\(single.stderr)")
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: tree.dir("b/trades.csv")))
                == Data(contentsOf: URL(fileURLWithPath: tree.dir("two/cells/000002/trades.csv"))))
        let sharpe = try #require(
            try String(contentsOfFile: tree.dir("b/summary.json"), encoding: .utf8).split(separator: "\n").first {
                $0.contains("\"sharpe\"")
            })
        let value = String(sharpe.split(separator: ":")[1].dropFirst().dropLast())
        let row = try #require(table.split(separator: "\n").first { $0.split(separator: ",")[1] == "2" })
        #expect(row.split(separator: ",", omittingEmptySubsequences: false)[6] == Substring(value), "\(row) against sharpe \(value)")

        // The plan run as two shard processes (what Slurm's array tasks run), then collected: the same table.
        try FileManager.default.removeItem(atPath: tree.dir("one/shards"))
        try FileManager.default.removeItem(atPath: tree.dir("one/results.csv"))
        for i in 0..<2 {
            let shard = try await tree.ast(["sweep", "--shard", "\(i)/2", "--out", tree.dir("one")])
            #expect(shard.exitCode == 0, "\(shard.stderr)")
        }
        let merged = try await tree.ast(["sweep", "collect", tree.dir("one")])
        #expect(merged.exitCode == 0, "\(merged.stderr)")
        #expect(table == (try String(contentsOfFile: tree.dir("one/results.csv"), encoding: .utf8)))

        // A shard without its results: collect names its cells and fails.
        try FileManager.default.removeItem(atPath: tree.dir("one/shards/1-of-2.tsv"))
        let collect = try await tree.ast(["sweep", "collect", tree.dir("one")])
        #expect(collect.exitCode == 1 && collect.stderr.contains("2 of 4 cells have no result (cells 1, 3)"), "\(collect.stderr)")
    }

    @Test(.timeLimit(.minutes(2)))
    func aYAMLSpecificationRunsAndBadGridsAreRefusedBeforeAnyCellRuns() async throws {
        let tree = try CLITree()
        let csv = try tree.write("WALK.csv", BacktestCommandTests.walkCSV(300))
        let spec = try tree.write(
            "sweep.yaml",
            """
            backtest: [--csv, \(csv), --capital, "10000"]
            grid:
              slow: [20, 30]
              fast: 5..5:1
            rank_by: total_return
            """)
        let run = try await tree.ast(["sweep", "--spec", spec, "--jobs", "2", "--out", tree.dir("s")])
        #expect(run.exitCode == 0, "\(run.stderr)")
        let lines = try String(contentsOfFile: tree.dir("s/results.csv"), encoding: .utf8).split(separator: "\n")
        #expect(lines.first?.hasPrefix("rank,cell,slow,fast,") == true && lines.count == 3, "\(lines)")
        let report = try String(contentsOfFile: tree.dir("s/report.md"), encoding: .utf8)
        #expect(report.contains("ranked by total_return"), "\(report)")

        let badKey = try await tree.ast(["sweep", "--grid", "out=x", "--out", tree.dir("x"), "--", "--csv", csv])
        #expect(badKey.exitCode == 64 && badKey.stderr.contains("not a sweepable key"), "\(badKey.stderr)")
        let badOption = try await tree.ast(["sweep", "--grid", "size=lots", "--out", tree.dir("y"), "--", "--csv", csv])
        #expect(badOption.exitCode == 64 && badOption.stderr.contains("--size"), "\(badOption.stderr)")
        #expect(!FileManager.default.fileExists(atPath: tree.dir("y/cells")))
    }
}
