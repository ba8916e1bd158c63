import ASTAlpaca
import ASTAlpacaClient
import ASTCore
import ASTProcessKit
import ASTTestKit
import Testing

/// The Alpaca shell against the fake Alpaca server (ASTTestKit, written from Alpaca's
/// documentation) over real HTTPS and WebSocket connections on loopback with a test CA.
@Suite(.serialized) struct AlpacaClientTests {
    static let key = "PKTESTKEY0000001"
    static let secret = "test-secret-never-logged"

    struct Harness {
        let directory: TemporaryDirectory
        let server: FakeAlpacaServer
        let client: AlpacaClient
        let settings: AlpacaSettings
        let credentials: AlpacaCredentials

        func stop() async {
            await client.shutdown()
            await server.stop()
            directory.remove()
        }
    }

    static func harness(secret: String = secret, rateLimit: Int64 = 200, textFrames: Bool = false) async throws -> Harness {
        let directory = try TemporaryDirectory(prefix: "ast-alpaca")
        let certificates = try TestCertificates(directory: directory("tls"))
        let server = try await FakeAlpacaServer(
            keyID: key, secretKey: Self.secret, certificate: certificates.certificateFile, key: certificates.keyFile, rateLimit: rateLimit,
            textFrames: textFrames)
        let settings = AlpacaSettings(
            baseURL: server.baseURL, environment: .paper, caFile: certificates.caFile, requestTimeout: .seconds(5))
        let credentials = AlpacaCredentials(
            keyID: Secret(name: "alpaca_key_id", value: key), secretKey: Secret(name: "alpaca_secret_key", value: secret))
        let client = try AlpacaClient(settings: settings, credentials: credentials, clock: SystemClock(), liveAllowed: false)
        return Harness(directory: directory, server: server, client: client, settings: settings, credentials: credentials)
    }

    static func bracket(_ intent: IntentID = "intent-1", quantity: Quantity = 10, stop: Price = Price("99.00")!) -> BracketOrder {
        let entry = OrderSpec(
            clientOrderID: ClientOrderID(intent: intent, leg: .entry), intent: intent, leg: .entry, symbol: "SPY", side: .buy,
            quantity: quantity, type: .limit, limitPrice: Price("101.30"), timeInForce: .gtc)
        let sl = OrderSpec(
            clientOrderID: ClientOrderID(intent: intent, leg: .stopLoss), intent: intent, leg: .stopLoss, symbol: "SPY", side: .sell,
            quantity: quantity, type: .stop, stopPrice: stop, timeInForce: .gtc, parent: entry.clientOrderID)
        let tp = OrderSpec(
            clientOrderID: ClientOrderID(intent: intent, leg: .takeProfit), intent: intent, leg: .takeProfit, symbol: "SPY", side: .sell,
            quantity: quantity, type: .limit, limitPrice: Price("105.00"), timeInForce: .gtc, parent: entry.clientOrderID)
        return BracketOrder(intent: intent, entry: entry, stopLoss: sl, takeProfit: tp)
    }

