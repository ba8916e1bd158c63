import ASTCalendar
import ASTCore
import ASTIndicators
import ASTMarketData
import ASTRisk
import ASTRuntime
import ASTScanInput
import ASTStrategy
// ast-bench pipeline: the M5 benchmarks of the strategy pipeline (indicator updates/s per
// indicator; the 09:00 scan over a large universe; loading its input from a bar store).
// `scripts/bench pipeline` runs this and then times the demo; BENCHMARKS.md ("M5 — pipeline")
// explains the numbers.
import ArgumentParser
import Foundation
import Logging

/// Which pipeline benchmark to run.
enum PipelineSuite: String, CaseIterable, ExpressibleByArgument {
    /// Incremental updates/s of each indicator and of the registry with all of them.
    case indicators
    /// `PipelineRun.scan` over a generated universe held in memory.
    case scan
    /// `ScanInputLoader` from a real bar store holding the same universe.
    case load
}

/// `ast-bench pipeline`: measures the strategy pipeline (M5) and prints a Markdown report on
/// stdout (progress on stderr). Pure computation and one SQLite file in a scratch directory.
struct PipelineBenchmarks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Measure the strategy pipeline (M5): indicator updates/s, the 09:00 scan over a large universe, loading its input.")

    @Option(name: .customLong("only"), help: "Run only this benchmark (repeatable): indicators, scan, load.")
    var only: [PipelineSuite] = []
    @Option(help: "Repetitions of the indicator measurements; the report gives their median.")
    var repetitions = 5
    @Option(help: "Indicators: bars in the seeded series each indicator is fed.")
    var bars = 1_000_000
    @Option(name: .customLong("scan-repetitions"), help: "Scan and load: repetitions; the report gives their median.")
    var scanRepetitions = 3
    @Option(help: "Scan and load: symbols in the generated universe (plus an index and a volatility index).")
    var symbols = 5_000
    @Option(help: "Scan and load: daily bars per symbol before the scan date.")
    var sessions = 504
    @Option(help: "Seed of every generated series.")
    var seed: UInt64 = 5
    @Option(name: .customLong("tmp"), help: "Where the scratch directory goes (the bar store).")
    var tmp = "/tmp"

    func validate() throws {
        guard repetitions >= 1, scanRepetitions >= 1, bars >= 1_000, symbols >= 1, sessions >= 30 else {
            throw ValidationError("counts must be positive, at least 1,000 bars and 30 sessions")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StderrLogHandler(label: $0, level: .warning) }
        let suites = only.isEmpty ? PipelineSuite.allCases : PipelineSuite.allCases.filter(only.contains)
        let progress: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("ast-bench pipeline: \($0)\n".utf8)) }
        var settings = ["release build, one thread; the table gives medians (a ratio is the median of the per-repetition ratios)"]
        if suites.contains(.indicators) {
            settings.append(
                "indicators: \(repetitions) repetitions after an untimed warm-up pass, each feeding the same seeded series of \(bars) bars one minute apart "
                    + "(seed \(seed)) to every indicator in turn through `update`")
        }
        if suites.contains(.scan) || suites.contains(.load) {
            settings.append(
                "scan: \(symbols) generated symbols × \(sessions) sessions before the scan date (seed \(seed)) plus IDX and VOLX from "
                    + "`UniverseGenerator.standard`; `PipelineConfig()` with both detectors (ma_crossover, platform_breakout, as etc/ast.yaml); "
                    + "\(scanRepetitions) repetitions after an untimed warm-up scan")
        }
        var report = Report(settings: settings)
        let (indicatorsOn, scanOn, loadOn) = (suites.contains(.indicators), suites.contains(.scan), suites.contains(.load))
        let (repetitions, bars, seed, scanRepetitions, symbols, sessions, tmp) = (
            repetitions, bars, seed, scanRepetitions, symbols, sessions, tmp
        )
        let rows = try await onDedicatedThread { () throws -> [ReportRow] in
            var rows: [ReportRow] = []
            if indicatorsOn {
                let summary = IndicatorBenchmark(repetitions: repetitions, bars: bars, seed: seed).run(progress: progress)
                rows += summary.rows()
            }
            if scanOn || loadOn {
                let bench = ScanBenchmark(repetitions: scanRepetitions, symbols: symbols, sessions: sessions, seed: seed, tmp: tmp)
                rows += try bench.run(scan: scanOn, load: loadOn, progress: progress)
            }
            return rows
        }
        rows.forEach { report.add($0) }
        print(report.markdown(), terminator: "")
    }
}

