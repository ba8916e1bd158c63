import ASTBus
import ASTCore
import ASTJournal
import ASTRuntime
import ASTWire
// ast-bench execution: the M4 benchmarks of the execution path (fills through ast-broker to
// ast-reconciler with journals on; reconciliation of a large book). `scripts/bench execution`
// runs only this; BENCHMARKS.md ("M4 — execution") explains the numbers.
import ArgumentParser
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Which execution benchmark to run.
enum ExecutionSuite: String, CaseIterable, ExpressibleByArgument {
    /// Fills/s from bars at ast-broker to fills journaled by ast-reconciler, real processes.
    case fills
    /// The pure reconciliation of a large book, and the size of the broker's answer on the bus.
    case reconcile
}

/// `ast-bench execution`: measures the execution path (M4) and prints a Markdown report on stdout
/// (progress on stderr). Needs the release build of ast-broker and ast-reconciler beside this executable.
struct ExecutionBenchmarks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "execution", abstract: "Measure the execution path (M4): fills/s broker -> reconciler, reconciliation of a large book."
    )

    @Option(name: .customLong("only"), help: "Run only this benchmark (repeatable): fills, reconcile.")
    var only: [ExecutionSuite] = []
    @Option(help: "Repetitions of every measurement; the report gives their median.")
    var repetitions = 5
    @Option(help: "Fills: brackets (one symbol each) submitted and then filled per repetition.")
    var brackets = 500
    @Option(help: "Reconcile: positions in the book and at the broker.")
    var positions = 1_000
    @Option(help: "Reconcile: open orders at the broker (each position's stop and target, the rest resting brackets).")
    var orders = 5_000
    @Option(name: .customLong("config-dir"), help: "The repository's etc/ (default: found above this executable).")
    var configDir: String?
    @Option(name: .customLong("bin-dir"), help: "Where ast-broker and ast-reconciler are (default: beside this executable).")
    var binDir: String?
    @Option(name: .customLong("tmp"), help: "Where the scratch directory goes (journals, sockets).")
    var tmp = "/tmp"

    func validate() throws {
        guard repetitions >= 1, brackets >= 10, positions >= 1, orders >= 2 * positions else {
            throw ValidationError("counts must be positive, brackets at least 10, orders at least twice the positions")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StderrLogHandler(label: $0, level: .warning) }
        let suites = only.isEmpty ? ExecutionSuite.allCases : ExecutionSuite.allCases.filter(only.contains)
        let progress: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("ast-bench execution: \($0)\n".utf8)) }
        let own = try RunBenchmarks.ownExecutable()
        let bin = binDir ?? (own as NSString).deletingLastPathComponent
        let etc = try configDir ?? RunBenchmarks.configDirectory(near: own)
        // What every process enforces: `bus.max_frame_bytes` of the shipped configuration.
        let maxFrame = try ConfigLoader(directory: etc, variables: [:]).load(ASTConfig.self).bus.maxFrameBytes

        var settings = ["\(repetitions) repetitions of each measurement after an untimed warm-up; the table gives medians"]
        if suites.contains(.fills) {
            settings.append(
                "fills: \(brackets) brackets on \(brackets) symbols per repetition, each repetition in a fresh scratch directory in \(tmp) "
                    + "(release build, shipped etc/ast.yaml, log level info); risk@main and strategy@main are in-bench stand-ins that acknowledge "
                    + "without journaling")
        }
        if suites.contains(.reconcile) {
            settings.append(
                "reconcile: \(positions) positions and \(orders) open orders made by the paper exchange; the bus's max frame \(maxFrame) bytes"
            )
        }
        var report = Report(settings: settings)
        if suites.contains(.reconcile) {
            let bench = ReconciliationBenchmark(repetitions: repetitions, positions: positions, orders: orders, maxFrameBytes: maxFrame)
            let summary = try await onDedicatedThread { try bench.run(progress: progress) }
            report.add(reconciliation: summary, maxFrameBytes: maxFrame)
        }
        if suites.contains(.fills) {
            let scratch = try ScratchDirectory(prefix: "ast-bench", base: tmp)
            defer { scratch.remove() }
            let bench = FillsBenchmark(
                repetitions: repetitions, brackets: brackets, binDirectory: bin, configDirectory: etc, scratch: scratch)
            report.add(fills: try await bench.run(progress: progress), maxFrameBytes: maxFrame)
        }
        print(report.markdown(), terminator: "")
    }
}