    @Test func liveIsRefusedUnlessConfiguredOnTheLiveHostAndPaperNeverOnIt() {
        let live = AlpacaSettings(baseURL: AlpacaSettings.liveBaseURL, environment: .live)
        #expect((try? live.validate(liveAllowed: true)) != nil)
        #expect(throws: AlpacaSetupError.self) { try live.validate(liveAllowed: false) }
        #expect(throws: AlpacaSetupError.self) {
            try AlpacaSettings(baseURL: AlpacaSettings.paperBaseURL, environment: .live).validate(liveAllowed: true)
        }
        #expect(throws: AlpacaSetupError.self) {
            try AlpacaSettings(baseURL: AlpacaSettings.liveBaseURL, environment: .paper).validate(liveAllowed: true)
        }
        #expect(throws: AlpacaSetupError.self) {
            try AlpacaSettings(baseURL: "http://paper-api.alpaca.markets", environment: .paper).validate(liveAllowed: false)
        }
        #expect((try? AlpacaSettings(baseURL: AlpacaSettings.paperBaseURL, environment: .paper).validate(liveAllowed: false)) != nil)
        #expect(
            AlpacaSettings(baseURL: AlpacaSettings.paperBaseURL, environment: .paper).streamURL == "wss://paper-api.alpaca.markets/stream")
    }

    @Test func bracketIsPlacedWithItsLegsAndTheHeldStop() async throws {
        let h = try await Self.harness()
        defer { Task { await h.stop() } }
        guard case .placed(let order, let adopted) = await h.client.place(Self.bracket()) else {
            Issue.record("not placed; requests: \(h.server.requests)")
            return
        }
        #expect(!adopted && order.clientOrderID == "intent-1.E" && order.status == .new)
        #expect(order.takeProfitLeg?.limitPrice == Price("105.00") && order.stopLossLeg?.status == .held)
        #expect(h.server.orders.count == 3)
        guard case .success(let account) = await h.client.account() else {
            Issue.record("no account")
            return
        }
        #expect(account.permitsTrading && account.accountNumber.hasPrefix("PA"))
    }

    @Test func aLostReplyIsSettledByLookupAndTheOrderExistsOnce() async throws {
        let h = try await Self.harness()
        defer { Task { await h.stop() } }
        h.server.script([.acceptThenClose])
        guard case .placed(let order, let adopted) = await h.client.place(Self.bracket()) else {
            Issue.record("not placed; requests: \(h.server.requests)")
            return
        }
        #expect(adopted && order.legs.count == 2)
        #expect(h.server.posts == 1, "no second POST: the lookup found it")
        // A later re-send (after a restart) is refused as a duplicate and recognised as already there.
        guard case .placed(_, true) = await h.client.place(Self.bracket()) else {
            Issue.record("the re-send was not adopted")
            return
        }
        #expect(h.server.orders.filter { $0.clientOrderID == "intent-1.E" }.count == 1)
        #expect(h.server.posts == 2)
        // After a restart the lookup comes first: nothing is sent at all.
        guard case .placed(_, true) = await h.client.place(Self.bracket(), lookUpFirst: true) else {
            Issue.record("not adopted")
            return
        }
        #expect(h.server.posts == 2)
    }

    @Test func refusalsAreRejectionsAndA5xxIsResolvedByLookup() async throws {
        let h = try await Self.harness()
        defer { Task { await h.stop() } }
        // Sub-penny is refused in the core before anything is sent.
        guard case .rejected = await h.client.place(Self.bracket("intent-2", stop: Price("99.005")!)) else {
            Issue.record("sent")
            return
        }
        #expect(h.server.posts == 0)
        // Over the buying power: a 403 from the server.
        guard case .rejected(let why) = await h.client.place(Self.bracket("intent-3", quantity: 1_000_000)) else {
            Issue.record("not rejected")
            return
        }
        #expect(why.contains("403"))
        // A 502 creates nothing: the lookup finds nothing, one re-send with the same id goes through.
        h.server.script([.serverError(status: 502)])
        guard case .placed(_, false) = await h.client.place(Self.bracket("intent-4")) else {
            Issue.record("not placed")
            return
        }
        #expect(h.server.orders.filter { $0.clientOrderID == "intent-4.E" }.count == 1)
    }

    @Test func a429CarriesItsHeadersAndBlocksTheBucket() async throws {
        let h = try await Self.harness(rateLimit: 3)
        defer { Task { await h.stop() } }
        for _ in 0..<3 { _ = await h.client.positions() }
        let before = SystemClock().now()
        let result = await h.client.send(AlpacaRequests.positions())
        guard case .answered(.rateLimited(let at)) = result else {
            Issue.record("\(result)")
            return
        }
        #expect(at > before)
        #expect(h.client.nextSlot > before, "the bucket waits for the server's reset")
        // A POST is not sent while blocked, and is not called rejected.
        guard case .unknown = await h.client.place(Self.bracket("intent-5")) else {
            Issue.record("a blocked POST must be unknown")
            return
        }
        #expect(h.server.posts == 0)
    }

    @Test func wrongSecretIsUnauthorizedOnBothRESTAndStream() async throws {
        let h = try await Self.harness(secret: "wrong")
        defer { Task { await h.stop() } }
        guard case .failure(let e) = await h.client.account() else {
            Issue.record("authorized with a wrong secret")
            return
        }
        #expect(!e.description.contains("wrong") && !e.description.contains(Self.secret))
        let stream = try AlpacaStreamClient(settings: h.settings, credentials: h.credentials, clock: SystemClock(), liveAllowed: false)
        let events = Shared<[AlpacaStreamEvent]>([])
        let task = Task { await stream.run { e in events.set(events.get() + [e]) } }
        defer { task.cancel() }
        try await eventually("a down event") { events.get().contains { if case .down = $0 { true } else { false } } }
        guard case .down(let reason) = events.get().first else {
            Issue.record("\(events.get())")
            return
        }
        #expect(reason.contains("authentication refused") && !reason.contains("wrong"))
    }

    @Test func streamDeliversFillsInPartsDropsMidFillAndComesBack() async throws {
        let h = try await Self.harness()
        defer { Task { await h.stop() } }
        let stream = try AlpacaStreamClient(
            settings: h.settings, credentials: h.credentials, clock: SystemClock(), liveAllowed: false,
            streamSettings: AlpacaStreamSettings(initialBackoff: .milliseconds(100), maximumBackoff: .milliseconds(400)))
        let events = Shared<[AlpacaStreamEvent]>([])
        let task = Task { await stream.run { e in events.set(events.get() + [e]) } }
        defer { task.cancel() }
        func updates() -> [AlpacaTradeUpdate] { events.get().compactMap { if case .update(let u) = $0 { u } else { nil } } }
        try await eventually("the stream up") { events.get().contains(.up) }
        guard case .placed(let order, _) = await h.client.place(Self.bracket()) else {
            Issue.record("not placed")
            return
        }
        h.server.fill(orderID: order.id, quantity: 4, price: Price("101.25")!)
        try await eventually("the partial fill") { updates().contains { $0.event == .partialFill } }
        let partial = updates().first { $0.event == .partialFill }
        #expect(partial?.order.filledQuantity == 4 && partial?.price == Price("101.25") && partial?.executionID != nil)
        // The stream drops mid-fill; the rest fills while nobody listens (no replay).
        h.server.dropStreams()
        try await eventually("the stream down") { events.get().contains { if case .down = $0 { true } else { false } } }
        h.server.fill(orderID: order.id, quantity: 6, price: Price("101.20")!, streamed: false)
        try await eventually("the stream up again") { events.get().filter { $0 == .up }.count == 2 }
        #expect(!updates().contains { $0.event == .fill }, "the lost fill is not replayed")
        // The gap is closed from the REST listings.
        guard case .success(let listed) = await h.client.listOrders(AlpacaOrderQuery(status: .all, after: nil)) else {
            Issue.record("no listing")
            return
        }
        let entry = listed.first { $0.clientOrderID == "intent-1.E" }
        #expect(entry?.status == .filled && entry?.filledQuantity == 10 && entry?.stopLossLeg?.status == .new)
        guard case .success(let fills) = await h.client.fillActivities(after: nil) else {
            Issue.record("no fills")
            return
        }
        #expect(fills.map(\.quantity) == [4, 6] && fills.map(\.cumulativeQuantity) == [4, 10])
        guard case .success(let positions) = await h.client.positions() else {
            Issue.record("no positions")
            return
        }
        #expect(positions.first?.brokerPosition?.quantity == 10)
        // The broker cancels the stop silently: only the listing shows the unprotected position.
        guard let stopID = entry?.stopLossLeg?.id else { return }
        h.server.brokerCancel(orderID: stopID, streamed: false)
        guard case .success(let stop) = await h.client.order(id: stopID) else {
            Issue.record("no stop")
            return
        }
        #expect(stop.status == .canceled)
        #expect(!updates().contains { $0.event == .canceled })
        // A cancel by AST is streamed.
        guard let tpID = entry?.takeProfitLeg?.id, case .success(true) = await h.client.cancel(id: tpID) else {
            Issue.record("cancel refused")
            return
        }
        try await eventually("the canceled event") { updates().contains { $0.event == .canceled } }
        // A bracket the venue rejects after accepting it: `rejected` for the entry, its legs cancelled.
        guard case .placed(let second, _) = await h.client.place(Self.bracket("intent-9")) else {
            Issue.record("not placed")
            return
        }
        h.server.brokerReject(orderID: second.id)
        try await eventually("the rejected event") { updates().contains { $0.event == .rejected && $0.order.id == second.id } }
        // Its legs' cancels follow in the same burst (waited for: they may still be on the way).
        let legs = Set(second.legs.map(\.id))
        try await eventually("both legs cancelled") { updates().filter { $0.event == .canceled && legs.contains($0.order.id) }.count == 2 }
        #expect(legs.count == 2)
    }

    @Test func textFramesWorkAndASecondSessionIsRefusedWith429() async throws {
        let h = try await Self.harness(textFrames: true)
        defer { Task { await h.stop() } }
        let first = try AlpacaStreamClient(settings: h.settings, credentials: h.credentials, clock: SystemClock(), liveAllowed: false)
        let events = Shared<[AlpacaStreamEvent]>([])
        let task = Task { await first.run { e in events.set(events.get() + [e]) } }
        defer { task.cancel() }
        try await eventually("the first stream up") { events.get().contains(.up) }
        let second = try AlpacaStreamClient(settings: h.settings, credentials: h.credentials, clock: SystemClock(), liveAllowed: false)
        let refused = Shared<[AlpacaStreamEvent]>([])
        let other = Task { await second.run { e in refused.set(refused.get() + [e]) } }
        defer { other.cancel() }
        try await eventually("the second stream refused") { !refused.get().isEmpty }
        guard case .down(let reason) = refused.get().first else {
            Issue.record("\(refused.get())")
            return
        }
        #expect(reason.contains("429"))
        #expect(h.server.sessions == 1)
    }

    @Test func theGapListingPagesThroughEveryOrderOnce() async throws {
        let h = try await Self.harness()
        defer { Task { await h.stop() } }
        let since = SystemClock().now()
        for n in 1...5 {
            guard case .placed = await h.client.place(Self.bracket(IntentID(validating: "gap-\(n)")!)) else {
                Issue.record("not placed")
                return
            }
        }
        guard case .success(let orders) = await h.client.ordersSince(since, pageSize: 2) else {
            Issue.record("no listing")
            return
        }
        #expect(orders.map(\.clientOrderID) == (1...5).map { "gap-\($0).E" })
        #expect(orders.allSatisfy { $0.legs.count == 2 })
    }
}
