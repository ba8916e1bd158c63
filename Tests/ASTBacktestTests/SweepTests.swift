import ASTBacktest
import Testing

/// The sweep's pure parts: the grid, the cells' command lines, the shards and the ranking.
@Suite struct SweepTests {
    @Test func aRangeIncludesBothEndsAndAListKeepsItsOrder() throws {
        #expect(try SweepAxis.parse("fast=5..30:5").values == ["5", "10", "15", "20", "25", "30"])
        #expect(try SweepAxis.parse("sma_cross.slow=20..25").values == ["20", "21", "22", "23", "24", "25"])
        #expect(try SweepAxis.parse("commission=0,per_share:0.005").values == ["0", "per_share:0.005"])
        #expect(try SweepAxis.parse("size = percent:50").key == "size")
    }

    @Test func aBadAxisIsRefusedNamingWhatIsAccepted() {
        for bad in ["fast", "fast=", "fast=30..5", "fast=5..30:0", "fast=a..b", "=1,2", "f$=1", "fast=1,,2", "x=0..9223372036854775807:1"] {
            #expect(throws: SweepError.self, "\(bad)") { try SweepAxis.parse(bad) }
        }
    }

    @Test func theGridIsTheCartesianProductFirstAxisSlowestWithoutFastAtOrAboveSlow() throws {
        let plan = try SweepPlan.make(
            base: ["--csv", "X.csv"],
            axes: [SweepAxis(key: "fast", values: ["10", "20", "30"]), SweepAxis(key: "slow", values: ["20", "40"])], rankBy: "sharpe")
        // (10,20) (10,40) (20,20)x (20,40) (30,20)x (30,40)
        #expect(plan.cells.map(\.values) == [["10", "20"], ["10", "40"], ["20", "40"], ["30", "40"]])
        #expect(plan.cells.map(\.index) == [0, 1, 2, 3])
        #expect(plan.skipped == 2)
    }

