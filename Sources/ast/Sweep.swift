import ASTBacktest
import ASTCore
import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `ast sweep`: a parameter grid run as many `ast backtest`s, in threads of this process or as a
/// Slurm job array, then merged into one ranked table (`ast sweep collect`).
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
            The plan goes to DIR/plan.json; a shard's statistics of its cells to DIR/shards/I-of-N.tsv; with --cell-files \
            each cell's statistics.tsv, summary.json and trades.csv to DIR/cells/NNNNNN/ as well. \
            Locally, --jobs threads (default: the cores) each run a shard I/N of the cells in this process (the CSV parsed once \
            per thread, each cell a backtest on the parsed bars), then DIR/results.csv and DIR/report.md are written, ranked \
            by --rank-by: the same bytes whatever the number of jobs. \
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
    @Option(help: "Local threads at once (default: the cores).")
    var jobs: Int?
    @Flag(name: .customLong("cell-files"), help: "Also write each cell's summary.json, trades.csv and statistics.tsv (DIR/cells/NNNNNN/).")
    var cellFiles = false
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
        if shard != nil && (slurm || !grids.isEmpty || spec != nil || cellFiles) {
            throw ValidationError("--shard runs a planned sweep's part; it takes only --out")
        }
        if !slurm && (shards != nil || wait || !sbatchArgs.isEmpty) {
            throw ValidationError("--shards, --wait and --sbatch-arg need --slurm")
        }
    }

    func run() throws {
        if let shard { return try runShard(shard) }
        var (plan, first) = try makePlan()
        if cellFiles { plan.cellFiles = true }
        let dir = URL(fileURLWithPath: out)
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for old in ["cells", "shards", "results.csv", "report.md", "slurm"] {
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
        let rows = try runLocally(plan, first: first, threads: n)
        // One shard file of every cell, so that `ast sweep collect DIR --rank-by M` re-ranks a local run.
        try Self.writeShard(SweepShardFile.text(rows), out, name: SweepShardFile.name(0, of: 1))
        let ranked = try SweepCollectCommand.write(
            out, plan, rows.map { r in SweepRow(cell: plan.cells[r.cell], statistics: Dictionary(r.statistics, uniquingKeysWith: { $1 })) })
        print(
            "sweep: \(plan.cells.count) cells in \(n) threads (\(ContinuousClock.now - began)); best: \(ranked.first?.cell.label ?? "-")")
        print("sweep: \(out)/results.csv, \(out)/report.md")
    }

    /// The plan from --spec, --grid and the arguments after `--`, and the first cell's parsed
    /// `ast backtest` command line; every cell is checked (its options set on that command line,
    /// validated and its research options read) before anything runs.
    func makePlan() throws -> (SweepPlan, BacktestCommand) {
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
        var first: BacktestCommand?
        for cell in plan.cells {
            do {
                let parsed = try first ?? Self.firstCommand(plan)
                first = parsed
                try Self.command(cell, of: plan, first: parsed, out: out).command.checkResearchOptions()
            } catch {
                let invocation = try? plan.invocation(cell, out: out)
                throw failure(
                    "cell \(cell.index) (\(cell.label)): `ast backtest \(invocation?.arguments.joined(separator: " ") ?? "")`: "
                        + Self.describe(error), ExitStatus.usage)
            }
        }
        guard let first else { throw failure("the sweep has no cells", ExitStatus.usage) }
        return (plan, first)
    }

    /// The plan's first cell's `ast backtest` command line, parsed (and validated) once: the other
    /// cells set only the options their axes name on it (``command(_:of:first:out:)``).
    static func firstCommand(_ plan: SweepPlan) throws -> BacktestCommand {
        guard let cell = plan.cells.first else { throw SweepError("the sweep has no cells") }
        return try BacktestCommand.parse(plan.invocation(cell, out: "-").arguments)
    }

    /// `cell`'s backtest: the first cell's command line with this cell's options set (every cell
    /// sets the same options, so this is the command line `plan.invocation` gives, parsed), validated
    /// as parsing validates, writing into `out`; and its configuration variables.
    static func command(
        _ cell: SweepCell, of plan: SweepPlan, first: BacktestCommand, out: String
    ) throws -> (command: BacktestCommand, variables: [String: String]) {
        let o = try plan.overrides(cell)
        var c = first
        for (k, v) in o.options { try c.set(k, v) }
        c.out = out
        try c.validate()
        return (c, o.variables)
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

    /// Runs the plan's cells in `n` threads, thread I the cells of shard I/N (as `--shard I/N`
    /// would), and returns every cell's statistics in the plan's order; a failing shard's error is
    /// thrown (the lowest shard's when several fail).
    func runLocally(_ plan: SweepPlan, first: BacktestCommand, threads n: Int) throws -> [SweepShardRow] {
        let results = SweepThreadResults(count: n)
        nonisolated(unsafe) let first = first
        let out = self.out
        DispatchQueue.concurrentPerform(iterations: n) { i in
            let outcome = Result { try Self.runCells(plan.cells(shard: i, of: n), of: plan, first: first, out: out) }
            results.set(i, outcome)
        }
        var rows: [SweepShardRow] = []
        for outcome in results.take() { rows += try outcome.get() }
        return rows.sorted { $0.cell < $1.cell }
    }

    /// Runs `cells` one after the other in this thread: each its backtest (research mode on the
    /// CSV parsed once, through `cache`), its statistics, and with the plan's `cellFiles` its three
    /// files into DIR/cells/NNNNNN/ (statistics.tsv last).
    static func runCells(_ cells: [SweepCell], of plan: SweepPlan, first: BacktestCommand, out: String) throws -> [SweepShardRow] {
        let environment = ProcessInfo.processInfo.environment
        let cache = ResearchCSVCache()
        var rows: [SweepShardRow] = []
        rows.reserveCapacity(cells.count)
        for cell in cells {
            let command: BacktestCommand, variables: [String: String]
            do {
                (command, variables) = try Self.command(
                    cell, of: plan, first: first, out: SweepCollectCommand.cellDirectory(out, cell.index))
            } catch {
                throw failure("cell \(cell.index) (\(cell.label)): \(Self.describe(error))", ExitStatus.usage)
            }
            let result =
                try command.csv != nil
                ? command.research(cache: cache) : command.engine(variables: environment.merging(variables) { $1 }).0
            let stats = BacktestStatistics.compute(result)
            if plan.cellFiles == true {
                try command.write([
                    ("summary.json", BacktestFiles.summaryJSON(result, stats)), ("trades.csv", BacktestFiles.tradesCSV(result)),
                    ("statistics.tsv", BacktestFiles.statisticsTSV(stats)),
                ])
            }
            rows.append((cell.index, BacktestFiles.statisticsPairs(stats)))
        }
        return rows
    }

    /// Writes a shard file into DIR/shards/ at once (a file present is a shard complete).
    static func writeShard(_ text: String, _ out: String, name: String) throws {
        let dir = out + "/shards"
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/" + name), options: .atomic)
        } catch {
            throw failure("cannot write \(dir)/\(name): \(error.localizedDescription)", ExitStatus.other)
        }
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

    /// One shard (a Slurm array task): its cells of DIR/plan.json, each the backtest `ast backtest`
    /// runs, their statistics into DIR/shards/I-of-N.tsv when all have run.
    func runShard(_ text: String) throws {
        let shard: SweepShard
        do { shard = try SweepShard.parse(text) } catch { throw failure("\(error)", ExitStatus.usage) }
        let plan = try SweepCollectCommand.readPlan(out)
        let first: BacktestCommand
        do { first = try Self.firstCommand(plan) } catch { throw failure("\(out)/plan.json: \(Self.describe(error))", ExitStatus.usage) }
        let rows = try Self.runCells(plan.cells(shard: shard.index, of: shard.count), of: plan, first: first, out: out)
        try Self.writeShard(SweepShardFile.text(rows), out, name: SweepShardFile.name(shard.index, of: shard.count))
    }
}

/// A cell's index and its statistics (key, JSON value) in summary.json's order.
typealias SweepShardRow = (cell: Int, statistics: [(key: String, value: String)])

/// The shards' outcomes of a local sweep's threads, by shard.
final class SweepThreadResults: @unchecked Sendable {
    private let lock = NSLock()
    private var outcomes: [Result<[SweepShardRow], any Error>]

    init(count: Int) { outcomes = Array(repeating: .success([]), count: count) }

    func set(_ i: Int, _ r: Result<[SweepShardRow], any Error>) {
        lock.lock()
        defer { lock.unlock() }
        outcomes[i] = r
    }

    func take() -> [Result<[SweepShardRow], any Error>] {
        lock.lock()
        defer { lock.unlock() }
        return outcomes
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
        var found: [Int: [String: String]] = [:]
        let shards = dir + "/shards"
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: shards)) ?? []).sorted() where name.hasSuffix(".tsv") {
            guard let data = FileManager.default.contents(atPath: shards + "/" + name) else { continue }
            found.merge(SweepShardFile.parse(String(decoding: data, as: UTF8.self))) { a, _ in a }
        }
        var rows: [SweepRow] = []
        var missing: [Int] = []
        for cell in plan.cells {
            if let statistics = found[cell.index] {
                rows.append(SweepRow(cell: cell, statistics: statistics))
                continue
            }
            // A sweep written before the shard files: each cell's own statistics.tsv.
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
        return try write(dir, plan, rows)
    }

    /// Ranks `rows` by the plan's statistic and writes DIR/results.csv and DIR/report.md.
    @discardableResult
    static func write(_ dir: String, _ plan: SweepPlan, _ rows: [SweepRow]) throws -> [SweepRow] {
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
        let node: YAMLNode?
        do { node = try YAMLReader.read([UInt8](data)) } catch {
            throw failure("\(path) is not YAML: \(error)", ExitStatus.badData)
        }
        guard case .mapping(let mapping)? = node?.value else {
            throw failure("\(path): a mapping with backtest, grid and rank_by", ExitStatus.badData)
        }
        var spec = SweepSpecFile()
        for entry in mapping {
            let v = entry.value
            switch entry.key {
            case "backtest":
                if let s = v.string {
                    spec.backtest = s.split(separator: " ").map(String.init)
                } else if case .sequence(let seq) = v.value, seq.allSatisfy({ $0.string != nil }) {
                    spec.backtest = seq.compactMap(\.string)
                } else {
                    throw failure("\(path): backtest is a list of `ast backtest` arguments", ExitStatus.badData)
                }
            case "grid":
                guard case .mapping(let grid) = v.value else { throw failure("\(path): grid is a mapping KEY: VALUES", ExitStatus.badData) }
                for axis in grid {
                    let gv = axis.value
                    do {
                        let key = try SweepAxis.checkedKey(axis.key, in: axis.key)
                        if let s = gv.string {
                            spec.axes.append(SweepAxis(key: key, values: try SweepAxis.values(s, in: "\(key): \(s)")))
                        } else if case .sequence(let seq) = gv.value, !seq.isEmpty, seq.allSatisfy({ $0.string != nil }) {
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
                throw failure("\(path): unknown key '\(entry.key)' (backtest, grid, rank_by)", ExitStatus.badData)
            }
        }
        return spec
    }
}

extension YAMLNode {
    /// A scalar's text (also a plain `~` or nothing, as written), nil for a list or a mapping.
    fileprivate var string: String? {
        if case .scalar(let text, _) = value { return text }
        return nil
    }
}