/// Benchmark M4.1: fills per second from bars at ast-broker to fills journaled by ast-reconciler.
///
/// Each repetition starts a fresh ``ExecutionTree``. Untimed: a `risk` connection submits
/// `brackets` approvals (`order.submit`, one symbol each, pipelined) and the bench waits until the
/// reconciler has journaled every report they produced (submitting, acknowledged, accepted: nine
/// per bracket). Timed: a `marketdata` connection sends one bar per symbol, pipelined, each of
/// which fills its entry in full; the clock stops when the reconciler's journal holds a
/// `reconciler.input` entry with a fill report for every bar (polled read-only every 1 ms). On
/// the way: the broker's bus server journals the bar durably and acks it, the paper adapter
/// journals the input durably, the report goes to the reconciler through the broker's outbox
/// (durable); the reconciler's bus server journals it durably, the shell journals the input
/// durably and sends the new portfolio snapshot to the risk gate and the strategy (each through
/// the outbox, durably).
///
/// Baseline, in the same tree in every repetition (taking turns at going first): the same number
/// of acknowledged probes from a ``BusClient`` in this process to ast-reconciler, pipelined
/// (the sender journals each durably before sending it, the reconciler's bus server journals it
/// durably and acks it): the bare bus with one hop's durable journaling, the transport a fill
/// report travels on.
struct FillsBenchmark {
    var repetitions: Int
    var brackets: Int
    var binDirectory: String
    var configDirectory: String
    var scratch: ScratchDirectory

    /// One repetition.
    struct Sample {
        /// First bar sent -> the bench sees the last fill committed in the reconciler's journal.
        var seconds: Double
        /// First bar sent -> the reconciler's timestamp of its last fill input (same wall clock).
        var stampedSeconds: Double
        /// Fills/s over the first and the last 10 % of the fills (reconciler's timestamps).
        var firstDecileRate: Double
        var lastDecileRate: Double
        /// Baseline: acknowledged probes per second.
        var probesPerSecond: Double
    }

    /// Journal entries per fill, by process, kind and type.
    struct Breakdown {
        var process: String
        var kind: String
        var type: String
        var count: Int
        var bytes: Int
        /// Committed with `synchronous=FULL` on its own (one WAL fsync).
        var durable: Bool
    }

    struct Summary {
        var brackets: Int
        var fillsPerSecond: Double
        var stampedFillsPerSecond: Double
        var firstDecileRate: Double
        var lastDecileRate: Double
        var probesPerSecond: Double
        /// Median of per-repetition probes/s ÷ fills/s.
        var ratio: Double
        var secondsRange: ClosedRange<Double>
        var breakdown: [Breakdown]
        /// What the broker said to an account query after the last repetition (the frame-size check in the live system).
        var liveQuery: String
        var liveReconcile: String
    }

    /// Kinds and types a worker commits in a batch (`synchronous=NORMAL`, no fsync of their own).
    static func isDurable(kind: String, type: String) -> Bool {
        !(kind == "acked" || type == "reconciler.anomaly" || type == "mark" || kind == "event")
    }

