// astctl: the operator's command line for a running AST tree.
// `status` asks astd for the tree over the control socket, `ping` makes a bus round trip to
// one process, `journal verify` checks every journal's hash chain; `halt`, `resume` and
// `reconcile` talk to the risk gate and the reconciler; `drill` (Drill.swift) is the chaos drill;
// `report` and `replay` read the journals.
import ASTBus
import ASTCalendar
import ASTCore
import ASTJournal
import ASTOperator
import ASTReplay
import ASTReport
import ASTRisk
import ASTRuntime
import ASTWire
import ArgumentParser
import Foundation
import Logging
import Synchronization

@main
struct AstCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "astctl", abstract: "Operate a running AST tree.",
        subcommands: [
            Status.self, Halt.self, Resume.self, Protect.self, Flatten.self, Reconcile.self, BrokerCommand.self, DrillCommand.self,
            PingCommand.self,
            JournalCommand.self, ReportCommand.self, ReplayCommand.self,
            QuarantineCommand.self,
        ])
}

/// Loads the same layered configuration the processes use, or exits with its error.
func loadConfig() throws -> ASTConfig {
    do {
        return try ConfigLoader.discover().load(ASTConfig.self)
    } catch {
        FileHandle.standardError.write(Data("astctl: \(error)\n".utf8))
        throw ExitCode(78)
    }
}

struct PingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping", abstract: "Round trip through the bus to one process (role@instance).")
    @Argument(help: "The process, e.g. risk or broker@paper.") var process: String
    @Option(parsing: .unconditional, help: "Round trips (1 ... 10000).") var count: Int = 3

    func validate() throws {
        guard (1...10_000).contains(count) else { throw ValidationError("--count must be between 1 and 10000 (got \(count))") }
    }

    func run() async throws {
        let config = try loadConfig()
        guard let target = ProcessIdentity(parsing: process) else {
            throw ValidationError("'\(process)' is not role or role@instance")
        }
        let path = WorkerRuntime.socketPath(identity: target, runtimeDir: config.runtimeDir)
        guard UnixSocket.isLive(path: path) else {
            FileHandle.standardError.write(Data("astctl: nothing listens at \(path); is \(target) running?\n".utf8))
            throw ExitCode(1)
        }
        let count = self.count
        try await withClient(to: target, path: path, config: config) { client in
            for n in 1...max(1, count) {
                let start = ContinuousClock.now
                let reply = try await client.request(.ping(Ping(nonce: UInt64(n))), timeout: .seconds(5))
                let elapsed = ContinuousClock.now - start
                print(
                    "\(target): pong \(n) from \(reply.sender) in \(elapsed.formatted(.units(allowed: [.milliseconds, .microseconds], width: .narrow)))"
                )
            }
        }
    }
}

/// Data corruption is a critical failure: tell the risk gate (when the tree runs) so that it
/// halts trading. Waits for the answer; a tree that is not running has nothing to halt.
func haltForDamage(_ detail: String) {
    guard let config = try? ConfigLoader.discover().load(ASTConfig.self),
        UnixSocket.isLive(path: WorkerRuntime.socketPath(identity: ProcessIdentity(role: .risk), runtimeDir: config.runtimeDir))
    else { return }
    let done = DispatchSemaphore(value: 0)
    Task {
        if let report = try? await riskCommand(.journalVerificationFailed(detail: detail), config: config) {
            print(safeModeLine(report))
        } else {
            print("astctl: could not tell the risk gate; halt trading by hand: astctl halt --reason 'journal damaged'")
        }
        done.signal()
    }
    done.wait()
}

