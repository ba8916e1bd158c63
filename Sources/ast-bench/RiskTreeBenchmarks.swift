import ASTCore
import ASTRisk
import ASTWire
import Foundation
import GRDBSQLite

#if canImport(Glibc)
    import Glibc
#endif

/// Wall-clock time as integer nanoseconds (`CLOCK_REALTIME`): the clock journal timestamps are
/// taken on, so that a time read here and one journaled by another process can be subtracted.
enum Realtime {
    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

/// A whole tree run by a real `astd --foreground` from the release build, in a scratch directory:
/// the repository's `etc/ast.yaml` plus an `ast.test.yaml` overlay (`AST_ENV=test`), its own
/// runtime and state directories, as the integration tests' `SupervisedTree` does it.
///
/// The overlay raises `risk.limits.max_orders_per_window` (so that the rate limit does not decide
/// the round trips), accepts marks up to an hour old, restarts a crashed child after 10 ms and
/// lets astd restart children as often as the kill benchmark needs.
final class RiskTree: @unchecked Sendable {
    static let overlay = """
        logging:
          level: info
        supervisor:
          intensity: 1000
          period_ms: 1000
          restart_backoff_ms: 10
          restart_backoff_max_ms: 50
        risk:
          limits:
            max_orders_per_window: 1000000
            max_mark_age_seconds: 3600

        """

    let scratch: ScratchDirectory
    let binDirectory: String
    let environment: [String: String]
    let astd: SpawnedProcess

    var riskSocket: String { scratch("run/risk@main.sock") }
    var riskJournal: String { scratch("state/journal/risk@main.sqlite") }

    init(binDirectory: String, configDirectory: String, scratch: ScratchDirectory) throws {
        self.scratch = scratch
        self.binDirectory = binDirectory
        for name in [
            "astd", "astctl", "ast-risk", "ast-broker", "ast-marketdata", "ast-strategy", "ast-reconciler", "ast-notifier", "ast-web",
        ] {
            guard FileManager.default.isExecutableFile(atPath: "\(binDirectory)/\(name)") else {
                throw BenchError(
                    "\(binDirectory)/\(name) does not exist: run `swift build -c release` first (scripts/bench does) or pass --bin-dir")
            }
        }
        try FileManager.default.createDirectory(atPath: scratch("etc"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: configDirectory + "/ast.yaml", toPath: scratch("etc/ast.yaml"))
        try Self.overlay.write(toFile: scratch("etc/ast.test.yaml"), atomically: true, encoding: .utf8)
        environment = [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "AST_CONFIG_DIR": scratch("etc"), "AST_ENV": "test",
            "AST_RUNTIME_DIR": scratch("run"), "AST_STATE_DIR": scratch("state"),
        ]
        astd = try SpawnedProcess(
            "\(binDirectory)/astd", ["--foreground"], environment: environment, name: "astd",
            outputDirectory: scratch.path)
    }

    /// SIGTERM to astd, which stops the tree in reverse order (its children die with it anyway).
    func stop() { astd.stop(graceSeconds: 10) }

    /// Runs `astctl ARGS` against this tree: its exit code and stdout.
    func astctl(_ arguments: [String]) throws -> (code: Int32, stdout: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "\(binDirectory)/astctl")
        process.arguments = arguments
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// `astctl status --json`, decoded; nil while astd does not answer.
    func status() throws -> (TreeStatus, code: Int32)? {
        let (code, stdout) = try astctl(["status", "--json"])
        guard code == 0 || code == 3 else { return nil }
        return (try JSONDecoder().decode(TreeStatus.self, from: Data(stdout.utf8)), code)
    }

    /// Waits until every child is ready and `condition` holds for the status.
    func waitAllReady(seconds: Double = 60, _ condition: (TreeStatus) -> Bool = { _ in true }) throws -> TreeStatus {
        let deadline = Monotonic.now() + UInt64(seconds * 1e9)
        while Monotonic.now() < deadline {
            guard astd.isRunning else { throw BenchError("astd exited: \(astd.stderrTail)") }
            if let (s, code) = try status(), code == 0, s.children.allSatisfy(\.ready), condition(s) { return s }
            usleep(20_000)
        }
        throw BenchError("the tree was not ready within \(seconds) s: \(astd.stderrTail)")
    }
}

/// Benchmark M3.2: `intent.submit` -> `intent.decision` through ast-risk in a real tree.
///
/// One blocking connection with role `strategy` sends an intent group and reads until the
/// decision: ast-risk's `BusServer` journals the acknowledged intent durably and acks it, the shell
/// journals the input (write-ahead) and the decision durably, and for an approval journals the
/// order to the broker durably before sending it; only then does the decision leave. Portfolio
/// snapshots (role `reconciler`, acknowledged) and marks for the 50 symbols (role `marketdata`)
/// arrive untimed every ``RiskCoreBenchmark/segment`` intents; the intents are the core
/// benchmark's stream, so the same mix of approvals, downgrades and blocks.
struct RiskRoundTripBenchmark {
    var tree: RiskTree
    var repetitions: Int
    var roundTrips: Int

