import ASTCore
import ASTExecution
import ASTJournal
import ASTRisk
import ASTRuntime
import ASTTestKit
import ASTWire
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `broker@ibkr` in the running tree (M12), against `FakeTWSServer` on a real loopback socket.
/// The TWS server is a FAKE written from IB's public TWS API documentation and the official
/// client's field order; it shares no code with AST's client and is no evidence of how IB's own
/// TWS or Gateway behaves beyond those documents.
@Suite(.serialized) struct IBKRBrokerTests {
    /// The shipped tree with `broker@ibkr` in place of `broker@paper`, the risk gate sending to it,
    /// and the API socket at the fake's port.
    static func overlay(port: Int, brokerOnCrash: String = "halt") -> String {
        let children = SupervisorTests.workers.map { $0 == "broker@paper" ? "broker@ibkr" : $0 }
        return ExecutionTests.looseLimits + "\n  broker: broker@ibkr\n"
            + "ibkr:\n  host: 127.0.0.1\n  port: \(port)\n  client_id: 7\n  account: \"\"\n  exchange: SMART\n"
            + "  restart_window_start_utc: \"\"\n  restart_window_minutes: 0\n  minimum_tick: \"0.01\"\n"
            + "supervisor:\n  children:\n"
            + children.map { name in
                let role = name.split(separator: "@")[0]
                let onCrash = role == "broker" ? brokerOnCrash : (role == "risk" || role == "reconciler" ? "halt" : "none")
                return """
                        - name: \(name)
                          executable: ast-\(role)
                          arguments: []
                          restart: permanent
                          shutdown_timeout_ms: 5000
                          watchdog_ms: 10000
                          on_crash: \(onCrash)

                    """
            }.joined()
    }

    static func orders(_ fake: FakeTWSServer, _ intent: String) -> [FakeTWSServer.Order] {
        fake.orders.filter { $0.orderRef.hasPrefix(intent + ".") }
    }

    static func said(_ tree: SupervisedTree, _ fake: FakeTWSServer) -> String {
        let status = (try? tree.astctl(["status"]).stdout) ?? "-"
        return
            "fake orders: \(fake.orders.map { "\($0.orderId) \($0.orderRef) \($0.status) \($0.quantity)/\($0.filled)" }); status:\n\(status)"
    }

    /// A bracket flows risk → broker@ibkr → IB (three placeOrders found by orderRef), its entry fills
    /// in part and IB cancels the rest: the fills reach the reconciler and the risk gate, the stop and
    /// the target are resized to the filled quantity; then 1100 halts the system.
    @Test(.timeLimit(.minutes(3)))
    func aBracketFlowsToIBAPartialEntryResizesItsChildrenAnd1100Halts() async throws {
        let fake = try await FakeTWSServer()
        defer { Task { await fake.stop() } }
        let tree = try await SupervisedTree(overlay: Self.overlay(port: fake.port), extraEnvironment: ["AST_FAULT_IBKR_BACKOFF_MS": "100"])
        _ = try await tree.waitAllReady()
        do { try await ExecutionTests.markAll(tree) } catch {
            Issue.record(
                "\(Self.said(tree, fake))\n\(tree.astd.stderr.split(separator: "\n").filter { $0.contains("ibkr") }.suffix(40).joined(separator: "\n"))"
            )
            throw error
        }
        #expect(try ExecutionTests.submit([ExecutionTests.intent("ib-1", "AAPL")], to: tree) == ["ib-1"])
        try await eventually(timeout: .seconds(15), "the bracket at IB") {
            Self.orders(fake, "ib-1").map(\.status) == ["Submitted", "PreSubmitted", "PreSubmitted"]
        }
        let placed = Self.orders(fake, "ib-1")
        #expect(placed.map(\.orderRef) == ["ib-1.E", "ib-1.S", "ib-1.T"])
        #expect(placed.map(\.orderType) == ["LMT", "STP", "LMT"])
        #expect(placed[1].parentId == placed[0].orderId && placed[2].parentId == placed[0].orderId)
        #expect(placed.map(\.transmit) == [false, false, true])

        // 4 of 10 fill; IB cancels the remainder: the children work, still for 10, until the broker resizes them.
        fake.fill(orderId: placed[0].orderId, quantity: 4, price: "100.00")
        fake.cancelByIB(orderId: placed[0].orderId)
        do {
            try await eventually(timeout: .seconds(15), "the stop and target resized to the 4 filled shares") {
                let legs = Self.orders(fake, "ib-1").dropFirst()
                return legs.map(\.quantity) == [4, 4] && legs.allSatisfy { $0.status == "Submitted" }
            }
            try await eventually(timeout: .seconds(15), "the filled 4 shares in the risk gate's portfolio") {
                try ExecutionTests.riskPortfolios(tree).last?.positions["AAPL"]?.quantity == 4
            }
        } catch {
            Issue.record("\(Self.said(tree, fake))")
            throw error
        }

        // TWS loses IB: the broker reports the disconnect and the risk gate halts.
        fake.sendError(code: 1100, "Connectivity between IB and Trader Workstation has been lost.")
        try await eventually(timeout: .seconds(10), "HALTED after 1100") {
            try tree.status()?.0.safeMode?.state == .halted
        }
    }

