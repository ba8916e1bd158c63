import ASTBacktest
import ArgumentParser
import Foundation
import Yams

#if canImport(Glibc)
    import Glibc
#endif

/// `ast sweep`: a parameter grid run as many `ast backtest`s, in parallel processes on this
/// machine or as a Slurm job array, then merged into one ranked table (`ast sweep collect`).
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep", abstract: "Run a parameter grid of backtests, here in parallel or as a Slurm job array, and rank them.",
        subcommands: [SweepRunCommand.self, SweepCollectCommand.self], defaultSubcommand: SweepRunCommand.self)
}

/// `ast sweep [--grid KEY=VALUES]... [--spec FILE] --out DIR [--jobs N | --slurm] -- BACKTEST ARGS`.
struct SweepRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Plan the grid into DIR and run it (the default subcommand).",
        discussion: """
            The arguments after `--` are those of `ast backtest` that every cell shares (research mode: --csv FILE \
            --symbol S ...; engine mode: --from/--to/--csv-dir ...). Each --grid KEY=A..B:STEP or KEY=a,b,c adds an axis: \
            fast and slow set sma_cross's windows (cells with FAST >= SLOW are left out), config.KEY sets a configuration key \
            of an engine-mode backtest, any other key one of ast backtest's options (capital, size, commission, slippage, fill, \
            from, to, config, sessions ...). --spec FILE gives the same in YAML: `backtest: [ARGS]`, `grid: {KEY: VALUES}` \
            (a value a range text or a list), `rank_by: METRIC`.
            The plan goes to DIR/plan.json; each cell's statistics.tsv, summary.json and trades.csv to DIR/cells/NNNNNN/. \
            Locally, --jobs processes (default: the cores) each run `ast sweep --shard I/N --out DIR`, then the results are \
            collected into DIR/results.csv and DIR/report.md, ranked by --rank-by: the same bytes whatever the number of jobs. \
            With --slurm, DIR/sweep.sbatch (a job array of --shards tasks, each one shard) is written and submitted with \
            sbatch (--sbatch-arg passes options to it; --wait waits for the array and collects); DIR must be shared with the \
            nodes. `ast sweep collect DIR` merges the shards into the same table a local run gives.
            """)

    @Option(name: .customLong("grid"), help: "An axis: KEY=A..B:STEP or KEY=a,b,c (repeatable).")
    var grids: [String] = []
    @Option(help: "A YAML sweep specification (backtest, grid, rank_by).")
    var spec: String?
    @Option(help: "The sweep's directory (plan, cells, results).")
    var out: String
    @Option(help: "Local processes at once (default: the cores).")
    var jobs: Int?
    @Flag(help: "Submit the shards as a Slurm job array instead of running them here.")
    var slurm = false
    @Option(help: "Slurm: how many array tasks (default: the cells, at most 64).")
    var shards: Int?
    @Option(name: .customLong("sbatch-arg"), help: "Slurm: an option for sbatch (repeatable), e.g. --sbatch-arg=--partition=research.")
    var sbatchArgs: [String] = []
    @Flag(help: "Slurm: wait for the job array to end, then collect.")
    var wait = false
    @Option(help: "Run shard I/N of the plan in --out (what each process and array task runs).")
    var shard: String?
    @Option(name: .customLong("rank-by"), help: "The statistic to rank by (\(SweepTable.metrics.joined(separator: ", "))).")
    var rankBy: String?
    @Argument(parsing: .postTerminator, help: "The `ast backtest` arguments every cell shares (after --).")
    var backtest: [String] = []

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1 (got \(jobs))") }
        if let shards, shards < 1 { throw ValidationError("--shards must be at least 1 (got \(shards))") }
        if shard != nil && (slurm || !grids.isEmpty || spec != nil) {
            throw ValidationError("--shard runs a planned sweep's part; it takes only --out")
        }
        if !slurm && (shards != nil || wait || !sbatchArgs.isEmpty) {
            throw ValidationError("--shards, --wait and --sbatch-arg need --slurm")
        }
    }

    func run() throws {
        if let shard { return try runShard(shard) }
        let plan = try makePlan()
        let dir = URL(fileURLWithPath: out)
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for old in ["cells", "results.csv", "report.md", "slurm"] {
                try? FileManager.default.removeItem(at: dir.appendingPathComponent(old))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(plan).write(to: dir.appendingPathComponent("plan.json"), options: .atomic)
        } catch {
            throw failure("cannot write the plan into \(out): \(error.localizedDescription)", ExitStatus.other)
        }
        let exe = try executablePath()
        if slurm { return try submit(plan, exe: exe) }
        let n = min(jobs ?? ProcessInfo.processInfo.activeProcessorCount, plan.cells.count)
        let began = ContinuousClock.now
        try runLocally(exe: exe, processes: n)
        let ranked = try SweepCollectCommand.collect(out)
        print(
            "sweep: \(plan.cells.count) cells in \(n) processes (\(ContinuousClock.now - began)); best: \(ranked.first?.cell.label ?? "-")")
        print("sweep: \(out)/results.csv, \(out)/report.md")
    }

    /// The plan from --spec, --grid and the arguments after `--`, checked by parsing the first
    /// cell's `ast backtest` command line.
    func makePlan() throws -> SweepPlan {
        var axes: [SweepAxis] = []
        var base: [String] = []
        var rank = "sharpe"
        if let spec {
            let file = try SweepSpecFile.read(spec)
            axes += file.axes
            base += file.backtest
            rank = file.rankBy ?? rank
        }
        do {
            for g in grids { axes.append(try SweepAxis.parse(g)) }
        } catch {
            throw failure("\(error)", ExitStatus.usage)
        }
        base += backtest
        if let rankBy { rank = rankBy }
        let plan: SweepPlan
        do { plan = try SweepPlan.make(base: base, axes: axes, rankBy: rank) } catch { throw failure("\(error)", ExitStatus.usage) }
        if base.contains(where: { $0 == "--out" || $0.hasPrefix("--out=") || $0.hasPrefix("--compare-state-dir") }) {
            throw failure(
                "the backtest arguments must not set --out or --compare-state-dir (the sweep writes each cell's)", ExitStatus.usage)
        }
        for cell in plan.cells {
            let invocation = try? plan.invocation(cell, out: out)
            do { try BacktestCommand.parse(invocation?.arguments ?? []).checkResearchOptions() } catch {
                throw failure(
                    "cell \(cell.index) (\(cell.label)): `ast backtest \(invocation?.arguments.joined(separator: " ") ?? "")`: "
                        + Self.describe(error), ExitStatus.usage)
            }
        }
        return plan
    }

    /// An error of parsing or checking a cell's `ast backtest` command line, as text.
    static func describe(_ error: any Error) -> String {
        (error as? ResearchError)?.description ?? BacktestCommand.message(for: error)
    }

    /// This executable's absolute path, for the shards (local processes and Slurm tasks).
    func executablePath() throws -> String {
        guard let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            throw failure("cannot find this executable's path (/proc/self/exe)", ExitStatus.other)
        }
        return path
    }

    /// Runs `processes` shards at once, each `ast sweep --shard I/N --out DIR`; fails naming a
    /// shard that failed and what it wrote to stderr.
    func runLocally(exe: String, processes n: Int) throws {
        var running: [(Int, Process, Pipe)] = []
        for i in 0..<n {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = ["sweep", "--shard", "\(i)/\(n)", "--out", out]
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            do { try p.run() } catch { throw failure("cannot start \(exe): \(error.localizedDescription)", ExitStatus.other) }
            running.append((i, p, err))
        }
        var failed: [String] = []
        for (i, p, err) in running {
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            if p.terminationStatus != 0 || p.terminationReason != .exit {
                failed.append("shard \(i)/\(n) exited \(p.terminationStatus): \(text.suffix(2000))")
            }
        }
        if !failed.isEmpty { throw failure(failed.joined(separator: "\n"), ExitStatus.other) }
    }

    /// Writes DIR/sweep.sbatch and submits it; with --wait, collects when the array has ended.
    func submit(_ plan: SweepPlan, exe: String) throws {
        let n = min(shards ?? min(plan.cells.count, 64), plan.cells.count)
        let dir = URL(fileURLWithPath: out).standardizedFileURL.path
        let cwd = FileManager.default.currentDirectoryPath
        let script = SweepSlurm.script(executable: exe, directory: dir, workingDirectory: cwd, shards: n)
        let path = dir + "/sweep.sbatch"
        do {
            try FileManager.default.createDirectory(atPath: dir + "/slurm", withIntermediateDirectories: true)
            try Data(script.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw failure("cannot write \(path): \(error.localizedDescription)", ExitStatus.other)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sbatch", "--parsable"] + (wait ? ["--wait"] : []) + sbatchArgs + [path]
        let stdout = Pipe(), stderr = Pipe()
        p.standardOutput = stdout
        p.standardError = stderr
        do { try p.run() } catch { throw failure("cannot run sbatch: \(error.localizedDescription)", ExitStatus.other) }
        let job = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let err = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw failure("sbatch \(path) exited \(p.terminationStatus): \(err)\(job)", ExitStatus.other)
        }
        print("sweep: \(plan.cells.count) cells as Slurm job \(job) (array 0-\(n - 1)); script \(path), logs \(dir)/slurm/")
        guard wait else {
            print("sweep: when the job has ended: ast sweep collect \(out)")
            return
        }
        let ranked = try SweepCollectCommand.collect(out)
        print("sweep: collected; best: \(ranked.first?.cell.label ?? "-"); \(out)/results.csv, \(out)/report.md")
    }

    /// One shard: its cells of DIR/plan.json, each the backtest `ast backtest` runs, each cell's
    /// files into DIR/cells/NNNNNN/ (statistics.tsv written last: a cell with it is complete).
    func runShard(_ text: String) throws {
        let shard: SweepShard
        do { shard = try SweepShard.parse(text) } catch { throw failure("\(error)", ExitStatus.usage) }
        let plan = try SweepCollectCommand.readPlan(out)
        let environment = ProcessInfo.processInfo.environment
        let cache = ResearchCSVCache()
        for cell in plan.cells(shard: shard.index, of: shard.count) {
            let dir = SweepCollectCommand.cellDirectory(out, cell.index)
            let invocation: SweepInvocation
            let command: BacktestCommand
            do {
                invocation = try plan.invocation(cell, out: dir)
                command = try BacktestCommand.parse(invocation.arguments)
            } catch {
                throw failure("cell \(cell.index) (\(cell.label)): \(Self.describe(error))", ExitStatus.usage)
            }
            let result =
                try command.csv != nil
                ? command.research(cache: cache) : command.engine(variables: environment.merging(invocation.variables) { $1 }).0
            let stats = BacktestStatistics.compute(result)
            try command.write([
                ("summary.json", BacktestFiles.summaryJSON(result, stats)), ("trades.csv", BacktestFiles.tradesCSV(result)),
                ("statistics.tsv", BacktestFiles.statisticsTSV(stats)),
            ])
        }
    }
}

