import ASTTestKit
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The units in units/ checked by systemd's own tools, and run under a real systemd booted as
/// PID 1 of private namespaces by scripts/sd-harness, installed there by scripts/install.
@Suite(.serialized) struct SystemdSandboxTests {
    /// The bus sockets ast.socket opens, one per worker of the default tree.
    static let defaultWorkers = [
        "marketdata@main", "strategy@main", "risk@main", "broker@paper", "reconciler@main", "notifier@main", "web@main",
    ]
    static let unitFiles = ["ast.target", "ast.service", "ast.socket", "ast-bus@.socket", "ast-failed.service"]

    // MARK: - systemd-analyze on the host

    @Test(.timeLimit(.minutes(2)))
    func unitFilesPassSystemdAnalyzeVerify() async throws {
        let shell = try CommandRunner()
        let units = try UnitCopies(executablesIn: BuildProducts.directory)
        // Every unit, and every default instance of the bus socket template (loaded through it).
        let paths = Self.unitFiles.map { units.dir($0) } + Self.defaultWorkers.map { units.dir("ast-bus@\($0).socket") }
        let result = try await shell.run(try CommandRunner.which("systemd-analyze"), ["verify"] + paths)
        print(
            "systemd-analyze verify \(Self.unitFiles.joined(separator: " ")) + \(Self.defaultWorkers.count) bus sockets: exit \(result.status)\n\(result.stderr)"
        )
        #expect(result.status == 0, "systemd-analyze verify failed:\n\(result.stderr)")
        // Warnings (unknown keys, bad values ...) do not change the exit code: none is allowed.
        let warnings = result.stderr.split(separator: "\n").filter {
            $0.contains(units.dir.path) || $0.contains("ast.") || $0.contains("ast-bus@")
        }
        #expect(warnings.isEmpty, "systemd-analyze verify warned:\n\(warnings.joined(separator: "\n"))")
    }

    @Test(.timeLimit(.minutes(2)))
    func astServiceSecurityExposureIsAtMostTwo() async throws {
        let shell = try CommandRunner()
        let units = try UnitCopies(executablesIn: BuildProducts.directory)
        let result = try await shell.run(
            try CommandRunner.which("systemd-analyze"), ["security", "--offline=true", "--no-pager", units.dir("ast.service")])
        print("systemd-analyze security ast.service:\n\(result.stdout)\(result.stderr)")
        let score = try #require(SystemdAnalyze.exposure(result.stdout), "no overall exposure level in:\n\(result.stdout)")
        print("ast.service exposure: \(score)")
        #expect(score <= 2.0)
    }

    // MARK: - scripts/install under a real systemd

