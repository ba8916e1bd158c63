import ASTCalendar
import ASTCore
import ASTEngine
import ASTEngineData
import ASTMarketData
import ASTRuntime
import ASTStrategy
import ArgumentParser
import Foundation
import Logging

/// `ast-bench engine` (M8): the in-process engine's speed, single core, over the bundled universe
/// and over a large synthetic one; bar-symbols per second (one bar of one symbol through a whole
/// session: scan input, pipeline, risk, exchange, reconciler). The baseline M13 must improve on.
struct EngineBenchmarks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Measure the in-process trading engine (M8): bar-symbols/s over the bundled and a synthetic universe.")

    @Option(help: "Bundled: sessions played from --bundled-from (the bundled data ends 2026-12-31).")
    var bundledSessions = 500
    @Option(help: "Bundled: the first session played.")
    var bundledFrom = "2025-01-02"
    @Option(help: "Synthetic: symbols (plus the bundled index and volatility index).")
    var symbols = 5_000
    @Option(help: "Synthetic: sessions of history before the first played session.")
    var history = 300
    @Option(help: "Synthetic: sessions played (timed).")
    var sessions = 10
    @Option(help: "Repetitions of each run; the report gives their median.")
    var repetitions = 3
    @Option(help: "Seed of the synthetic universe.")
    var seed: UInt64 = 8
    @Option(
        name: .customLong("config-dir"),
        help: "The repository's etc/ (strategy, risk limits, paper broker; default: found above this executable).")
    var configDir: String?
    @Option(
        name: .customLong("write-store"),
        help:
            "Write the synthetic universe (--symbols, --history, --sessions, --seed) into a new bar store at this path, for `ast engine --store`, and exit."
    )
    var writeStore: String?

    func validate() throws {
        guard bundledSessions >= 1, symbols >= 1, history >= 30, sessions >= 1, repetitions >= 1, LocalDate(bundledFrom) != nil else {
            throw ValidationError("counts must be positive, history at least 30 sessions, --bundled-from a date")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StderrLogHandler(label: $0, level: .warning) }
        let progress = { (s: String) in FileHandle.standardError.write(Data("ast-bench engine: \(s)\n".utf8)) }
        if let writeStore {
            try write(store: writeStore, progress)
            return
        }
        // The shipped configuration, as the demo and the tree run it.
        let etc = try configDir ?? RunBenchmarks.configDirectory(near: RunBenchmarks.ownExecutable())
        let c = try ConfigLoader(directory: etc, variables: [:]).load(ASTConfig.self)
        let engineConfig = EngineConfig(
            pipeline: c.strategy ?? PipelineConfig(), limits: c.risk.limits, paper: c.paperBroker ?? .standard,
            brokerName: c.risk.broker)
        #if DEBUG
            let build = "DEBUG build (not a baseline)"
        #else
            let build = "release build"
        #endif
        print("### M8 The in-process engine (\(build), one thread, configuration \(etc)/ast.yaml; medians of \(repetitions))")
        print()
        print("| Run | Sessions | Bar-symbols | Time | Bar-symbols/s | Sessions/s | Outcome |")
        print("|---|---|---|---|---|---|---|")

        progress("bundled universe")
        let bundled = EngineMarketData.make(BundledData.universe())
        let bundledDays = bundled.sessions(from: LocalDate(bundledFrom)!, count: bundledSessions)
        row("bundled universe (50 stocks, IDX, VOLX), from \(bundledFrom)", try measure(engineConfig, bundled, bundledDays, progress))

        progress("synthetic universe: \(symbols) symbols × \(history + sessions) sessions")
        let (market, days) = synthetic()
        row("synthetic \(symbols) symbols, \(history) sessions of history", try measure(engineConfig, market, days, progress))
        let calendar = TradingCalendar.nyse
        let covered = calendar.sessions(
            from: LocalDate(year: calendar.coveredYears.lowerBound, month: 1, day: 1)!,
            to: LocalDate(year: calendar.coveredYears.upperBound, month: 12, day: 31)!
        ).count
        print()
        print(
            "The NYSE calendar covers \(calendar.coveredYears.lowerBound)–\(calendar.coveredYears.upperBound) (\(covered) sessions); "
                + "the synthetic walks start on 2024-01-02, and the row times the sessions played (at most what the calendar holds from then on)."
        )
    }

    struct Measured {
        var sessions: Int
        var barSymbols: Int
        var seconds: Double
        var outcome: String
    }

    func measure(_ config: EngineConfig, _ market: EngineMarket, _ days: [Session], _ progress: (String) -> Void) throws -> Measured {
        let engine = Engine(config: config, market: market)
        var times: [Double] = []
        var last = EngineOutput()
        for r in 0..<repetitions {
            let start = Monotonic.now(), cpuStart = Self.cpuSeconds()
            last = try engine.run(sessions: days)
            times.append(Double(Monotonic.now() - start) / 1e9)
            // CPU time too: on a loaded machine the wall time says little.
            let cpu = Self.cpuSeconds() - cpuStart
            progress(
                "repetition \(r + 1): \(String(format: "%.2f", times.last!)) s wall, \(String(format: "%.2f", cpu)) s CPU "
                    + "(\(String(format: "%.0f", Double(last.barsMatched) / max(cpu, 1e-9))) bar-symbols per CPU second)")
        }
        let median = times.sorted()[times.count / 2]
        let outcome =
            "\(last.intents.count) intents, \(last.decisions.filter { $0.decision.approval != nil }.count) approved, "
            + "\(last.fills.count) fills, final equity \(last.equity.last.map(\.equity.description) ?? "-")"
        return Measured(sessions: days.count, barSymbols: last.barsMatched, seconds: median, outcome: outcome)
    }

    /// This process's CPU time (user + system), in seconds.
    static func cpuSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    func row(_ name: String, _ m: Measured) {
        let rate = Double(m.barSymbols) / m.seconds
        print(
            "| \(name) | \(m.sessions) | \(m.barSymbols) | \(String(format: "%.2f", m.seconds)) s | **\(String(format: "%.0f", rate))** | "
                + "\(String(format: "%.2f", Double(m.sessions) / m.seconds)) | \(m.outcome) |")
    }

    /// `symbols` seeded random walks driven by the bundled index's daily returns, over the first
    /// `history + sessions` NYSE sessions from 2024-01-02; the last `sessions` are played.
    func synthetic() -> (EngineMarket, [Session]) {
        let d = syntheticData()
        return (EngineMarketData.make(symbols: d.infos, bars: d.bars, actions: [], events: d.events), d.played)
    }

    /// The synthetic universe written as a bar store (reference data, daily bars, earnings
    /// events), so that `ast engine --store PATH --from <first played> --sessions <sessions>`
    /// plays exactly what ``synthetic()`` times in process.
    func write(store path: String, _ progress: (String) -> Void) throws {
        guard !FileManager.default.fileExists(atPath: path) else { throw ValidationError("\(path) exists; give a new path") }
        let d = syntheticData()
        progress("writing \(d.bars.count) bars of \(d.infos.count) symbols to \(path)")
        let store = try BarStore(path: path, logger: Logger(label: "ast-bench"))
        defer { try? store.close() }
        try store.write(StoreBatch(symbols: d.infos, events: d.events))
        let chunk = 200_000
        for start in stride(from: 0, to: d.bars.count, by: chunk) {
            try store.write(StoreBatch(bars: Array(d.bars[start..<min(start + chunk, d.bars.count)])))
        }
        let first = d.played.first.map(\.date.description) ?? "-"
        print(
            "synthetic store \(path): \(d.infos.count) symbols, \(d.bars.count) bars; play it with: "
                + "ast engine --store \(path) --from \(first) --sessions \(d.played.count)")
    }

    func syntheticData() -> (infos: [SymbolInfo], bars: [Bar], events: [MarketEvent], played: [Session]) {
        let standard = BundledData.universe()
        // Every session the calendar covers from 2024 on (the bundled index, which drives the
        // walks and the regime, ends on 2026-12-31: after it the regime is undetermined).
        let calendar = TradingCalendar.nyse
        let all = calendar.sessions(
            from: LocalDate(year: 2024, month: 1, day: 2)!, to: LocalDate(year: calendar.coveredYears.upperBound, month: 12, day: 31)!)
        let total = min(all.count, history + sessions)
        let days = Array(all.prefix(total))
        let index = standard.bars(of: "IDX")
        var market = [0.0]
        for i in 1..<min(total, index.count) { market.append(index[i].close.indicatorValue / index[i - 1].close.indicatorValue - 1) }
        while market.count < total { market.append(0) }
        let sectors = [
            "Technology", "Healthcare", "Financials", "Energy", "Industrials", "Consumer Discretionary", "Consumer Staples", "Utilities",
        ]
        var rng = SplitMix64(seed: seed)
        var infos: [SymbolInfo] = []
        var bars: [Bar] = []
        bars.reserveCapacity(symbols * total)
        var events: [MarketEvent] = []
        for n in 0..<symbols {
            let symbol = Symbol(validating: "S" + String(format: "%05d", n))!
            infos.append(
                SymbolInfo(
                    symbol: symbol, name: "Stock \(n)", exchange: n % 3 == 0 ? "NASDAQ" : "NYSE",
                    sector: sectors[n % sectors.count]))
            let beta = 0.5 + rng.uniform(), vol = 0.01 + 0.02 * rng.uniform()
            var close = 3 * pow(100, rng.uniform())
            let volume = 200_000 * pow(50, rng.uniform())
            for i in 0..<total {
                var ret = 0.0003 + beta * market[i] + vol * rng.normal()
                if close < 1 { ret = abs(ret) }
                let open = close * (1 + 0.3 * ret + 0.003 * rng.normal())
                let next = close * (1 + ret)
                let high = max(open, next) * (1 + vol * 0.6 * abs(rng.normal()))
                let low = min(open, next) * (1 - vol * 0.6 * abs(rng.normal()))
                let shares = volume * (0.6 + 0.8 * rng.uniform())
                bars.append(
                    Bar(
                        symbol: symbol, start: days[i].open, open: Self.cents(open), high: Self.cents(high),
                        low: Self.cents(max(low, 0.01)), close: Self.cents(next), volume: Int64(shares.rounded())))
                close = next
            }
            var e = rng.int(0...62)
            while e < total {
                events.append(MarketEvent(symbol: symbol, date: days[e].date, kind: .earnings))
                e += 63
            }
        }
        let indexes = standard.symbols.filter(\.isIndex)
        for info in indexes { bars += standard.bars(of: info.symbol).filter { $0.start <= days[total - 1].open } }
        return (infos + indexes, bars, events.sorted { ($0.date, $0.symbol) < ($1.date, $1.symbol) }, Array(days.suffix(total - history)))
    }

    static func cents(_ dollars: Double) -> Price { Price(units: Int64((dollars * 100).rounded()) * (Price.unitsPerDollar / 100)) }
}
