import ASTCore
import ASTTestKit
import Foundation
import Testing

/// `ast backtest` as a process with rotation and with Reg T margin configured (an `ast.test.yaml`
/// over the shipped etc/ast.yaml): trades.csv names their exits `rotation` and `margin_call`.
@Suite(.serialized) struct BacktestRotationMarginTests {
    static let rotation = """
        strategy:
          rotation: {enabled: true, max_positions: 2, min_score_advantage: 0, min_sessions_held: 0}

        """

    static let margin = """
        strategy:
          sizing: {method: fixed_percent, position_pct: 100, max_position_pct: 100, margin: regt, maintenance_margin_pct: 50}
        risk:
          limits:
            max_gross_leverage_pct: 200
            max_symbol_concentration_pct: 200
            max_sector_concentration_pct: 200
            max_order_notional_pct: 200
            max_drawdown_pct: 100
            daily_loss_limit_pct: 100
        paper_broker:
          slippage_bps: 0

        """

    /// The exit reasons (column 11) of `ast backtest --sessions 30` with `overlay` over etc/ast.yaml.
    func exitReasons(_ tree: CLITree, _ name: String, _ overlay: String) async throws -> [String] {
        let etc = tree.dir("etc-\(name)")
        try FileManager.default.createDirectory(atPath: etc, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: BuildProducts.packageRoot + "/etc/ast.yaml", toPath: etc + "/ast.yaml")
        _ = try tree.write("etc-\(name)/ast.test.yaml", overlay)
        let run = try await tree.ast(
            ["backtest", "--sessions", "30", "--store", tree.store, "--quiet", "--out", tree.dir(name)],
            environment: ["AST_CONFIG_DIR": etc, "AST_ENV": "test"])
        #expect(run.exitCode == 0, "\(run.stderr)")
        let trades = try String(contentsOfFile: tree.dir("\(name)/trades.csv"), encoding: .utf8)
        return trades.split(separator: "\n").dropFirst().map { String($0.split(separator: ",", omittingEmptySubsequences: false)[10]) }
    }

    @Test(.timeLimit(.minutes(4)))
    func rotationAndMarginCallsAreNamedInTradesCSV() async throws {
        let tree = try CLITree()
        let ingest = try await tree.ast(["ingest", "--bundled", "--store", tree.store])
        #expect(ingest.exitCode == 0, "\(ingest.stderr)")
        let rotation = try await exitReasons(tree, "rotation", Self.rotation)
        #expect(rotation.contains("rotation"), "\(rotation)")
        let margin = try await exitReasons(tree, "margin", Self.margin)
        #expect(margin.contains("margin_call"), "\(margin)")
    }
}