    @Test(.enabled(if: SystemdSandbox.isSupported, SystemdSandbox.requirement), .timeLimit(.minutes(5)))
    func installPutsEverythingInPlaceAndUninstallRemovesIt() async throws {
        let hostHadConfig = FileManager.default.fileExists(atPath: "/etc/ast")
        let sandbox = try await SystemdSandbox.up()
        defer { sandbox.down() }
        try await sandbox.installAST()

        // The user, the executables, the configuration, and units systemd has loaded.
        let passwd = try await sandbox.check(["getent", "passwd", "ast"]).stdout
        #expect(passwd.contains(":/var/lib/ast:/usr/sbin/nologin"), "ast user: \(passwd)")
        for exe in [
            "astd", "astctl", "ast-marketdata", "ast-strategy", "ast-risk", "ast-broker", "ast-reconciler", "ast-notifier", "ast-web",
        ] {
            try await sandbox.check(["test", "-x", "/usr/local/bin/\(exe)"])
        }
        try await sandbox.check(["test", "-f", "/etc/ast/ast.yaml"])
        for unit in ["ast.target", "ast.service", "ast.socket", "ast-bus@risk@main.socket"] {
            #expect(try await sandbox.show(unit, "LoadState") == "loaded", "\(unit) loaded after install's daemon-reload")
        }
        let wants = try await sandbox.show("ast.socket", "Wants")
        for worker in Self.defaultWorkers {
            #expect(wants.contains("ast-bus@\(worker).socket"), "ast.socket wants the bus socket of \(worker)")
        }

        // Installed with real paths and the real user: verify and security as systemd sees them.
        let verify = try await sandbox.exec([
            "systemd-analyze", "verify", "ast.target", "ast.service", "ast.socket",
            "ast-bus@risk@main.socket",
        ])
        #expect(verify.status == 0 && verify.stderr.isEmpty, "verify in the sandbox:\n\(verify.stderr)")
        let security = try await sandbox.check(["systemd-analyze", "security", "--no-pager", "ast.service"])
        let score = try #require(SystemdAnalyze.exposure(security.stdout))
        print("systemd-analyze security ast.service (loaded by the sandbox's systemd): \(score)")
        #expect(score <= 2.0)

        // The sockets: all eight open with the names astd expects, owned by ast, mode 0660.
        try await sandbox.check(["systemctl", "start", "ast.socket"])
        for worker in Self.defaultWorkers {
            let unit = "ast-bus@\(worker).socket"
            #expect(try await sandbox.show(unit, "ActiveState") == "active")
            #expect(try await sandbox.show(unit, "FileDescriptorName") == worker)
            #expect(try await sandbox.show(unit, "Listen") == "/run/ast/\(worker).sock (Stream)")
        }
        #expect(try await sandbox.show("ast.socket", "FileDescriptorName") == "control")
        let modes = try await sandbox.check(
            ["stat", "-c", "%n %U:%G %A", "/run/ast/control.sock"]
                + Self.defaultWorkers.map { "/run/ast/\($0).sock" }
        ).stdout
        for line in modes.split(separator: "\n") {
            #expect(line.hasSuffix(" ast:ast srw-rw----"), "socket owner and mode: \(line)")
        }
        #expect(try await sandbox.show("ast.service", "ActiveState") == "inactive", "opening the sockets starts nothing")
        try await sandbox.check(["systemctl", "stop", "ast.socket"])
        #expect(try await sandbox.show("ast-bus@risk@main.socket", "ActiveState") == "inactive", "bus sockets stop with ast.socket")

        // A second install keeps the machine's own settings.
        try await sandbox.check(["sh", "-c", "echo 'logging: {level: debug}' > /etc/ast/ast.local.yaml"])
        try await sandbox.installAST()
        #expect(try await sandbox.check(["cat", "/etc/ast/ast.local.yaml"]).stdout.contains("debug"))

        // uninstall keeps state, local settings and the user; --purge removes them.
        try await sandbox.check(["install", "-d", "-o", "ast", "-g", "ast", "/var/lib/ast/journal"])
        try await sandbox.check([BuildProducts.packageRoot + "/scripts/uninstall"])
        for gone in [
            "/usr/local/bin/astd", "/usr/local/bin/ast-risk", "/etc/systemd/system/ast.service",
            "/etc/systemd/system/ast-bus@.socket", "/etc/ast/ast.yaml",
        ] {
            #expect(try await sandbox.exec(["test", "-e", gone]).status != 0, "\(gone) removed")
        }
        for kept in ["/etc/ast/ast.local.yaml", "/var/lib/ast/journal"] {
            #expect(try await sandbox.exec(["test", "-e", kept]).status == 0, "\(kept) kept")
        }
        #expect(try await sandbox.exec(["getent", "passwd", "ast"]).status == 0, "the user is kept")
        #expect(try await sandbox.show("ast.service", "LoadState") == "not-found")
        try await sandbox.check([BuildProducts.packageRoot + "/scripts/uninstall", "--purge"])
        for gone in ["/etc/ast", "/var/lib/ast"] {
            #expect(try await sandbox.exec(["test", "-e", gone]).status != 0, "\(gone) purged")
        }
        #expect(try await sandbox.exec(["getent", "passwd", "ast"]).status != 0, "the user is purged")

        try await sandbox.shutdownAndCheckNothingIsLeft()
        #expect(FileManager.default.fileExists(atPath: "/etc/ast") == hostHadConfig, "the host's /etc is untouched")
    }

    // MARK: - a worker under systemd, with ast.service's sandbox

    @Test(.enabled(if: SystemdSandbox.isSupported, SystemdSandbox.requirement), .timeLimit(.minutes(5)))
    func workerServesTheNamedSocketAndLogsStructuredEntriesToJournald() async throws {
        let sandbox = try await SystemdSandbox.up()
        defer { sandbox.down() }
        let worker = try await WorkerUnit.start(in: sandbox)

        // READY=1 and STATUS= reached systemd; the socket passed by name is the one served.
        let state = try await sandbox.show(worker.service, ["ActiveState", "SubState", "StatusText", "NRestarts", "Result"])
        #expect(
            state == [
                "ActiveState": "active", "SubState": "running", "StatusText": "risk@main serving",
                "NRestarts": "0", "Result": "success",
            ])
        let ping = try await sandbox.astctl(["ping", "risk@main", "--count", "2"])
        #expect(ping.status == 0, "astctl ping through /run/ast/risk@main.sock: \(ping.stdout)\(ping.stderr)")
        #expect(ping.stdout.contains("pong 2 from risk@main"))

        // The watchdog is fed (WATCHDOG=1 at half of WatchdogSec=2): over three intervals the
        // ping time keeps moving and systemd never has to replace the worker.
        var pings: Set<String> = []
        try await eventuallyAsync(timeout: .seconds(30), "three watchdog pings") {
            pings.insert(try await sandbox.show(worker.service, "WatchdogTimestampMonotonic"))
            return pings.count >= 4
        }
        #expect(try await sandbox.show(worker.service, ["NRestarts", "SubState"]) == ["NRestarts": "0", "SubState": "running"])