struct JournalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal", abstract: "Inspect the journals.", subcommands: [Verify.self, Export.self, Rotate.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify the hash chain of every journal (exit 1 on any damage).")
        @Option(help: "Only this process (role@instance).") var process: String?
        @Option(help: "Journal directory (default: <state_dir>/journal from the configuration).") var directory: String?

        func run() throws {
            let dir = try directory ?? "\(loadConfig().stateDir)/journal"
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
                .filter { $0.hasSuffix(".sqlite") }
                .filter { process == nil || $0 == "\(process!).sqlite" }
                .sorted()
            guard !files.isEmpty else {
                FileHandle.standardError.write(Data("astctl: no journal\(process.map { " for \($0)" } ?? "") in \(dir)\n".utf8))
                throw ExitCode(1)
            }
            var damaged = 0
            var failures: [String] = []
            for file in files {
                let result = ASTJournal.Journal.verify(path: "\(dir)/\(file)")
                print(result)
                if !result.isClean {
                    damaged += 1
                    failures.append(result.description)
                }
            }
            if damaged > 0 {
                print("\(damaged) of \(files.count) journals damaged: see runbooks/journal-verification-failed.md")
                haltForDamage(failures.joined(separator: "; "))
                throw ExitCode(1)
            }
        }
    }
}

extension JournalCommand {
    /// `astctl journal rotate --process P`: archives a journal's entries into a segment file
    /// (`<process>.segments/<first>-<last>.sqlite`) whose chain the live file continues.
    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Archive a journal's entries into a segment file; verify, replay and report read across segments.")
        @Option(help: "The process (role@instance) whose journal to rotate.") var process: String
        @Option(help: "Archive up to this entry (default: the last committed one).") var upTo: Int64?
        @Option(help: "Journal directory (default: <state_dir>/journal from the configuration).") var directory: String?

        func run() throws {
            let dir = try directory ?? "\(loadConfig().stateDir)/journal"
            guard ProcessIdentity(parsing: process) != nil else {
                FileHandle.standardError.write(Data("astctl: --process must be role@instance (got \(process.prefix(100)))\n".utf8))
                throw ExitCode(2)
            }
            let path = "\(dir)/\(process).sqlite"
            let before = ASTJournal.Journal.verify(path: path)
            guard before.isClean else {
                // Never archive a damaged chain: the segment would carry the damage out of sight.
                print(before)
                FileHandle.standardError.write(Data("astctl: not rotating a damaged journal\n".utf8))
                throw ExitCode(1)
            }
            do {
                if let segment = try ASTJournal.Journal.rotate(path: path, upTo: upTo) {
                    print("rotated \(process): entries \(segment.first)...\(segment.last) archived to \(segment.path)")
                } else {
                    print("rotated \(process): nothing to archive")
                }
            } catch {
                FileHandle.standardError.write(Data("astctl: journal rotate: \(error)\n".utf8))
                throw ExitCode(1)
            }
            print(ASTJournal.Journal.verify(path: path))
        }
    }
}

/// Logging to stderr, set up once however many clients a command opens.
let loggingBootstrapped: Void = LoggingSystem.bootstrap { StderrLogHandler(label: $0, level: .warning) }

