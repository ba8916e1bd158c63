import ASTTestKit
import Foundation
import Testing

/// `ast ibkr check` against `FakeTWSServer`: a FAKE TWS written from IB's public API documentation,
/// sharing no code with AST's client; no evidence of how IB's own TWS behaves beyond those documents.
@Suite struct IBKRCommandTests {
    @Test func checkPrintsTheSessionAndTheAccountAndSendsNoOrder() async throws {
        let fake = try await FakeTWSServer(accounts: ["DU7654321"])
        let tree = try CLITree()
        let run = try await tree.ast(["ibkr", "check", "--port", "\(fake.port)", "--client-id", "9", "--timeout", "20"])
        await fake.stop()
        #expect(run.exitCode == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("server version: 200"), "\(run.stdout)")
        #expect(run.stdout.contains("account: DU7654321 (paper)"), "\(run.stdout)")
        #expect(run.stdout.contains("positions: 0") && run.stdout.contains("open orders: 0"), "\(run.stdout)")
        #expect(run.stdout.contains("executions today: 0"), "\(run.stdout)")
        // Read-only: startApi and the three requests, no placeOrder (3) or cancelOrder (4).
        #expect(!fake.received.contains { $0.first == "3" || $0.first == "4" })
    }

    @Test func checkSaysWhyWhenNothingListens() async throws {
        let tree = try CLITree()
        let run = try await tree.ast(["ibkr", "check", "--port", "1", "--timeout", "5"])
        #expect(run.exitCode == 1, "\(run.stdout)\(run.stderr)")
        #expect(run.stderr.contains("could not start the API session"), "\(run.stderr)")
    }
}