// MARK: - M5.1 Indicator updates/s

/// The trivial O(1) baseline: a running sum of closes behind the same `update` call as a real
/// indicator (not inlined, like a call into ASTIndicators), in the same generic loop.
struct RunningSum: Indicator {
    var sum: Int64 = 0
    var warmUp: Int { 1 }

    @inline(never)
    mutating func update(_ bar: Bar) -> Double? {
        sum &+= bar.close.units
        return Double(sum)
    }

    func batch(_ bars: [Bar]) -> [Double?] { [] }
}

/// Benchmark M5.1: updates per second of each indicator with its default parameters, fed one
/// bar at a time through ``Indicator/update(_:)``, against ``RunningSum`` over the same bars in
/// the same loop; then ``IndicatorEngine`` with all nine requested, against the sum of the
/// nine alone (what the registry's sharing and bookkeeping amount to).
struct IndicatorBenchmark {
    var repetitions: Int
    var bars: Int
    var seed: UInt64

    /// The indicators measured, with the parameters the catalog defaults to (SMA and EMA have
    /// none: 20 and 20, the usual ones).
    static let specs: [IndicatorSpec] = [
        .sma(period: 20), .ema(period: 20), .rsi(period: 14), .macd(fast: 12, slow: 26, signal: 9), .atr(period: 14),
        .bollinger(period: 20, multiplier: 2), .adx(period: 14), .supertrend(period: 10, multiplier: 3),
        .kdj(period: 9, kSmoothing: 3, dSmoothing: 3),
    ]

    /// Medians over the repetitions, in nanoseconds per bar.
    struct Summary {
        var bars: Int
        var baseline: Double
        var perIndicator: [(spec: IndicatorSpec, ns: Double, ratio: Double)]
        var engine: Double
        var sumOfIndividual: Double
        var engineRatio: Double
        var engineNodes: [String]

        func rows() -> [ReportRow] {
            let base = "running sum of closes, same loop: \(Format.rate(1e9 / baseline)) bars/s (\(Format.duration(baseline))/bar)"
            var rows = perIndicator.map { r in
                ReportRow(
                    benchmark: "M5.1 `\(r.spec)` incremental `update`, \(bars) bars",
                    result: "\(Format.rate(1e9 / r.ns)) updates/s (\(Format.duration(r.ns))/bar)", baseline: base,
                    ratio: "\(Format.ratio(r.ratio)) slower", target: "reported", verdict: "-")
            }
            rows.append(
                ReportRow(
                    benchmark:
                        "M5.1 `IndicatorEngine` with all nine requested (\(engineNodes.count) nodes: \(engineNodes.joined(separator: ", ")))",
                    result: "\(Format.rate(1e9 / engine)) bars/s (\(Format.duration(engine))/bar)",
                    baseline:
                        "the nine alone, one after the other: \(Format.rate(1e9 / sumOfIndividual)) bars/s (\(Format.duration(sumOfIndividual))/bar)",
                    ratio: "\(Format.ratio(engineRatio)) slower", target: "reported", verdict: "-"))
            return rows
        }
    }

    /// A seeded random walk of daily bars of one symbol (about 2 % a day, prices kept above $5,
    /// volumes around 2 M), one minute apart (a million days would not fit in a ``Timestamp``;
    /// the indicators look only at the order).
    static func series(count: Int, seed: UInt64) -> [Bar] {
        var rng = SplitMix64(seed: seed)
        var close = 100.0
        var out: [Bar] = []
        out.reserveCapacity(count)
        let step: Int64 = 60 * 1_000_000_000
        for i in 0..<count {
            var ret = 0.02 * rng.normal()
            if close < 5 { ret = abs(ret) }
            if close > 1_000 { ret = -abs(ret) }
            let open = close * (1 + 0.005 * rng.normal())
            let next = close * (1 + ret)
            let high = max(open, next) * (1 + 0.01 * rng.uniform())
            let low = min(open, next) * (1 - 0.01 * rng.uniform())
            out.append(
                Bar(
                    symbol: "BENCH", start: Timestamp(nanoseconds: 946_800_000_000_000_000 + Int64(i) * step),
                    open: cents(open), high: cents(high), low: cents(low), close: cents(next),
                    volume: Int64(1_000_000 + 2_000_000 * rng.uniform())))
            close = next
        }
        return out
    }