/// `ast sweep collect DIR`: the cells' results merged into DIR/results.csv and DIR/report.md.
struct SweepCollectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect", abstract: "Merge a sweep's cells (local or Slurm shards) into one ranked table.",
        discussion: "Fails, naming them, when cells have no result yet (a shard still running or failed: see DIR/slurm/).")

    @Argument(help: "The sweep's directory (as --out of `ast sweep`).")
    var directory: String
    @Option(name: .customLong("rank-by"), help: "Rank by this statistic instead of the plan's.")
    var rankBy: String?

    func run() throws {
        let ranked = try Self.collect(directory, rankBy: rankBy)
        print(
            "sweep collect: \(ranked.count) cells; best: \(ranked.first?.cell.label ?? "-"); \(directory)/results.csv, \(directory)/report.md"
        )
    }

    static func cellDirectory(_ dir: String, _ index: Int) -> String {
        let digits = String(index)
        return dir + "/cells/" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    static func readPlan(_ dir: String) throws -> SweepPlan {
        let path = dir + "/plan.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw failure("no sweep plan at \(path) (run `ast sweep ... --out \(dir)` first)", ExitStatus.other)
        }
        guard let plan = try? JSONDecoder().decode(SweepPlan.self, from: data), plan.version == SweepPlan.version else {
            throw failure("\(path) is not a sweep plan of version \(SweepPlan.version)", ExitStatus.badData)
        }
        return plan
    }

    /// Reads every cell's statistics, ranks them and writes results.csv and report.md.
    @discardableResult
    static func collect(_ dir: String, rankBy: String? = nil) throws -> [SweepRow] {
        var plan = try readPlan(dir)
        if let rankBy {
            guard SweepTable.metrics.contains(rankBy) else {
                throw failure("--rank-by: one of \(SweepTable.metrics.joined(separator: ", ")) (got '\(rankBy)')", ExitStatus.usage)
            }
            plan.rankBy = rankBy
        }
        var rows: [SweepRow] = []
        var missing: [Int] = []
        for cell in plan.cells {
            guard let data = FileManager.default.contents(atPath: cellDirectory(dir, cell.index) + "/statistics.tsv") else {
                missing.append(cell.index)
                continue
            }
            rows.append(SweepRow(cell: cell, statistics: SweepTable.parseStatistics(String(decoding: data, as: UTF8.self))))
        }
        guard missing.isEmpty else {
            throw failure(
                "\(missing.count) of \(plan.cells.count) cells have no result (cells \(missing.prefix(10).map(String.init).joined(separator: ", "))"
                    + "\(missing.count > 10 ? ", ..." : "")): a shard has not finished or failed (see \(dir)/slurm/ for a Slurm run)",
                ExitStatus.other)
        }
        let ranked = SweepTable.rank(rows, by: plan.rankBy)
        do {
            let axes = plan.axes.map(\.key)
            try Data(SweepTable.csv(ranked, axes: axes).utf8).write(to: URL(fileURLWithPath: dir + "/results.csv"), options: .atomic)
            try Data(SweepTable.report(plan, ranked: ranked).utf8).write(to: URL(fileURLWithPath: dir + "/report.md"), options: .atomic)
        } catch {
            throw failure("cannot write the results into \(dir): \(error.localizedDescription)", ExitStatus.other)
        }
        return ranked
    }
}

