import ASTBus
import ASTCore
import ASTJournal
import ASTRuntime
import ASTSupervision
import ASTTestKit
import ASTWire
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A temporary tree run by a real astd: its own config directory (the repository's
/// etc/ast.yaml plus an `ast.test.yaml` overlay), runtime and state directories.
final class SupervisedTree {
    let dir: TemporaryDirectory
    let astd: ChildProcess
    var environment: [String: String]

    /// - Parameters:
    ///   - overlay: YAML written as `ast.test.yaml` on top of the shipped configuration.
    ///   - extraEnvironment: added to astd's environment (its children inherit it).
    init(overlay: String = "", extraEnvironment: [String: String] = [:]) async throws {
        dir = try TemporaryDirectory(prefix: "ast-sup")
        try FileManager.default.createDirectory(atPath: dir("etc"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: BuildProducts.packageRoot + "/etc/ast.yaml", toPath: dir("etc/ast.yaml"))
        try ("logging:\n  level: debug\n" + overlay).write(toFile: dir("etc/ast.test.yaml"), atomically: true, encoding: .utf8)
        environment = [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "AST_CONFIG_DIR": dir("etc"), "AST_ENV": "test",
            "AST_RUNTIME_DIR": dir("run"), "AST_STATE_DIR": dir("state"),
            // Tests speak to the tree as identities astd does not run (`strategy@test`).
            "AST_FAULT_ADMIT_UNSPAWNED_PEERS": "1",
            // The dashboard (a default child) on a port the kernel picks: trees of tests never share one.
            "AST_WEB__PORT": "0",
        ].merging(extraEnvironment) { _, extra in extra }
        astd = try ChildProcess(
            try BuildProducts.executable("astd"), ["--foreground"], environment: environment,
            name: "astd", outputDirectory: dir.path)
    }

    deinit {
        // astd's children die with it (PR_SET_PDEATHSIG), so killing astd cleans up the tree.
        astd.signal(SIGKILL)
        dir.remove()
    }

    /// Runs `astctl ARGS` against this tree; its exit code and what it printed.
    func astctl(_ arguments: [String], timeout: Duration = .seconds(20)) throws -> (code: Int32, stdout: String, stderr: String) {
        let ctl = try ChildProcess(
            try BuildProducts.executable("astctl"), arguments, environment: environment,
            name: "astctl-\(UUID().uuidString.prefix(8))", outputDirectory: dir.path)
        var code: Int32 = -1
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let s = ctl.exitStatus {
                code = ChildProcess.exitCode(s) ?? -1
                break
            }
            usleep(10_000)
        }
        return (code, ctl.stdout, ctl.stderr)
    }

    /// `astctl status --json`, decoded; nil while astd does not answer.
    func status() throws -> (TreeStatus, Int32)? {
        let (code, stdout, _) = try astctl(["status", "--json"])
        guard code == 0 || code == 3 else { return nil }
        return (try JSONDecoder().decode(TreeStatus.self, from: Data(stdout.utf8)), code)
    }

    func waitAllReady(timeout: Duration = .seconds(30)) async throws -> TreeStatus {
        var last: TreeStatus?
        try await eventually(timeout: timeout, every: .milliseconds(100), "every child ready") {
            guard astd.isRunning else { throw HarnessError("astd exited: \(astd.stderr.suffix(2000))") }
            guard let (s, code) = try status() else { return false }
            last = s
            return code == 0 && s.children.allSatisfy(\.ready)
        }
        return last!
    }

    func child(_ name: String, in status: TreeStatus) -> ChildStatusReport? { status.children.first { $0.name == name } }

    /// The overlay that plays `sessions` on the causal replay clock, followed by `extra` YAML.
    static func replay(sessions: Int, _ extra: String = "") -> String {
        """
        clock:
          mode: replay
        marketdata:
          replay:
            sessions: \(sessions)

        """ + extra
    }

    /// Waits until market data says the replay finished; on giving up, says what it last said.
    func waitForTheReplayToFinish(timeout: Duration) async throws {
        var seen = "-"
        do {
            try await eventually(timeout: timeout, every: .milliseconds(500), "the replay to finish") {
                guard astd.isRunning else { throw HarnessError("astd exited: \(astd.stderr.suffix(2000))") }
                guard let (s, _) = try status() else { return false }
                seen = child("marketdata@main", in: s)?.statusText ?? "-"
                return seen.hasPrefix("replay finished")
            }
        } catch {
            Issue.record("the replay did not finish; marketdata last said: \(seen)")
            throw error
        }
    }

    /// Stops the tree (so that every journal is complete on disk) and runs `ast engine
    /// --compare-state-dir` over it; the engine's exit code and what it printed. Prints the
    /// `engine:` and `parity:` lines, which show that the match is not vacuous.
    func stopAndCompareWithTheEngine(sessions: Int, timeout: Duration) async throws -> (code: Int32?, stdout: String, stderr: String) {
        astd.signal(SIGTERM)
        try await eventually(timeout: .seconds(30), every: .milliseconds(100), "astd to exit") { astd.exitStatus != nil }
        let ast = try ChildProcess(
            try BuildProducts.executable("ast"), ["engine", "--sessions", "\(sessions)", "--compare-state-dir", dir("state")],
            environment: environment, name: "ast-engine", outputDirectory: dir.path)
        try await eventually(timeout: timeout, every: .milliseconds(200), "ast engine to finish") { ast.exitStatus != nil }
        for line in ast.stdout.split(separator: "\n") where line.hasPrefix("engine:") || line.hasPrefix("parity:") { print(line) }
        return (ChildProcess.exitCode(ast.exitStatus!), ast.stdout, ast.stderr)
    }

    func isAlive(_ pid: Int32) -> Bool {
        // A zombie is dead for our purposes; /proc tells the difference.
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        return !(stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") ?? true)
    }
}

/// astd with real worker processes (M2): the tree starts, restarts, detects hangs, reports
/// lifecycle events, gives up on a crash loop, and never leaves a worker behind.
@Suite(.serialized) struct SupervisorTests {
    static let workers = ["marketdata@main", "strategy@main", "risk@main", "broker@paper", "reconciler@main", "notifier@main"]
    /// The shipped tree's children (etc/ast.yaml): the workers, then the dashboard.
    static let shipped = workers + ["web@main"]

    @Test(.timeLimit(.minutes(2)))
    func astdStartsTheTreeAndStatusShowsEveryChildReady() async throws {
        let tree = try await SupervisedTree()
        let status = try await tree.waitAllReady()
        #expect(status.children.map(\.name) == Self.shipped)
        #expect(status.state == "ok" && status.summary == "7/7 ready" && status.supervisorPID == tree.astd.pid)
        #expect(status.children.allSatisfy { $0.pid != nil && $0.state == "running" && $0.restarts == 0 })
        #expect(tree.child("broker@paper", in: status)?.onCrash == "halt")
    }

    @Test(.timeLimit(.minutes(2)))
    func aKilledWorkerIsRestartedAndTheOthersKeepTheirPids() async throws {
        let tree = try await SupervisedTree()
        let before = try await tree.waitAllReady()
        let victim = try #require(tree.child("reconciler@main", in: before)?.pid)
        kill(victim, SIGKILL)
        try await eventually(timeout: .seconds(20), "the reconciler to be restarted") {
            guard let (s, _) = try tree.status(), let c = tree.child("reconciler@main", in: s) else { return false }
            return c.restarts == 1 && c.ready && c.pid != victim
        }
        let after = try await tree.waitAllReady()
        for name in Self.workers where name != "reconciler@main" {
            #expect(tree.child(name, in: after)?.pid == tree.child(name, in: before)?.pid, "\(name) kept its pid")
        }
        #expect(tree.child("reconciler@main", in: after)?.lastExit == "killed by signal 9 (SIGKILL)")
    }

    @Test(.timeLimit(.minutes(2)))
    func aStoppedWorkerMissesItsWatchdogAndIsReplaced() async throws {
        let tree = try await SupervisedTree(
            overlay: """
                supervisor:
                  watchdog_grace_ms: 500
                """ + "\n" + Self.children(watchdogMs: 1000))
        let before = try await tree.waitAllReady()
        let hung = try #require(tree.child("strategy@main", in: before)?.pid)
        kill(hung, SIGSTOP)
        try await eventually(timeout: .seconds(20), "the hung strategy to be replaced") {
            guard let (s, _) = try tree.status(), let c = tree.child("strategy@main", in: s) else { return false }
            return c.restarts == 1 && c.pid != hung && c.ready
        }
        #expect(!tree.isAlive(hung))
        let (after, _) = try #require(try tree.status())
        #expect(tree.child("strategy@main", in: after)?.lastExit == "missed its watchdog deadline")
        #expect(tree.astd.stderr.contains("strategy@main missed its watchdog"))
    }

    @Test(.timeLimit(.minutes(2)))
    func aKilledBrokerReachesTheRiskGateAsALifecycleEventInItsJournal() async throws {
        let tree = try await SupervisedTree()
        let before = try await tree.waitAllReady()
        let broker = try #require(tree.child("broker@paper", in: before)?.pid)
        kill(broker, SIGKILL)
        let riskJournal = tree.dir("state/journal/risk@main.sqlite")
        var event: LifecycleEvent?
        try await eventually(timeout: .seconds(20), "the broker's exit in ast-risk's journal") {
            for entry in try WorkerTree.entries(path: riskJournal, process: "risk@main") where entry.record.type == "lifecycle" {
                if case .lifecycle(let e) = try EnvelopeCodec.decode(entry.record.body).message,
                    e.kind == .exited, e.child?.description == "broker@paper", e.pid == broker
                {
                    event = e
                }
            }
            return event != nil
        }
        #expect(event?.signal == SIGKILL && event?.onCrash == .halt)
        #expect(tree.astd.isRunning)
    }

    @Test(.timeLimit(.minutes(2)))
    func noWorkerSurvivesAKilledAstd() async throws {
        let tree = try await SupervisedTree()
        let status = try await tree.waitAllReady()
        let pids = status.children.compactMap(\.pid)
        #expect(pids.count == Self.shipped.count)
        tree.astd.signal(SIGKILL)
        try await tree.astd.waitForExit()
        try await eventually(timeout: .seconds(10), "every worker to die with astd") { pids.allSatisfy { !tree.isAlive($0) } }
    }

    @Test(.timeLimit(.minutes(2)))
    func sigtermStopsTheTreeInReverseStartOrderAndExitsZero() async throws {
        let tree = try await SupervisedTree()
        let status = try await tree.waitAllReady()
        let pids = status.children.compactMap(\.pid)
        tree.astd.signal(SIGTERM)
        let code = try await tree.astd.waitForExit(timeout: .seconds(60))
        #expect(ChildProcess.exitCode(code) == 0)
        #expect(pids.allSatisfy { !tree.isAlive($0) })
        let log = tree.astd.stderr
        let order = Self.shipped.reversed().compactMap { name in log.range(of: "stopped \(name) pid")?.lowerBound }
        #expect(order.count == Self.shipped.count && order == order.sorted(), "stopped in reverse start order")
    }

    @Test(.timeLimit(.minutes(2)))
    func aCrashLoopHitsTheIntensityLimitAndAstdExitsNonZero() async throws {
        let tree = try await SupervisedTree(
            overlay: """
                supervisor:
                  intensity: 3
                  period_ms: 30000
                  restart_backoff_ms: 10
                  restart_backoff_max_ms: 20
                  children:
                    - name: risk@main
                      executable: ast-risk
                      arguments: []
                      restart: permanent
                      shutdown_timeout_ms: 5000
                      watchdog_ms: 10000
                      on_crash: halt
                    - name: broker@paper
                      executable: /bin/false
                      arguments: []
                      restart: permanent
                      shutdown_timeout_ms: 1000
                      watchdog_ms: 0
                      on_crash: halt
                """)
        let code = try await tree.astd.waitForExit(timeout: .seconds(60))
        #expect(ChildProcess.exitCode(code) == 1)
        #expect(tree.astd.stderr.contains("giving up"))
        #expect(
            !FileManager.default.fileExists(atPath: tree.dir("run/risk@main.sock"))
                || !UnixSocket.isLive(path: tree.dir("run/risk@main.sock")))
    }

    /// The shipped children with another watchdog interval.
    static func children(watchdogMs: Int) -> String {
        "  children:\n"
            + workers.map { name in
                let role = name.split(separator: "@")[0]
                return """
                        - name: \(name)
                          executable: ast-\(role)
                          arguments: []
                          restart: permanent
                          shutdown_timeout_ms: 5000
                          watchdog_ms: \(watchdogMs)
                          on_crash: \(role == "broker" || role == "risk" || role == "reconciler" ? "halt" : "none")

                    """
            }.joined()
    }
}