    static func cents(_ dollars: Double) -> Price { Price(units: Int64((dollars * 100).rounded()) * (Price.unitsPerDollar / 100)) }

    /// Nanoseconds per bar of `indicator` over `bars`, from a fresh copy.
    @inline(never)
    static func drive<I: Indicator>(_ indicator: I, _ bars: [Bar]) -> Double {
        var x = indicator
        var values = 0
        let start = Monotonic.now()
        for bar in bars {
            if x.update(bar) != nil { values &+= 1 }
        }
        let elapsed = Monotonic.now() - start
        blackHole(x)
        blackHole(values)
        return Double(elapsed) / Double(bars.count)
    }

    /// Nanoseconds per bar of a fresh engine over `bars`.
    @inline(never)
    static func driveEngine(_ plan: IndicatorPlan, _ bars: [Bar]) -> Double {
        var engine = IndicatorEngine(plan: plan)
        var values = 0
        let start = Monotonic.now()
        for bar in bars {
            if engine.update(bar) != nil { values &+= 1 }
        }
        let elapsed = Monotonic.now() - start
        blackHole(engine)
        precondition(values == bars.count, "the engine refused a bar of the series")
        return Double(elapsed) / Double(bars.count)
    }

    /// One indicator, made from its spec with the same parameters as the registry's.
    static func measure(_ spec: IndicatorSpec, _ bars: [Bar]) -> Double {
        switch spec {
        case .sma(let p): drive(SMA(period: p), bars)
        case .ema(let p): drive(EMA(period: p), bars)
        case .rsi(let p): drive(RSI(period: p), bars)
        case .macd(let f, let s, let g): drive(MACD(fast: f, slow: s, signal: g), bars)
        case .atr(let p): drive(ATR(period: p), bars)
        case .bollinger(let p, let m): drive(BollingerBands(period: p, multiplier: m), bars)
        case .adx(let p): drive(ADX(period: p), bars)
        case .supertrend(let p, let m): drive(SuperTrend(period: p, multiplier: m), bars)
        case .kdj(let p, let k, let d): drive(KDJ(period: p, kSmoothing: k, dSmoothing: d), bars)
        }
    }

    func run(progress: (String) -> Void) -> Summary {
        progress("indicators: generating \(bars) bars")
        let series = Self.series(count: bars, seed: seed)
        let plan = IndicatorPlan(Self.specs)
        // Warm-up: every path once, untimed.
        _ = Self.drive(RunningSum(), series)
        for spec in Self.specs { _ = Self.measure(spec, series) }
        _ = Self.driveEngine(plan, series)

        var baseline: [Double] = []
        var each = [[Double]](repeating: [], count: Self.specs.count)
        var ratios = [[Double]](repeating: [], count: Self.specs.count)
        var engine: [Double] = [], sums: [Double] = [], engineRatios: [Double] = []
        for r in 1...repetitions {
            progress("indicators: repetition \(r)/\(repetitions)")
            let base = Self.drive(RunningSum(), series)
            baseline.append(base)
            var sum = 0.0
            for (i, spec) in Self.specs.enumerated() {
                let ns = Self.measure(spec, series)
                each[i].append(ns)
                ratios[i].append(ns / base)
                sum += ns
            }
            let e = Self.driveEngine(plan, series)
            engine.append(e)
            sums.append(sum)
            engineRatios.append(e / sum)
        }
        return Summary(
            bars: bars, baseline: Stats.median(baseline),
            perIndicator: Self.specs.indices.map { (Self.specs[$0], Stats.median(each[$0]), Stats.median(ratios[$0])) },
            engine: Stats.median(engine), sumOfIndividual: Stats.median(sums), engineRatio: Stats.median(engineRatios),
            engineNodes: plan.computedNodes)
    }
}

// MARK: - M5.2 The 09:00 scan

