import ASTCore
import ASTRisk
import ASTRuntime
// ast-bench risk: the M3 benchmarks of the risk gate (issue M3). `scripts/bench` runs it after
// the M1 benchmarks; BENCHMARKS.md ("M3 — risk gate") explains the numbers.
import ArgumentParser
import Foundation
import Logging

/// Which risk-gate benchmark to run.
enum RiskSuite: String, CaseIterable, ExpressibleByArgument {
    /// The pure `RiskGate.handle` in one thread, ACTIVE and HALTED.
    case core
    /// intent.submit -> intent.decision through a real tree (ast-risk journals durably).
    case roundtrip
    /// SIGKILL of ast-broker -> HALTED journaled by ast-risk.
    case halt
}

/// `ast-bench risk`: measures the risk gate and prints a Markdown report on stdout (progress on
/// stderr). Needs the release build of astd, astctl and every worker beside this executable.
struct RiskBenchmarks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "risk", abstract: "Measure the risk gate (M3): pure decisions, intent round trips, broker kill -> HALTED.")

    @Option(name: .customLong("only"), help: "Run only this benchmark (repeatable): core, roundtrip, halt.")
    var only: [RiskSuite] = []
    @Option(help: "Repetitions of the core and round-trip measurements; the report gives their median.")
    var repetitions = 5
    @Option(help: "Intent groups through the pure gate per repetition (each state).")
    var decisions = 100_000
    @Option(name: .customLong("round-trips"), help: "Timed intents through the tree per repetition.")
    var roundTrips = 400
    @Option(help: "Broker kills (each one a measurement of kill -> HALTED).")
    var kills = 20
    @Option(name: .customLong("config-dir"), help: "The repository's etc/ (default: found above this executable).")
    var configDir: String?
    @Option(name: .customLong("bin-dir"), help: "Where astd, astctl and the workers are (default: beside this executable).")
    var binDir: String?
    @Option(name: .customLong("tmp"), help: "Where the scratch directory goes (the tree's journals and sockets).")
    var tmp = "/tmp"

    func validate() throws {
        guard repetitions >= 1, decisions >= 1_000, roundTrips >= 1, kills >= 1 else {
            throw ValidationError("counts must be positive (decisions at least 1000)")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StderrLogHandler(label: $0, level: .warning) }
        let suites = only.isEmpty ? RiskSuite.allCases : RiskSuite.allCases.filter(only.contains)
        let progress: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("ast-bench risk: \($0)\n".utf8)) }
        let own = try RunBenchmarks.ownExecutable()
        let bin = binDir ?? (own as NSString).deletingLastPathComponent
        let etc = try configDir ?? RunBenchmarks.configDirectory(near: own)

        var settings = [
            "\(repetitions) repetitions of the core and round-trip measurements after an untimed warm-up; the table gives medians"
        ]
        if suites.contains(.core) {
            settings.append(
                "core: \(decisions) intent groups per repetition and state through `RiskGate.handle`, cautious default limits, "
                    + "\(RiskCoreBenchmark.symbolCount) symbols, a fresh snapshot and marks (untimed) every \(RiskCoreBenchmark.segment) intents"
            )
        }
        if suites.contains(.roundtrip) {
            settings.append(
                "round trip: \(roundTrips) intents per repetition from one blocking `strategy` connection to ast-risk in a real tree "
                    + "(astd --foreground, release build, log level info, journals in \(tmp)); max_orders_per_window raised to 1000000")
        }
        if suites.contains(.halt) {
            settings.append(
                "halt: \(kills) SIGKILLs of broker@paper with Safe Mode ACTIVE, restart_backoff_ms 10, resumed over astctl between kills")
        }
        var report = Report(settings: settings)
        if suites.contains(.core) {
            let bench = RiskCoreBenchmark(repetitions: repetitions, decisions: decisions)
            let summary = try await onDedicatedThread { try bench.run(progress: progress) }
            report.add(riskCore: summary, decisions: decisions)
        }
        if suites.contains(.roundtrip) || suites.contains(.halt) {
            let scratch = try ScratchDirectory(prefix: "ast-bench", base: tmp)
            defer { scratch.remove() }
            let tree = try RiskTree(binDirectory: bin, configDirectory: etc, scratch: scratch)
            defer { tree.stop() }
            let (rt, k, reps) = (roundTrips, kills, repetitions)
            if suites.contains(.roundtrip) {
                let summary = try await onDedicatedThread {
                    try RiskRoundTripBenchmark(tree: tree, repetitions: reps, roundTrips: rt).run(progress: progress)
                }
                report.add(riskRoundTrip: summary)
            }
            if suites.contains(.halt) {
                let summary = try await onDedicatedThread { try BrokerKillBenchmark(tree: tree, kills: k).run(progress: progress) }
                report.add(brokerKill: summary)
            }
        }
        print(report.markdown(), terminator: "")
    }
}