    func run(progress: @escaping @Sendable (String) -> Void) async throws -> FillsBenchmark.Summary {
        var samples: [Sample] = []
        var breakdown: [Breakdown] = []
        var live = ("not checked", "not checked")
        for r in 0...repetitions {  // repetition 0 is the untimed warm-up (a smaller run)
            let n = r == 0 ? max(10, brackets / 10) : brackets
            let tree = try ExecutionTree(configDirectory: configDirectory, directory: scratch("r\(r)"))
            let bin = binDirectory
            do {
                progress(
                    "fills \(r == 0 ? "warm-up" : "repetition \(r) of \(repetitions)"): starting ast-broker and ast-reconciler, submitting \(n) brackets"
                )
                try await onDedicatedThread {
                    try tree.start(binDirectory: bin)
                    try Self.submitBrackets(tree, count: n, run: r)
                }
                var probes = 0.0
                if r % 2 == 0 { probes = try await Self.probes(tree, count: n) }
                let (sample, perFill) = try await onDedicatedThread { try Self.fills(tree, count: n, run: r) }
                if r % 2 == 1 { probes = try await Self.probes(tree, count: n) }
                if r > 0 {
                    var s = sample
                    s.probesPerSecond = probes
                    samples.append(s)
                    breakdown = perFill
                    progress(
                        String(
                            format:
                                "fills repetition %d: %.0f fills/s (first 10 %%: %.0f/s, last 10 %%: %.0f/s); baseline %.0f acknowledged probes/s",
                            r, Double(n) / s.seconds, s.firstDecileRate, s.lastDecileRate, probes))
                }
                if r == repetitions { live = try await onDedicatedThread { try Self.liveChecks(tree, run: r) } }
            } catch {
                tree.stop()
                throw error
            }
            tree.stop()
        }
        let rates = samples.map { Double(brackets) / $0.seconds }
        return Summary(
            brackets: brackets, fillsPerSecond: Stats.median(rates),
            stampedFillsPerSecond: Stats.median(samples.map { Double(brackets) / $0.stampedSeconds }),
            firstDecileRate: Stats.median(samples.map(\.firstDecileRate)), lastDecileRate: Stats.median(samples.map(\.lastDecileRate)),
            probesPerSecond: Stats.median(samples.map(\.probesPerSecond)),
            ratio: Stats.median(zip(samples, rates).map { $0.probesPerSecond / $1 }),
            secondsRange: (samples.map(\.seconds).min() ?? 0)...(samples.map(\.seconds).max() ?? 0),
            breakdown: breakdown, liveQuery: live.0, liveReconcile: live.1)
    }

    /// Reads frames on a thread of its own until `expected` acks arrived (or the connection ends).
    final class AckDrain: @unchecked Sendable {
        let received = Atomic<Int>(0)
        let done = DispatchSemaphore(value: 0)

        init(_ client: BlockingBusClient, expected: Int) {
            let thread = Thread { [self] in
                defer { done.signal() }
                while received.load(ordering: .relaxed) < expected {
                    guard let env = try? client.receive() else { return }
                    if case .ack = env.message { received.add(1, ordering: .relaxed) }
                }
            }
            thread.start()
        }

        /// Waits until every ack arrived; false if the connection ended first or `seconds` passed.
        func wait(seconds: Int) -> Bool { done.wait(timeout: .now() + .seconds(seconds)) == .success }
    }

    /// Waits until `condition` holds (polled every `everyMicroseconds`), checking that both processes live.
    static func waitFor(
        _ what: String, _ tree: ExecutionTree, seconds: Double, everyMicroseconds: UInt32 = 5_000,
        _ condition: () throws -> Bool
    ) throws {
        let deadline = Monotonic.now() + UInt64(seconds * 1e9)
        while try !condition() {
            try tree.checkAlive()
            guard Monotonic.now() < deadline else { throw BenchError("timed out after \(Int(seconds)) s waiting for \(what)") }
            usleep(everyMicroseconds)
        }
    }

    /// Untimed: the reconciler's start-up reconciliations, then `count` approvals through a `risk`
    /// connection, until the reconciler has journaled every report the broker sent for them.
    static func submitBrackets(_ tree: ExecutionTree, count: Int, run: Int) throws {
        let reconciler = try JournalQueries(path: tree.reconcilerJournal)
        let broker = try JournalQueries(path: tree.brokerJournal)
        // The reconciliation at start and the one after the broker's connection report.
        try? waitFor("the reconciler's start-up reconciliations", tree, seconds: 10) {
            try reconciler.count("type = 'reconciliation.summary'") >= 2
        }
        let risk = try BlockingBusClient(path: tree.brokerSocket, identity: ProcessIdentity(role: .risk, instance: "main"))
        let drain = AckDrain(risk, expected: count)
        let now = Timestamp(nanoseconds: Realtime.now())
        for k in 0..<count {
            try risk.send(.orderSubmit(ExecutionFixtures.approval(k, prefix: "F\(run)", at: now)), id: "risk@main>broker@paper#\(run)-\(k)")
        }
        guard drain.wait(seconds: 300) else {
            throw BenchError("the broker did not acknowledge every order (\(drain.received.load(ordering: .relaxed)) of \(count))")
        }
        try waitFor("the broker's reports of \(count) brackets", tree, seconds: 300) {
            try broker.count("kind = 'sent' AND type = 'execution.report'") >= 9 * count
        }
        let sent = try broker.count("kind = 'sent' AND type = 'execution.report'")
        try waitFor("the reconciler to journal \(sent) reports", tree, seconds: 300) {
            try reconciler.count("type = 'reconciler.input' AND msg_id IS NOT NULL") >= sent
        }
    }

