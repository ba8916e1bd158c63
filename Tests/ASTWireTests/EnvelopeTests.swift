import ASTCore
import ASTRisk
import ASTSupervision
import Testing

@testable import ASTWire

@Suite struct EnvelopeTests {
    static let risk = ProcessIdentity(role: .risk, instance: "main")

    static let samples: [Message] = [
        .hello(Hello(role: .risk, instance: "main", pid: 42)),
        .welcome(Welcome(role: .broker, instance: "paper", pid: 7, maxFrameBytes: 1 << 20)),
        .refused(Refusal(code: .roleNotAllowed, detail: "no")),
        .ack(Ack(id: "risk@main/o1", duplicate: true)),
        .ping(Ping(nonce: .max)),
        .pong(Pong(nonce: 0)),
        .probe(Probe(counter: -5, text: "ünïcødé \"quoted\" \n newline")),
        .statusRequest(StatusRequest()),
        .statusReply(
            TreeStatus(
                state: "degraded", supervisorPID: 1, startedAt: Timestamp(nanoseconds: 1), now: Timestamp(nanoseconds: 2),
                summary: "5/6 ready",
                children: [
                    ChildStatusReport(
                        name: "broker@paper", pid: nil, state: "restarting", ready: false, uptimeSeconds: nil,
                        restarts: 2, lastWatchdogPing: Timestamp(nanoseconds: 3), statusText: "x",
                        lastExit: "killed by SIGKILL", onCrash: "halt")
                ])),
        .lifecycle(
            LifecycleEvent(
                kind: .exited, child: ProcessIdentity(role: .broker, instance: "paper"), pid: 42, reason: "killed by SIGKILL",
                exitCode: nil, signal: 9, onCrash: .halt, restarts: 1, at: Timestamp(nanoseconds: 7))),
        .intentSubmit(intent),
        .intentDecision(
            IntentDecision(intent: "i-1", decision: .block(.tradingHalted, detail: "HALTED since x"), at: Timestamp(nanoseconds: 9))),
        .orderSubmit(
            Approval(
                id: ApprovalID(for: "i-1"), intent: "i-1", symbol: "AAPL", side: .buy, quantity: 10, requestedQuantity: 20,
                entry: .limit(Price("187.2500")!), stopLoss: Price("180.00"), takeProfit: Price("200.1234"),
                state: .active, at: Timestamp(nanoseconds: 10))),
        .portfolioSnapshot(
            PortfolioSnapshot(
                asOf: Timestamp(nanoseconds: 11), cash: Money("1000.50")!, equity: Money("2000")!,
                peakEquity: Money("2100")!, startOfDayEquity: Money("1990")!,
                positions: ["MSFT": PositionSnapshot(quantity: -5, averagePrice: Price("400")!, lastMark: Price("401.5")!)],
                openOrders: 2)),
        .mark(MarketMark(symbol: "AAPL", price: Price("187.31")!, at: Timestamp(nanoseconds: 12))),
        .brokerConnection(
            BrokerConnectionReport(broker: ProcessIdentity(role: .broker, instance: "paper"), connected: false, detail: "socket closed")),
        .reconciliationResult(.mismatch("AAPL: broker 10, us 20")),
        .riskCommand(.resume(to: .reducing)),
        .riskStatus(
            RiskStatusReport(
                state: .halted, since: Timestamp(nanoseconds: 13), cause: "operator halt", downBrokers: ["broker@paper"],
                disconnectedBrokers: [], cleanReconciliationSinceHalt: false, accepted: false, message: "refused")),
        .alert(Alert(priority: .p0, key: "k", title: "HALTED", text: "broker@paper exited", at: Timestamp(nanoseconds: 14))),
        .executionReport(
            ExecutionReport(id: "broker@paper-r7", broker: "broker@paper", event: .fill(fill), at: Timestamp(nanoseconds: 15))),
        .executionReport(
            ExecutionReport(id: "broker@paper-r8", broker: "broker@paper", event: .submitting(spec), at: Timestamp(nanoseconds: 15))),
        .executionReport(
            ExecutionReport(
                id: "broker@paper-r9", broker: "broker@paper",
                event: .unacknowledged("i-1.E", detail: "no answer in 5 s"), at: Timestamp(nanoseconds: 15))),
        .orderCancel(OrderCancel(clientOrderID: "i-1.S", reason: "stop without a position")),
        .bar(
            Bar(
                symbol: "AAPL", start: Timestamp(nanoseconds: 16), open: Price("1.0001")!, high: Price("2")!, low: Price("0.5")!,
                close: Price("1.5")!, volume: 1_000_000)),
        .sessionClose(SessionClose(at: Timestamp(nanoseconds: 17))),
        .brokerQuery(BrokerQuery(executionsSince: Timestamp(nanoseconds: 0))),
        .brokerState(
            BrokerAccountState(
                broker: "broker@paper", asOf: Timestamp(nanoseconds: 18), connected: true,
                account: AccountValues(cash: Money("99000")!, equity: Money("100010.5")!),
                positions: [BrokerPosition(symbol: "AAPL", quantity: 10, averagePrice: Price("100.01")!)],
                openOrders: [
                    BrokerOrder(
                        spec: spec, brokerOrderID: "p-1", status: .partiallyFilled, filledQuantity: 4,
                        workingQuantity: 6, averageFillPrice: Price("99.99"))
                ],
                executions: [fill])),
        .brokerInject(.brokerCancelSilently("i-1.S")),
        .brokerInject(.disconnect(seconds: 3)),
        .commandResult(OperatorReply(accepted: true, message: "ok")),
        .reconcileRequest(ReconcileRequest(run: true, reason: "astctl reconcile")),
        .marketTime(MarketTime(now: Timestamp(nanoseconds: 1_763_700_000_000_000_000))),
        .marketSettle(MarketSettle(at: Timestamp(nanoseconds: 1_763_700_000_000_000_000), round: 2)),
        .settled(SettleReport(hadPending: true, tradingState: "ACTIVE", detail: "orders to the broker")),
        .openEntriesQuery(OpenEntriesQuery(orders: ["i-1.E", "i-2.E"])),
        .openEntries(OpenEntriesReport(unfilled: ["i-2.E"])),
        .reconciliationReport(
            ReconciliationSummary(
                trigger: "start", at: Timestamp(nanoseconds: 19), broker: "broker@paper", completed: true,
                clean: false, requiresHalt: true,
                findings: [
                    ReconciliationFindingLine(
                        kind: "unprotected_position", severity: "critical",
                        symbol: "AAPL", detail: "AAPL: 10 shares, no stop")
                ],
                repairs: ["cancelled i-2.S"], summary: "1 critical", positions: 1, openOrders: 0)),
        .notifierStatusRequest(NotifierStatusRequest()),
        .notifierStatus(
            NotifierStatusReport(
                deliveryEnabled: true, pending: 3, pendingP0: 1, oldestPendingP0: Timestamp(nanoseconds: 15),
                delivered: 40, abandoned: 0, lastDeliveryAt: nil, lastError: "Telegram answered HTTP 502",
                nextAttemptAt: Timestamp(nanoseconds: 16))),
        .quarantineAck(QuarantineAck(process: "broker@paper", seq: 4, reason: "poison inject from before M9.2")),
        .busStatusRequest(BusStatusRequest()),
        .busStatus(
            BusStatusReport(links: [
                BusLinkReport(
                    target: "broker@paper", connected: true, lastHeard: Timestamp(nanoseconds: 17), unacknowledged: 2,
                    oldestUnacknowledged: Timestamp(nanoseconds: 18))
            ])),
        .riskCommand(
            .operatorOrder(
                OperatorOrder(
                    kind: .protect, symbol: "AAPL", quantity: 10, stopPrice: Price("95.00"), reason: "stop lost", operatorUID: 1000))),
    ]