/// Benchmark M3.1: decisions per second of the pure ``RiskGate`` in one thread.
///
/// The gate starts from the cautious default limits with a snapshot of equity $1,000,000 (five
/// held positions of 2 % each in five sectors) and a fresh mark for each of 50 symbols. Intent
/// groups then arrive 2 s apart (gate time), cycling through four kinds: a small limit buy in a
/// held symbol (approved until a limit bites), a 10 % market buy in another symbol (downgraded
/// by `NOTIONAL_EXCEEDS_MAX_PER_ORDER`, later blocked by `MAX_OPEN_POSITIONS` or the rate limit),
/// a limit 10 % away from the mark (`PRICE_OUT_OF_BAND`) and an entry without a stop
/// (`MISSING_PROTECTIVE_STOP`). Every ``segment`` intents a new snapshot and new marks arrive,
/// untimed, as the reconciler and market data would send them. The same stream through a gate
/// restored HALTED is the contrast: every intent stops at the first rule.
struct RiskCoreBenchmark: Sendable {
    var repetitions: Int
    var decisions: Int

    static let symbolCount = 50
    static let segment = 40
    static let symbols: [Symbol] = (0..<symbolCount).map { i in
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        return Symbol(stringLiteral: "\(letters[i / 26])\(letters[i % 26])X")
    }
    static let sectors = ["Tech", "Health", "Energy", "Finance", "Industrials"]
    static let start = Timestamp(nanoseconds: 1_704_204_000_000_000_000)
    static let mark = Price("100.00")!

    struct Summary {
        var active: LatencySummary
        var halted: LatencySummary
        /// Outcome counts of one ACTIVE repetition: `APPROVED`, `DOWNGRADED:<rule>` or the block reason.
        var mix: [String: Int]
        /// Median p50 of the first and of the last 10 % of the decisions of an ACTIVE repetition.
        var activeEarlyP50: Double
        var activeLateP50: Double
    }

    static func sector(_ i: Int) -> String { sectors[i % sectors.count] }

    /// The reconciler's view at `now`: five 2 % positions in the first five symbols.
    static func snapshot(at now: Timestamp) -> PortfolioSnapshot {
        let equity = Money("1000000.00")!
        var positions: [Symbol: PositionSnapshot] = [:]
        for i in 0..<5 {
            positions[symbols[i]] = PositionSnapshot(quantity: 200, averagePrice: mark, sector: sector(i), lastMark: mark)
        }
        return PortfolioSnapshot(
            asOf: now, cash: Money("900000.00")!, equity: equity, peakEquity: equity,
            startOfDayEquity: equity, positions: positions)
    }

    /// The `n`-th intent group of the stream (see the type's description), created at `now`.
    static func intent(_ n: Int, prefix: String, at now: Timestamp) -> IntentGroup {
        let id = IntentID(stringLiteral: "\(prefix)-\(n)")
        switch n % 4 {
        case 0:
            let s = (n / 4) % 5
            return IntentGroup(
                id: id, symbol: symbols[s], sector: sector(s), side: .buy, quantity: 50, entry: .limit(mark),
                stopLoss: Price("98.00"), takeProfit: Price("104.00"), createdAt: now)
        case 1:
            let s = 5 + (n / 4) % (symbolCount - 5)
            return IntentGroup(
                id: id, symbol: symbols[s], sector: sector(s), side: .buy, quantity: 1000, entry: .market,
                stopLoss: Price("97.00"), takeProfit: Price("106.00"), createdAt: now)
        case 2:
            let s = n % symbolCount
            return IntentGroup(
                id: id, symbol: symbols[s], sector: sector(s), side: .buy, quantity: 10, entry: .limit(Price("110.00")!),
                stopLoss: Price("105.00"), takeProfit: Price("120.00"), createdAt: now)
        default:
            let s = n % symbolCount
            return IntentGroup(
                id: id, symbol: symbols[s], sector: sector(s), side: .buy, quantity: 10, entry: .market,
                stopLoss: nil, takeProfit: nil, createdAt: now)
        }
    }