    /// Timed: one bar per symbol, until the reconciler has journaled every fill; then the
    /// journal entries the fills caused, per fill.
    static func fills(_ tree: ExecutionTree, count: Int, run: Int) throws -> (Sample, [Breakdown]) {
        let reconciler = try JournalQueries(path: tree.reconcilerJournal)
        let broker = try JournalQueries(path: tree.brokerJournal)
        // Start quiet, so that the entries counted per fill are the fills' own.
        try waitQuiet(reconciler, broker)
        let reconcilerStart = try reconciler.lastSeq(), brokerStart = try broker.lastSeq()
        let md = try BlockingBusClient(path: tree.brokerSocket, identity: ProcessIdentity(role: .marketdata, instance: "bench"))
        let drain = AckDrain(md, expected: count)
        // Every order was accepted before now; the bars start a minute later.
        let barStart = Timestamp(nanoseconds: Realtime.now()).advanced(by: .seconds(60))
        let bars = (0..<count).map { ExecutionFixtures.entryBar(ExecutionFixtures.symbol($0), start: barStart) }
        var fills: [(seq: Int64, ts: Int64)] = []
        fills.reserveCapacity(count)
        var after = reconcilerStart

        let startedAt = Realtime.now()
        let t0 = Monotonic.now()
        for (k, bar) in bars.enumerated() { try md.send(.bar(bar), id: "marketdata@bench>broker@paper#\(run)-\(k)") }
        let deadline = t0 + 300_000_000_000
        while fills.count < count {
            let new = try reconciler.fillInputs(after: after)
            if let last = new.last {
                after = last.seq
                fills += new
            } else {
                guard Monotonic.now() < deadline else {
                    throw BenchError("only \(fills.count) of \(count) fills reached the reconciler's journal in 300 s")
                }
                try tree.checkAlive()
                usleep(1_000)
            }
        }
        let t1 = Monotonic.now()
        guard fills.count == count else { throw BenchError("\(fills.count) fills for \(count) bars") }
        guard drain.wait(seconds: 30) else { throw BenchError("the broker did not acknowledge every bar") }

        let tenth = max(1, count / 10)
        let stamped = Double(fills[count - 1].ts - startedAt) / 1e9
        let first = Double(tenth) / (Double(fills[tenth - 1].ts - startedAt) / 1e9)
        let lastRate = Double(tenth) / (Double(fills[count - 1].ts - fills[count - 1 - tenth].ts) / 1e9)
        let sample = Sample(
            seconds: Double(t1 - t0) / 1e9, stampedSeconds: stamped, firstDecileRate: first, lastDecileRate: lastRate,
            probesPerSecond: 0)

        // The last snapshots and the batched acks written.
        try waitQuiet(reconciler, broker)
        var breakdown: [Breakdown] = []
        for (process, journal, start) in [("broker@paper", broker, brokerStart), ("reconciler@main", reconciler, reconcilerStart)] {
            for e in try journal.breakdown(after: start) {
                breakdown.append(
                    Breakdown(
                        process: process, kind: e.kind, type: e.type, count: e.count, bytes: e.bytes,
                        durable: isDurable(kind: e.kind, type: e.type)))
            }
        }
        return (sample, breakdown)
    }

