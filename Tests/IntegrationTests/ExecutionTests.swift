import ASTCore
import ASTExecution
import ASTJournal
import ASTRisk
import ASTRuntime
import ASTTestKit
import ASTWire
import Foundation
import Logging
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The execution path in the running tree (M4): approved brackets reach the paper broker, fill
/// against bars, reach the reconciler as execution reports and the risk gate as a portfolio;
/// crashes of the broker and the reconciler lose and double nothing; reconciliation finds
/// what the broker did behind the system's back.
@Suite(.serialized) struct ExecutionTests {
    /// Limits loose enough for many small positions in one test.
    static let looseLimits = """
        risk:
          limits:
            max_mark_age_seconds: 3600
            max_open_positions: 100
            max_orders_per_window: 1000
            max_symbol_concentration_pct: 100
            max_sector_concentration_pct: 100
            max_order_notional_pct: 100
            max_gross_leverage_pct: 1000
            daily_loss_limit_pct: 100
            max_drawdown_pct: 100
        """

    static let symbols: [Symbol] = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "JPM", "XOM", "KO", "PEP", "WMT"]

    /// A connected, welcomed peer of `role` on `socket`.
    static func peer(_ tree: SupervisedTree, _ socket: String, role: Role, instance: String = "test") throws -> RawBusPeer {
        let p = try RawBusPeer(path: tree.dir("run/\(socket).sock"), identity: ProcessIdentity(role: role, instance: instance))
        try p.hello()
        guard try p.receive()?.type == .welcome else { throw HarnessError("\(role) was not welcomed at \(socket)") }
        return p
    }

    /// Sends an acknowledged message and waits for its ack; returns any reply that came with it.
    @discardableResult
    static func sendAcked(_ p: RawBusPeer, _ message: Message) throws -> Message? {
        let sent = try p.send(message)
        var reply: Message?
        while let env = try p.receive(timeoutMs: 10_000) {
            if case .ack(let a) = env.message, a.id == sent.id { break }
            reply = env.message
        }
        if reply == nil, case .intentSubmit = message, let env = try p.receive(timeoutMs: 10_000) { reply = env.message }
        return reply
    }

    static func intent(_ id: String, _ symbol: Symbol, quantity: Int64 = 10) -> IntentGroup {
        IntentGroup(
            id: IntentID(stringLiteral: id), symbol: symbol, sector: "Test", side: .buy, quantity: Quantity(quantity),
            entry: .limit(Price("100.00")!), stopLoss: Price("95.00"), takeProfit: Price("110.00"), createdAt: SystemClock().now())
    }

    /// A daily bar a minute in the future (so every resting order is eligible) that trades
    /// through the limit of 100 without touching the stop (95) or the target (110).
    static func entryBar(_ symbol: Symbol, minutesAhead: Int64 = 1) -> Bar {
        Bar(
            symbol: symbol, start: SystemClock().now().advanced(by: .seconds(60 * minutesAhead)), open: Price("100.50")!,
            high: Price("101.00")!,
            low: Price("99.50")!, close: Price("100.80")!, volume: 1_000_000)
    }

    static func brokerState(_ tree: SupervisedTree) throws -> BrokerAccountState? {
        let r = try tree.astctl(["broker", "state", "--executions"])
        guard r.code == 0 else { return nil }
        return try JSONDecoder().decode(BrokerAccountState.self, from: Data(r.stdout.utf8))
    }

    /// Marks for every test symbol, so the risk gate can price the intents, once the reconciler
    /// has published its first portfolio (the gate decides nothing without one).
    static func markAll(_ tree: SupervisedTree) async throws {
        try await eventually(timeout: .seconds(20), "the reconciler's first portfolio at the risk gate") {
            try !riskPortfolios(tree).isEmpty
        }
        let md = try peer(tree, "risk@main", role: .marketdata)
        // Marks are acknowledged once the risk gate has them: wait, so no intent overtakes them.
        for s in symbols { try sendAcked(md, .mark(MarketMark(symbol: s, price: Price("100.00")!, at: SystemClock().now()))) }
    }

    /// Approves intents one by one through the strategy's path; returns the approved ids.
    static func submit(_ intents: [IntentGroup], to tree: SupervisedTree) throws -> [IntentID] {
        let strategy = try peer(tree, "risk@main", role: .strategy)
        var approved: [IntentID] = []
        for i in intents {
            guard case .intentDecision(let d)? = try sendAcked(strategy, .intentSubmit(i)) else {
                throw HarnessError("no decision for \(i.id)")
            }
            if d.decision.approval != nil { approved.append(i.id) } else { Issue.record("\(i.id) not approved: \(d.decision)") }
        }
        return approved
    }

    static func riskPortfolios(_ tree: SupervisedTree) throws -> [PortfolioSnapshot] {
        try WorkerTree.entries(path: tree.dir("state/journal/risk@main.sqlite"), process: "risk@main")
            .filter { $0.record.type == "risk.input" }
            .compactMap { e -> PortfolioSnapshot? in
                if case .portfolio(let p) = try JSONDecoder().decode(RiskInput.self, from: Data(e.record.body)) { return p }
                return nil
            }
    }

    @Test(.timeLimit(.minutes(3)))
    func anApprovedBracketFillsAndTheReconciledPortfolioReachesTheRiskGate() async throws {
        let tree = try await SupervisedTree(overlay: Self.looseLimits)
        _ = try await tree.waitAllReady()
        try await Self.markAll(tree)
        #expect(try Self.submit([Self.intent("flow-1", "AAPL")], to: tree) == ["flow-1"])

        // The bracket rests at the paper broker: the entry working, its stop and target held.
        try await eventually(timeout: .seconds(10), "the bracket at the paper broker") {
            try Self.brokerState(tree)?.openOrders.count == 3
        }
        let resting = try #require(try Self.brokerState(tree))
        #expect(resting.openOrders.map(\.spec.clientOrderID) == ["flow-1.E", "flow-1.S", "flow-1.T"])
        #expect(resting.openOrders.map(\.status) == [.working, .held, .held])

        // A bar trades through the limit: the entry fills, the stop and target start working.
        let md = try Self.peer(tree, "broker@paper", role: .marketdata)
        try Self.sendAcked(md, .bar(Self.entryBar("AAPL")))
        try await eventually(timeout: .seconds(10), "the position at the broker") {
            try Self.brokerState(tree)?.positions == [BrokerPosition(symbol: "AAPL", quantity: 10, averagePrice: Price("100.00")!)]
        }
        let filled = try #require(try Self.brokerState(tree))
        #expect(filled.openOrders.map(\.spec.clientOrderID) == ["flow-1.S", "flow-1.T"])
        #expect(filled.openOrders.allSatisfy { $0.status == .working && $0.workingQuantity == 10 })

        // The fill reached the reconciler, and its portfolio reached the risk gate.
        try await eventually(timeout: .seconds(10), "the portfolio at the risk gate") {
            try Self.riskPortfolios(tree).last?.positions["AAPL"]?.quantity == 10
        }
        let portfolio = try #require(try Self.riskPortfolios(tree).last)
        #expect(portfolio.positions["AAPL"]?.averagePrice == Price("100.00"))
        #expect(portfolio.cash == filled.account.cash, "the reconciler's cash (fills and commissions) equals the broker's")

        // Reconciliation on demand is clean, and astctl status shows it.
        let reconcile = try tree.astctl(["reconcile"])
        #expect(reconcile.code == 0, "\(reconcile.stdout)\(reconcile.stderr)")
        #expect(reconcile.stdout.contains("Reconciliation: clean"), "\(reconcile.stdout)")
        let (status, _) = try #require(try tree.status())
        #expect(status.reconciliation?.trigger == "astctl reconcile" && status.reconciliation?.clean == true)
        #expect(status.safeMode?.state == .active)
    }

    @Test(.timeLimit(.minutes(3)))
    func aBrokerKilledWhileOrdersArriveHoldsEachOrderExactlyOnce() async throws {
        let tree = try await SupervisedTree(overlay: Self.looseLimits)
        let before = try await tree.waitAllReady()
        try await Self.markAll(tree)
        let brokerPID = try #require(tree.child("broker@paper", in: before)?.pid)
        let intents = Self.symbols.enumerated().map { Self.intent("kill-\($0.offset)", $0.element) }
        // The risk gate approves and sends each order on; the broker dies while they arrive.
        // (Intents after the kill are blocked: the broker's crash halts trading.)
        // The kill follows the first decision: astd reports the exit to risk at once (its loop
        // wakes on events), so a kill sent before any intent was decided could halt the gate
        // before it approved one.
        let strategy = try Self.peer(tree, "risk@main", role: .strategy)
        var approved = Set<IntentID>()
        var decisions = 0
        func collect(until count: Int) throws {
            while decisions < count, let env = try strategy.receive(timeoutMs: 20_000) {
                guard case .intentDecision(let d) = env.message else { continue }
                decisions += 1
                if d.decision.approval != nil { approved.insert(d.intent) }
            }
        }
        for (n, i) in intents.enumerated() {
            _ = try strategy.send(.intentSubmit(i))
            if n == 3 {
                try collect(until: 1)
                kill(brokerPID, SIGKILL)
            }
        }
        try collect(until: intents.count)
        #expect(decisions == intents.count && !approved.isEmpty)
        // Every approved bracket ends at the restarted broker exactly once: three legs per intent.
        try await eventually(timeout: .seconds(40), "every approved bracket at the restarted broker") {
            guard let s = try Self.brokerState(tree) else { return false }
            return s.openOrders.count == 3 * approved.count
        }
        let state = try #require(try Self.brokerState(tree))
        let ids = state.openOrders.map(\.spec.clientOrderID.rawValue)
        #expect(Set(ids).count == ids.count)
        #expect(Set(state.openOrders.map(\.spec.intent)) == approved)
        // The paper broker's journal shows one accepted order per leg: resubmissions created nothing.
        let acceptedCount = try WorkerTree.entries(path: tree.dir("state/journal/broker@paper.sqlite"), process: "broker@paper")
            .filter { $0.record.kind == .sent && $0.record.type == "execution.report" }
            .compactMap { e -> ClientOrderID? in
                if case .executionReport(let r) = try EnvelopeCodec.decode(e.record.body).message, case .accepted(let id) = r.event {
                    return id
                }
                return nil
            }
        #expect(acceptedCount.count == 3 * approved.count && Set(acceptedCount).count == acceptedCount.count)
        let after = try #require(try tree.status()?.0)
        #expect((tree.child("broker@paper", in: after)?.restarts ?? 0) >= 1)
    }

    @Test(.timeLimit(.minutes(3)))
    func aReconcilerKilledInAStreamOfFillsLosesNoFillAndCountsNoneTwice() async throws {
        let tree = try await SupervisedTree(overlay: Self.looseLimits)
        let before = try await tree.waitAllReady()
        try await Self.markAll(tree)
        let intents = Self.symbols.enumerated().map { Self.intent("fills-\($0.offset)", $0.element, quantity: Int64(10 + $0.offset)) }
        #expect(try Self.submit(intents, to: tree).count == intents.count)
        try await eventually(timeout: .seconds(10), "every bracket at the broker") {
            try Self.brokerState(tree)?.openOrders.count == 3 * intents.count
        }

        let reconcilerPID = try #require(tree.child("reconciler@main", in: before)?.pid)
        let md = try Self.peer(tree, "broker@paper", role: .marketdata)
        for (n, s) in Self.symbols.enumerated() {
            try Self.sendAcked(md, .bar(Self.entryBar(s)))
            if n == 5 { kill(reconcilerPID, SIGKILL) }
        }
        // After the restart the reconciler's book matches the broker's exactly.
        try await eventually(timeout: .seconds(30), "the reconciler back") {
            guard let (s, _) = try tree.status(), let c = tree.child("reconciler@main", in: s) else { return false }
            return c.pid != reconcilerPID && c.ready
        }
        let broker = try #require(try Self.brokerState(tree))
        #expect(broker.positions.count == Self.symbols.count)
        try await eventually(timeout: .seconds(20), "the risk gate's portfolio to match the broker's") {
            guard let p = try Self.riskPortfolios(tree).last else { return false }
            return broker.positions.allSatisfy { p.positions[$0.symbol]?.quantity == $0.quantity }
                && p.positions.count == broker.positions.count
        }
        #expect(try Self.riskPortfolios(tree).last?.cash == broker.account.cash)
        let reconcile = try tree.astctl(["reconcile"])
        #expect(reconcile.code == 0 && reconcile.stdout.contains("Reconciliation: clean"), "\(reconcile.stdout)\(reconcile.stderr)")
        // Every execution the broker made appears exactly once in the reconciler's inputs.
        var seen: [ExecutionID: Int] = [:]
        for e in try WorkerTree.entries(path: tree.dir("state/journal/reconciler@main.sqlite"), process: "reconciler@main")
        where e.record.type == "reconciler.input" {
            if case .report(let r) = try JSONDecoder().decode(ReconcilerInput.self, from: Data(e.record.body)), case .fill(let f) = r.event
            {
                seen[f.executionID, default: 0] += 1
            }
        }
        #expect(Set(seen.keys) == Set(broker.executions.map(\.executionID)))
    }

    @Test(.timeLimit(.minutes(3)))
    func aStopCancelledBehindTheSystemsBackHaltsTradingWithAP0Alert() async throws {
        let tree = try await SupervisedTree(overlay: Self.looseLimits)
        _ = try await tree.waitAllReady()
        try await Self.markAll(tree)
        #expect(try Self.submit([Self.intent("naked-1", "MSFT")], to: tree) == ["naked-1"])
        try await eventually(timeout: .seconds(10), "the bracket at the broker") { try Self.brokerState(tree)?.openOrders.count == 3 }
        let md = try Self.peer(tree, "broker@paper", role: .marketdata)
        try Self.sendAcked(md, .bar(Self.entryBar("MSFT")))
        try await eventually(timeout: .seconds(10), "the position") { try Self.brokerState(tree)?.positions.count == 1 }

        let inject = try tree.astctl(["broker", "inject", "cancel-silently", "naked-1.S"])
        #expect(inject.code == 0, "\(inject.stdout)\(inject.stderr)")
        let reconcile = try tree.astctl(["reconcile"])
        #expect(reconcile.code == 2, "\(reconcile.stdout)\(reconcile.stderr)")
        #expect(reconcile.stdout.contains("unprotected") && reconcile.stdout.contains("MSFT"), "\(reconcile.stdout)")
        try await eventually(timeout: .seconds(10), "HALTED") { try tree.status()?.0.safeMode?.state == .halted }
        let halted = try #require(try tree.status()?.0.safeMode)
        #expect(halted.cause.contains("MSFT"), "\(halted.cause)")
        // The P0 alert names the symbol and the numbers.
        try await eventually(timeout: .seconds(10), "the P0 alert in the notifier's journal") {
            try WorkerTree.entries(path: tree.dir("state/journal/notifier@main.sqlite"), process: "notifier@main")
                .contains { e in
                    guard e.record.type == "alert", case .alert(let a) = try EnvelopeCodec.decode(e.record.body).message else {
                        return false
                    }
                    return a.priority == .p0 && a.text.contains("MSFT") && a.text.contains("10")
                }
        }
        // Resume is refused until a clean reconciliation.
        let resume = try tree.astctl(["resume"])
        #expect(resume.code == 1, "\(resume.stdout)")
    }
}

