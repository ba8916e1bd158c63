// `astctl drill`: the chaos drill's shell. The plan and the invariants are pure (ASTDrill);
// this file sends the signals, watches the tree through the same sockets as `astctl status`,
// reads the journals read-only, reconciles and resumes the way an operator does.
import ASTBus
import ASTCore
import ASTDrill
import ASTExecution
import ASTJournal
import ASTRisk
import ASTRuntime
import ASTWire
import ArgumentParser
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

struct DrillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drill",
        abstract: "Chaos drill against a running paper tree: kill, hang or stop workers and check the invariants after each round.",
        discussion: """
            Refused unless trading.mode is PAPER and the broker is broker@paper, broker@ibkr (on IB's paper \
            account) or broker@alpaca (a paper account: broker@alpaca refuses PAPER on Alpaca's live host). Each round waits a random \
            moment, sends the signal to the worker's pid, waits for the tree to recover, checks the invariants \
            (recovery, HALTED after a broker death within the budget, no client order id accepted twice, every \
            fill reconciled, every journal verifies, positions reconcile) and resumes through `astctl resume`. \
            Exit status: 0 no violation, 1 violations (or the tree never became ready), 2 refused. \
            See runbooks/running-a-chaos-drill.md.
            """)
    @Option(parsing: .unconditional, help: "Rounds to run.") var rounds: Int = 50
    @Option(help: "The worker to hurt (role@instance), or random (every worker, never astd).") var process: String = "random"
    @Option(help: "Comma-separated signals among kill, stop (a hang), term.") var signals: String = "kill,stop,term"
    @Option(help: "The seed of the plan (printed; re-run a failing drill with it).") var seed: UInt64?
    @Option(name: .customLong("halt-budget-ms"), parsing: .unconditional, help: "Most milliseconds from a broker's death to HALTED.")
    var haltBudgetMs: Int = 3000
    @Option(
        name: .customLong("max-delay-ms"), parsing: .unconditional, help: "Each round waits a random 0...this many ms before the signal.")
    var maxDelayMs: Int = 500
    @Option(name: .customLong("recovery-timeout-s"), parsing: .unconditional, help: "Seconds the tree has to be all ready again.")
    var recoveryTimeoutS: Int = 30
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        guard (1...100_000).contains(rounds) else { throw ValidationError("--rounds must be between 1 and 100000 (got \(rounds))") }
        guard (1...600_000).contains(haltBudgetMs) else {
            throw ValidationError("--halt-budget-ms must be between 1 and 600000 (got \(haltBudgetMs))")
        }
        guard (0...600_000).contains(maxDelayMs) else {
            throw ValidationError("--max-delay-ms must be between 0 and 600000 (got \(maxDelayMs))")
        }
        guard (1...3_600).contains(recoveryTimeoutS) else {
            throw ValidationError("--recovery-timeout-s must be between 1 and 3600 (got \(recoveryTimeoutS))")
        }
        _ = try parsedSignals()
        let targets = DrillPlanner.workers + DrillPlanner.drillableBrokers.filter { !DrillPlanner.workers.contains($0) }
        if process != "random" && !targets.contains(process) {
            throw ValidationError(
                "--process must be random or one of \(targets.joined(separator: ", ")) (got \(process)); astd is never a target"
            )
        }
    }

    /// The brokers a drill may run against: the simulated exchange, and Alpaca's paper account
    /// (M14; with a fake Alpaca server in tests).

    func parsedSignals() throws -> [DrillSignal] {
        let names = signals.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let parsed = names.compactMap(DrillSignal.init(rawValue:))
        guard !parsed.isEmpty, parsed.count == names.count else {
            throw ValidationError("--signals takes kill, stop and term, comma-separated (got \(signals))")
        }
        return parsed
    }

    func run() async throws {
        let config = try loadConfig()
        // Paper only: a drill kills processes while trading goes on.
        let mode = (config.trading ?? .paper).mode
        let broker = config.risk.broker
        guard mode == .paper, DrillPlanner.drillableBrokers.contains(broker),
            config.supervisor.children.contains(where: { $0.name == broker })
        else {
            FileHandle.standardError.write(
                Data(
                    "astctl: refusing to drill: trading.mode is \(mode) and the broker is \(broker); a drill runs only against a paper tree (trading.mode PAPER, broker@paper, broker@ibkr or broker@alpaca)\n"
                        .utf8))
            throw ExitCode(2)
        }
        if process.hasPrefix("broker@") && process != broker {
            FileHandle.standardError.write(Data("astctl: --process \(process) is not this tree's broker (\(broker))\n".utf8))
            throw ExitCode(2)
        }
        let seed = self.seed ?? UInt64.random(in: 1...UInt64(UInt32.max))
        let workers = DrillPlanner.workers(broker: broker).filter { w in config.supervisor.children.contains { $0.name == w } }
        var planner = DrillPlanner(
            seed: seed, processes: process == "random" ? workers : [process], signals: try parsedSignals(),
            maxDelayMs: maxDelayMs)
        let toStderr = json
        let log: @Sendable (String) -> Void = { line in
            // With --json, stdout holds only the report; progress goes to stderr.
            if toStderr { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { print(line) }
        }
        // Every wait of a round is bounded: one that overruns ends the drill, naming the round,
        // the wait and what it saw (exit status 1, as for a violation).
        let watch = DrillWatch { message in
            log(message)
            if !toStderr { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            Glibc.exit(1)  // exit() flushes stdout
        }
        watch.start()
        defer { watch.stop() }
        let shell = DrillShell(config: config, recoveryTimeout: .seconds(recoveryTimeoutS), watch: watch, log: log)
        shell.log(
            "astctl drill: \(rounds) round(s), seed \(seed) (re-run with --seed \(seed)), targets \(planner.processes.joined(separator: ", ")), signals \(planner.signals.map(\.description).joined(separator: ", "))"
        )

        guard let initial = await shell.waitAllReady(notPID: nil, of: nil) else {
            FileHandle.standardError.write(
                Data("astctl: the tree is not all ready (or astd is unreachable); start it and check `astctl status`\n".utf8))
            throw ExitCode(1)
        }
        if let s = await shell.safeMode(), s.state != .active {
            shell.log("Safe Mode is \(s.state.rawValue) (\(s.cause)): resuming before the first round")
            if let problem = await shell.resumeIfNotActive() { shell.log("  \(problem)") }
        }
        let started = ContinuousClock.now
        var report = DrillReport(seed: seed)
        var checker = InvariantChecker()
        let restartsBefore = Dictionary(uniqueKeysWithValues: initial.children.map { ($0.name, $0.restarts) })
        var lastStatus = initial

        for _ in 0..<rounds {
            let round = planner.next()
            watch.setRound(round.index, of: rounds)
            report.record(round)
            shell.log("round \(round.index)/\(rounds): \(round.signal) to \(round.process) after \(round.delayMs) ms")
            try? await Task.sleep(for: .milliseconds(round.delayMs))
            let outcome = await shell.play(round, haltBudgetMs: haltBudgetMs)
            if let latency = outcome.observation.haltedLatencyMs, outcome.observation.brokerDied {
                report.haltedLatenciesMs.append(latency)
            }
            let violations = checker.check(outcome.observation) + outcome.resumeViolations
            for v in violations { shell.log("  VIOLATION \(v)") }
            report.violations += violations
            if let s = outcome.status { lastStatus = s }
            shell.log("  \(outcome.summary)")
        }
        if let s = await shell.treeStatus() { lastStatus = s }
        for c in lastStatus.children {
            let delta = c.restarts - (restartsBefore[c.name] ?? 0)
            if delta > 0 { report.restarts[c.name] = delta }
        }
        report.wallSeconds = Double((ContinuousClock.now - started).components.seconds)
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(DrillJSON(report)), as: UTF8.self))
        } else {
            print(report.text)
        }
        if !report.passed { throw ExitCode(1) }
    }
}

