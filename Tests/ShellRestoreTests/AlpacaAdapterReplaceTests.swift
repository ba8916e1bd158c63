import ASTAlpaca
import ASTCore
import ASTJournal
import ASTRuntime
import ASTTestKit
import Foundation
import Logging
import Testing

@testable import ast_broker

#if canImport(Glibc)
    import Glibc
#endif

/// broker@alpaca's order replace (`PATCH /v2/orders/{id}`) through its adapter, against
/// `FakeAlpacaServer` (a FAKE written from Alpaca's documentation, no evidence of how Alpaca
/// behaves) over HTTPS and its stream on loopback: the leg follows the new order id, journaled, and
/// a replace the server refuses leaves the old order the leg's, live.
@Suite(.serialized) struct AlpacaAdapterReplaceTests {
    static let keyID = "PKREPLACE0000001"

    struct Harness {
        let directory: TemporaryDirectory
        let fake: FakeAlpacaServer
        let config: AlpacaConfig
        let secrets: SecretStore

        func adapter(_ journal: Journal) throws -> AlpacaAdapter {
            try AlpacaAdapter(
                name: "broker@alpaca", config: config, trading: .paper, secrets: secrets, journal: journal, clock: SystemClock(),
                logger: Logger(label: "test"), deliver: { _ in }, connectionChanged: { _, _ in })
        }
    }

    static func harness() async throws -> Harness {
        let directory = try TemporaryDirectory(prefix: "ast-alprep")
        let certificates = try TestCertificates(directory: directory("tls"))
        let secret = "replace-secret-\(UUID().uuidString)"
        let fake = try await FakeAlpacaServer(
            keyID: keyID, secretKey: secret, certificate: certificates.certificateFile, key: certificates.keyFile)
        try "alpaca_key_id: \"\(keyID)\"\nalpaca_secret_key: \"\(secret)\"\n".write(
            toFile: directory("secrets.yaml"), atomically: true, encoding: .utf8)
        chmod(directory("secrets.yaml"), 0o600)
        let config = AlpacaConfig(
            baseURL: fake.baseURL, caFile: certificates.caFile, requestTimeoutMS: 5000, streamPingMS: 1000, streamDeadMS: 1000,
            backoffInitialMS: 100, backoffMaxMS: 400)
        return Harness(
            directory: directory, fake: fake, config: config,
            secrets: SecretStore(credentialsDirectory: nil, secretsFile: directory("secrets.yaml")))
    }

    static func bracket(_ intent: IntentID) -> BracketOrder {
        let entry = OrderSpec(
            clientOrderID: ClientOrderID(intent: intent, leg: .entry), intent: intent, leg: .entry, symbol: "SPY", side: .buy,
            quantity: 10, type: .limit, limitPrice: Price("101.30"), timeInForce: .gtc)
        let sl = OrderSpec(
            clientOrderID: ClientOrderID(intent: intent, leg: .stopLoss), intent: intent, leg: .stopLoss, symbol: "SPY", side: .sell,
            quantity: 10, type: .stop, stopPrice: Price("99.00"), timeInForce: .gtc, parent: entry.clientOrderID)
        let tp = OrderSpec(
            clientOrderID: ClientOrderID(intent: intent, leg: .takeProfit), intent: intent, leg: .takeProfit, symbol: "SPY", side: .sell,
            quantity: 10, type: .limit, limitPrice: Price("105.00"), timeInForce: .gtc, parent: entry.clientOrderID)
        return BracketOrder(intent: intent, entry: entry, stopLoss: sl, takeProfit: tp)
    }