/// A short-lived bus client of astctl towards one endpoint.
func withClient<T: Sendable>(
    to target: ProcessIdentity, path: String, config: ASTConfig,
    _ body: @Sendable (BusClient) async throws -> T
) async throws -> T {
    _ = loggingBootstrapped
    let logger = Logger(label: "astctl")
    let journal = try Journal(path: "\(config.stateDir)/journal/control@astctl.sqlite", process: "control@astctl", logger: logger)
    defer { try? journal.close() }
    let client = try BusClient(
        identity: ProcessIdentity(role: .control, instance: "astctl"), target: target.description, path: path,
        expectedRole: target.role, settings: BusSettings(config.bus), journal: journal,
        clock: SystemClock(), logger: logger)
    // Cancellable (a `within` that gives up): the connection is closed before the journal.
    return try await client.whileConnected(body)
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the supervision tree.",
        discussion: "Exit status: 0 every permanent process ready, 3 degraded, 1 astd unreachable.")
    @Flag(help: "Print the documented JSON schema instead of a table.") var json = false

    func run() async throws {
        let config = try loadConfig()
        let path = "\(config.runtimeDir)/control.sock"
        // Never connect to a stopped astd: under systemd the connection would start ast.service.
        if SupervisorLock.isHeld(runtimeDir: config.runtimeDir) == false {
            FileHandle.standardError.write(
                Data(
                    """
                    astctl: astd is not running (no astd holds \(SupervisorLock.path(runtimeDir: config.runtimeDir))); nothing was started.
                    Start it with `systemctl start ast.target` (installed) or `astd --foreground` (from a checkout).

                    """.utf8))
            throw ExitCode(1)
        }
        guard UnixSocket.isLive(path: path) else {
            FileHandle.standardError.write(
                Data(
                    """
                    astctl: astd is not reachable at \(path).
                    Start it with `systemctl start ast.target` (installed) or `astd --foreground` (from a checkout).

                    """.utf8))
            throw ExitCode(1)
        }
        // The one status collector astctl and ast-web share (ASTOperator), asking over astctl's own clients.
        let status: TreeStatus
        do {
            status = try await TreeStatusCollector.collect(runtimeDir: config.runtimeDir) { target, path, message, timeout in
                try await withClient(to: target, path: path, config: config) { try await $0.request(message, timeout: timeout) }
            }
        } catch let error as OperatorError {
            FileHandle.standardError.write(Data("astctl: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if json {
            print(StatusFormat.json(status))
        } else {
            print(StatusFormat.table(status))
            print(status.safeMode.map(safeModeLine) ?? "Safe Mode: unknown (the risk gate did not answer)")
            print(
                status.reconciliation.map(reconciliationLine)
                    ?? "Reconciliation: none reported (the reconciler did not answer or has not run one)")
            print(status.notifier.map { notifierLine($0, now: status.now) } ?? "Notifier: unknown (ast-notifier did not answer)")
            for line in busLines(status) { print(line) }
        }
        if status.state != "ok" { throw ExitCode(3) }
    }
}

/// Sends a command to ast-risk and returns its report, or exits 1 when ast-risk is unreachable.
func riskCommand(_ command: RiskCommand, config: ASTConfig) async throws -> RiskStatusReport {
    let risk = ProcessIdentity(role: .risk)
    let path = WorkerRuntime.socketPath(identity: risk, runtimeDir: config.runtimeDir)
    guard UnixSocket.isLive(path: path) else {
        FileHandle.standardError.write(
            Data("astctl: the risk gate is not reachable at \(path); is the tree running (astctl status)?\n".utf8))
        throw ExitCode(1)
    }
    let reply = try await withClient(to: risk, path: path, config: config) { client in
        try await client.request(.riskCommand(command), timeout: .seconds(10))
    }
    guard case .riskStatus(let report) = reply.message else {
        FileHandle.standardError.write(Data("astctl: ast-risk answered \(reply.type)\n".utf8))
        throw ExitCode(1)
    }
    return report
}

/// The bus lines of `astctl status`: each process's links (connected, last heard, messages
/// waiting for an acknowledgement), then the two queues an operator cares about.
func busLines(_ status: TreeStatus) -> [String] {
    var lines = ["Bus links (as each process reports them):"]
    var ordersWaiting = 0, alertsWaiting = 0
    var known = true
    // astd's own links first (lifecycle events to the risk gate and the notifier), then each child's.
    let processes = [("astd", status.supervisorBus)] + status.children.map { ($0.name, $0.bus) }
    for (name, bus) in processes {
        guard let bus else {
            lines.append("  \(name): unknown (did not answer)")
            if name.hasPrefix("risk@") { known = false }
            continue
        }
        for link in bus.links.prefix(BusStatusReport.maxLinks) {
            let heard =
                link.lastHeard.map {
                    "last heard \(StatusFormat.duration(Double(status.now.duration(since: $0).totalNanoseconds) / 1e9)) ago"
                }
                ?? "never heard"
            var line = "  \(name) -> \(link.target): \(link.connected ? "connected" : "NOT CONNECTED"), \(heard), "
            line += "\(link.unacknowledged) unacknowledged"
            if let oldest = link.oldestUnacknowledged {
                line += " (oldest \(StatusFormat.duration(Double(status.now.duration(since: oldest).totalNanoseconds) / 1e9)) ago)"
            }
            lines.append(line)
            // A peer's numbers: summed without a trap.
            func add(_ total: inout Int) {
                let (sum, overflow) = total.addingReportingOverflow(max(0, link.unacknowledged))
                total = overflow ? .max : sum
            }
            if name.hasPrefix("risk@") && link.target.hasPrefix("broker@") { add(&ordersWaiting) }
            if link.target.hasPrefix("notifier@") { add(&alertsWaiting) }
        }
    }
    let outbox = status.notifier.map { ", \($0.pending) in the notifier's outbox" } ?? ""
    lines.append(
        "Queues: \(known ? "\(ordersWaiting)" : "unknown") order message(s) waiting for the broker; "
            + "\(alertsWaiting) message(s) waiting for the notifier on the bus\(outbox)")
    return lines
}

/// One line about the notifier's backlog, as `astctl status` prints it.
func notifierLine(_ r: NotifierStatusReport, now: Timestamp) -> String {
    var line = "Notifier: \(r.pending) alert\(r.pending == 1 ? "" : "s") pending"
    if r.pendingP0 > 0 {
        line += " (\(r.pendingP0) P0"
        if let oldest = r.oldestPendingP0 {
            line += ", oldest \(StatusFormat.duration(Double(now.duration(since: oldest).totalNanoseconds) / 1e9)) ago"
        }
        line += ")"
    }
    line += r.deliveryEnabled ? "; Telegram delivery on, \(r.delivered) delivered" : "; Telegram delivery OFF, \(r.delivered) delivered"
    if r.abandoned > 0 { line += ", \(r.abandoned) refused by Telegram" }
    if let n = r.repeats, n > 0 { line += ", \(n) sent again (delivery unknown)" }
    if let n = r.duplicates, n > 0 { line += ", \(n) duplicate\(n == 1 ? "" : "s") dropped" }
    for problem in r.chatProblems ?? [] { line += "; CHAT PROBLEM: \(problem)" }
    if let next = r.nextAttemptAt { line += "; next attempt \(next)" }
    if let error = r.lastError, r.pending > 0 || !r.deliveryEnabled { line += "; last error: \(error)" }
    return line
}

/// One line about Safe Mode, as `astctl status` and `halt`/`resume` print it.
func safeModeLine(_ r: RiskStatusReport) -> String {
    var line = "Safe Mode: \(r.state.rawValue) since \(r.since) (\(r.cause))"
    if !r.downBrokers.isEmpty { line += "; brokers down: \(r.downBrokers.joined(separator: ", "))" }
    if !r.disconnectedBrokers.isEmpty { line += "; disconnected: \(r.disconnectedBrokers.joined(separator: ", "))" }
    return line
}

struct Halt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Halt trading: no new orders, only cancels of resting unfilled entries.")
    @Option(help: "Why (journaled and alerted).") var reason: String = "operator halt"

    func run() async throws {
        let report = try await riskCommand(.halt(reason: reason), config: try loadConfig())
        print(report.message ?? "")
        print(safeModeLine(report))
        if report.accepted == false { throw ExitCode(1) }
    }
}

struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resume trading after a halt.",
        discussion:
            "Refused, with the reasons, while a broker is down or disconnected or (when required) no clean reconciliation has completed since the halt."
    )
    @Option(help: "active or reducing.") var to: String = "active"

    func run() async throws {
        guard let target = ResumeTarget(rawValue: to) else { throw ValidationError("--to must be active or reducing (got \(to))") }
        let report = try await riskCommand(.resume(to: target), config: try loadConfig())
        print(report.message ?? "")
        print(safeModeLine(report))
        if report.accepted != true { throw ExitCode(1) }
    }
}

/// One line about a reconciliation run, as `astctl status` prints it.
func reconciliationLine(_ r: ReconciliationSummary) -> String {
    let outcome = !r.completed ? "INCOMPLETE" : r.requiresHalt ? "MISMATCH" : r.clean ? "clean" : "repaired"
    return "Reconciliation: \(outcome) at \(r.at) (\(r.trigger)) against \(r.broker): \(r.summary)"
}

/// Asks ast-reconciler to reconcile now or for its last run. Nil when it has not run one.
func reconcilerRequest(_ request: ReconcileRequest, config: ASTConfig, quiet: Bool = false) async throws -> ReconciliationSummary? {
    let reconciler = ProcessIdentity(role: .reconciler)
    let path = WorkerRuntime.socketPath(identity: reconciler, runtimeDir: config.runtimeDir)
    guard UnixSocket.isLive(path: path) else {
        if !quiet {
            FileHandle.standardError.write(
                Data("astctl: the reconciler is not reachable at \(path); is the tree running (astctl status)?\n".utf8))
        }
        throw ExitCode(1)
    }
    let reply = try await withClient(to: reconciler, path: path, config: config) { client in
        try await client.request(.reconcileRequest(request), timeout: .seconds(20))
    }
    switch reply.message {
    case .reconciliationReport(let summary): return summary
    case .commandResult: return nil
    default:
        FileHandle.standardError.write(Data("astctl: ast-reconciler answered \(reply.type)\n".utf8))
        throw ExitCode(1)
    }
}

struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reconcile the book against the broker now and print the findings.",
        discussion: "Exit status: 0 clean (benign differences repaired), 2 mismatch (trading HALTED), 1 not completed.")
    @Flag(help: "Print the run as JSON.") var json = false

    func run() async throws {
        guard let r = try await reconcilerRequest(ReconcileRequest(run: true, reason: "astctl reconcile"), config: try loadConfig()) else {
            print("no reconciliation ran")
            throw ExitCode(1)
        }
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(r), as: UTF8.self))
        } else {
            print(reconciliationLine(r))
            print("broker: \(r.positions) position(s), \(r.openOrders) open order(s)")
            for f in r.findings { print("  [\(f.severity)] \(f.kind): \(f.detail)") }
            for repair in r.repairs { print("  repaired: \(repair)") }
        }
        if !r.completed { throw ExitCode(1) }
        if r.requiresHalt { throw ExitCode(2) }
    }
}

struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker", abstract: "Look at a broker process's account, or inject broker-side events into the paper broker.",
        subcommands: [State.self, Inject.self])

    struct Target: ParsableArguments {
        @Option(help: "The broker process.") var broker: String = "broker@paper"
        func identity() throws -> ProcessIdentity {
            guard let id = ProcessIdentity(parsing: broker), id.role == .broker else {
                throw ValidationError("--broker must name a broker process as broker@instance (got \(broker))")
            }
            return id
        }
    }

    static func ask(_ message: Message, target: ProcessIdentity) async throws -> Envelope {
        let config = try loadConfig()
        let path = WorkerRuntime.socketPath(identity: target, runtimeDir: config.runtimeDir)
        guard UnixSocket.isLive(path: path) else {
            FileHandle.standardError.write(
                Data("astctl: \(target) is not reachable at \(path); is the tree running (astctl status)?\n".utf8))
            throw ExitCode(1)
        }
        return try await withClient(to: target, path: path, config: config) { client in
            try await client.request(message, timeout: .seconds(10))
        }
    }

    struct State: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The broker's own account: cash, positions, open orders (JSON).")
        @OptionGroup var target: Target
        @Flag(help: "Include every execution (fill) the broker made.") var executions = false

        func run() async throws {
            let config = try loadConfig()
            let id = try target.identity()
            let path = WorkerRuntime.socketPath(identity: id, runtimeDir: config.runtimeDir)
            guard UnixSocket.isLive(path: path) else {
                FileHandle.standardError.write(
                    Data("astctl: \(id) is not reachable at \(path); is the tree running (astctl status)?\n".utf8))
                throw ExitCode(1)
            }
            let answer = try await withClient(to: id, path: path, config: config) { client in
                try await BrokerPages.fetch(executionsSince: Timestamp(nanoseconds: 0), timeout: .seconds(10)) {
                    try await client.request($0, timeout: $1)
                }
            }
            guard var state = answer else {
                FileHandle.standardError.write(Data("astctl: \(id) did not answer with its account\n".utf8))
                throw ExitCode(1)
            }
            if !executions { state.executions = [] }
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(state), as: UTF8.self))
        }
    }

    struct Inject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the paper broker do something behind the system's back (drills and tests).",
            discussion: """
                EVENT is one of:
                  reject-next [REASON]        the next bracket is rejected
                  disconnect SECONDS          the broker is unreachable for SECONDS
                  drop-next-ack               the next submit reaches the broker, its acknowledgement is lost
                  cancel CLIENT_ORDER_ID      the broker cancels the order and reports it
                  cancel-silently CLIENT_ORDER_ID   the broker cancels the order, the report is lost
                """)
        @OptionGroup var target: Target
        @Argument(help: "The event (see below).") var event: String
        @Argument(help: "Its argument.") var argument: String?

        func injection() throws -> BrokerInjection {
            switch event {
            case "reject-next": return .rejectNext(reason: argument ?? "rejected by operator injection")
            case "disconnect":
                guard let s = argument.flatMap(Int.init), s > 0 else {
                    throw ValidationError("disconnect needs a positive number of seconds")
                }
                return .disconnect(seconds: s)
            case "drop-next-ack": return .dropNextAcknowledgement
            case "cancel", "cancel-silently":
                guard let id = argument.flatMap(ClientOrderID.init(validating:)) else {
                    throw ValidationError("\(event) needs a client order id")
                }
                return event == "cancel" ? .brokerCancel(id) : .brokerCancelSilently(id)
            default:
                throw ValidationError("unknown event '\(event)' (reject-next, disconnect, drop-next-ack, cancel, cancel-silently)")
            }
        }

        func run() async throws {
            let reply = try await BrokerCommand.ask(.brokerInject(try injection()), target: target.identity())
            guard case .commandResult(let r) = reply.message else {
                FileHandle.standardError.write(Data("astctl: the broker answered \(reply.type)\n".utf8))
                throw ExitCode(1)
            }
            print(r.message)
            if !r.accepted { throw ExitCode(1) }
        }
    }
}