extension ExecutionTests {
    @Test(.timeLimit(.minutes(3)))
    func aBrokerDisconnectHaltsAndTheFillMissedMeanwhileIsFoundByTheReconciliationAfter() async throws {
        let tree = try await SupervisedTree(overlay: Self.looseLimits)
        _ = try await tree.waitAllReady()
        try await Self.markAll(tree)
        #expect(try Self.submit([Self.intent("dark-1", "NVDA")], to: tree) == ["dark-1"])
        try await eventually(timeout: .seconds(10), "the bracket at the broker") { try Self.brokerState(tree)?.openOrders.count == 3 }

        let inject = try tree.astctl(["broker", "inject", "disconnect", "3"])
        #expect(inject.code == 0, "\(inject.stdout)\(inject.stderr)")
        try await eventually(timeout: .seconds(10), "HALTED by the disconnect") { try tree.status()?.0.safeMode?.state == .halted }
        #expect(try tree.status()?.0.safeMode?.disconnectedBrokers == ["broker@paper"])
        // The exchange keeps trading while the connection is down: the entry fills, its report is lost.
        let md = try Self.peer(tree, "broker@paper", role: .marketdata)
        try Self.sendAcked(md, .bar(Self.entryBar("NVDA")))
        #expect(try Self.riskPortfolios(tree).last?.positions["NVDA"] == nil)

        // Reconnected, the broker says so; the reconciliation that follows applies the missed fill.
        try await eventually(timeout: .seconds(20), "the reconciliation after the reconnection") {
            guard let r = try tree.status()?.0.reconciliation else { return false }
            return r.trigger.contains("connected") && r.findings.contains { $0.kind == "missed_fill" }
        }
        let r = try #require(try tree.status()?.0.reconciliation)
        #expect(r.completed && !r.requiresHalt, "\(r.summary)")
        #expect(r.repairs.contains { $0.contains("applied missed fill") }, "\(r.repairs)")
        try await eventually(timeout: .seconds(10), "the position at the risk gate") {
            try Self.riskPortfolios(tree).last?.positions["NVDA"]?.quantity == 10
        }
        // A clean reconciliation since the halt: the operator may resume.
        let resume = try tree.astctl(["resume", "--to", "active"])
        #expect(resume.code == 0, "\(resume.stdout)\(resume.stderr)")
    }