        // The journald handler, for real: native-protocol entries with our structured fields.
        let entries = try await sandbox.journal(unit: worker.service)
        let starting = try #require(
            entries.first { $0["MESSAGE"] == "risk@main starting" },
            "no 'risk@main starting' entry in \(entries.compactMap { $0["MESSAGE"] })")
        #expect(starting["_TRANSPORT"] == "journal", "sent with sd_journal_send, not written to stderr")
        #expect(starting["SYSLOG_IDENTIFIER"] == "ast-risk")
        #expect(starting["PRIORITY"] == "6")
        #expect(starting["AST_LABEL"] == "ast.risk")
        #expect(starting["AST_PROCESS"] == "risk@main")
        #expect(starting["AST_SOCKET"] == "passed by the service manager as 'risk@main'")
        #expect(starting["CODE_FILE"]?.hasSuffix("WorkerRuntime.swift") == true)
        #expect(starting["CODE_FUNC"] != nil && starting["CODE_LINE"] != nil)
        #expect(starting["_SYSTEMD_UNIT"] == worker.service)
        #expect(entries.contains { $0["MESSAGE"] == "watchdog enabled" && $0["AST_INTERVAL"] != nil })
        // Nothing went to stderr instead (libdispatch's own syslog() complaints are not ours).
        let unstructured = entries.filter { $0["_COMM"] == "ast-risk" && $0["_TRANSPORT"] == "stdout" }
        #expect(unstructured.isEmpty, "lines the worker wrote to stdout/stderr: \(unstructured.compactMap { $0["MESSAGE"] })")

        // It runs with ast.service's identity and sandbox.
        let pid = try await sandbox.show(worker.service, "MainPID")
        let status = try await sandbox.check(["cat", "/proc/\(pid)/status"]).stdout
        #expect(status.contains("NoNewPrivs:\t1"))
        #expect(status.contains("CapEff:\t0000000000000000"))
        #expect(status.contains("Seccomp:\t2"))
        let uid = try await sandbox.check(["id", "-u", "ast"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(status.contains("Uid:\t\(uid)\t"))

        try await worker.stop()
        try await sandbox.shutdownAndCheckNothingIsLeft()
    }

    @Test(.enabled(if: SystemdSandbox.isSupported, SystemdSandbox.requirement), .timeLimit(.minutes(5)))
    func killedOrHungWorkerIsReplacedBySystemdOnTheSameSocket() async throws {
        let sandbox = try await SystemdSandbox.up()
        defer { sandbox.down() }
        let worker = try await WorkerUnit.start(in: sandbox)
        let socket = "/run/ast/risk@main.sock"
        let inode = try await sandbox.check(["stat", "-c", "%i", socket]).stdout
        let firstPID = try await sandbox.show(worker.service, "MainPID")

        // SIGKILL: Restart=on-failure brings it back after RestartSec=; the socket stays open the
        // whole time, so a client that connects in between waits in the backlog and is served.
        try await sandbox.check(["systemctl", "kill", "-s", "KILL", worker.service])
        try await eventuallyAsync("the killed worker to wait for its restart") {
            try await sandbox.show(worker.service, "SubState") == "auto-restart"
        }
        #expect(try await sandbox.show(worker.socket, "SubState") == "listening")
        let pingDuringRestart = try await sandbox.astctl(["ping", "risk@main", "--count", "1"])
        #expect(pingDuringRestart.status == 0, "a ping sent while the worker was down: \(pingDuringRestart.stderr)")
        try await eventuallyAsync("the worker to be running again") {
            try await sandbox.show(worker.service, ["NRestarts", "SubState", "StatusText"])
                == ["NRestarts": "1", "SubState": "running", "StatusText": "risk@main serving"]
        }
        let secondPID = try await sandbox.show(worker.service, "MainPID")
        #expect(secondPID != firstPID && secondPID != "0")
        #expect(try await sandbox.check(["stat", "-c", "%i", socket]).stdout == inode, "the same socket, not a new one")

        // SIGSTOP: the worker stops pinging, systemd's watchdog fires and replaces it.
        try await sandbox.check(["systemctl", "kill", "-s", "STOP", worker.service])
        try await eventuallyAsync(timeout: .seconds(60), "the hung worker to be replaced") {
            try await sandbox.show(worker.service, ["NRestarts", "SubState"]) == ["NRestarts": "2", "SubState": "running"]
        }
        let messages = try await sandbox.journal(unit: worker.service).compactMap { $0["MESSAGE"] }
        #expect(messages.contains { $0.contains("Watchdog timeout") }, "systemd says why: \(messages.suffix(20))")
        #expect(try await sandbox.show(worker.service, "MainPID") != secondPID)
        #expect(try await sandbox.astctl(["ping", "risk@main", "--count", "1"]).status == 0)
        #expect(try await sandbox.check(["stat", "-c", "%i", socket]).stdout == inode)

        try await worker.stop()
        try await sandbox.shutdownAndCheckNothingIsLeft()
    }

    // MARK: - the whole tree (astd)

    @Test(.timeLimit(.minutes(5)))
    func astdTreeStartsUnderSystemd() async throws {
        let sandbox = try await SystemdSandbox.up()
        defer { sandbox.down() }
        try await sandbox.installAST()

        try await sandbox.check(["systemctl", "start", "ast.target"])
        // astctl status: exit 0 once every child is ready (3 degraded, 1 astd unreachable).
        try await eventuallyAsync(timeout: .seconds(120), "astctl status to report every worker ready") {
            try await sandbox.astctl(["status"]).status == 0
        }
        #expect(try await sandbox.show("ast.service", ["ActiveState", "SubState"]) == ["ActiveState": "active", "SubState": "running"])
        for worker in Self.defaultWorkers {
            #expect(try await sandbox.show("ast-bus@\(worker).socket", "SubState") == "running", "\(worker)'s socket was passed to astd")
        }
        // The dashboard is on by default: on loopback, inside ast.service's sandbox, read-only without
        // the ast_web_token credential.
        var api = "-"
        try await eventuallyAsync(timeout: .seconds(30), every: .milliseconds(250), "ast-web to answer /api/v1/status") {
            let r = try await sandbox.exec(["curl", "-sS", "-m", "5", "http://127.0.0.1:8787/api/v1/status"])
            api = String(r.stdout.prefix(300) + r.stderr.prefix(300))
            return r.status == 0 && r.stdout.contains("\"supervisor_pid\"") && r.stdout.contains("\"web@main\"")
        }
        print("ast-web under systemd: \(api.prefix(120))...")
        let halt = try await sandbox.exec([
            "curl", "-sS", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "http://127.0.0.1:8787/api/v1/halt",
        ])
        #expect(halt.stdout == "403", "without the ast_web_token credential the dashboard is read-only: \(halt.stdout) \(halt.stderr)")

        // SIGKILL one worker: astd (not systemd) restarts it, on the same socket.
        let victim = try await sandbox.check(["pgrep", "-x", "ast-risk"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try await sandbox.check(["kill", "-KILL", victim])
        try await eventuallyAsync(timeout: .seconds(60), "the killed worker to be back and the tree ready") {
            let now = try await sandbox.exec(["pgrep", "-x", "ast-risk"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !now.isEmpty, now != victim else { return false }
            return try await sandbox.astctl(["status"]).status == 0
        }
        #expect(try await sandbox.astctl(["ping", "risk@main", "--count", "1"]).status == 0)
        let service = try await sandbox.show("ast.service", ["NRestarts", "Result", "StatusText"])
        print("ast.service after a worker crash: \(service)")
        #expect(service["NRestarts"] == "0", "astd itself was not restarted")
        #expect(service["Result"] == "success")
        #expect(service["StatusText"]?.contains("ready") == true)

        // Stopping the target stops everything, and returns only once no AST process is left
        // (ast.service is ordered after ast.target, so the target's stop job waits for it).
        let running = try await sandbox.check(["pgrep", "-f", "/usr/local/bin/ast"]).stdout.split(separator: "\n").count
        try await sandbox.check(["systemctl", "stop", "ast.target"])
        let left = try await sandbox.exec(["pgrep", "-a", "-f", "/usr/local/bin/ast"])
        print("systemctl stop ast.target returned with \(running) AST processes before, left: \(left.stdout)")
        #expect(left.status == 1, "no AST process when systemctl stop ast.target returns: \(left.stdout)")
        #expect(try await sandbox.show("ast.service", "ActiveState") == "inactive")
        try await sandbox.shutdownAndCheckNothingIsLeft()
    }
}

extension SystemdSandboxTests {
    /// Exit 78 (astd refused its configuration) is not retried: the unit fails at once, and the
    /// P0s (ExecStopPost= and the OnFailure= unit) reach the system log at CRIT without the tree.
    @Test(.enabled(if: SystemdSandbox.isSupported, SystemdSandbox.requirement), .timeLimit(.minutes(5)))
    func configurationErrorIsNotRestartedAndRaisesAP0InTheSystemLog() async throws {
        let sandbox = try await SystemdSandbox.up()
        defer { sandbox.down() }
        try await sandbox.installAST()
        try await sandbox.check(["sh", "-c", "printf 'supervisor:\\n  intensity: 5000\\n' > /etc/ast/ast.local.yaml"])
        let start = try await sandbox.exec(["systemctl", "start", "ast.target"])
        print("systemctl start ast.target with a bad configuration: exit \(start.status) \(start.stderr)")
        try await eventuallyAsync(timeout: .seconds(60), "ast.service to fail") {
            try await sandbox.show("ast.service", "ActiveState") == "failed"
        }
        // Longer than RestartSec=: a retry would have started by now.
        try await Task.sleep(for: .seconds(8))
        let service = try await sandbox.show("ast.service", ["ActiveState", "NRestarts", "ExecMainStatus", "Result"])
        print("ast.service after exit 78: \(service)")
        #expect(service == ["ActiveState": "failed", "NRestarts": "0", "ExecMainStatus": "78", "Result": "exit-code"])
        var crit = ""
        try await eventuallyAsync(timeout: .seconds(30), "both P0 lines at CRIT in the system log") {
            crit = try await sandbox.exec(["journalctl", "-p", "crit", "--no-pager", "-o", "cat"]).stdout
            return crit.contains("AST P0: ast.service failed and is not restarted")
                && crit.contains("AST P0: astd stopped: result exit-code")
        }
        print("CRIT lines:\n\(crit)")
        #expect(try await sandbox.show("ast.socket", "ActiveState") != "failed", "the control socket is not failed with the service")
        try await sandbox.shutdownAndCheckNothingIsLeft()
    }

    /// astd killed again and again: systemd restarts it after RestartSec= every time (no start
    /// limit that leaves ast.service and every socket failed), and each crash logs a P0 at CRIT;
    /// a hung astd is killed by the watchdog and its P0 follows at once.
    @Test(.enabled(if: SystemdSandbox.isSupported, SystemdSandbox.requirement), .timeLimit(.minutes(5)))
    func anAstdCrashLoopIsRestartedForeverAndNeverFailsTheSockets() async throws {
        let sandbox = try await SystemdSandbox.up()
        defer { sandbox.down() }
        try await sandbox.installAST()
        try await sandbox.check(["systemctl", "start", "ast.target"])
        try await eventuallyAsync(timeout: .seconds(120), "astctl status to report every worker ready") {
            try await sandbox.astctl(["status"]).status == 0
        }
        // The old unit gave up after 5 starts in 10 minutes: 7 starts here.
        for round in 1...6 {
            let pid = try await sandbox.show("ast.service", "MainPID")
            try await sandbox.check(["kill", "-KILL", pid])
            try await eventuallyAsync(timeout: .seconds(90), "astd to be restarted after kill \(round)") {
                let now = try await sandbox.show("ast.service", ["MainPID", "ActiveState"])
                return now["ActiveState"] == "active" && now["MainPID"] != pid && now["MainPID"] != "0"
            }
        }
        let service = try await sandbox.show("ast.service", ["ActiveState", "NRestarts"])
        print("ast.service after 6 kills of astd: \(service)")
        #expect(service["ActiveState"] == "active" && Int(service["NRestarts"] ?? "") ?? 0 >= 6)
        for socket in ["ast.socket"] + Self.defaultWorkers.map({ "ast-bus@\($0).socket" }) {
            #expect(try await sandbox.show(socket, "ActiveState") == "active", "\(socket) stays active")
        }
        let crit = try await sandbox.exec(["journalctl", "-p", "crit", "--no-pager", "-o", "cat"]).stdout
        let p0s = crit.split(separator: "\n").filter { $0.contains("AST P0: astd stopped: result signal") }
        #expect(p0s.count >= 6, "a P0 per crash at CRIT:\n\(crit)")
        try await eventuallyAsync(timeout: .seconds(120), "the tree to be ready again") {
            try await sandbox.astctl(["status"]).status == 0
        }

        // A hung astd (SIGSTOP): systemd's watchdog (WatchdogSec=10s) kills it with SIGKILL
        // (WatchdogSignal=), so ExecStopPost='s P0 follows the watchdog at once. With SIGABRT the
        // stopped astd lived until TimeoutAbortSec= (10 s) and no P0 was logged meanwhile.
        let hung = try await sandbox.show("ast.service", "MainPID")
        try await sandbox.check(["kill", "-STOP", hung])
        var watchdog: Int64?
        var p0: Int64?
        try await eventuallyAsync(timeout: .seconds(90), "systemd's watchdog to fire and ExecStopPost= to log the P0") {
            let entries = try await sandbox.journal(unit: "ast.service")
            func time(_ match: ([String: String]) -> Bool) -> Int64? {
                entries.last(where: match).flatMap { $0["__REALTIME_TIMESTAMP"] }.flatMap { Int64($0) }
            }
            watchdog = time { $0["MESSAGE"]?.contains("Watchdog timeout") == true }
            p0 = time { $0["MESSAGE"]?.contains("AST P0: astd stopped: result watchdog") == true && $0["PRIORITY"] == "2" }
            return watchdog != nil && p0 != nil
        }
        if let watchdog, let p0 {
            print("SystemdSandboxTests: astd SIGSTOPped -> watchdog fired -> P0 at CRIT after \((p0 - watchdog) / 1000) ms")
            #expect(p0 >= watchdog, "the P0 follows the watchdog")
        }
        try await eventuallyAsync(timeout: .seconds(90), "astd replaced after the watchdog") {
            let now = try await sandbox.show("ast.service", ["MainPID", "ActiveState"])
            return now["ActiveState"] == "active" && now["MainPID"] != hung && now["MainPID"] != "0"
        }
        let result = try await sandbox.exec(["systemctl", "show", "ast.service", "-p", "NRestarts"]).stdout
        print("ast.service after the watchdog: \(result.trimmingCharacters(in: .whitespacesAndNewlines))")
        try await sandbox.check(["systemctl", "stop", "ast.target"])
        try await sandbox.shutdownAndCheckNothingIsLeft()
    }
}

// MARK: - support

/// Runs commands to completion, output captured in files of a temporary directory.
final class CommandRunner: Sendable {
    let dir: TemporaryDirectory
    private let counter = Mutex(0)

    init() throws { dir = try TemporaryDirectory(prefix: "ast-sd") }
    deinit { dir.remove() }

    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The environment commands get: a plain PATH, and this test process as the owner of any
    /// sandbox they boot (so that `sd-harness` collects it if this process dies first).
    static var environment: [String: String] {
        ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SDH_OWNER_PID": "\(getpid())", "LANG": "C.UTF-8"]
    }

    static func which(_ name: String) throws -> String {
        for dir in ["/usr/bin", "/bin", "/usr/sbin", "/sbin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        throw HarnessError("\(name) not found (scripts/setup installs it)")
    }

    /// Runs `executable` and waits for it; the exit code (or 128 + signal) and its output.
    func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(180)) async throws -> Result {
        let n = counter.withLock {
            $0 += 1
            return $0
        }
        let child = try ChildProcess(
            executable, arguments, environment: Self.environment,
            name: "cmd\(n)-\((executable as NSString).lastPathComponent)", outputDirectory: dir.path)
        let status: Int32
        do {
            status = try await child.waitForExit(timeout: timeout)
        } catch {
            child.signal(SIGKILL)
            throw HarnessError("\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout): \(child.stderr)")
        }
        let code = ChildProcess.exitCode(status) ?? (128 + (ChildProcess.termSignal(status) ?? 0))
        return Result(status: code, stdout: child.stdout, stderr: child.stderr)
    }

    /// Runs a command synchronously (for `defer`), with a time limit; true when it exited 0.
    func runBlocking(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(120)) -> Bool {
        let n = counter.withLock {
            $0 += 1
            return $0
        }
        guard
            let child = try? ChildProcess(
                executable, arguments, environment: Self.environment,
                name: "cmd\(n)-\((executable as NSString).lastPathComponent)", outputDirectory: dir.path)
        else { return false }
        let deadline = ContinuousClock.now + timeout
        while child.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        guard let status = child.exitStatus else {
            child.signal(SIGKILL)
            return false
        }
        return ChildProcess.exitCode(status) == 0
    }
}

/// Polls an asynchronous `condition` until it holds or `timeout` passes (`eventually` for
/// conditions that run commands).
func eventuallyAsync(
    timeout: Duration = .seconds(60), every interval: Duration = .milliseconds(100),
    _ what: String, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: interval)
    }
    if try await condition() { return }
    throw HarnessError("timed out after \(timeout) waiting for \(what)")
}

/// Reading `systemd-analyze` output.
enum SystemdAnalyze {
    /// The number in "→ Overall exposure level for ast.service: 1.2 OK 🙂" (":-)" in a plain locale).
    static func exposure(_ output: String) -> Double? {
        guard let line = output.split(separator: "\n").last(where: { $0.contains("Overall exposure level for") }),
            let colon = line.range(of: ": "),
            let number = line[colon.upperBound...].split(separator: " ").first
        else { return nil }
        return Double(number)
    }
}

/// Copies of units/ in a temporary directory with ExecStart= pointing at the built executables:
/// `systemd-analyze verify` checks that the executables exist, and those in /usr/local/bin are
/// only there after an install.
final class UnitCopies {
    let dir: TemporaryDirectory

    init(executablesIn products: String) throws {
        _ = try BuildProducts.executable("astd")
        dir = try TemporaryDirectory(prefix: "ast-units")
        for name in SystemdSandboxTests.unitFiles {
            let text = try String(contentsOfFile: "\(BuildProducts.packageRoot)/units/\(name)", encoding: .utf8)
            let rewritten = text.replacingOccurrences(of: "/usr/local/bin/", with: products + "/")
            try rewritten.write(toFile: dir(name), atomically: true, encoding: .utf8)
        }
    }

    deinit { dir.remove() }
}

/// One systemd booted by scripts/sd-harness, as PID 1 of private namespaces.
final class SystemdSandbox: Sendable {
    /// The host PID of the sandbox's systemd: its ID for sd-harness.
    let id: Int32
    /// Its cgroup and state directory name (`ast-sdh.XXXXXX`).
    let name: String
    let shell: CommandRunner
    private let isDown = Mutex(false)

    static let harness = BuildProducts.packageRoot + "/scripts/sd-harness"
    static let requirement: Comment = "booting systemd in private namespaces needs root, cgroup2, unshare and nsenter"
    static var isSupported: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/lib/systemd/systemd")
            && ((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8))?.contains(" cgroup2 ") ?? false)
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/nsenter")
    }

    private init(id: Int32, name: String, shell: CommandRunner) {
        self.id = id
        self.name = name
        self.shell = shell
    }

    /// Boots a sandbox and waits until its systemd is up.
    static func up() async throws -> SystemdSandbox {
        let shell = try CommandRunner()
        // The checkout and the built binaries must stay visible inside, also when they lie under
        // /tmp, which the sandbox replaces with a fresh tmpfs.
        var keep = [BuildProducts.packageRoot]
        if !BuildProducts.directory.hasPrefix(BuildProducts.packageRoot + "/") { keep.append(BuildProducts.directory) }
        let result = try await shell.run(harness, ["up"] + keep.flatMap { ["--keep", $0] })
        guard result.status == 0, let id = Int32(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw HarnessError("sd-harness up failed (exit \(result.status)):\n\(result.stdout)\(result.stderr)")
        }
        let cgroup = (try? String(contentsOfFile: "/proc/\(id)/cgroup", encoding: .utf8)) ?? ""
        guard let line = cgroup.split(separator: "\n").first(where: { $0.hasPrefix("0::/") }),
            let name = line.dropFirst(4).split(separator: "/").first
        else {
            _ = shell.runBlocking(harness, ["down", "\(id)"])
            throw HarnessError("sandbox \(id) has no cgroup of its own: \(cgroup)")
        }
        return SystemdSandbox(id: id, name: String(name), shell: shell)
    }

    /// Powers the sandbox off and removes it; does nothing the second time.
    func down() {
        guard
            isDown.withLock({
                let was = $0
                $0 = true
                return !was
            })
        else { return }
        if !shell.runBlocking(Self.harness, ["down", "\(id)"]) {
            print("sd-harness down \(id) failed; the next sd-harness up collects what is left")
        }
    }

    /// `down`, then checks that nothing of the sandbox is left on the host.
    func shutdownAndCheckNothingIsLeft() async throws {
        down()
        #expect(!FileManager.default.fileExists(atPath: "/tmp/\(name)"), "state directory removed")
        let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        for line in mounts.split(separator: "\n") where line.split(separator: " ").dropFirst(2).first == "cgroup2" {
            let root = String(line.split(separator: " ")[1])
            #expect(!FileManager.default.fileExists(atPath: "\(root)/\(name)"), "cgroup \(root)/\(name) removed")
        }
        #expect(
            kill(id, 0) != 0 || (try? String(contentsOfFile: "/proc/\(id)/stat", encoding: .utf8))?.contains(") Z ") == true,
            "the sandbox's systemd exited")
    }

    /// Runs a command inside the sandbox.
    func exec(_ command: [String], timeout: Duration = .seconds(180)) async throws -> CommandRunner.Result {
        try await shell.run(Self.harness, ["exec", "\(id)"] + command, timeout: timeout)
    }

    /// Runs a command inside the sandbox and requires it to succeed.
    @discardableResult
    func check(_ command: [String], timeout: Duration = .seconds(180)) async throws -> CommandRunner.Result {
        let result = try await exec(command, timeout: timeout)
        guard result.status == 0 else {
            throw HarnessError(
                "in the sandbox, \(command.joined(separator: " ")) exited \(result.status):\n\(result.stdout)\(result.stderr)")
        }
        return result
    }

    /// `astctl` as an operator runs it: as the ast user (the bus admits its own uid), with the
    /// installed configuration.
    func astctl(_ arguments: [String]) async throws -> CommandRunner.Result {
        try await exec(
            [
                "setpriv", "--reuid=ast", "--regid=ast", "--init-groups",
                "env", "AST_CONFIG_DIR=/etc/ast", "AST_ENV=production", "/usr/local/bin/astctl",
            ] + arguments,
            timeout: .seconds(60))
    }

    /// Copies unit files (read on the host) into the sandbox's /etc/systemd/system and reloads.
    func installUnits(_ files: [String]) async throws {
        let result = try await shell.run(Self.harness, ["install", "\(id)"] + files)
        guard result.status == 0 else { throw HarnessError("sd-harness install failed:\n\(result.stderr)") }
    }

    /// scripts/install with the executables of this build (building release here would take
    /// far longer than the test): binaries, units, /etc/ast, the ast user, daemon-reload.
    func installAST() async throws {
        try await check([BuildProducts.packageRoot + "/scripts/install", "--products", BuildProducts.directory])
    }

    /// One property of a unit (`systemctl show -p NAME --value`).
    func show(_ unit: String, _ property: String) async throws -> String {
        try await check(["systemctl", "show", unit, "-p", property, "--value"]).stdout.trimmingCharacters(in: .newlines)
    }

    /// Several properties of a unit.
    func show(_ unit: String, _ properties: [String]) async throws -> [String: String] {
        let out = try await check(["systemctl", "show", unit] + properties.flatMap { ["-p", $0] }).stdout
        var values: [String: String] = [:]
        for line in out.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return values
    }

    /// A unit's journal entries, every field whose value is text.
    func journal(unit: String) async throws -> [[String: String]] {
        let out = try await check(["journalctl", "-u", unit, "-o", "json", "--no-pager"]).stdout
        return out.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return object.compactMapValues { $0 as? String }
        }
    }
}