/// The report as `astctl drill --json` prints it: the report and its percentiles.
struct DrillJSON: Encodable {
    var report: DrillReport
    var haltedLatencyP50Ms: Int?
    var haltedLatencyP99Ms: Int?
    var passed: Bool
    init(_ r: DrillReport) {
        report = r
        haltedLatencyP50Ms = r.haltedLatencyMs(percentile: 50)
        haltedLatencyP99Ms = r.haltedLatencyMs(percentile: 99)
        passed = r.passed
    }
    enum CodingKeys: String, CodingKey {
        case report, passed
        case haltedLatencyP50Ms = "halted_latency_p50_ms"
        case haltedLatencyP99Ms = "halted_latency_p99_ms"
    }
}

/// What one round did and saw.
struct RoundOutcome {
    var observation: RoundObservation
    var resumeViolations: [DrillViolation]
    var status: TreeStatus?
    var summary: String
}

/// The drill's I/O: signals, status, journals, reconcile, resume.
final class DrillShell: Sendable {
    let config: ASTConfig
    let recoveryTimeout: Duration
    let log: @Sendable (String) -> Void
    let reader: JournalFollower
    let watch: DrillWatch

    init(config: ASTConfig, recoveryTimeout: Duration, watch: DrillWatch, log: @escaping @Sendable (String) -> Void) {
        self.config = config
        self.recoveryTimeout = recoveryTimeout
        self.watch = watch
        self.log = log
        reader = JournalFollower(directory: "\(config.stateDir)/journal", broker: config.risk.broker)
    }