    /// Waits until neither journal has had a new entry for 300 ms (batched entries are flushed
    /// every 100 ms by default).
    static func waitQuiet(_ journals: JournalQueries...) throws {
        var seqs = try journals.map { try $0.lastSeq() }
        var quietSince = Monotonic.now()
        while Monotonic.now() - quietSince < 300_000_000 {
            usleep(20_000)
            let now = try journals.map { try $0.lastSeq() }
            if now != seqs {
                seqs = now
                quietSince = Monotonic.now()
            }
        }
    }

    /// Baseline: `count` acknowledged probes from a ``BusClient`` in this process to
    /// ast-reconciler, pipelined; probes per second from the first send to the last ack.
    static func probes(_ tree: ExecutionTree, count: Int) async throws -> Double {
        let logger = Logger(label: "ast.bench")
        let journal = try Journal(path: tree.directory + "/bench-client.sqlite", process: "control@bench", logger: logger)
        defer { try? journal.close() }
        let client = try BusClient(
            identity: ProcessIdentity(role: .control, instance: "bench"), target: ExecutionTree.reconcilerIdentity.description,
            path: tree.reconcilerSocket, expectedRole: .reconciler, settings: BusSettings(), journal: journal,
            clock: SystemClock(), logger: logger)
        let connection = Task { await client.run() }
        defer { connection.cancel() }
        let result: Result<Double, any Error>
        do {
            try await waitUntil("BusClient to connect to reconciler@main", seconds: 20) { client.isConnected }
            // Warm-up.
            for i in 0..<20 { _ = try client.send(.probe(Probe(counter: Int64(i), text: Fixtures.probeText))) }
            try await waitUntil("the warm-up probes' acks", seconds: 60) { client.pendingCount == 0 }
            let t0 = Monotonic.now()
            for i in 0..<count { _ = try client.send(.probe(Probe(counter: Int64(1_000 + i), text: Fixtures.probeText))) }
            while client.pendingCount > 0 {
                guard Monotonic.now() - t0 < 300_000_000_000 else { throw BenchError("probes not acknowledged within 300 s") }
                try await Task.sleep(for: .microseconds(200))
            }
            result = .success(Double(count) / (Double(Monotonic.now() - t0) / 1e9))
        } catch {
            result = .failure(error)
        }
        connection.cancel()
        await connection.value
        return try result.get()
    }

    /// After the last repetition, in the live system: the broker's answer to an account query
    /// (what `astctl broker state` and the reconciler ask) grows with its open orders; resting
    /// brackets (no bar) are added 200 at a time until the broker no longer answers within 5 s
    /// (or 20 rounds). Then a reconciliation is requested, as `astctl reconcile` does.
    static func liveChecks(_ tree: ExecutionTree, run: Int) throws -> (String, String) {
        let control = try BlockingBusClient(path: tree.brokerSocket, identity: ProcessIdentity(role: .control, instance: "bench"))
        let risk = try BlockingBusClient(path: tree.brokerSocket, identity: ProcessIdentity(role: .risk, instance: "main"))
        var answers: [String] = []
        var query = ""
        var added = 0
        for round in 0..<20 {
            try control.send(.brokerQuery(BrokerQuery(executionsSince: Timestamp(nanoseconds: 0))))
            guard let reply = try control.receive(timeoutMs: 5_000) else {
                let notSent =
                    tree.broker?.stderr.split(separator: "\n").last { $0.contains("not sent") }.map(String.init) ?? "nothing in its log"
                query =
                    "answered " + answers.joined(separator: ", ")
                    + "; after \(added) more resting brackets: **no answer within 5 s**; the broker logged `\(notSent.suffix(260))`"
                break
            }
            guard case .brokerState(let s) = reply.message else { throw BenchError("the broker answered a query with \(reply.type)") }
            answers.append(
                "\(s.openOrders.count) open orders and \(s.positions.count) positions in \(Format.bytes(EnvelopeCodec.encode(reply).count))"
            )
            query = "answered " + answers.joined(separator: ", ") + " (no larger account tried)"
            guard round < 19 else { break }
            // 200 more resting brackets, on symbols of their own.
            let now = Timestamp(nanoseconds: Realtime.now())
            for k in 0..<200 {
                try risk.send(
                    .orderSubmit(ExecutionFixtures.approval(50_000 + added + k, prefix: "L\(run)", at: now)),
                    id: "risk@main>broker@paper#L\(run)-\(added + k)")
            }
            for _ in 0..<200 {
                guard let env = try risk.receive(timeoutMs: 60_000), case .ack = env.message else {
                    throw BenchError("the broker did not acknowledge a resting bracket")
                }
            }
            added += 200
        }
        let operatorClient = try BlockingBusClient(
            path: tree.reconcilerSocket, identity: ProcessIdentity(role: .control, instance: "bench"))
        try operatorClient.send(.reconcileRequest(ReconcileRequest(run: true, reason: "bench: reconcile after the fills")))
        let reconcile: String
        if let reply = try operatorClient.receive(timeoutMs: 30_000) {
            switch reply.message {
            case .reconciliationReport(let s): reconcile = "completed: \(s.completed), clean: \(s.clean); \(s.summary.prefix(160))"
            default: reconcile = "answered \(reply.type)"
            }
        } else {
            reconcile = "no answer within 30 s"
        }
        return (query, reconcile)
    }
}

