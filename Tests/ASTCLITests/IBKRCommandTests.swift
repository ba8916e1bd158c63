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

    @Test func testOrderPlacesABracketFarFromTheMarketWaitsForTheAcksAndCancelsIt() async throws {
        let fake = try await FakeTWSServer()
        let tree = try CLITree()
        let run = try await tree.ast(["ibkr", "test-order", "--symbol", "AAPL", "--reference", "200", "--port", "\(fake.port)"])
        let orders = fake.orders
        await fake.stop()
        #expect(run.exitCode == 0, "\(run.stdout)\(run.stderr)")
        #expect(orders.map(\.limitPrice) == ["100.0", "", "300.0"], "entry at half the reference, target at 1.5 times")
        #expect(orders.map(\.auxPrice) == ["", "90.0", ""])
        #expect(orders.allSatisfy { $0.status == "Cancelled" && $0.quantity == 1 }, "\(orders)")
        #expect(run.stdout.contains("→ cancelOrder") && run.stdout.contains("← "), "\(run.stdout)")
        // Through broker@ibkr's adapter: the client order ids in orderRef, its reports printed.
        #expect(orders.map { $0.orderRef.suffix(2) } == [".E", ".S", ".T"], "\(orders)")
        #expect(run.stdout.contains("report: accepted") && run.stdout.contains("report: cancelled"), "\(run.stdout)")
    }

    @Test func testOrderIsRefusedOnALiveAccountBeforeAnythingIsSent() async throws {
        let fake = try await FakeTWSServer(accounts: ["U1234567"])
        let tree = try CLITree()
        let run = try await tree.ast(["ibkr", "test-order", "--symbol", "AAPL", "--reference", "200", "--port", "\(fake.port)"])
        let received = fake.received
        await fake.stop()
        #expect(run.exitCode == 1)
        #expect(run.stderr.contains("refused") && run.stderr.contains("U1234567"), "\(run.stderr)")
        #expect(!received.contains { $0.first == "3" })
    }
}