    /// Feeds the snapshot and a mark per symbol at `now` (untimed).
    static func refresh(_ gate: inout RiskGate, at now: Timestamp) {
        blackHole(gate.handle(.portfolio(snapshot(at: now)), now: now))
        for s in symbols { blackHole(gate.handle(.mark(MarketMark(symbol: s, price: mark, at: now)), now: now)) }
    }

    /// How a decision is counted in the mix.
    static func outcome(_ d: RiskDecision) -> String {
        switch d {
        case .approve: "APPROVED"
        case .downgrade(_, let rule, _): "DOWNGRADED:\(rule.rawValue)"
        case .block(let code, _): code.rawValue
        }
    }

    /// One pass of `decisions` intents through a new gate in `state`; each `handle` timed alone.
    func pass(halted: Bool, count: Int, prefix: String, mix: inout [String: Int]) throws -> [UInt64] {
        let record =
            halted
            ? SafeModeRecord(state: .halted, since: Self.start, cause: SafeModeCause(kind: .operatorHalt, text: "operator halt: bench"))
            : SafeModeRecord.firstStart(at: Self.start)
        var gate = try RiskGate(limits: .cautiousDefaults, restoring: record)
        var now = Self.start
        var durations = [UInt64](repeating: 0, count: count)
        for n in 0..<count {
            if n % Self.segment == 0 { Self.refresh(&gate, at: now) }
            let input = RiskInput.intent(Self.intent(n, prefix: prefix, at: now))
            let t0 = Monotonic.now()
            let out = gate.handle(input, now: now)
            let t1 = Monotonic.now()
            durations[n] = t1 - t0
            guard out.count == 1, case .decision(let d) = out[0] else { throw BenchError("expected one decision, got \(out)") }
            mix[Self.outcome(d.decision), default: 0] += 1
            now = now.advanced(by: .seconds(2))
        }
        return durations
    }

    func run(progress: @Sendable (String) -> Void) throws -> Summary {
        var ignored: [String: Int] = [:]
        _ = try pass(halted: false, count: 5_000, prefix: "W", mix: &ignored)
        _ = try pass(halted: true, count: 5_000, prefix: "W", mix: &ignored)
        var active: [LatencySample] = [], halted: [LatencySample] = []
        var early: [Double] = [], late: [Double] = []
        var mix: [String: Int] = [:]
        let tenth = decisions / 10
        for r in 0..<repetitions {
            progress("core: repetition \(r + 1) of \(repetitions)")
            // Take turns at going first, so that load from other processes hits both alike.
            for halt in r % 2 == 0 ? [false, true] : [true, false] {
                var repMix: [String: Int] = [:]
                let d = try pass(halted: halt, count: decisions, prefix: "I\(r)", mix: &repMix)
                let sample = LatencySample(nanoseconds: d, elapsed: d.reduce(0, +))
                if halt {
                    halted.append(sample)
                } else {
                    active.append(sample)
                    mix = repMix
                    early.append(Stats.percentile(d[..<tenth].sorted(), 0.5))
                    late.append(Stats.percentile(d[(decisions - tenth)...].sorted(), 0.5))
                }
            }
        }
        return Summary(
            active: LatencySummary(active), halted: LatencySummary(halted), mix: mix,
            activeEarlyP50: Stats.median(early), activeLateP50: Stats.median(late))
    }
}

extension Report {
    /// `p50 …, p99 … (… /s)`.
    static func riskLatency(_ s: LatencySummary) -> String {
        "p50 \(Format.duration(s.p50)), p99 \(Format.duration(s.p99)) (\(Format.rate(s.perSecond))/s)"
    }