/// The sbatch script of a sweep: a job array whose task I runs shard I of N.
enum SweepSlurm {
    static func script(executable: String, directory: String, workingDirectory: String, shards n: Int) -> String {
        """
        #!/bin/sh
        #SBATCH --job-name=ast-sweep
        #SBATCH --array=0-\(n - 1)
        #SBATCH --ntasks=1
        #SBATCH --cpus-per-task=1
        #SBATCH --output=\(directory)/slurm/%A_%a.out
        #SBATCH --chdir=\(workingDirectory)
        # Written by `ast sweep --slurm`: each array task runs one shard of \(directory)/plan.json;
        # `ast sweep collect \(directory)` merges them when the array has ended.
        exec \(shellQuoted(executable)) sweep --shard "$SLURM_ARRAY_TASK_ID/\(n)" --out \(shellQuoted(directory))

        """
    }

    static func shellQuoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

/// A YAML sweep specification: `backtest` (a list of arguments or one string split at spaces),
/// `grid` (a mapping of keys to a range text or a list, in the file's order), `rank_by`.
struct SweepSpecFile {
    var backtest: [String] = []
    var axes: [SweepAxis] = []
    var rankBy: String?

    static func read(_ path: String) throws -> SweepSpecFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw failure("cannot read the sweep specification \(path)", ExitStatus.other)
        }
        let node: Node?
        do { node = try Yams.compose(yaml: String(decoding: data, as: UTF8.self)) } catch {
            throw failure("\(path) is not YAML: \(error)", ExitStatus.badData)
        }
        guard let mapping = node?.mapping else { throw failure("\(path): a mapping with backtest, grid and rank_by", ExitStatus.badData) }
        var spec = SweepSpecFile()
        for (k, v) in mapping {
            switch k.string {
            case "backtest":
                if let s = v.string {
                    spec.backtest = s.split(separator: " ").map(String.init)
                } else if let seq = v.sequence, seq.allSatisfy({ $0.string != nil }) {
                    spec.backtest = seq.compactMap(\.string)
                } else {
                    throw failure("\(path): backtest is a list of `ast backtest` arguments", ExitStatus.badData)
                }
            case "grid":
                guard let grid = v.mapping else { throw failure("\(path): grid is a mapping KEY: VALUES", ExitStatus.badData) }
                for (gk, gv) in grid {
                    do {
                        let key = try SweepAxis.checkedKey(gk.string ?? "", in: "\(gk.string ?? "?")")
                        if let s = gv.string {
                            spec.axes.append(SweepAxis(key: key, values: try SweepAxis.values(s, in: "\(key): \(s)")))
                        } else if let seq = gv.sequence, !seq.isEmpty, seq.allSatisfy({ $0.string != nil }) {
                            spec.axes.append(SweepAxis(key: key, values: seq.compactMap(\.string)))
                        } else {
                            throw SweepError("grid \(key): a range text A..B:STEP or a non-empty list of values")
                        }
                    } catch {
                        throw failure("\(path): \(error)", ExitStatus.badData)
                    }
                }
            case "rank_by":
                spec.rankBy = v.string
            default:
                throw failure("\(path): unknown key '\(k.string ?? "?")' (backtest, grid, rank_by)", ExitStatus.badData)
            }
        }
        return spec
    }
}