/// `astctl report`: the per-run report (JSON and Markdown) from a state directory's journals.
/// Reads the journals read-only, so it works on a stopped tree and on a running one.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Write the run's report (report.json, report.md) from the journals.")
    @Option(help: "State directory (default: state_dir from the configuration).") var stateDir: String?
    @Option(help: "Output directory (default: <state_dir>/reports/run-<last market date>/).") var out: String?
    @Option(help: "Only this New York date (YYYY-MM-DD).") var date: String?

    func validate() throws {
        if let date { try CommandLineValues.requireDate(date, option: "--date") }
    }

    func run() throws {
        let config = stateDir == nil ? try loadConfig() : try? ConfigLoader.discover().load(ASTConfig.self)
        let state = stateDir ?? config!.stateDir
        var report: RunReport
        do {
            report = try RunReportBuilder.build(stateDirectory: state, mode: config?.trading?.mode.rawValue)
        } catch {
            FileHandle.standardError.write(Data("astctl: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if let date { report = report.daily(date: date) }
        let directory = out ?? "\(state)/reports/run-\(report.lastMarketDate ?? "unknown")"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try report.json().write(to: URL(fileURLWithPath: "\(directory)/report.json"))
            try Data(report.markdown.utf8).write(to: URL(fileURLWithPath: "\(directory)/report.md"))
        } catch {
            FileHandle.standardError.write(
                Data("astctl: cannot write the report to \(directory): \(CommandLineValues.fileProblem(error))\n".utf8))
            throw ExitCode(CommandLineValues.cannotCreate)
        }
        print("report written to \(directory)/report.md and report.json")
        for line in report.summaryLines { print("  \(line)") }
        if !report.journalFailures.isEmpty {
            // Fail closed: a report built without a journal is not a clean report.
            for failure in report.journalFailures { FileHandle.standardError.write(Data("astctl: report: \(failure)\n".utf8)) }
            let summary =
                "astctl: report: INCOMPLETE: \(report.journalFailures.count) journal(s) could not be read; "
                + "see runbooks/journal-verification-failed.md\n"
            FileHandle.standardError.write(Data(summary.utf8))
            throw ExitCode(1)
        }
    }
}

// MARK: Replay (M7). The logic is in ASTReplay; these are the command lines.

/// The replay configuration of the running configuration (risk limits, paper broker rules).
func replaySettings(_ config: ASTConfig) -> ReplaySettings {
    ReplaySettings(riskLimits: config.risk.limits, paperBroker: config.paperBroker ?? .standard)
}

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "The merged timeline of every journal, or (--verify) re-execute the recorded inputs and compare the outputs.")
    @Argument(help: "Journal directory or bundle (default: <state_dir>/journal).") var directory: String?
    @Option(help: "From this time (ns, YYYY-MM-DD or ISO 8601, UTC).") var from: String?
    @Option(help: "Up to this time.") var to: String?
    @Option(help: "Only this process (role@instance); repeatable.") var process: [String] = []
    @Option(help: "Only events of this symbol.") var symbol: String?
    @Option(help: "Only the chain of this intent, approval, client order id, or any correlation id.") var correlation: String?
    @Option(
        help:
            "Only these kinds (bar, scan, intent, decision, order, fill, position, mark, reconciliation, safe_mode, alert, command, lifecycle, bus, other); repeatable."
    )
    var kind: [String] = []
    @Flag(help: "Include bus plumbing (acks, handshakes).") var all = false
    @Flag(help: "JSON instead of a table.") var json = false
    @Flag(help: "Re-execute every process's inputs and compare with its recorded outputs (exit 1 on any divergence or damage).")
    var verify = false
    @Option(
        name: .customLong("from-checkpoint"),
        help: ArgumentHelp(
            "With --verify: re-execute from a checkpoint up to the next and compare it byte for byte: 'latest' (each journal's newest "
                + "checkpoint that has a later one) or an entry seq (with one --process).", valueName: "latest|seq"))
    var fromCheckpoint: String?

    func run() throws {
        let config = try? ConfigLoader.discover().load(ASTConfig.self)
        guard let dir = directory ?? config.map({ "\($0.stateDir)/journal" }) else {
            _ = try loadConfig()
            return
        }
        var filter = TimelineFilter(processes: Set(process), symbol: symbol, correlation: correlation, includeBus: all)
        for (text, keyPath) in [(from, \TimelineFilter.from), (to, \TimelineFilter.to)] {
            guard let text else { continue }
            try CommandLineValues.requireRealDate(in: text, option: keyPath == \TimelineFilter.from ? "--from" : "--to")
            guard let t = ReplayCommandRunner.parseTime(text) else {
                throw ValidationError("'\(text)' is not a time (ns, YYYY-MM-DD or ISO 8601)")
            }
            filter[keyPath: keyPath] = t
        }
        for k in kind {
            guard let e = EventKind(rawValue: k) else { throw ValidationError("'\(k)' is not an event kind") }
            filter.kinds.insert(e)
        }
        if config == nil, verify, !ReplayBundle.isBundle(dir) {
            FileHandle.standardError.write(
                Data(
                    "astctl replay: no configuration could be loaded: replaying with the default risk limits and paper broker rules\n".utf8)
            )
        }
        let outcome: ReplayCommandRunner.Outcome
        if let fromCheckpoint {
            guard verify else { throw ValidationError("--from-checkpoint goes with --verify") }
            let seq = fromCheckpoint == "latest" ? nil : Int64(fromCheckpoint)
            guard fromCheckpoint == "latest" || (seq ?? 0) > 0 else {
                throw ValidationError("--from-checkpoint takes 'latest' or an entry seq, not '\(fromCheckpoint)'")
            }
            outcome = ReplayCommandRunner.runFromCheckpoint(
                directory: dir, processes: Set(process), checkpoint: seq, json: json, config: config.map { replaySettings($0) })
        } else {
            outcome = ReplayCommandRunner.run(
                directory: dir, filter: filter, json: json, verify: verify, config: config.map { replaySettings($0) })
        }
        FileHandle.standardOutput.write(Data(outcome.stdout.utf8))
        FileHandle.standardError.write(Data(outcome.stderr.utf8))
        if outcome.exitCode != 0 { throw ExitCode(outcome.exitCode) }
    }
}