    struct Summary {
        var all: LatencySummary
        var approved: LatencySummary?
        var blocked: LatencySummary?
        var mix: [String: Int]
    }

    /// Reads frames until the ack of `id` (acknowledged messages), ignoring nothing else.
    static func awaitAck(_ client: BlockingBusClient, id: String) throws {
        let reply = try client.receive()
        guard case .ack(let ack) = reply.message, ack.id == id else {
            throw BenchError("expected the ack of \(id), got \(reply.type): \(reply.message)")
        }
    }

    func run(progress: @Sendable (String) -> Void) throws -> Summary {
        progress("round trip: starting the tree")
        _ = try tree.waitAllReady()
        let strategy = try BlockingBusClient(path: tree.riskSocket, identity: ProcessIdentity(role: .strategy, instance: "bench"))
        let reconciler = try BlockingBusClient(path: tree.riskSocket, identity: ProcessIdentity(role: .reconciler, instance: "bench"))
        let marketdata = try BlockingBusClient(path: tree.riskSocket, identity: ProcessIdentity(role: .marketdata, instance: "bench"))
        var snapshots = 0

        /// Marks first (best effort, unanswered), then the snapshot, whose ack comes after ast-risk
        /// handled the marks sent before it on the other connection in practice; the mix shows it.
        func refresh() throws {
            let now = Timestamp(nanoseconds: Realtime.now())
            for s in RiskCoreBenchmark.symbols {
                try marketdata.send(.mark(MarketMark(symbol: s, price: RiskCoreBenchmark.mark, at: now)))
            }
            snapshots += 1
            let id = "reconciler@bench>risk@main#\(snapshots)"
            try reconciler.send(.portfolioSnapshot(RiskCoreBenchmark.snapshot(at: now)), id: id)
            try Self.awaitAck(reconciler, id: id)
        }

        /// One intent: send, read the ack, then the decision; returns the decision and the nanoseconds from send to decision.
        func submit(_ n: Int, prefix: String) throws -> (RiskDecision, UInt64) {
            let group = RiskCoreBenchmark.intent(n, prefix: prefix, at: Timestamp(nanoseconds: Realtime.now()))
            let id = "strategy@bench>risk@main#\(prefix)-\(n)"
            let t0 = Monotonic.now()
            try strategy.send(.intentSubmit(group), id: id)
            while true {
                let reply = try strategy.receive()
                switch reply.message {
                case .ack(let ack) where ack.id == id:
                    continue
                case .intentDecision(let d) where d.intent == group.id:
                    return (d.decision, Monotonic.now() - t0)
                default:
                    throw BenchError("unexpected reply to intent \(group.id): \(reply.type): \(reply.message)")
                }
            }
        }

        progress("round trip: warm-up")
        for n in 0..<(2 * RiskCoreBenchmark.segment) {
            if n % RiskCoreBenchmark.segment == 0 { try refresh() }
            _ = try submit(n, prefix: "RTW")
        }
        var all: [LatencySample] = [], approved: [LatencySample] = [], blocked: [LatencySample] = []
        var mix: [String: Int] = [:]
        for r in 0..<repetitions {
            progress("round trip: repetition \(r + 1) of \(repetitions)")
            var durations: [UInt64] = [], ok: [UInt64] = [], no: [UInt64] = []
            var elapsed: UInt64 = 0
            for n in 0..<roundTrips {
                if n % RiskCoreBenchmark.segment == 0 { try refresh() }
                let (decision, ns) = try submit(n, prefix: "RT\(r)")
                durations.append(ns)
                elapsed += ns
                if decision.approval != nil { ok.append(ns) } else { no.append(ns) }
                mix[RiskCoreBenchmark.outcome(decision), default: 0] += 1
            }
            all.append(LatencySample(nanoseconds: durations, elapsed: elapsed))
            if !ok.isEmpty { approved.append(LatencySample(nanoseconds: ok, elapsed: ok.reduce(0, +))) }
            if !no.isEmpty { blocked.append(LatencySample(nanoseconds: no, elapsed: no.reduce(0, +))) }
        }
        return Summary(
            all: LatencySummary(all), approved: approved.isEmpty ? nil : LatencySummary(approved),
            blocked: blocked.isEmpty ? nil : LatencySummary(blocked), mix: mix)
    }
}

/// Benchmark M3.3: SIGKILL of broker@paper -> HALTED journaled by ast-risk.
///
/// For each kill, with every child ready and Safe Mode ACTIVE: take `CLOCK_REALTIME`, SIGKILL the
/// broker, then poll ast-risk's journal (read-only SQLite, every 0.5 ms) for the next
/// `safe_mode.transition` to HALTED. The measurement is that entry's `at` (the time ast-risk
/// handled astd's lifecycle event, on the same clock) minus the kill; the time the bench first
/// sees the entry committed is reported beside it as an upper bound. Then wait until the broker
/// is back and ready, `astctl resume --to active` until accepted, and go again.
struct BrokerKillBenchmark {
    var tree: RiskTree
    var kills: Int