/// ast-risk as its own test-only unit pair, since astd does not supervise yet: the service is
/// units/ast.service with ExecStart= swapped for the worker (so the worker runs with astd's user,
/// environment, credentials and sandbox) and WatchdogSec=2; the socket is units/ast-bus@.socket
/// for risk@main, passing its socket to this service instead of astd.
struct WorkerUnit {
    let sandbox: SystemdSandbox
    let service = "ast-risk-test.service"
    let socket = "ast-risk-test.socket"

    /// Installs AST and the test units into `sandbox`, starts the worker and waits until it is ready.
    static func start(in sandbox: SystemdSandbox) async throws -> WorkerUnit {
        let unit = WorkerUnit(sandbox: sandbox)
        try await sandbox.installAST()
        let root = BuildProducts.packageRoot + "/units/"
        let service = try serviceUnit(
            from: String(contentsOfFile: root + "ast.service", encoding: .utf8),
            executable: "/usr/local/bin/ast-risk", socket: unit.socket)
        let socket = try socketUnit(
            from: String(contentsOfFile: root + "ast-bus@.socket", encoding: .utf8),
            identity: "risk@main", service: unit.service)
        try service.write(toFile: sandbox.shell.dir(unit.service), atomically: true, encoding: .utf8)
        try socket.write(toFile: sandbox.shell.dir(unit.socket), atomically: true, encoding: .utf8)
        try await sandbox.installUnits([sandbox.shell.dir(unit.service), sandbox.shell.dir(unit.socket)])
        try await sandbox.check(["systemctl", "start", unit.socket, unit.service])
        try await eventuallyAsync("\(unit.service) to be ready") {
            try await sandbox.show(unit.service, ["ActiveState", "StatusText"]) == [
                "ActiveState": "active", "StatusText": "risk@main serving",
            ]
        }
        return unit
    }

