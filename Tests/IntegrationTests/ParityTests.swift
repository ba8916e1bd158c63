import ASTCore
import ASTTestKit
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// M8.3: the tree (every process, real sockets, the replay clock) and the in-process engine,
/// given the same configuration and bars, trade the same: intents, risk decisions, execution
/// reports (orders and fills, hence P&L) and Safe Mode transitions, item by item. The
/// comparison is `ast engine --compare-state-dir`, the same command scripts/demo ends with; it
/// prints the first difference.
@Suite(.serialized) struct ParityTests {
    static let sessions = 30

    /// M13: exit rules that read each holding's entry (the tree keeps the same records as the
    /// engine, ``HoldingsLedger``), beside the brackets.
    static let exits = """
        strategy:
          exits:
            - name: trailing_stop
              params: {activation_r: 0.2, atr_multiple: 0.3}
            - name: time_stop
              params: {max_sessions: 5}

        """

    /// The tree plays the sessions on its causal replay clock (a settle barrier after every
    /// schedule point), so each 09:00 approval reaches the broker before the session's bar.
    @Test(.timeLimit(.minutes(8)))
    func theTreeAndTheEngineTradeTheSameOverThirtySessions() async throws {
        let tree = try await SupervisedTree(overlay: SupervisedTree.replay(sessions: Self.sessions, Self.exits))
        _ = try await tree.waitAllReady(timeout: .seconds(60))
        try await tree.waitForTheReplayToFinish(timeout: .seconds(360))
        let (code, out, err) = try await tree.stopAndCompareWithTheEngine(sessions: Self.sessions, timeout: .seconds(300))
        #expect(
            code == 0,
            "ast engine --compare-state-dir exited \(code.map(String.init) ?? "?"):\n\(out.suffix(4000))\n\(err.suffix(2000))")
        #expect(out.contains("parity: the tree matched the engine trade for trade"), "\(out.suffix(4000))")
        // Not a vacuous match: the sessions traded.
        #expect(out.contains("engine: \(Self.sessions) sessions"), "\(out.suffix(2000))")
        #expect(!out.contains(" 0 fills"), "\(out.suffix(2000))")
        // M13: `ast backtest` over the same sessions makes the same comparison of the run its files come from.
        let backtest = try ChildProcess(
            try BuildProducts.executable("ast"),
            [
                "backtest", "--sessions", "\(Self.sessions)", "--quiet", "--compare-state-dir", tree.dir("state"), "--out",
                tree.dir("backtest"),
            ],
            environment: tree.environment, name: "ast-backtest", outputDirectory: tree.dir.path)
        let status = try await backtest.waitForExit(timeout: .seconds(300))
        #expect(
            ChildProcess.exitCode(status) == 0 && backtest.stdout.contains("parity: the tree matched the engine trade for trade")
                && backtest.stdout.contains("backtest: \(Self.sessions) sessions"),
            "ast backtest --compare-state-dir: \(backtest.stdout.suffix(3000))\n\(backtest.stderr.suffix(2000))")
        let trades = (try? String(contentsOfFile: tree.dir("backtest/trades.csv"), encoding: .utf8)) ?? ""
        // Not vacuous either: both rules that read the entry records closed trades (in both drivers, equal above).
        #expect(trades.contains(",time_stop,") && trades.contains(",trailing_stop,"), "\(trades)")
    }

    /// `ast engine` over a bar store: the same JSON twice (a pure function of configuration and
    /// bars), one line per session, and a clear refusal when there are no journals to compare.
    @Test(.timeLimit(.minutes(4)))
    func astEngineIsDeterministicAndRefusesAMissingTreeToCompare() async throws {
        let dir = try TemporaryDirectory(prefix: "ast-engine")
        defer { dir.remove() }
        let env = [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "AST_CONFIG_DIR": BuildProducts.packageRoot + "/etc", "AST_ENV": "development",
            "AST_STATE_DIR": dir("state"), "AST_RUNTIME_DIR": dir("run"),
        ]
        var n = 0
        func ast(_ arguments: [String]) async throws -> (code: Int32?, stdout: String, stderr: String) {
            n += 1
            let child = try ChildProcess(
                try BuildProducts.executable("ast"), arguments, environment: env, name: "ast-\(n)",
                outputDirectory: dir.path)
            let status = try await child.waitForExit(timeout: .seconds(120))
            return (ChildProcess.exitCode(status), child.stdout, child.stderr)
        }
        let store = dir("bars.sqlite")
        let installed = try await ast(["ingest", "--bundled", "--store", store])
        #expect(installed.code == 0, "\(installed.stderr)")
        let a = try await ast(["engine", "--from", "2025-07-01", "--sessions", "12", "--json", "--store", store])
        let b = try await ast(["engine", "--from", "2025-07-01", "--sessions", "12", "--json", "--store", store])
        #expect(a.code == 0 && b.code == 0, "\(a.stderr)\(b.stderr)")
        #expect(a.stdout == b.stdout && a.stdout.contains("\"equity\""))
        let text = try await ast(["engine", "--from", "2025-07-01", "--sessions", "12", "--store", store])
        #expect(text.stdout.contains("engine: 12 sessions 2025-07-01.."), "\(text.stdout)")
        let missing = try await ast(["engine", "--sessions", "2", "--store", store, "--compare-state-dir", dir("nowhere")])
        #expect(
            missing.code == 1 && missing.stderr.contains("cannot read the tree's journals"),
            "\(missing.code.map(String.init) ?? "?") \(missing.stderr)")
    }
}