    /// Waits (bounded) until `condition` holds; says what was seen when it gives up.
    static func until(_ what: String, _ seen: () async -> String, _ condition: () async throws -> Bool) async throws {
        for _ in 0..<500 {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("gave up waiting for \(what); seen: \(await seen())")
        throw HarnessError("gave up waiting for \(what)")
    }

    /// A protective stop moved up (a new stop price) by a replace: Alpaca's new order becomes the
    /// leg's, journaled, so that the account state, a later cancel and a restarted adapter all use
    /// it; a resize the server refuses changes nothing: the take profit stays the old order, live
    /// at its full size, at the server and in the adapter's account state.
    @Test(.timeLimit(.minutes(1)))
    func aMovedStopFollowsTheNewOrderAndARefusedReplaceLeavesTheOldOrderLive() async throws {
        let h = try await Self.harness()
        let journal = try Journal(path: h.directory("broker.sqlite"), process: "broker@alpaca", logger: Logger(label: "test"))
        let adapter = try h.adapter(journal)
        let running = Task { await adapter.run() }
        defer {
            running.cancel()
            Task {
                await adapter.stop()
                await h.fake.stop()
                h.directory.remove()
            }
        }
        let seen: () async -> String = {
            "orders \(h.fake.orders.map { "\($0.id.suffix(4)) \($0.type) \($0.status)" }); \(h.fake.requests.suffix(8))"
        }
        try await Self.until("connected", seen) { await adapter.isConnected() }
        let b = Self.bracket("rep-1")
        _ = try await adapter.submit(b, messageID: nil)
        let entry = try #require(h.fake.order(clientOrderID: "rep-1.E"))
        h.fake.fill(orderID: entry.id, quantity: 10, price: Price("101.30")!)
        let stopID = try #require(b.stopLoss?.clientOrderID)
        let targetID = try #require(b.takeProfit?.clientOrderID)
        let oldStop = try #require(await adapter.currentOrderID(stopID))
        let oldTarget = try #require(await adapter.currentOrderID(targetID))
        try await Self.until("the stop live after the entry's fill", seen) { h.fake.order(id: oldStop)?.status == "new" }

        let moved = try await adapter.replace(stopID, AlpacaReplace(stopPrice: Price("100.50")), reason: "trail", messageID: nil)
        #expect(moved.accepted, "\(moved.message)")
        let newStop = try #require(h.fake.order(id: oldStop)?.replacedBy)
        #expect(h.fake.order(id: oldStop)?.status == "replaced")
        #expect(h.fake.order(id: newStop)?.stopPrice == Price("100.50") && h.fake.order(id: newStop)?.status == "new")
        #expect(await adapter.currentOrderID(stopID) == newStop)
        let state = try await adapter.accountState(executionsSince: Timestamp(nanoseconds: 0))
        #expect(state.openOrders.first { $0.spec.clientOrderID == stopID }?.brokerOrderID == newStop, "\(state.openOrders)")

        h.fake.refuseReplaces(1)
        let resize = try await adapter.modify(targetID, quantity: 5, reason: "smaller position", messageID: nil)
        #expect(!resize.accepted)
        #expect(h.fake.patches == 2)
        #expect(h.fake.order(id: oldTarget)?.status == "new" && h.fake.order(id: oldTarget)?.quantity == 10)
        #expect(await adapter.currentOrderID(targetID) == oldTarget)
        let after = try await adapter.accountState(executionsSince: Timestamp(nanoseconds: 0))
        let target = after.openOrders.first { $0.spec.clientOrderID == targetID }
        #expect(target?.brokerOrderID == oldTarget && target?.workingQuantity == 10, "\(after.openOrders)")

        // A restart follows the replacement from the journal; a cancel goes to the new stop.
        let restarted = try h.adapter(journal)
        let (stopAfter, targetAfter) = (await restarted.currentOrderID(stopID), await restarted.currentOrderID(targetID))
        #expect(stopAfter == newStop && targetAfter == oldTarget)
        await restarted.stop()
        _ = try await adapter.cancel(stopID, reason: "test", messageID: nil)
        #expect(h.fake.requests.contains("DELETE /v2/orders/\(newStop)"))
    }
}