/// Benchmark M5.2: `PipelineRun.scan` over a generated universe of `symbols` stocks with
/// `sessions` daily bars each before the scan date, in memory; baseline, in the same
/// repetitions: one pass over the same bars computing only a 20-session SMA per symbol (the
/// least a scan must do: read every bar once). Then the same universe in a real ``BarStore``
/// (one `write`, timed once) and ``ScanInputLoader`` reading the scan's input from it, and the
/// scan of what the loader read (its 400 calendar days, not all the sessions).
struct ScanBenchmark {
    var repetitions: Int
    var symbols: Int
    var sessions: Int
    var seed: UInt64
    var tmp: String

    /// A generated universe: the scan date and everything before it.
    struct Universe {
        var date: LocalDate
        var infos: [SymbolInfo]
        var series: [[Bar]]
        var index: [Bar]
        var volatility: [Bar]
        var events: [MarketEvent]
    }

    static let sectors = [
        "Technology", "Healthcare", "Financials", "Energy", "Industrials", "Consumer Discretionary", "Consumer Staples", "Utilities",
    ]

    /// `symbols` stocks on the market of `UniverseGenerator.standard` (its IDX's daily returns
    /// times a beta of 0.5–1.5 plus 1–3 % of their own noise a day), first prices $3–$300,
    /// typical volumes 0.2–10 M shares (so that the universe filter keeps a part and drops a
    /// part), one earnings date every 63 sessions. The scan date is the session after the
    /// `sessions`-th from 2024-01-02.
    func generate() throws -> Universe {
        let calendar = TradingCalendar.nyse
        let standard = UniverseGenerator.generate(.standard, calendar: calendar)
        let all = calendar.sessions(from: UniverseGenerator.Configuration.standard.from, to: UniverseGenerator.Configuration.standard.to)
        guard all.count > sessions + 30 else {
            throw BenchError("--sessions \(sessions): the generated market has only \(all.count) sessions")
        }
        let days = Array(all.prefix(sessions))
        let date = all[sessions].date
        let index = standard.bars(of: "IDX").filter { $0.start < all[sessions].open }
        let volatility = standard.bars(of: "VOLX").filter { $0.start < all[sessions].open }
        guard index.count == sessions else { throw BenchError("IDX has \(index.count) bars before \(date), expected \(sessions)") }
        var market = [0.0]
        for i in 1..<sessions {
            market.append(index[i].close.indicatorValue / index[i - 1].close.indicatorValue - 1)
        }
        var rng = SplitMix64(seed: seed ^ 0x5CA7_0000_0000_0001)
        var infos: [SymbolInfo] = []
        var series: [[Bar]] = []
        var events: [MarketEvent] = []
        series.reserveCapacity(symbols)
        for n in 0..<symbols {
            let symbol = Symbol(validating: "S" + String(format: "%05d", n))!
            infos.append(
                SymbolInfo(
                    symbol: symbol, name: "Stock \(n)", exchange: n % 3 == 0 ? "NASDAQ" : "NYSE",
                    sector: Self.sectors[n % Self.sectors.count]))
            let beta = 0.5 + rng.uniform()
            let vol = 0.01 + 0.02 * rng.uniform()
            var close = 3 * pow(100, rng.uniform())
            let volume = 200_000 * pow(50, rng.uniform())
            let earningsPhase = rng.int(0...62)
            var bars: [Bar] = []
            bars.reserveCapacity(sessions)
            for i in 0..<sessions {
                var ret = 0.0002 + beta * market[i] + vol * rng.normal()
                if close < 1 { ret = abs(ret) }
                let open = close * (1 + 0.3 * ret + 0.003 * rng.normal())
                let next = close * (1 + ret)
                let high = max(open, next) * (1 + vol * 0.6 * abs(rng.normal()))
                let low = min(open, next) * (1 - vol * 0.6 * abs(rng.normal()))
                let shares = volume * (0.6 + 0.8 * rng.uniform()) * (1 + 0.35 * abs(ret) / vol)
                bars.append(
                    Bar(
                        symbol: symbol, start: days[i].open, open: IndicatorBenchmark.cents(open), high: IndicatorBenchmark.cents(high),
                        low: IndicatorBenchmark.cents(max(low, 0.01)), close: IndicatorBenchmark.cents(next),
                        volume: Int64(shares.rounded())))
                close = next
            }
            series.append(bars)
            var e = earningsPhase
            while e < all.count {
                events.append(MarketEvent(symbol: symbol, date: all[e].date, kind: .earnings))
                e += 63
            }
        }
        infos += standard.symbols.filter(\.isIndex)
        return Universe(date: date, infos: infos, series: series, index: index, volatility: volatility, events: events)
    }

