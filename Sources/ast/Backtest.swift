import ASTBacktest
import ASTCalendar
import ASTCore
import ASTEngine
import ASTEngineData
import ASTMarketData
import ASTPaperBroker
import ASTReport
import ASTRuntime
import ASTStrategy
import ArgumentParser
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// `ast backtest`: the engine (the tree's strategy, risk gate, sizing and fill rules) over a
/// period of stored or CSV history, or the single-symbol research loop over one CSV; writes
/// trades.csv, equity.csv, summary.json, report.md and report.html to --out.
struct BacktestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest", abstract: "Backtest the engine over a period, or one symbol's CSV with a research strategy.",
        discussion: """
            Engine mode (default): plays the NYSE sessions from --from to --to through the in-process engine with the \
            configuration the tree reads (or --config FILE as its base file) and --capital as the paper account's cash, \
            over the bar store (--store) or a data-set directory (--csv-dir: bars/*.csv and metadata.csv, as `ast ingest --dir`). \
            Research mode (--csv): one symbol, a built-in strategy (--strategy sma_cross:FAST,SLOW), --size shares:N|percent:P, \
            --fill next_open|close, --commission DOLLARS_PER_SHARE|per_share:RATE[,MIN[,MAX_BPS]]|percent:P. \
            Writes trades.csv, equity.csv, summary.json, report.md and report.html into --out; the same inputs give the same bytes.
            """)

    @Option(help: "The first session (YYYY-MM-DD); engine mode: default marketdata.replay.from.")
    var from: String?
    @Option(help: "The last session (YYYY-MM-DD); engine mode: this or --sessions.")
    var to: String?
    @Option(help: "Starting cash in dollars (engine mode: default paper_broker.starting_cash).")
    var capital: String?
    @Option(help: "The base configuration file (instead of ast.yaml; the layers beside it apply as usual).")
    var config: String?
    @Option(help: "The bar store (SQLite); default as `ast engine`.")
    var store: String?
    @Option(name: .customLong("csv-dir"), help: "A data-set directory (bars/*.csv, metadata.csv, ...) instead of the store.")
    var csvDir: String?
    @Option(help: "Research mode: one symbol's CSV (Yahoo, Stooq).")
    var csv: String?
    @Option(help: "Research mode: the ticker, when the file name is not one.")
    var symbol: String?
    @Option(help: "Research mode: sma_cross:FAST,SLOW.")
    var strategy: String = "sma_cross:10,20"
    @Option(help: "Research mode: shares:N or percent:P.")
    var size: String = "shares:100"
    @Option(help: "Research mode: next_open or close.")
    var fill: String = "next_open"
    @Option(help: "Research mode: DOLLARS_PER_SHARE, per_share:RATE[,MIN[,MAX_BPS]] or percent:P.")
    var commission: String = "0"
    @Option(help: "Research mode: 0, bps:N or ticks:N (cents) against the trader at every fill.")
    var slippage: String = "0"
    @Option(help: "Research mode: a protective stop PCT percent below the entry fill (gap-aware: a gap through it fills at the open).")
    var stop: String?
    @Option(help: "Research mode: a take profit PCT percent above the entry fill.")
    var target: String?
    @Option(help: "Research mode: worst_case, best_case or open_proximity, when one bar reaches the stop and the target.")
    var bothTouched: String = "worst_case"
    @Option(help: "Research mode: at most PCT percent of a bar's volume per fill.")
    var volumeCap: String?
    @Option(help: "Research mode: cash, or regt (50 % initial, 25 % maintenance, liquidation at the close).")
    var margin: String = "cash"
    @Option(help: "The directory the files are written to (created).")
    var out: String
    @Flag(help: "No progress bar even on a terminal.")
    var quiet = false
    @Option(help: "Engine mode: how many sessions from --from (instead of --to).")
    var sessions: Int?
    @Option(
        help: "Engine mode: a tree's state directory whose journals to compare the trades with (as `ast engine`; exit 3 on a difference).")
    var compareStateDir: String?

    func validate() throws {
        for (name, value) in [("--from", from), ("--to", to)] {
            if let value, LocalDate(value) == nil { throw ValidationError("\(name) must be a date as YYYY-MM-DD (got '\(value)')") }
        }
        if let capital, Money(capital).map({ $0.units <= 0 }) ?? true {
            throw ValidationError("--capital must be a positive amount in dollars (got '\(capital)')")
        }
        if store != nil && csvDir != nil { throw ValidationError("give --store or --csv-dir, not both") }
        if csv != nil && (store != nil || csvDir != nil) { throw ValidationError("--csv (research mode) takes no --store or --csv-dir") }
        if csv == nil && (to == nil) == (sessions == nil) {
            throw ValidationError("engine mode needs either --to or --sessions (or give --csv)")
        }
        if size.hasPrefix("risk:") && stop == nil { throw ValidationError("--size risk:P sizes by the stop: give --stop PCT too") }
        if csv == nil && (stop != nil || target != nil || volumeCap != nil || margin != "cash" || bothTouched != "worst_case") {
            throw ValidationError(
                "--stop, --target, --both-touched, --volume-cap and --margin are for research mode (--csv); "
                    + "engine mode takes them from paper_broker: in the configuration")
        }
        if let sessions, sessions < 1 { throw ValidationError("--sessions must be at least 1 (got \(sessions))") }
        if csv != nil && (sessions != nil || compareStateDir != nil) {
            throw ValidationError("--sessions and --compare-state-dir are for engine mode, not --csv")
        }
        if let from, let to, let a = LocalDate(from), let b = LocalDate(to), a > b {
            throw ValidationError("--from \(from) is after --to \(to)")
        }
    }

    func run() throws {
        let began = ContinuousClock.now
        let (result, comparison) = try csv != nil ? (research(), nil) : engine()
        let stats = BacktestStatistics.compute(result)
        try write(BacktestCommand.files(result, stats))
        let elapsed = ContinuousClock.now - began
        print(
            "backtest: \(stats.sessions) sessions, \(stats.trades) trades, total return \(BacktestFiles.number(stats.totalReturn * 100, 2))%, "
                + "max drawdown \(BacktestFiles.number(stats.maxDrawdown * 100, 2))%, files in \(out) (\(elapsed))")
        if let comparison {
            print(comparison.text)
            if !comparison.matched { throw ExitCode(3) }
        }
    }

    /// Sets the option `--key` to `value` as parsing `--key value` after the others would (the
    /// last one wins): how a sweep's cell sets its axes on the first cell's command line. A key
    /// that is not one of ``SweepPlan/optionKeys`` is refused.
    mutating func set(_ key: String, _ value: String) throws {
        switch key {
        case "capital": capital = value
        case "size": size = value
        case "commission": commission = value
        case "slippage": slippage = value
        case "fill": fill = value
        case "from": from = value
        case "to": to = value
        case "config": config = value
        case "strategy": strategy = value
        case "store": store = value
        case "csv-dir": csvDir = value
        case "csv": csv = value
        case "symbol": symbol = value
        case "sessions":
            guard let n = Int(value) else { throw ValidationError("The value '\(value)' is invalid for '--sessions <sessions>'") }
            sessions = n
        default: throw ValidationError("--\(key) is not an option a sweep sets")
        }
    }

    // MARK: Research mode

    /// The research options' errors, before anything runs (`ast sweep` checks every cell).
    func checkResearchOptions() throws {
        guard csv != nil else { return }
        _ = try ResearchSpec.parse(
            strategy: strategy, size: size, fill: fill, commission: commission, capital: Money(units: 1), slippage: slippage)
        _ = try researchRules()
    }

    /// `cache`: parsed files by path and symbol, so that a sweep's shard reads its CSV once.
    func research(cache: ResearchCSVCache? = nil) throws -> BacktestResult {
        guard let csv else { throw failure("--csv is required", ExitStatus.usage) }
        let cash = Money(capital ?? "10000") ?? Money(units: 10_000 * 10_000)
        var spec: ResearchSpec
        do {
            spec = try ResearchSpec.parse(
                strategy: strategy, size: size, fill: fill, commission: commission, capital: cash, slippage: slippage)
            spec.rules = try researchRules()
        } catch {
            throw failure("\(error)", ExitStatus.usage)
        }
        var ticker: Symbol?
        if let symbol {
            guard let s = Symbol(validating: symbol.uppercased()) else {
                throw failure("--symbol '\(symbol)' is not a ticker", ExitStatus.usage)
            }
            ticker = s
        }
        let key = csv + "\u{0}" + (ticker?.rawValue ?? "")
        let parameters = { (symbol: Symbol) -> [(String, String)] in
            let base: [(String, String)] = [
                ("mode", "research"), ("csv", csv), ("symbol", symbol.rawValue), ("strategy", strategy), ("size", size),
                ("fill", fill), ("commission", commission), ("slippage", slippage), ("capital", cash.description),
            ]
            // The fill-realism options only when given, so that earlier runs keep their bytes.
            let extra: [(String, String?)] = [
                ("stop", stop), ("target", target), ("both_touched", bothTouched == "worst_case" ? nil : bothTouched),
                ("volume_cap", volumeCap), ("margin", margin == "cash" ? nil : margin),
            ]
            return base + extra.compactMap { k, v in v.map { (k, $0) } }
        }
        // A sweep's cells of one file and period share its columns (dates computed once).
        let period = key + "\u{0}" + (from ?? "") + "\u{0}" + (to ?? "")
        if let hit = cache?.bars[period] {
            return ResearchBacktest.run(hit, spec, parameters: parameters(hit.symbol))
        }
        let parsed: ParsedCSV
        if let hit = cache?.files[key] {
            parsed = hit
        } else {
            let text: String
            do { text = try String(contentsOfFile: csv, encoding: .utf8) } catch {
                throw failure("cannot read \(csv): \(error.localizedDescription)", ExitStatus.badData)
            }
            do {
                parsed = try CSVBarParser.parse(text, file: csv, symbol: ticker ?? CSVBarParser.symbolFromFileName(csv) ?? "CSV")
            } catch {
                throw failure("\(error)", ExitStatus.badData)
            }
            cache?.files[key] = parsed
        }
        if !parsed.issues.isEmpty {
            throw failure(
                "\(csv) has unreadable rows:\n" + parsed.issues.prefix(20).map(\.description).joined(separator: "\n"), ExitStatus.badData)
        }
        var bars = parsed.bars.map(\.bar)
        for i in bars.indices.dropFirst() where bars[i].start <= bars[i - 1].start {
            let at = parsed.bars[i].line.map { "\(csv):\($0)" } ?? csv
            throw failure("\(at): the rows must go forward in time; sort the file by date", ExitStatus.badData)
        }
        if let from = from.flatMap(LocalDate.init) { bars.removeAll { NewYorkTime.local($0.start).date < from } }
        if let to = to.flatMap(LocalDate.init) { bars.removeAll { NewYorkTime.local($0.start).date > to } }
        guard !bars.isEmpty else { throw failure("\(csv): no bars in the period", ExitStatus.badData) }
        let columns = ResearchBars(symbol: parsed.symbol, bars: bars)
        cache?.bars[period] = columns
        return ResearchBacktest.run(columns, spec, parameters: parameters(parsed.symbol))
    }

    /// `--stop`, `--target`, `--both-touched`, `--volume-cap`, `--margin`.
    func researchRules() throws(ResearchError) -> ResearchRules {
        try ResearchRules.parse(stop: stop, target: target, bothTouched: bothTouched, volumeCap: volumeCap, margin: margin)
    }

    // MARK: Engine mode

    /// `variables`: the process environment the configuration's `AST_*` layer is read from (a
    /// sweep cell adds its `config.KEY` values to it).
    func engine(variables: [String: String] = ProcessInfo.processInfo.environment) throws -> (BacktestResult, TradingComparison?) {
        let cfg: ASTConfig
        do {
            if let config {
                let url = URL(fileURLWithPath: config)
                guard FileManager.default.fileExists(atPath: config) else {
                    throw failure("--config \(config) does not exist", ExitStatus.other)
                }
                cfg = try ConfigLoader(
                    directory: url.deletingLastPathComponent().path, baseFile: url.lastPathComponent, variables: variables
                )
                .load(ASTConfig.self)
            } else {
                cfg = try ConfigLoader.discover(variables).load(ASTConfig.self)
            }
        } catch let e as ExitCode {
            throw e
        } catch {
            throw failure("\(error)", ExitStatus.other)
        }
        let logger = Logger(label: "ast") { label in StderrLogHandler(label: label, level: .critical) }
        let market: EngineMarket
        if let csvDir {
            market = try loadDirectory(csvDir, logger: logger)
        } else {
            let path = store ?? (cfg.marketdata ?? .standard).storePath(stateDir: cfg.stateDir)
            guard FileManager.default.fileExists(atPath: path) else {
                throw failure("no bar store at \(path); fill one with `ast ingest` or give --store or --csv-dir", ExitStatus.other)
            }
            do {
                let s = try BarStore(path: path, logger: logger)
                defer { try? s.close() }
                market = try EngineMarketData.load(from: s)
            } catch {
                throw failure("cannot read the bar store \(path): \(error)", ExitStatus.other)
            }
        }
        let first = from.flatMap(LocalDate.init) ?? (cfg.marketdata ?? .standard).replay.fromDate
        let last = to.flatMap(LocalDate.init)
        let sessions = market.sessions(from: first, count: self.sessions ?? Int.max).filter { d in last.map { d.date <= $0 } ?? true }
        guard !sessions.isEmpty else { throw failure("no bars from \(first) to \(to ?? "the end")", ExitStatus.badData) }
        var paper = cfg.paperBroker ?? .standard
        if let capital, let cash = Money(capital) { paper.startingCash = cash }
        let engineConfig = EngineConfig(
            pipeline: cfg.strategy ?? PipelineConfig(), limits: cfg.risk.limits, paper: paper, brokerName: cfg.risk.broker)
        var bar = ProgressBar(total: sessions.count, enabled: !quiet && isatty(STDERR_FILENO) == 1)
        let output: EngineOutput
        do {
            output = try Engine(config: engineConfig, market: market).run(sessions: sessions) { bar.update($0) }
        } catch {
            throw failure("\(error)", ExitStatus.other)
        }
        bar.finish()
        let parameters: [(String, String)] = [
            ("mode", "engine"), ("from", sessions[0].date.description), ("to", sessions[sessions.count - 1].date.description),
            ("capital", paper.startingCash.description), ("source", csvDir.map { "csv-dir \($0)" } ?? "bar store"),
            ("config", config ?? "discovered (AST_CONFIG_DIR, ./etc or /etc/ast)"),
        ]
        let result = EngineBacktest.result(
            output: output, market: market, sessions: sessions, capital: paper.startingCash, parameters: parameters)
        guard let dir = compareStateDir else { return (result, nil) }
        // The same comparison as `ast engine --compare-state-dir`, of the run these files were written from.
        return (result, try TradingComparison.compare(output, withTreeIn: dir))
    }

    /// A data-set directory through the ingest's validation, into a temporary store.
    func loadDirectory(_ dir: String, logger: Logger) throws -> EngineMarket {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ast-backtest-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        defer { try? FileManager.default.removeItem(at: tmp) }
        do {
            try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
            let s = try BarStore(path: tmp.appendingPathComponent("bars.sqlite").path, logger: logger)
            defer { try? s.close() }
            _ = try MarketDataIngest.ingestDirectory(dir, into: s, logger: logger)
            return try EngineMarketData.load(from: s)
        } catch {
            throw failure("cannot read the data set \(dir): \(error)", ExitStatus.badData)
        }
    }

    // MARK: Files

    /// Every file of a backtest, by name.
    static func files(_ r: BacktestResult, _ s: BacktestStatistics) -> [(String, String)] {
        [
            ("trades.csv", BacktestFiles.tradesCSV(r)), ("equity.csv", BacktestFiles.equityCSV(r)),
            ("summary.json", BacktestFiles.summaryJSON(r, s)), ("report.md", BacktestFiles.reportMarkdown(r, s)),
            ("report.html", BacktestHTML.report(r, s)),
        ]
    }

    /// Writes `files` into --out (created), each atomically.
    func write(_ files: [(String, String)]) throws {
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            for (name, text) in files {
                try Data(text.utf8).write(to: URL(fileURLWithPath: out).appendingPathComponent(name), options: .atomic)
            }
        } catch {
            throw failure("cannot write the results to \(out): \(error.localizedDescription)", ExitStatus.other)
        }
    }
}

/// Parsed research CSVs by path and symbol (one process's, single-threaded).
final class ResearchCSVCache {
    var files: [String: ParsedCSV] = [:]
    /// The research columns by file, symbol and period.
    var bars: [String: ResearchBars] = [:]
}

/// A progress bar on stderr (a terminal only), redrawn at most once per percent.
struct ProgressBar {
    let total: Int
    let enabled: Bool
    var shown = -1

    mutating func update(_ done: Int) {
        guard enabled, total > 0 else { return }
        let pct = done * 100 / total
        guard pct != shown else { return }
        shown = pct
        let width = 40, filled = pct * width / 100
        let line =
            "\r[\(String(repeating: "#", count: filled))\(String(repeating: " ", count: width - filled))] \(pct)% \(done)/\(total) sessions"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled, shown >= 0 else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