    /// astd's view of the tree, or nil when it does not answer within a few seconds.
    func treeStatus() async -> TreeStatus? {
        let path = "\(config.runtimeDir)/control.sock"
        let config = self.config
        let reply = await watch.waiting("astd's status on \(path)", limit: .seconds(5)) { () -> Envelope? in
            guard UnixSocket.isLive(path: path) else { return nil }
            return await within(.seconds(5)) {
                try await withClient(to: ProcessIdentity(role: .supervisor), path: path, config: config) { client in
                    try await client.request(.statusRequest(StatusRequest()), timeout: .seconds(4))
                }
            }
        }
        if case .statusReply(let s)? = reply?.message { return s }
        return nil
    }

    /// The risk gate's Safe Mode, or nil when it does not answer within a few seconds.
    func safeMode(_ command: RiskCommand = .status) async -> RiskStatusReport? {
        let config = self.config
        let risk = ProcessIdentity(role: .risk)
        let path = WorkerRuntime.socketPath(identity: risk, runtimeDir: config.runtimeDir)
        let reply = await watch.waiting("the risk gate's answer to \(command)", limit: .seconds(12)) {
            await within(.seconds(12)) {
                try await withClient(to: risk, path: path, config: config) { client in
                    try await client.request(.riskCommand(command), timeout: .seconds(10))
                }
            }
        }
        if case .riskStatus(let r)? = reply?.message { return r }
        return nil
    }

    /// Waits until every permanent process is ready (and `name`, when given, no longer runs as
    /// `notPID`); nil on timeout.
    func waitAllReady(notPID: Int32?, of name: String?) async -> TreeStatus? {
        await watch.waiting(
            "every worker ready again\(name.map { " (\($0) no longer pid \(notPID.map(String.init) ?? "-"))" } ?? "")",
            limit: recoveryTimeout
        ) {
            let deadline = ContinuousClock.now + recoveryTimeout
            while ContinuousClock.now < deadline {
                let status = await treeStatus()
                if let s = status, s.state == "ok", s.children.allSatisfy(\.ready),
                    name == nil || s.children.first(where: { $0.name == name })?.pid != notPID
                {
                    return s
                }
                watch.saw(
                    status.map { s in
                        "tree \(s.state); "
                            + s.children.map { "\($0.name) pid \($0.pid.map(String.init) ?? "-") \($0.state)" }.joined(separator: ", ")
                    } ?? "astd did not answer")
                try? await Task.sleep(for: .milliseconds(50))
            }
            return nil
        }
    }