    struct Summary {
        /// Kill -> the transition's `at`, sorted.
        var toHalted: [UInt64]
        /// Kill -> the bench read the committed entry, sorted.
        var toSeen: [UInt64]
    }

    func run(progress: @Sendable (String) -> Void) throws -> Summary {
        let journal = try TransitionReader(path: tree.riskJournal)
        var toHalted: [UInt64] = [], toSeen: [UInt64] = []
        for k in 0..<kills {
            let status = try tree.waitAllReady { $0.safeMode?.state == .active && $0.safeMode?.downBrokers.isEmpty == true }
            guard let pid = status.children.first(where: { $0.name == "broker@paper" })?.pid else {
                throw BenchError("no pid for broker@paper in astctl status")
            }
            let after = try journal.lastSeq()
            let killedAt = Realtime.now()
            guard kill(pid, SIGKILL) == 0 else { throw BenchError("kill \(pid): \(String(cString: strerror(errno)))") }
            let deadline = Monotonic.now() + 10_000_000_000
            var found: (SafeModeTransition, Int64)?
            while found == nil {
                if let t = try journal.halted(after: after) { found = (t, Realtime.now()) } else { usleep(500) }
                if Monotonic.now() > deadline { throw BenchError("no HALTED transition in \(tree.riskJournal) within 10 s of the kill") }
            }
            let (transition, seenAt) = found!
            guard transition.cause.process?.description == "broker@paper" else {
                throw BenchError("HALTED for another cause: \(transition.cause.text)")
            }
            toHalted.append(UInt64(max(0, transition.at.nanoseconds - killedAt)))
            toSeen.append(UInt64(max(0, seenAt - killedAt)))
            progress("halt: kill \(k + 1) of \(kills): HALTED journaled \(Format.duration(Double(toHalted.last!))) after the kill")
            try resume()
        }
        return Summary(toHalted: toHalted.sorted(), toSeen: toSeen.sorted())
    }

    /// Once the broker is back and ready and ast-risk has seen it, `astctl resume --to active`
    /// (refused, with the reasons, while ast-risk still counts the broker down).
    func resume() throws {
        _ = try tree.waitAllReady()
        let deadline = Monotonic.now() + 30_000_000_000
        while true {
            let (code, stdout) = try tree.astctl(["resume", "--to", "active"])
            if code == 0 { return }
            if Monotonic.now() > deadline { throw BenchError("astctl resume refused for 30 s: \(stdout)") }
            usleep(20_000)
        }
    }
}

/// Reads ast-risk's journal read-only through the sqlite3 C API, beside the running writer
/// (WAL mode: each query sees the latest commit).
final class TransitionReader {
    private var db: OpaquePointer?
    private let query: OpaquePointer
    private let maxSeq: OpaquePointer

    init(path: String) throws {
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else {
            throw BenchError("cannot open \(path) read-only: \(String(cString: sqlite3_errmsg(db)))")
        }
        sqlite3_busy_timeout(db, 1_000)
        var q: OpaquePointer?, m: OpaquePointer?
        guard
            sqlite3_prepare_v2(db, "SELECT body FROM entries WHERE seq > ? AND type = 'safe_mode.transition' ORDER BY seq", -1, &q, nil)
                == SQLITE_OK,
            sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(seq), 0) FROM entries", -1, &m, nil) == SQLITE_OK, let q, let m
        else { throw BenchError("cannot query \(path): \(String(cString: sqlite3_errmsg(db)))") }
        query = q
        maxSeq = m
    }

    deinit {
        sqlite3_finalize(query)
        sqlite3_finalize(maxSeq)
        sqlite3_close(db)
    }

    /// The journal's last sequence number now.
    func lastSeq() throws -> Int64 {
        defer { sqlite3_reset(maxSeq) }
        guard sqlite3_step(maxSeq) == SQLITE_ROW else {
            throw BenchError("cannot read the journal: \(String(cString: sqlite3_errmsg(db)))")
        }
        return sqlite3_column_int64(maxSeq, 0)
    }

    /// The first transition to HALTED journaled after `seq`, if any yet.
    func halted(after seq: Int64) throws -> SafeModeTransition? {
        defer { sqlite3_reset(query) }
        sqlite3_bind_int64(query, 1, seq)
        while true {
            let rc = sqlite3_step(query)
            if rc == SQLITE_DONE || rc == SQLITE_BUSY { return nil }
            guard rc == SQLITE_ROW else { throw BenchError("cannot read the journal: \(String(cString: sqlite3_errmsg(db)))") }
            let n = Int(sqlite3_column_bytes(query, 0))
            let body = n == 0 ? Data() : Data(bytes: sqlite3_column_blob(query, 0), count: n)
            let t = try JSONDecoder().decode(SafeModeTransition.self, from: body)
            if t.to == .halted { return t }
        }
    }
}