    static let spec = OrderSpec(
        clientOrderID: "i-1.E", intent: "i-1", leg: .entry, symbol: "AAPL", side: .buy, quantity: 10, type: .stopLimit,
        limitPrice: Price("101"), stopPrice: Price("100.5"), timeInForce: .day, parent: nil, ocaGroup: nil)
    static let fill = Fill(
        executionID: ExecutionID("broker@paper-x3"), clientOrderID: "i-1.E", symbol: "AAPL", side: .buy, quantity: 4,
        price: Price("99.99")!, commission: Money("1.00")!, at: Timestamp(nanoseconds: 20))

    static let intent = IntentGroup(
        id: "i-1", symbol: "AAPL", sector: "Tech", side: .buy, quantity: 20, entry: .market,
        stopLoss: Price("180.00"), takeProfit: nil, createdAt: Timestamp(nanoseconds: 8))

    @Test(arguments: samples)
    func roundTripsEveryMessageExactly(message: Message) throws {
        let env = Envelope(
            sender: Self.risk, seq: 3, id: "risk@main/c1.3", correlationID: "intent-9",
            timestamp: Timestamp(nanoseconds: 1_763_700_000_123_456_789), message: message)
        let decoded = try EnvelopeCodec.decode(EnvelopeCodec.encode(env))
        #expect(decoded == env)
    }