extension Report {
    mutating func add(fills s: FillsBenchmark.Summary, maxFrameBytes: Int) {
        add(
            ReportRow(
                benchmark:
                    "M4.1 Fills/s: bar → ast-broker@paper (fills the entry) → execution report → ast-reconciler journals the fill; journals on, \(s.brackets) symbols per repetition",
                result:
                    "\(Format.rate(s.fillsPerSecond)) fills/s (a repetition: \(Format.duration(s.secondsRange.lowerBound * 1e9))–\(Format.duration(s.secondsRange.upperBound * 1e9)))",
                baseline:
                    "acknowledged probes → ast-reconciler, pipelined (sender's and receiver's durable commits): \(Format.rate(s.probesPerSecond)) msgs/s",
                ratio: "\(Format.ratio(s.ratio)) slower", target: "reported", verdict: "-"))
        add(
            ReportRow(
                benchmark:
                    "M4.1 diagnostic: the same, ended at the reconciler's own timestamp of its last fill input; first vs last 10 % of the fills",
                result:
                    "\(Format.rate(s.stampedFillsPerSecond)) fills/s; \(Format.rate(s.firstDecileRate)) → \(Format.rate(s.lastDecileRate)) fills/s",
                baseline: "-", ratio: "\(Format.ratio(s.firstDecileRate / s.lastDecileRate)) slower at the end", target: "-", verdict: "-"))
        let n = Double(s.brackets)
        let durable = s.breakdown.filter(\.durable).reduce(0) { $0 + $1.count }
        let bytes = s.breakdown.reduce(0) { $0 + $1.bytes }
        let lines = s.breakdown.map { b in
            "\(b.process) \(b.kind) `\(b.type)` \(String(format: "%.2f", Double(b.count) / n))\(b.durable ? "" : " (batched)") · \(Format.bytes(Int(Double(b.bytes) / n)))"
        }
        add(
            ReportRow(
                benchmark: "M4.1 journal entries per fill (last repetition): count · body bytes",
                result: lines.joined(separator: "; "), baseline: "-", ratio: "-", target: "-", verdict: "-"))
        add(
            ReportRow(
                benchmark: "M4.1 durable commits (one WAL fsync each) and journaled bytes per fill",
                result: "\(String(format: "%.2f", Double(durable) / n)) durable commits, \(Format.bytes(Int(Double(bytes) / n))) per fill",
                baseline: "the probe baseline: 2 durable commits per message", ratio: "-", target: "-", verdict: "-"))
        add(
            ReportRow(
                benchmark:
                    "M4.1 live check after the last repetition: the broker's answer to an account query (`astctl broker state`, the reconciler's query) as resting brackets are added; then a reconciliation (`astctl reconcile`)",
                result: "\(s.liveQuery); reconciliation: \(s.liveReconcile)", baseline: "max frame \(Format.bytes(maxFrameBytes))",
                ratio: "-",
                target: "-", verdict: "-"))
    }
}