    /// Polls the risk gate over one connection until it reports HALTED; the time it took.
    func waitForHalted(within: Duration) async -> Duration? {
        await watch.waiting("the risk gate to report HALTED", limit: within) { await pollForHalted(within: within) }
    }

    func pollForHalted(within: Duration) async -> Duration? {
        let start = ContinuousClock.now
        let watch = self.watch
        let config = self.config
        let risk = ProcessIdentity(role: .risk)
        let path = WorkerRuntime.socketPath(identity: risk, runtimeDir: config.runtimeDir)
        while ContinuousClock.now - start < within {
            let seen = await ASTBus.within(within) {
                try await withClient(to: risk, path: path, config: config) { client -> Duration? in
                    while ContinuousClock.now - start < within {
                        let reply = try await client.request(.riskCommand(.status), timeout: .seconds(2))
                        if case .riskStatus(let r) = reply.message, r.state == .halted { return ContinuousClock.now - start }
                        if case .riskStatus(let r) = reply.message { watch.saw("Safe Mode \(r.state.rawValue)") }
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    return nil
                }
            }
            if let seen { return seen }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// One round: the signal, HALTED for a broker, recovery, the observations, the resume.
    func play(_ round: PlannedRound, haltBudgetMs: Int) async -> RoundOutcome {
        let isBroker = round.process.hasPrefix("broker@")
        let roundStart = ContinuousClock.now
        func ms(since t: ContinuousClock.Instant) -> Int {
            Int(
                (ContinuousClock.now - t).components.seconds * 1000 + (ContinuousClock.now - t).components.attoseconds
                    / 1_000_000_000_000_000)
        }
        let before = await treeStatus()
        let victim = before?.children.first { $0.name == round.process }?.pid
        let wasHalted = isBroker ? (await safeMode())?.state == .halted : false
        var latencyMs: Int?
        var notes: [String] = []
        if let victim {
            kill(victim, round.signal.number)
            if isBroker && !wasHalted {
                // A hang is a death once the watchdog declares it: its allowance is not Safe Mode's latency.
                let allowanceMs =
                    round.signal == .stop
                    ? (config.supervisor.children.first { $0.name == round.process }?.watchdogMs ?? 0) : 0
                if let d = await waitForHalted(within: .milliseconds(haltBudgetMs + allowanceMs + 5000)) {
                    let ms = Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
                    latencyMs = max(0, ms - allowanceMs)
                    notes.append("HALTED after \(latencyMs!) ms")
                }
            } else if isBroker {
                notes.append("already HALTED before the kill: latency not measured")
            }
        } else {
            notes.append("\(round.process) had no pid: no signal sent")
        }
        let recovered = await waitAllReady(notPID: victim, of: round.process)
        var recoveryDetail = ""
        if recovered == nil {
            if let s = await treeStatus() {
                recoveryDetail = s.children.filter { !$0.ready }.map { "\($0.name) \($0.state)" }.joined(separator: ", ")
            } else {
                recoveryDetail = "astd does not answer"
            }
        }

        let recoveredMs = ms(since: roundStart)
        let checkStart = ContinuousClock.now
        // Fills in flight: give the reconciler a few seconds to catch up with the broker.
        let reader = self.reader
        let journals = await watch.waiting("the reconciler to apply the broker's fills (journals)", limit: .seconds(15)) {
            var journals = reader.follow()
            let catchUp = ContinuousClock.now + .seconds(5)
            while !InvariantChecker.unreconciledFills(journals.reports, reconciled: journals.fills).isEmpty, ContinuousClock.now < catchUp {
                watch.saw(
                    "\(InvariantChecker.unreconciledFills(journals.reports, reconciled: journals.fills).count) fill(s) not yet reconciled")
                try? await Task.sleep(for: .milliseconds(200))
                journals = reader.follow()
            }
            return journals
        }
        var reconcile = await reconcileOnce()
        if reconcile != .clean {
            // A report in flight can show as a transient difference: once more.
            try? await Task.sleep(for: .seconds(1))
            reconcile = await reconcileOnce()
        }
        let reconciledMs = ms(since: checkStart)
        var resumeViolations: [DrillViolation] = []
        if let problem = await watch.waiting("astctl resume (and reconcile)", limit: .seconds(280), { await resumeIfNotActive() }) {
            resumeViolations.append(DrillViolation(round: round.index, invariant: .treeRecovers, detail: problem))
        }
        let verifyStart = ContinuousClock.now
        let journalChecks = await watch.waiting("astctl journal verify of every journal", limit: .seconds(120)) { verifyJournals() }
        let verifyMs = ms(since: verifyStart)
        let observation = RoundObservation(
            round: round, recovered: recovered != nil, recoveryDetail: recoveryDetail, brokerDied: isBroker && victim != nil && !wasHalted,
            haltedLatencyMs: latencyMs, haltBudgetMs: haltBudgetMs, brokerReports: journals.reports, reconciledExecutionIDs: journals.fills,
            journals: journalChecks, reconcile: reconcile, journalReadErrors: journals.errors)
        let fills = Set(journals.reports.compactMap { r -> ExecutionID? in if case .fill(let f) = r.event { f.executionID } else { nil } })
            .count
        notes.append(
            "recovered: \(recovered != nil ? "yes" : "NO") in \(recoveredMs) ms; checks \(reconciledMs) ms, verify \(verifyMs) ms; \(fills) fill(s) so far"
        )
        return RoundOutcome(
            observation: observation, resumeViolations: resumeViolations, status: recovered, summary: notes.joined(separator: "; "))
    }

    /// `astctl reconcile`, as the drill judges it.
    func reconcileOnce() async -> ReconcileCheck {
        let config = self.config
        let outcome = await watch.waiting("the reconciler's answer to astctl reconcile", limit: .seconds(25)) {
            await within(.seconds(25)) {
                try await reconcilerRequest(ReconcileRequest(run: true, reason: "astctl drill"), config: config, quiet: true)
            }
        }
        guard let run = outcome ?? nil else { return .incomplete("the reconciler did not answer") }
        if !run.completed { return .incomplete(run.summary) }
        if run.requiresHalt { return .mismatch(run.findings.map(\.detail).joined(separator: "; ")) }
        return .clean
    }

    /// Brings trading back as an operator does: `astctl resume --to active`, and when a HALTED
    /// gate refuses (no clean reconciliation since the halt) `astctl reconcile` and resume
    /// again. SAFE_REDUCING (a worker with `on_crash: reduce` went down) is resumed too; a
    /// refusal there (a portfolio limit) is the gate doing its job, not a problem. A problem in
    /// words, or nil.
    func resumeIfNotActive() async -> String? {
        var lastRefusal = ""
        for attempt in 0..<5 {
            guard let state = await safeMode() else { return "the risk gate did not answer" }
            if state.state == .active { return nil }
            if state.state == .safeReducing {
                let answer = await safeMode(.resume(to: .active))
                if answer?.accepted != true { log("  SAFE_REDUCING stays: \(answer?.message ?? "no answer")") }
                return nil
            }
            let answer = await safeMode(.resume(to: .active))
            if answer?.accepted == true { return nil }
            lastRefusal = answer?.message ?? "the risk gate did not answer"
            if attempt > 0 { try? await Task.sleep(for: .milliseconds(500)) }
            _ = await reconcileOnce()
        }
        let final = await safeMode()
        return final?.state == .halted ? "astctl resume was refused after astctl reconcile: \(lastRefusal)" : nil
    }

    /// `astctl journal verify`: every journal's damage, nil when it verifies.
    func verifyJournals() -> [String: String?] {
        let dir = "\(config.stateDir)/journal"
        var out: [String: String?] = [:]
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".sqlite") }.sorted()
        } catch {
            // An unlistable journal directory verifies nothing: a failure, not an empty success.
            return ["journal directory \(dir)": "cannot be listed: \(error)"]
        }
        for file in files {
            let result = Journal.verify(path: "\(dir)/\(file)")
            out.updateValue(result.damage.map(\.description), forKey: String(file.dropLast(".sqlite".count)))
        }
        return out
    }
}