    @Test func everyCatalogTypeHasASample() {
        #expect(Set(Self.samples.map(\.type)) == Set(MessageCatalog.types.keys))
    }

    @Test func wireFormatIsTheDocumentedJSON() {
        let env = Envelope(sender: Self.risk, seq: 1, id: "x", timestamp: Timestamp(nanoseconds: 5), message: .ping(Ping(nonce: 9)))
        #expect(
            String(decoding: EnvelopeCodec.encode(env), as: UTF8.self)
                == #"{"body":{"nonce":9},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#)
    }

    static let bad: [(String, EnvelopeError)] = [
        ("not json at all", .malformed("not valid JSON")),
        ("", .malformed("not valid JSON")),
        ("[1,2]", .malformed("expected Dictionary<String, Any>")),
        (#"{"v":2,"from":"risk@main","type":"ping","seq":1,"id":"x","ts":5,"body":{"nonce":1}}"#, .unsupportedVersion(2)),
        (#"{"v":1,"from":"risk@main","type":"launch.missiles","seq":1,"id":"x","ts":5,"body":{}}"#, .unknownType("launch.missiles")),
        (
            #"{"v":1,"from":"risk@main","type":"ping","seq":1,"id":"x","ts":5,"body":{"nonce":"one"}}"#,
            .invalidBody(type: "ping", detail: "expected UInt64 at 'body.nonce'")
        ),
        (#"{"v":1,"from":"risk@main","type":"ping","seq":1,"id":"x","ts":5}"#, .invalidBody(type: "ping", detail: "missing field 'body'")),
        (
            #"{"v":1,"from":"Risk Gate","type":"ping","seq":1,"id":"x","ts":5,"body":{"nonce":1}}"#,
            .malformed("sender 'Risk Gate' is not role@instance")
        ),
        (#"{"v":1,"from":"risk@main","type":"ping","id":"x","ts":5,"body":{"nonce":1}}"#, .malformed("missing field 'seq'")),
        (
            #"{"v":1,"from":"risk@main","type":"ping","seq":-1,"id":"x","ts":5,"body":{"nonce":1}}"#,
            .malformed("seq must be a non-negative integer (got -1)")
        ),
    ]

    @Test(arguments: bad)
    func rejectsBadPayloadsWithANamedReason(payload: String, expected: EnvelopeError) {
        #expect(throws: expected) { try EnvelopeCodec.decode(Array(payload.utf8)) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: EnvelopeError.self) { try EnvelopeCodec.decode([0xFF, 0xFE, 0x7B]) }
    }
}