    /// The broker SIGKILLed after the bracket's parent was written (before its children), then,
    /// on the restart that places it again under the same ids, after the transmitting child was
    /// written (before IB's acknowledgement): after the second restart the bracket exists at IB
    /// exactly once, found by orderRef, and the reconciler holds it.
    @Test(.timeLimit(.minutes(3)))
    func aBrokerKilledBetweenParentAndChildrenAndBeforeTheAckLeavesEachBracketOnceAtIB() async throws {
        let fake = try await FakeTWSServer()
        defer { Task { await fake.stop() } }
        let tree = try await SupervisedTree(
            overlay: Self.overlay(port: fake.port, brokerOnCrash: "none"),
            extraEnvironment: ["AST_FAULT_IBKR_BACKOFF_MS": "100", "AST_FAULT_IBKR_CRASH": "after-parent,after-transmit"])
        let before = try await tree.waitAllReady()
        let firstPID = try #require(tree.child("broker@ibkr", in: before)?.pid)
        try await ExecutionTests.markAll(tree)
        let strategy = try ExecutionTests.peer(tree, "risk@main", role: .strategy)
        _ = try strategy.send(.intentSubmit(ExecutionTests.intent("crash-1", "MSFT")))
        let journal = tree.dir("state/journal/broker@ibkr.sqlite")
        do {
            try await eventually(timeout: .seconds(40), "two crashes and the bracket working at IB") {
                FileManager.default.fileExists(atPath: journal + ".fault-after-parent")
                    && FileManager.default.fileExists(atPath: journal + ".fault-after-transmit")
                    && Self.orders(fake, "crash-1").map(\.status) == ["Submitted", "PreSubmitted", "PreSubmitted"]
            }
            try await eventually(timeout: .seconds(20), "the restarted broker's reports at the reconciler") {
                let entries = try WorkerTree.entries(path: journal, process: "broker@ibkr")
                return entries.contains {
                    $0.record.type == "ibkr.report" && String(decoding: $0.record.body, as: UTF8.self).contains("accepted")
                }
            }
        } catch {
            Issue.record("\(Self.said(tree, fake))")
            throw error
        }
        let status = try #require(try tree.status()?.0)
        #expect(tree.child("broker@ibkr", in: status)?.pid != firstPID)
        // Exactly one order per leg at IB: the re-placement used the same ids, nothing was placed twice.
        let legs = Self.orders(fake, "crash-1")
        #expect(legs.map(\.orderRef) == ["crash-1.E", "crash-1.S", "crash-1.T"])
        #expect(fake.orders.count == 3)
        let places = fake.received.filter { $0.first == "3" }
        #expect(places.count >= 4, "the parent, then the whole bracket again under the same ids")
        #expect(Set(places.compactMap { $0.count > 1 ? $0[1] : nil }).count == 3)
    }

    /// With trading.mode PAPER, a TWS that manages a live account (not `DU...`) is refused: the broker
    /// places nothing, reports itself disconnected with the reason, and the risk gate halts.
    @Test(.timeLimit(.minutes(2)))
    func paperModeOnALiveAccountIsRefusedAndHalts() async throws {
        let fake = try await FakeTWSServer(accounts: ["U7654321"])
        defer { Task { await fake.stop() } }
        let tree = try await SupervisedTree(overlay: Self.overlay(port: fake.port), extraEnvironment: ["AST_FAULT_IBKR_BACKOFF_MS": "100"])
        _ = try await tree.waitAllReady()
        try await eventually(timeout: .seconds(15), "HALTED with the live account refused") {
            guard let s = try tree.status()?.0, s.safeMode?.state == .halted else { return false }
            return try tree.astctl(["status"]).stdout.contains("U7654321")
        }
        #expect(!fake.received.contains { $0.first == "3" }, "no order reached IB")
    }
}