    /// The scan's input from the generated universe, as the loader builds it but without a store:
    /// every bar, events 30 days either side of the date.
    static func input(_ u: Universe, portfolio: PortfolioSnapshot) -> ScanInput {
        let histories = zip(u.infos, u.series).map { info, bars in
            SymbolHistory(info: info, bars: bars)
        }
        let (from, to) = (u.date.adding(days: -ScanInputLoader.eventDays), u.date.adding(days: ScanInputLoader.eventDays))
        let events = u.events.filter { $0.date >= from && $0.date <= to }.map {
            CorporateEvent(symbol: $0.symbol, date: $0.date, kind: .earnings)
        }
        return ScanInput(
            date: u.date, universe: histories, index: u.index, volatilityIndex: u.volatility, portfolio: portfolio, events: events)
    }

    /// The baseline: a 20-session SMA over every symbol's bars, one pass.
    @inline(never)
    static func smaPass(_ input: ScanInput) -> Int {
        var seen = 0
        for history in input.universe {
            var sma = SMA(period: 20)
            var last: Double?
            for bar in history.bars { last = sma.update(bar) }
            if last != nil { seen += 1 }
        }
        return seen
    }

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = Monotonic.now()
        try body()
        return Double(Monotonic.now() - start) / 1e9
    }

    static var pipeline: PipelineRun {
        var config = PipelineConfig()
        config.detectors = [PluginConfig(name: MACrossoverDetector.pluginName), PluginConfig(name: PlatformBreakoutDetector.pluginName)]
        return PipelineRun(config: config)
    }

    static func portfolio(at now: Timestamp) -> PortfolioSnapshot {
        let money = Money(dollars: 100_000)!
        return PortfolioSnapshot(asOf: now, cash: money, equity: money, peakEquity: money, startOfDayEquity: money)
    }

    /// What one scan produced, for the report (and to check it did the work).
    static func outcome(_ r: ScanResult) -> String {
        let candidates = r.candidates.map { "\($0.candidates.count) \($0.detector)" }.joined(separator: ", ")
        return "\(r.universe.included.count) of \(r.universe.considered) symbols in the universe, candidates \(candidates), "
            + "\(r.filteredOut.count) filtered out, \(r.eventBlocks.count) event blocks, \(r.intents.count) intents; regime \(r.regime.regime)"
    }

    func run(scan: Bool, load: Bool, progress: (String) -> Void) throws -> [ReportRow] {
        progress("scan: generating \(symbols) symbols × \(sessions) sessions")
        var universe: Universe?
        let generation = try Self.seconds { universe = try generate() }
        let u = universe!
        let barCount = u.series.reduce(0) { $0 + $1.count }
        let now = NewYorkTime.timestamp(u.date, LocalTime(hour: 9, minute: 0))
        let portfolio = Self.portfolio(at: now)
        let pipeline = Self.pipeline
        var rows: [ReportRow] = []

        if scan {
            var input: ScanInput?
            let build = Self.seconds { input = Self.input(u, portfolio: portfolio) }
            let inMemory = input!
            progress("scan: warm-up scan of \(u.date)")
            let first = pipeline.scan(inMemory)
            blackHole(Self.smaPass(inMemory))
            var scans: [Double] = [], passes: [Double] = [], ratios: [Double] = []
            for r in 1...repetitions {
                progress("scan: repetition \(r)/\(repetitions)")
                var result: ScanResult?
                let s = Self.seconds { result = pipeline.scan(inMemory) }
                precondition(result == first, "the scan is not deterministic")
                var seen = 0
                let b = Self.seconds { seen = Self.smaPass(inMemory) }
                blackHole(seen)
                scans.append(s)
                passes.append(b)
                ratios.append(s / b)
            }
            let scanSeconds = Stats.median(scans), passSeconds = Stats.median(passes)
            let size = "\(symbols) symbols × \(sessions) sessions (\(barCount) bars)"
            rows.append(
                ReportRow(
                    benchmark: "M5.2 the 09:00 scan: `PipelineRun.scan` of \(u.date), \(size) in memory; \(Self.outcome(first))",
                    result: "\(Format.significant(scanSeconds)) s per scan, \(Format.rate(Double(symbols) / scanSeconds)) symbols/s, "
                        + "\(Format.rate(Double(barCount) / scanSeconds)) bars/s",
                    baseline: "one pass computing a 20-session SMA per symbol: \(Format.duration(passSeconds * 1e9)) "
                        + "(\(Format.rate(Double(barCount) / passSeconds)) bars/s)",
                    ratio: "\(Format.ratio(Stats.median(ratios))) slower", target: "reported", verdict: "-"))
            rows.append(
                ReportRow(
                    benchmark: "M5.2 diagnostic: generating that universe (seeded random walks) / wrapping it in a `ScanInput` (no store)",
                    result: "\(Format.significant(generation)) s / \(Format.duration(build * 1e9))", baseline: "-", ratio: "-", target: "-",
                    verdict: "-"))
        }

        if load {
            let scratch = try ScratchDirectory(prefix: "ast-bench-pipeline", base: tmp)
            defer { scratch.remove() }
            let logger = Logger(label: "ast.bench.pipeline")
            let path = scratch("bars.sqlite")
            let store = try BarStore(path: path, logger: logger)
            progress("load: writing \(barCount) bars to \(path)")
            let batch = StoreBatch(bars: u.series.flatMap { $0 } + u.index + u.volatility, symbols: u.infos, events: u.events)
            let write = try Self.seconds { try store.write(batch) }
            try store.close()
            let fileBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            var loaded: ScanInput?
            progress("load: warm-up load")
            loaded = try ScanInputLoader.load(storePath: path, date: u.date, now: now, portfolio: portfolio, logger: logger)
            var loads: [Double] = []
            for r in 1...repetitions {
                progress("load: repetition \(r)/\(repetitions)")
                loads.append(
                    try Self.seconds {
                        loaded = try ScanInputLoader.load(storePath: path, date: u.date, now: now, portfolio: portfolio, logger: logger)
                    })
            }
            let input = loaded!
            let loadedBars = input.universe.reduce(0) { $0 + $1.bars.count }
            let perSymbol = input.universe.isEmpty ? 0 : loadedBars / input.universe.count
            let loadSeconds = Stats.median(loads)
            progress("load: scanning what the loader read")
            _ = pipeline.scan(input)
            var scans: [Double] = [], passes: [Double] = [], ratios: [Double] = []
            var result: ScanResult?
            for _ in 1...repetitions {
                let s = Self.seconds { result = pipeline.scan(input) }
                var seen = 0
                let b = Self.seconds { seen = Self.smaPass(input) }
                blackHole(seen)
                scans.append(s)
                passes.append(b)
                ratios.append(s / b)
            }
            rows.append(
                ReportRow(
                    benchmark: "M5.2 `ScanInputLoader.load` from a `BarStore` (SQLite) holding that universe (\(Format.bytes(fileBytes))): "
                        + "\(input.universe.count) symbols × ~\(perSymbol) bars (400 calendar days) + IDX, VOLX, \(input.events.count) events",
                    result: "\(Format.significant(loadSeconds)) s per load, \(Format.rate(Double(loadedBars) / loadSeconds)) bars/s",
                    baseline: "`BarStore.write` of all \(barCount + u.index.count + u.volatility.count) bars in one transaction (once): "
                        + "\(Format.significant(write)) s (\(Format.rate(Double(barCount) / write)) bars/s)",
                    ratio: "-", target: "reported", verdict: "-"))
            let scanSeconds = Stats.median(scans)
            rows.append(
                ReportRow(
                    benchmark: "M5.2 the scan of what the loader read (\(loadedBars) bars); \(Self.outcome(result!))",
                    result:
                        "\(Format.significant(scanSeconds)) s per scan, \(Format.rate(Double(input.universe.count) / scanSeconds)) symbols/s",
                    baseline: "20-session SMA pass over the same bars: \(Format.duration(Stats.median(passes) * 1e9))",
                    ratio: "\(Format.ratio(Stats.median(ratios))) slower", target: "reported", verdict: "-"))
            rows.append(
                ReportRow(
                    benchmark: "M5.2 what ast-strategy's 09:00 scan costs from the store: load + scan",
                    result: "\(Format.significant(loadSeconds + scanSeconds)) s", baseline: "-", ratio: "-", target: "-", verdict: "-"))
        }
        return rows
    }
}