    mutating func add(riskCore c: RiskCoreBenchmark.Summary, decisions: Int) {
        let total = max(c.mix.values.reduce(0, +), 1)
        let mix = c.mix.sorted { $0.value > $1.value }
            .map { "\($0.key) \(Format.percent(Double($0.value) / Double(total)))" }.joined(separator: ", ")
        add(
            ReportRow(
                benchmark:
                    "M3.1 Pure `RiskGate.handle(.intent)`, ACTIVE, cautious defaults, \(RiskCoreBenchmark.symbolCount) symbols (\(decisions) per repetition)",
                result:
                    "\(Format.rate(c.active.perSecond)) decisions/s (p50 \(Format.duration(c.active.p50)), p99 \(Format.duration(c.active.p99)))",
                baseline:
                    "HALTED, same stream: \(Format.rate(c.halted.perSecond)) decisions/s (p50 \(Format.duration(c.halted.p50)), p99 \(Format.duration(c.halted.p99)))",
                ratio: "\(Format.ratio(c.active.p50 / c.halted.p50)) HALTED's p50", target: "reported", verdict: "-"))
        add(
            ReportRow(benchmark: "M3.1 outcome mix of the ACTIVE stream", result: mix, baseline: "-", ratio: "-", target: "-", verdict: "-")
        )
        add(
            ReportRow(
                benchmark: "M3.1 diagnostic: ACTIVE p50 of the first vs the last 10 % of a repetition's decisions",
                result: "\(Format.duration(c.activeEarlyP50)) → \(Format.duration(c.activeLateP50))", baseline: "-",
                ratio: "\(Format.ratio(c.activeLateP50 / c.activeEarlyP50))", target: "-", verdict: "-"))
    }

    mutating func add(riskRoundTrip r: RiskRoundTripBenchmark.Summary) {
        let total = max(r.mix.values.reduce(0, +), 1)
        let mix = r.mix.sorted { $0.value > $1.value }
            .map { "\($0.key) \(Format.percent(Double($0.value) / Double(total)))" }.joined(separator: ", ")
        add(
            ReportRow(
                benchmark:
                    "M3.2 `intent.submit` → `intent.decision` through ast-risk in a real tree (\(r.all.roundTripsPerRepetition) per repetition)",
                result: Self.riskLatency(r.all), baseline: "-", ratio: "-", target: "reported", verdict: "-"))
        add(
            ReportRow(
                benchmark: "M3.2 of which approved or downgraded (order journaled and sent to the broker)",
                result: r.approved.map(Self.riskLatency) ?? "none", baseline: "-", ratio: "-", target: "-", verdict: "-"))
        add(
            ReportRow(
                benchmark: "M3.2 of which blocked", result: r.blocked.map(Self.riskLatency) ?? "none",
                baseline: "-", ratio: "-", target: "-", verdict: "-"))
        add(ReportRow(benchmark: "M3.2 outcome mix", result: mix, baseline: "-", ratio: "-", target: "-", verdict: "-"))
    }

    mutating func add(brokerKill k: BrokerKillBenchmark.Summary) {
        let p99 = Stats.percentile(k.toHalted, 0.99)
        add(
            ReportRow(
                benchmark:
                    "M3.3 SIGKILL broker@paper → `safe_mode.transition` to HALTED in ast-risk's journal (its `at`), \(k.toHalted.count) kills",
                result:
                    "median \(Format.duration(Stats.percentile(k.toHalted, 0.5))), p99 \(Format.duration(p99)), max \(Format.duration(Double(k.toHalted.last ?? 0)))",
                baseline: "-", ratio: "-", target: "p99 ≤ 50 ms", verdict: Self.verdict(p99 <= 50e6)))
        add(
            ReportRow(
                benchmark: "M3.3 diagnostic: SIGKILL → the bench first sees that entry committed (polled every 0.5 ms)",
                result:
                    "median \(Format.duration(Stats.percentile(k.toSeen, 0.5))), p99 \(Format.duration(Stats.percentile(k.toSeen, 0.99)))",
                baseline: "-", ratio: "-", target: "-", verdict: "-"))
    }
}