    @Test func aCellsCommandLineSetsTheStrategyOptionsAndConfigurationVariables() throws {
        let plan = try SweepPlan.make(
            base: ["--csv", "X.csv", "--strategy", "sma_cross:5,50"],
            axes: [
                SweepAxis(key: "slow", values: ["60"]), SweepAxis(key: "commission", values: ["per_share:0.005,1"]),
                SweepAxis(key: "config.strategy.risk_fraction", values: ["0.01"]),
            ], rankBy: "cagr")
        let run = try plan.invocation(plan.cells[0], out: "D/cells/000000")
        #expect(
            run.arguments == [
                "--csv", "X.csv", "--strategy", "sma_cross:5,50", "--strategy", "sma_cross:5,60", "--commission", "per_share:0.005,1",
                "--out", "D/cells/000000", "--quiet",
            ])
        #expect(run.variables == ["AST_STRATEGY__RISK_FRACTION": "0.01"])
    }

    @Test func aShardFileGivesBackEachCellsStatisticsAndSkipsBrokenLines() {
        let text = SweepShardFile.text([
            (cell: 3, statistics: [(key: "sharpe", value: "1.5"), (key: "cagr", value: "null")]),
            (cell: 7, statistics: [(key: "sharpe", value: "-0.25")]),
        ])
        #expect(text == "3\tsharpe\t1.5\n3\tcagr\tnull\n7\tsharpe\t-0.25\n")
        let parsed = SweepShardFile.parse(text + "x\tsharpe\t1\n-1\tsharpe\t2\n9\tno value\n")
        #expect(parsed == [3: ["sharpe": "1.5", "cagr": "null"], 7: ["sharpe": "-0.25"]])
        #expect(SweepShardFile.name(1, of: 4) == "1-of-4.tsv")
    }

    @Test func aCellsOverridesAreItsCommandLineAfterTheBase() throws {
        let plan = try SweepPlan.make(
            base: ["--csv", "X.csv"],
            axes: [
                SweepAxis(key: "capital", values: ["5000"]), SweepAxis(key: "fast", values: ["3"]), SweepAxis(key: "slow", values: ["9"]),
            ],
            rankBy: "sharpe")
        let o = try plan.overrides(plan.cells[0])
        #expect(o.options.map { "\($0.key)=\($0.value)" } == ["strategy=sma_cross:3,9", "capital=5000"])
        #expect(
            try plan.invocation(plan.cells[0], out: "D").arguments
                == ["--csv", "X.csv", "--strategy", "sma_cross:3,9", "--capital", "5000", "--out", "D", "--quiet"])
    }

    @Test func anUnknownKeyOrRankIsRefusedAtThePlan() {
        #expect(throws: SweepError.self) { try SweepPlan.make(base: [], axes: [SweepAxis(key: "out", values: ["x"])], rankBy: "sharpe") }
        #expect(throws: SweepError.self) { try SweepPlan.make(base: [], axes: [SweepAxis(key: "fast", values: ["x"])], rankBy: "sharpe") }
        #expect(throws: SweepError.self) { try SweepPlan.make(base: [], axes: [SweepAxis(key: "fast", values: ["5"])], rankBy: "luck") }
        #expect(throws: SweepError.self) {
            try SweepPlan.make(
                base: [], axes: [SweepAxis(key: "fast", values: ["5"]), SweepAxis(key: "fast", values: ["6"])], rankBy: "sharpe")
        }
        // Every cell FAST >= SLOW: nothing to run.
        #expect(throws: SweepError.self) {
            try SweepPlan.make(
                base: ["--strategy", "sma_cross:10,20"], axes: [SweepAxis(key: "fast", values: ["20", "30"])], rankBy: "sharpe")
        }
    }

    @Test func theShardsPartitionTheCellsWhateverTheirNumber() throws {
        let plan = try SweepPlan.make(base: [], axes: [SweepAxis(key: "capital", values: (1...11).map(String.init))], rankBy: "sharpe")
        for n in [1, 2, 3, 4, 11, 20] {
            let all = (0..<n).flatMap { plan.cells(shard: $0, of: n) }.map(\.index).sorted()
            #expect(all == Array(0..<11), "\(n) shards")
        }
        #expect(plan.cells(shard: 5, of: 5).isEmpty)
        #expect(try SweepShard.parse("3/4") == SweepShard(index: 3, count: 4))
        for bad in ["4/4", "-1/4", "1/0", "1", "a/b"] { #expect(throws: SweepError.self) { try SweepShard.parse(bad) } }
    }

    @Test func theTableRanksBestFirstUndefinedLastTiesInGridOrder() {
        func row(_ i: Int, _ sharpe: String, _ dd: String) -> SweepRow {
            SweepRow(cell: SweepCell(index: i, keys: ["fast"], values: ["\(i)"]), statistics: ["sharpe": sharpe, "max_drawdown": dd])
        }
        let rows = [row(0, "0.5", "0.2"), row(1, "null", "0.1"), row(2, "1.5", "0.3"), row(3, "0.5", "0.05")]
        #expect(SweepTable.rank(rows, by: "sharpe").map(\.cell.index) == [2, 0, 3, 1])
        #expect(SweepTable.rank(rows, by: "max_drawdown").map(\.cell.index) == [3, 1, 0, 2])
        let csv = SweepTable.csv(SweepTable.rank(rows, by: "sharpe"), axes: ["fast"]).split(separator: "\n")
        #expect(csv[0].hasPrefix("rank,cell,fast,total_return,cagr,sharpe,"))
        #expect(csv[1].hasPrefix("1,2,2,,,1.5,"))
        #expect(csv.count == 5)
    }

    @Test func statisticsRoundTripThroughTheCellsFile() {
        let tsv = "sharpe\t1.234567\ncagr\tnull\n"
        let s = SweepTable.parseStatistics(tsv)
        #expect(s == ["sharpe": "1.234567", "cagr": "null"])
        #expect(SweepRow(cell: SweepCell(index: 0, keys: [], values: []), statistics: s).value("cagr") == nil)
    }
}