extension JournalCommand {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a self-contained replay bundle: journals, redacted configuration, versions, manifest with SHA-256.")
        @Option(help: "The bundle directory to create.") var out: String
        @Option(help: "Journal directory (default: <state_dir>/journal from the configuration).") var directory: String?

        func run() throws {
            let config = try loadConfig()
            let loader = ConfigLoader.discover()
            var files: [String: String] = [:]
            for name in (try? FileManager.default.contentsOfDirectory(atPath: loader.directory)) ?? []
            where name.hasPrefix("ast") && name.hasSuffix(".yaml") {
                files[name] = try? String(contentsOfFile: loader.path(of: name), encoding: .utf8)
            }
            let variables = ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("AST_") }.sorted { $0.key < $1.key }
            files["environment.txt"] = variables.map { "\($0.key)=\($0.value)" }.joined(separator: "\n") + "\n"
            do {
                let manifest = try ReplayBundle.export(
                    journalDirectory: directory ?? "\(config.stateDir)/journal", to: out, configFiles: files,
                    replayConfig: replaySettings(config), versions: ReplayBundle.versions())
                print(
                    "bundle \(out): \(manifest.files.count) files (\(manifest.files.filter { $0.path.hasPrefix("journal/") }.count) journals); replay it with: astctl replay \(out) --verify"
                )
            } catch {
                FileHandle.standardError.write(Data("astctl journal export: \(CommandLineValues.fileProblem(error))\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}

/// Checks of command-line values beyond their type, shared by the commands: a clear one-line
/// error and exit 64 (usage) for a value that cannot be right.
enum CommandLineValues {
    /// `EX_CANTCREAT`: an output file or directory could not be created.
    static let cannotCreate: Int32 = 73

    /// `text` must be a date that exists, as YYYY-MM-DD (2026-02-30 does not).
    static func requireDate(_ text: String, option: String) throws {
        guard LocalDate(text) != nil else {
            throw ValidationError("\(option) must be a date that exists, as YYYY-MM-DD (got '\(text)')")
        }
    }

    /// A time given as text that starts like a date (YYYY-MM-DD...) must start with a date that
    /// exists; other spellings (nanoseconds) are left to the parser.
    static func requireRealDate(in text: String, option: String) throws {
        let head = text.prefix(10)
        let shape = head.count == 10 && head.enumerated().allSatisfy { i, c in (i == 4 || i == 7) ? c == "-" : c.isASCII && c.isNumber }
        guard shape else { return }
        guard LocalDate(String(head)) != nil else {
            throw ValidationError("\(option) must be a time whose date exists (YYYY-MM-DD...; got '\(text)')")
        }
    }

    /// What went wrong with a file, in words (`Permission denied`), never Foundation's raw
    /// NSCocoaErrorDomain text.
    static func fileProblem(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        guard ns.domain == NSCocoaErrorDomain else { return "\(error)" }
        let path = (ns.userInfo[NSFilePathErrorKey] as? String).map { " (\($0))" } ?? ""
        switch ns.code {
        case NSFileWriteNoPermissionError, NSFileReadNoPermissionError: return "Permission denied" + path
        case NSFileWriteOutOfSpaceError: return "No space left on device" + path
        case NSFileWriteVolumeReadOnlyError: return "Read-only file system" + path
        case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return "No such file or directory" + path
        case NSFileWriteFileExistsError: return "File exists" + path
        default: return "cannot be written" + path
        }
    }
}