    @Test(.timeLimit(.minutes(3)))
    func anUnacknowledgedSubmitIsResolvedByAskingTheBrokerNeverByResubmitting() async throws {
        let tree = try await SupervisedTree(overlay: Self.looseLimits)
        _ = try await tree.waitAllReady()
        try await Self.markAll(tree)
        #expect(try tree.astctl(["broker", "inject", "drop-next-ack"]).code == 0)
        #expect(try Self.submit([Self.intent("lost-ack-1", "KO")], to: tree) == ["lost-ack-1"])
        try await eventually(timeout: .seconds(10), "the bracket at the broker") { try Self.brokerState(tree)?.openOrders.count == 3 }

        let reconcile = try tree.astctl(["reconcile", "--json"])
        #expect(reconcile.code == 0, "\(reconcile.stdout)\(reconcile.stderr)")
        let run = try JSONDecoder().decode(ReconciliationSummary.self, from: Data(reconcile.stdout.utf8))
        #expect(run.findings.filter { $0.kind == "unknown_order_resolved" }.count == 3, "\(run.findings)")
        #expect(run.completed && !run.requiresHalt)
        // Resolved by asking: the broker still holds exactly the one bracket, never a second submit.
        let state = try #require(try Self.brokerState(tree))
        #expect(state.openOrders.map(\.spec.clientOrderID) == ["lost-ack-1.E", "lost-ack-1.S", "lost-ack-1.T"])
        let submits = try WorkerTree.entries(path: tree.dir("state/journal/broker@paper.sqlite"), process: "broker@paper")
            .filter { $0.record.type == "paper.input" && $0.record.correlationID == "lost-ack-1" }
        #expect(submits.count == 1)
        // A second reconciliation finds nothing left to resolve.
        let again = try JSONDecoder().decode(ReconciliationSummary.self, from: Data(try tree.astctl(["reconcile", "--json"]).stdout.utf8))
        #expect(again.findings.isEmpty, "\(again.findings)")
    }
}

