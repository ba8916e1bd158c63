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

    /// Disabled until the tree is causal (H5's settle barrier, M8.2): today the risk gate's
    /// approvals reach the broker asynchronously, so the replay's next beat (10:30) can advance
    /// the broker's market clock before it handles a 09:00 approval; that order then misses the
    /// session's bar (first difference on the bundled data: 2025-07-02's FRTX, GAMR and LUMN
    /// entries, submitted at 10:30 in the tree, at 09:00 in the engine). Remove this trait when
    /// the settle barrier is merged.
    @Test(.timeLimit(.minutes(8)), .disabled("the tree is not causal yet: approvals reach the broker after the next beat (M8.2, H5)"))
    func theTreeAndTheEngineTradeTheSameOverThirtySessions() async throws {
        let tree = try await SupervisedTree(overlay: """
            clock:
              mode: replay
            marketdata:
              replay:
                sessions: \(Self.sessions)
            """)
        _ = try await tree.waitAllReady(timeout: .seconds(60))
        var seen = ""
        do {
            try await eventually(timeout: .seconds(360), every: .milliseconds(500), "the replay to finish") {
                guard let (s, _) = try tree.status() else { return false }
                seen = s.children.first { $0.name == "marketdata@main" }?.statusText ?? "-"
                return seen.hasPrefix("replay finished")
            }
        } catch {
            Issue.record("the replay did not finish; marketdata last said: \(seen)")
            throw error
        }
        // Stop the tree so that every journal is complete on disk.
        tree.astd.signal(SIGTERM)
        try await eventually(timeout: .seconds(30), every: .milliseconds(100), "astd to exit") { tree.astd.exitStatus != nil }

        let ast = try ChildProcess(try BuildProducts.executable("ast"),
                                   ["engine", "--sessions", "\(Self.sessions)", "--compare-state-dir", tree.dir("state")],
                                   environment: tree.environment, name: "ast-engine", outputDirectory: tree.dir.path)
        try await eventually(timeout: .seconds(300), every: .milliseconds(200), "ast engine to finish") { ast.exitStatus != nil }
        let code = ChildProcess.exitCode(ast.exitStatus!)
        let out = ast.stdout
        #expect(code == 0, "ast engine --compare-state-dir exited \(code.map(String.init) ?? "?"):\n\(out.suffix(4000))\n\(ast.stderr.suffix(2000))")
        #expect(out.contains("parity: the tree matched the engine trade for trade"), "\(out.suffix(4000))")
        // Not a vacuous match: the sessions traded.
        #expect(out.contains("engine: \(Self.sessions) sessions"), "\(out.suffix(2000))")
        #expect(!out.contains(" 0 fills"), "\(out.suffix(2000))")
    }
}