/// Reads the broker's sent execution reports and the reconciler's applied fills from their
/// journals, read-only and incrementally (each call reads only the entries added since).
final class JournalFollower: Sendable {
    struct Seen: Sendable {
        var reports: [ExecutionReport] = []
        var fills: Set<ExecutionID> = []
        var brokerSeq: Int64 = 1
        var reconcilerSeq: Int64 = 1
        /// The last read of each journal that failed, by path (cleared by a read that succeeds).
        var errors: [String: String] = [:]
    }

    let brokerPath: String
    let reconcilerPath: String
    let seen = Mutex(Seen())

    init(directory: String, broker: String) {
        brokerPath = "\(directory)/\(broker).sqlite"
        reconcilerPath = "\(directory)/reconciler@main.sqlite"
    }

    /// Everything seen so far, and why a journal could not be read (a missing or unreadable
    /// journal, an entry that does not decode): never silently an empty list.
    func follow() -> (reports: [ExecutionReport], fills: Set<ExecutionID>, errors: [String]) {
        seen.withLock { s in
            let decoder = JSONDecoder()
            do {
                try Self.retrying {
                    try Journal.readEntries(path: brokerPath, fromSeq: s.brokerSeq, types: [MessageType.executionReport.rawValue]) { e in
                        guard e.record.kind == .sent else {
                            s.brokerSeq = e.seq + 1
                            return
                        }
                        guard case .executionReport(let r) = try EnvelopeCodec.decode(e.record.body).message else {
                            throw DrillError("\(brokerPath) entry seq \(e.seq): an execution.report entry holds another message")
                        }
                        s.brokerSeq = e.seq + 1
                        s.reports.append(r)
                    }
                }
                s.errors[brokerPath] = nil
            } catch {
                s.errors[brokerPath] = "cannot read the broker's journal: \(error)"
            }
            do {
                try Self.retrying {
                    try Journal.readEntries(path: reconcilerPath, fromSeq: s.reconcilerSeq, types: [EntryTypes.Reconciler.input]) { e in
                        guard e.record.kind == .received else {
                            s.reconcilerSeq = e.seq + 1
                            return
                        }
                        let input = try decoder.decode(ReconcilerInput.self, from: Data(e.record.body))
                        s.reconcilerSeq = e.seq + 1
                        guard case .report(let r) = input, case .fill(let f) = r.event else { return }
                        s.fills.insert(f.executionID)
                    }
                }
                s.errors[reconcilerPath] = nil
            } catch {
                s.errors[reconcilerPath] = "cannot read the reconciler's journal: \(error)"
            }
            return (s.reports, s.fills, s.errors.keys.sorted().compactMap { s.errors[$0] })
        }
    }
}

extension JournalFollower {
    /// Runs `read` again for up to two seconds while it fails: a worker the drill just restarted
    /// may hold its journal locked for an instant while it opens it. What still fails is an error.
    static func retrying(_ read: () throws -> Void) throws {
        for attempt in 1... {
            do {
                return try read()
            } catch  where attempt < 20 {
                usleep(100_000)
            }
        }
    }
}

/// A journal the drill reads holds something its checks cannot use.
struct DrillError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
