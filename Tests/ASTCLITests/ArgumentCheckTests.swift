import ASTTestKit
import Foundation
import Testing

extension CLITree {
    /// Runs one of the built executables (`astctl`, `astd`, `ast`) to completion in the tree.
    func run(
        _ executable: String, _ arguments: [String], environment extra: [String: String] = [:],
        timeout: Duration = .seconds(60)
    ) async throws -> ASTRun {
        var env = [
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "AST_CONFIG_DIR": BuildProducts.packageRoot + "/etc",
            "AST_ENV": "development",
            "AST_STATE_DIR": dir("state"),
            "AST_RUNTIME_DIR": dir("run"),
            "AST_SECRETS_FILE": dir("secrets.yaml"),
        ]
        env.merge(extra) { $1 }
        let child = try ChildProcess(
            try BuildProducts.executable(executable), arguments, environment: env,
            name: "\(executable)-\(UInt32.random(in: 0...UInt32.max))", outputDirectory: dir.path)
        defer { child.stop(graceSeconds: 1) }
        let status = try await child.waitForExit(timeout: timeout)
        return ASTRun(exitCode: ChildProcess.exitCode(status), stdout: child.stdout, stderr: child.stderr)
    }
}

/// Command-line values are checked like ingested data: a clear one-line error and a non-zero exit
/// (64 for usage), never a silent success, a raw Foundation error or a trap.
@Suite("CLI arguments are validated")
struct ArgumentCheckTests {
    @Test func anImpossibleReportDateIsAUsageError() async throws {
        let tree = try CLITree()
        let run = try await tree.run("astctl", ["report", "--date", "2026-02-30", "--state-dir", tree.dir("state")])
        #expect(run.exitCode == 64, "\(run.stderr)")
        #expect(run.stderr.contains("--date must be a date that exists, as YYYY-MM-DD (got '2026-02-30')"), "\(run.stderr)")
    }

    @Test func anImpossibleReplayTimeIsAUsageError() async throws {
        let tree = try CLITree()
        let run = try await tree.run("astctl", ["replay", tree.dir("state/journal"), "--from", "2026-02-30"])
        #expect(run.exitCode == 64, "\(run.stderr)")
        #expect(run.stderr.contains("--from must be a time whose date exists"), "\(run.stderr)")
    }

    @Test func anUnwritableReportDirectoryIsOneClearLine() async throws {
        let tree = try CLITree()
        try FileManager.default.createDirectory(atPath: tree.dir("state/journal"), withIntermediateDirectories: true)
        let run = try await tree.run("astctl", ["report", "--state-dir", tree.dir("state"), "--out", "/proc/forbidden"])
        #expect(run.exitCode != 0 && run.exitCode != nil, "exit \(String(describing: run.exitCode))")
        #expect(!run.stderr.contains("NSCocoaErrorDomain") && !run.stderr.contains("Error Domain"), "\(run.stderr)")
        #expect(run.stderr.contains("astctl: cannot write the report to /proc/forbidden: "), "\(run.stderr)")
    }

    @Test func aNegativeNumberIsReadAsAValueAndRefusedAsOutOfRange() async throws {
        let tree = try CLITree()
        let ping = try await tree.run("astctl", ["ping", "risk", "--count", "-1"])
        #expect(ping.exitCode == 64, "\(ping.stderr)")
        #expect(ping.stderr.contains("--count must be between 1 and 10000 (got -1)"), "\(ping.stderr)")
        let scan = try await tree.run("ast", ["scan", "--date", "2025-03-03", "--cash", "-5"])
        #expect(scan.exitCode == 64, "\(scan.stderr)")
        #expect(scan.stderr.contains("--cash must be a positive amount in dollars (got '-5')"), "\(scan.stderr)")
        let drill = try await tree.run("astctl", ["drill", "--rounds", "-3"])
        #expect(drill.exitCode == 64, "\(drill.stderr)")
        #expect(drill.stderr.contains("--rounds must be between 1 and 100000 (got -3)"), "\(drill.stderr)")
    }

    @Test func indicatorsOnACSVFromBefore1970IsABadDataErrorWithItsLine() async throws {
        let tree = try CLITree()
        let csv = try tree.write(
            "OLD.csv", "Date,Open,High,Low,Close,Volume\n1969-12-30,10,11,9.5,10.5,300\n0001-01-01,10,11,9.5,10.5,300\n")
        let run = try await tree.ast(["indicators", "--csv", csv, "--indicator", "rsi:14"])
        #expect(run.exitCode == 65, "\(run.stderr)")
        #expect(run.stderr.contains("\(csv):2"), "\(run.stderr)")
        #expect(run.stderr.contains("\(csv):3"), "\(run.stderr)")
    }

    @Test func astdRefusesARiskBrokerThatIsNoChildWithExit78BeforeStartingAnything() async throws {
        let tree = try CLITree()
        let run = try await tree.run("astd", ["--foreground"], environment: ["AST_RISK__BROKER": "broker@nowhere"])
        #expect(run.exitCode == 78, "\(run.stderr)")
        #expect(run.stderr.contains("risk.broker must name one of supervisor.children"), "\(run.stderr)")
        #expect(run.stderr.contains("AST_RISK__BROKER"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: tree.dir("state/journal")), "nothing was started")
    }

    @Test func astdRefusesASecretsFileReadableByOthersWithExit78() async throws {
        let tree = try CLITree()
        _ = try tree.write("secrets.yaml", "telegram_bot_token: t\n")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: tree.dir("secrets.yaml"))
        let run = try await tree.run("astd", ["--foreground"])
        #expect(run.exitCode == 78, "\(run.stderr)")
        #expect(run.stderr.contains("has mode 0644 but must have mode 0600"), "\(run.stderr)")
    }

    @Test func astdRefusesLiveWithoutLiveEnabledWithExit78() async throws {
        let tree = try CLITree()
        let run = try await tree.run("astd", ["--foreground"], environment: ["AST_TRADING__MODE": "LIVE"])
        #expect(run.exitCode == 78, "\(run.stderr)")
        #expect(run.stderr.contains("trading.live_enabled must be true when trading.mode is LIVE"), "\(run.stderr)")
    }
}