/// The exact moment "between submit and acknowledgement", made deterministic: the bus has
/// journaled an approved order (so a re-send is a duplicate it acknowledges without delivering)
/// but the broker died before its adapter handled it.
@Suite(.serialized) struct BrokerCrashWindowTests {
    @Test(.timeLimit(.minutes(2)))
    func anOrderJournaledByTheBusButNeverHandledIsHandledOnceAtRestart() async throws {
        let tree = try WorkerTree()
        let broker = ProcessIdentity(role: .broker, instance: "paper")
        try FileManager.default.createDirectory(atPath: tree.stateDir + "/journal", withIntermediateDirectories: true)
        let approval = Approval(
            id: ApprovalID(for: "gap-1"), intent: "gap-1", symbol: "AAPL", side: .buy, quantity: 10, requestedQuantity: 10,
            entry: .limit(Price("100")!), stopLoss: Price("95"), takeProfit: Price("110"), state: .active,
            at: SystemClock().now())
        let id = "risk@main>broker@paper#1"
        let env = Envelope(
            sender: ProcessIdentity(role: .risk), seq: 1, id: id, correlationID: "gap-1", timestamp: SystemClock().now(),
            message: .orderSubmit(approval))
        do {
            // What the bus writes when it receives the order, and nothing after it: the crash.
            let j = try Journal(path: tree.journalPath(broker), process: broker.description, logger: Logger(label: "test"))
            try j.append(
                JournalRecord(
                    kind: .received, type: "order.submit", timestamp: env.timestamp, messageID: id,
                    correlationID: "gap-1", peer: "risk@main", body: EnvelopeCodec.encode(env)), durability: .durable)
            try j.close()
        }
        let process = try await tree.start(broker)
        defer { process.stop(graceSeconds: 5) }
        let control = try RawBusPeer(path: tree.socketPath(broker))
        try control.hello()
        #expect(try control.receive()?.type == .welcome)
        func state() throws -> BrokerAccountState? {
            _ = try control.send(.brokerQuery(BrokerQuery(executionsSince: Timestamp(nanoseconds: 0))))
            if case .brokerState(let s)? = try control.receive()?.message { return s }
            return nil
        }
        try await eventually(timeout: .seconds(10), "the journaled order at the paper broker") { try state()?.openOrders.count == 3 }
        // ast-risk re-sends it (it never saw the ack): acknowledged as a duplicate, nothing new.
        let risk = try RawBusPeer(path: tree.socketPath(broker), identity: ProcessIdentity(role: .risk))
        try risk.hello()
        #expect(try risk.receive()?.type == .welcome)
        _ = try risk.send(.orderSubmit(approval), id: id)
        #expect(try risk.receive()?.message == .ack(Ack(id: id, duplicate: true)))
        // The same approval under a new message id (a replayed risk gate) is still one order.
        _ = try risk.send(.orderSubmit(approval), id: "risk@main>broker@paper#2")
        #expect(try risk.receive()?.message == .ack(Ack(id: "risk@main>broker@paper#2", duplicate: false)))
        let s = try #require(try state())
        #expect(s.openOrders.map(\.spec.clientOrderID) == ["gap-1.E", "gap-1.S", "gap-1.T"])
        let inputs = try tree.entries(broker).filter { $0.record.type == "paper.input" }
        #expect(inputs.count == 2, "the order handled once at restart and the duplicate seen once")
    }
}