    /// Stops the pair and checks that no worker process is left.
    func stop() async throws {
        try await sandbox.check(["systemctl", "stop", service, socket])
        #expect(try await sandbox.show(service, ["ActiveState", "MainPID"]) == ["ActiveState": "inactive", "MainPID": "0"])
        #expect(try await sandbox.exec(["pgrep", "-x", "ast-risk"]).status == 1, "no ast-risk process after stop")
    }

    /// ast.service turned into a unit for one worker (see the type's comment).
    static func serviceUnit(from production: String, executable: String, socket: String) throws -> String {
        var lines: [String] = []
        var section = ""
        var replaced: Set<String> = []
        for raw in production.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") { section = line }
            let key = line.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
            switch (section, key) {
            case ("[Install]", _): continue
            case ("[Unit]", "Description"), ("[Unit]", "Requires"), ("[Unit]", "After"), ("[Unit]", "Wants"), ("[Unit]", "PartOf"): continue
            case ("[Service]", "ExecStart"):
                lines.append("ExecStart=\(executable)")
                replaced.insert(key)
            case ("[Service]", "WatchdogSec"):
                lines.append("WatchdogSec=2")
                replaced.insert(key)
            default: lines.append(line)
            }
            if line == "[Unit]" {
                lines += ["Description=AST worker under test (\(executable))", "Requires=\(socket)", "After=\(socket)"]
            }
        }
        guard replaced == ["ExecStart", "WatchdogSec"] else {
            throw HarnessError("units/ast.service has no ExecStart= or WatchdogSec= in [Service] any more")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// ast-bus@.socket instantiated for `identity`, handing its socket to `service`.
    static func socketUnit(from template: String, identity: String, service: String) throws -> String {
        var lines: [String] = []
        var section = ""
        for raw in template.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") { section = line }
            if section == "[Install]" || line.hasPrefix("PartOf=") { continue }
            lines.append(line.hasPrefix("Service=") ? "Service=\(service)" : line.replacingOccurrences(of: "%I", with: identity))
        }
        guard lines.contains("FileDescriptorName=\(identity)") else {
            throw HarnessError("units/ast-bus@.socket no longer names its socket FileDescriptorName=%I")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
