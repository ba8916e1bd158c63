import ASTCalendar
import ASTCore
import ASTExecution
import ASTJournal
import ASTReport
import ASTRisk
import ASTStrategy
import ASTTestKit
import ASTWire
import Foundation
import GRDB
import Logging
import Testing

/// A two-day run written with the real `Journal` API in the shells' record formats.
///
/// Day 1 (2026-03-09): AAA approved, bought 100 @ 50.00 (commission 1.00), marked 51.00.
/// Day 2 (2026-03-10): AAA's take profit sells 100 @ 52.00 (commission 1.00): realised +200.00;
/// BBB blocked; CCC downgraded 20 -> 10, bought 10 @ 20.00 (commission 0.50), marked 19.00:
/// unrealised -10.00, protected by its working stop. Safe Mode ACTIVE -> SAFE_REDUCING.
struct Scenario {
    let dir: TemporaryDirectory
    var state: String { dir.path }

    static func t(_ date: String, _ hour: Int, _ minute: Int = 0) -> Timestamp {
        NewYorkTime.timestamp(LocalDate(date)!, LocalTime(hour: hour, minute: minute))
    }

    static let d1 = "2026-03-09"
    static let d2 = "2026-03-10"

    init(skip: Set<String> = []) throws {
        dir = try TemporaryDirectory(prefix: "ast-report")
        if !skip.contains("strategy@main") { try writeStrategy() }
        if !skip.contains("risk@main") { try writeRisk() }
        if !skip.contains("reconciler@main") { try writeReconciler() }
        if !skip.contains("marketdata@main") { try writeMarketData() }
        if !skip.contains("broker@paper") { try writeBroker() }
    }

    func journalPath(_ process: String) -> String { "\(state)/journal/\(process).sqlite" }

    func write(_ process: String, _ records: [JournalRecord]) throws {
        let j = try Journal(path: journalPath(process), process: process, logger: Logger(label: "test"))
        try j.append(records, durability: .durable)
        try j.close()
    }

    static func sorted(_ value: some Encodable) throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return Array(try e.encode(value))
    }

    static func intent(_ id: String, _ symbol: Symbol, _ qty: Int64, limit: String, stop: String, target: String, at: Timestamp)
        -> IntentGroup
    {
        IntentGroup(
            id: IntentID(stringLiteral: id), symbol: symbol, side: .buy, quantity: Quantity(qty), entry: .limit(Price(limit)!),
            stopLoss: Price(stop)!, takeProfit: Price(target)!, createdAt: at)
    }

    static let aaa = intent("AAA-1", "AAA", 100, limit: "50.00", stop: "48.00", target: "52.00", at: t(d1, 9))
    static let bbb = intent("BBB-1", "BBB", 1000, limit: "300.00", stop: "290.00", target: "320.00", at: t(d2, 9))
    static let ccc = intent("CCC-1", "CCC", 20, limit: "20.00", stop: "18.00", target: "24.00", at: t(d2, 9))

    func writeStrategy() throws {
        var records: [JournalRecord] = []
        for (date, candidates) in [
            (Self.d1, [("AAA", "breakout"), ("ZZZ", "pullback")]), (Self.d2, [("BBB", "breakout"), ("CCC", "breakout")]),
        ] {
            let scan = ScanResult(date: LocalDate(date)!, createdAt: Self.t(date, 9), tradingDay: true, previousSession: nil)
            var object = try JSONSerialization.jsonObject(with: Data(Self.sorted(scan))) as! [String: Any]
            object["candidates"] = Dictionary(grouping: candidates, by: \.1).keys.sorted().map { detector in
                [
                    "detector": detector,
                    "candidates": candidates.filter { $0.1 == detector }.map {
                        ["symbol": $0.0, "detector": $0.1, "close": "10.00", "summary": "test", "metrics": [] as [Any]] as [String: Any]
                    },
                ] as [String: Any]
            }
            let body = try JSONSerialization.data(withJSONObject: object, options: .sortedKeys)
            records.append(
                JournalRecord(kind: .decision, type: "strategy.scan", timestamp: Self.t(date, 9), correlationID: date, body: Array(body)))
        }
        try write("strategy@main", records)
    }

    func writeRisk() throws {
        func input(_ i: RiskInput, _ at: Timestamp) throws -> JournalRecord {
            JournalRecord(kind: .received, type: "risk.input", timestamp: at, body: try Self.sorted(i))
        }
        func decision(_ g: IntentGroup, _ d: RiskDecision) throws -> JournalRecord {
            JournalRecord(
                kind: .decision, type: "risk.decision", timestamp: g.createdAt, correlationID: g.id.rawValue,
                body: try Self.sorted(IntentDecision(intent: g.id, decision: d, at: g.createdAt)))
        }
        func approval(_ g: IntentGroup, _ q: Int64) -> Approval {
            Approval(
                id: ApprovalID(for: g.id), intent: g.id, symbol: g.symbol, side: g.side, quantity: Quantity(q),
                requestedQuantity: g.quantity, entry: g.entry, stopLoss: g.stopLoss, takeProfit: g.takeProfit, state: .active,
                at: g.createdAt)
        }
        let initial = SafeModeRecord.firstStart(at: Self.t(Self.d1, 8))
        let transition = SafeModeTransition(
            from: .active, to: .safeReducing,
            cause: SafeModeCause(kind: .portfolioViolation, code: .dailyLossLimit, text: "daily loss above its limit"),
            at: Self.t(Self.d2, 14))
        try write(
            "risk@main",
            [
                JournalRecord(kind: .state, type: "safe_mode.initial", timestamp: Self.t(Self.d1, 8), body: try Self.sorted(initial)),
                try input(.intent(Self.aaa), Self.aaa.createdAt),
                try decision(Self.aaa, .approve(approval(Self.aaa, 100))),
                try input(.intent(Self.bbb), Self.bbb.createdAt),
                try decision(Self.bbb, .block(.notionalExceedsMaxPerOrder, detail: "300000.00 > 20000.00")),
                try input(.intent(Self.ccc), Self.ccc.createdAt),
                try decision(Self.ccc, .downgrade(approval(Self.ccc, 10), rule: .maxConcentration, detail: "20 -> 10")),
                JournalRecord(kind: .state, type: "safe_mode.transition", timestamp: transition.at, body: try Self.sorted(transition)),
            ])
    }

    static func spec(_ g: IntentGroup, _ leg: BracketLeg, _ qty: Int64) -> OrderSpec {
        let id = ClientOrderID(intent: g.id, leg: leg)
        switch leg {
        case .entry:
            return OrderSpec(
                clientOrderID: id, intent: g.id, leg: leg, symbol: g.symbol, side: .buy, quantity: Quantity(qty), type: .limit,
                limitPrice: g.entry.limitPrice, timeInForce: .day)
        case .stopLoss:
            return OrderSpec(
                clientOrderID: id, intent: g.id, leg: leg, symbol: g.symbol, side: .sell, quantity: Quantity(qty), type: .stop,
                stopPrice: g.stopLoss, timeInForce: .gtc, parent: ClientOrderID(intent: g.id, leg: .entry), ocaGroup: g.id.rawValue)
        case .takeProfit:
            return OrderSpec(
                clientOrderID: id, intent: g.id, leg: leg, symbol: g.symbol, side: .sell, quantity: Quantity(qty), type: .limit,
                limitPrice: g.takeProfit, timeInForce: .gtc, parent: ClientOrderID(intent: g.id, leg: .entry), ocaGroup: g.id.rawValue)
        }
    }

    /// The broker's execution reports, in order, with their times.
    static var reports: [ExecutionReport] {
        var out: [ExecutionReport] = []
        func add(_ e: ExecutionEvent, _ at: Timestamp) {
            out.append(ExecutionReport(id: "broker@paper-r\(out.count + 1)", broker: "broker@paper", event: e, at: at))
        }
        let a1 = t(d1, 9, 1)
        for leg in [BracketLeg.entry, .stopLoss, .takeProfit] {
            add(.submitting(spec(aaa, leg, 100)), a1)
            add(.accepted(ClientOrderID(intent: aaa.id, leg: leg)), a1)
        }
        add(
            .fill(
                Fill(
                    executionID: ExecutionID("X1"), clientOrderID: ClientOrderID(intent: aaa.id, leg: .entry), symbol: "AAA", side: .buy,
                    quantity: 100, price: Price("50.00")!, commission: Money("1.00")!, at: t(d1, 15, 59))), t(d1, 15, 59))
        let c1 = t(d2, 9, 1)
        for leg in [BracketLeg.entry, .stopLoss, .takeProfit] {
            add(.submitting(spec(ccc, leg, 10)), c1)
            add(.accepted(ClientOrderID(intent: ccc.id, leg: leg)), c1)
        }
        add(
            .fill(
                Fill(
                    executionID: ExecutionID("X2"), clientOrderID: ClientOrderID(intent: aaa.id, leg: .takeProfit), symbol: "AAA",
                    side: .sell,
                    quantity: 100, price: Price("52.00")!, commission: Money("1.00")!, at: t(d2, 10))), t(d2, 10))
        add(.cancelled(ClientOrderID(intent: aaa.id, leg: .stopLoss), reason: "OCA"), t(d2, 10))
        add(
            .fill(
                Fill(
                    executionID: ExecutionID("X3"), clientOrderID: ClientOrderID(intent: ccc.id, leg: .entry), symbol: "CCC", side: .buy,
                    quantity: 10, price: Price("20.00")!, commission: Money("0.50")!, at: t(d2, 11))), t(d2, 11))
        return out
    }

    func writeReconciler() throws {
        var inputs: [(ReconcilerInput, Timestamp)] = [(.initial(cash: Money("100000.00")!), Self.t(Self.d1, 8))]
        for r in Self.reports { inputs.append((.report(r), r.at)) }
        inputs.insert(
            (.mark(MarketMark(symbol: "AAA", price: Price("51.00")!, at: Self.t(Self.d1, 16))), Self.t(Self.d1, 16)),
            at: inputs.firstIndex { $0.1 >= Self.t(Self.d1, 16) } ?? inputs.count)
        inputs.append((.mark(MarketMark(symbol: "CCC", price: Price("19.00")!, at: Self.t(Self.d2, 16))), Self.t(Self.d2, 16)))
        let broker = BrokerAccountState(
            broker: "broker@paper", asOf: Self.t(Self.d2, 16, 1), connected: true,
            account: AccountValues(cash: Money("99997.50")!, equity: Money("100187.50")!),
            positions: [BrokerPosition(symbol: "CCC", quantity: 10, averagePrice: Price("20.00")!)],
            openOrders: [.stopLoss, .takeProfit].map { leg in
                BrokerOrder(
                    spec: Self.spec(Self.ccc, leg, 10), brokerOrderID: "P-\(leg.rawValue)", status: .working, filledQuantity: .zero,
                    workingQuantity: 10, averageFillPrice: nil)
            },
            executions: [], reportsThrough: Int64(Self.reports.count))
        inputs.append((.reconciliation(trigger: "schedule 16:01", broker: broker), Self.t(Self.d2, 16, 1)))

        // The shell's summary entries come from the core's outputs for the same inputs.
        var core = ReconcilerCore()
        var records: [JournalRecord] = []
        for (input, at) in inputs {
            records.append(JournalRecord(kind: .received, type: "reconciler.input", timestamp: at, body: try Self.sorted(input)))
            for case .summary(let s) in core.handle(input, now: at) {
                records.append(JournalRecord(kind: .decision, type: "reconciliation.summary", timestamp: s.at, body: try Self.sorted(s)))
            }
        }
        try write("reconciler@main", records)
    }

    struct Progress: Encodable {
        var time: Timestamp
        var session: String
        var index: Int
        var of: Int
        var what: String
    }

    func writeMarketData() throws {
        var records: [JournalRecord] = []
        for (i, d) in [Self.d1, Self.d2].enumerated() {
            for (h, m) in [(9, 0), (16, 0)] {
                let p = Progress(time: Self.t(d, h, m), session: d, index: i + 1, of: 2, what: "step")
                records.append(
                    JournalRecord(kind: .state, type: "marketdata.replay", timestamp: p.time, body: Array(try JSONEncoder().encode(p))))
            }
        }
        records.append(JournalRecord(kind: .state, type: "marketdata.replay_finished", timestamp: Self.t(Self.d2, 16), body: []))
        try write("marketdata@main", records)
    }

    func writeBroker() throws {
        let sender = ProcessIdentity(parsing: "broker@paper")!
        let records = Self.reports.enumerated().map { i, r in
            let envelope = Envelope(sender: sender, seq: UInt64(i + 1), id: "m\(i + 1)", timestamp: r.at, message: .executionReport(r))
            return JournalRecord(
                kind: .sent, type: "execution.report", timestamp: r.at, messageID: "m\(i + 1)", peer: "reconciler@main",
                body: EnvelopeCodec.encode(envelope))
        }
        try write("broker@paper", records)
    }
}

@Suite struct RunReportTests {
    @Test func twoDayRunGivesHandComputedTotals() throws {
        let s = try Scenario()
        defer { s.dir.remove() }
        let r = try RunReportBuilder.build(stateDirectory: s.state, mode: "PAPER")
        #expect(r.problems == [])
        #expect(r.period.sessions == [Scenario.d1, Scenario.d2])
        #expect(r.period.replayFinished)
        #expect(r.days.map(\.date) == [Scenario.d1, Scenario.d2])
        let t = r.totals
        #expect(t.sessions == 2)
        #expect(t.candidates == 4)
        #expect((t.intents, t.approved, t.downgraded, t.blocked) == (3, 1, 1, 1))
        #expect(t.blockedByReason == [ReasonCount(reason: "NOTIONAL_EXCEEDS_MAX_PER_ORDER", count: 1)])
        #expect(t.orders == 6)
        #expect(t.fills == 3)
        #expect(t.cancelled == 1)
        // AAA: (52.00 - 50.00) x 100; CCC: (19.00 - 20.00) x 10; commissions 1.00 + 1.00 + 0.50.
        #expect(t.realizedPnL == Money("200.00")!)
        #expect(t.unrealizedPnL == Money("-10.00")!)
        #expect(t.commissions == Money("2.50")!)
        #expect(t.equityStart == Money("100000.00")!)
        // Cash 100000 - 5001 + 5199 - 200.50 = 99997.50, plus CCC 10 x 19.00.
        #expect(t.equityEnd == Money("100187.50")!)
        #expect(t.equityPeak == Money("100198.00")!)
        // Snapshots 100000, 99999, 100198, 100197.50, 100187.50: the largest fall is 10.50.
        #expect(t.maxDrawdown == Money("10.50")!)
        #expect(
            r.finalPositions == [
                PositionLine(
                    symbol: "CCC", quantity: 10, averagePrice: Price("20.00")!, mark: Price("19.00")!,
                    unrealizedPnL: Money("-10.00")!, protectedByStop: true)
            ])
        #expect(r.safeModeNow == "SAFE_REDUCING")
        #expect(r.safeModeTransitions.map { "\($0.from)->\($0.to)" } == ["ACTIVE->SAFE_REDUCING"])
        #expect(r.reconciliations.map(\.outcome) == ["clean"])
        let day1 = r.days[0]
        #expect(
            day1.candidates == [CandidateLine(symbol: "AAA", detector: "breakout"), CandidateLine(symbol: "ZZZ", detector: "pullback")])
        #expect(day1.fills.map(\.executionID) == ["X1"])
        #expect(day1.endOfDay?.equity == Money("100099.00")!)
        #expect(day1.endOfDay?.positions.map(\.symbol) == ["AAA"])
        let day2 = r.days[1]
        #expect(day2.decisions.map(\.outcome) == ["blocked", "downgraded"])
        // Each day shows the orders submitted or changed that day, in their state at its end.
        #expect(day2.orders.map(\.status).sorted() == ["Accepted", "Accepted", "Cancelled", "Filled", "Filled"])
    }

    @Test func markdownShowsSummaryTableAndEachDay() throws {
        let s = try Scenario()
        defer { s.dir.remove() }
        let md = try RunReportBuilder.build(stateDirectory: s.state, mode: "PAPER").markdown
        for line in [
            "| Realised P&L (gross) | $200.00 |", "| Unrealised P&L | -$10.00 |", "| Approved / downgraded / blocked | 1 / 1 / 1 |",
            "| Max drawdown | $10.50", "| Equity start / end | $100,000.00 / $100,187.50 |",
            "| Equity peak / trough | $100,198.00 / $99,999.00 |", "| Safe Mode now | SAFE_REDUCING |", "## 2026-03-09", "## 2026-03-10",
            "| CCC | 10 | 20.00 | 19.00 | -$10.00 | working |", "NOTIONAL_EXCEEDS_MAX_PER_ORDER",
            "1 reconciliation: clean 1.", "Every one clean, without findings.",
        ] {
            #expect(md.contains(line), "missing: \(line)")
        }
    }

    @Test func jsonRoundTripsAndUsesSnakeCaseKeys() throws {
        let s = try Scenario()
        defer { s.dir.remove() }
        let r = try RunReportBuilder.build(stateDirectory: s.state)
        let data = try r.json()
        #expect(try JSONDecoder().decode(RunReport.self, from: data) == r)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"realized_pnl\" : \"200.00\""))
        #expect(text.contains("\"final_positions\""))
        #expect(try r.json() == data)
    }

    @Test func dailyKeepsOnlyThatDaysSectionAndCounts() throws {
        let s = try Scenario()
        defer { s.dir.remove() }
        let d = try RunReportBuilder.build(stateDirectory: s.state).daily(date: Scenario.d2)
        #expect(d.days.map(\.date) == [Scenario.d2])
        #expect((d.totals.intents, d.totals.approved, d.totals.blocked, d.totals.fills) == (2, 0, 1, 2))
        #expect(d.safeModeTransitions.count == 1)
    }

    @Test func missingJournalIsReportedAsProblem() throws {
        let s = try Scenario(skip: ["strategy@main"])
        defer { s.dir.remove() }
        let r = try RunReportBuilder.build(stateDirectory: s.state)
        #expect(r.problems.count == 1)
        #expect(r.problems.first?.contains("journal strategy@main is missing") == true)
        #expect(r.totals.candidates == 0)
        #expect(r.totals.fills == 3)
        #expect(!FileManager.default.fileExists(atPath: s.journalPath("strategy@main")))
    }

    @Test func damagedJournalIsReportedAsProblem() throws {
        let s = try Scenario()
        defer { s.dir.remove() }
        let db = try DatabaseQueue(path: s.journalPath("risk@main"))
        try db.write { try $0.execute(sql: "UPDATE entries SET body = CAST('{}' AS BLOB) WHERE seq = 3") }
        try db.close()
        let r = try RunReportBuilder.build(stateDirectory: s.state)
        #expect(r.problems.contains { $0.contains("risk@main.sqlite fails verification") && $0.contains("editedEntry at entry 3") })
    }

    @Test func unreadableJournalIsAJournalFailureNotAnEmptyPart() throws {
        let s = try Scenario()
        defer { s.dir.remove() }
        #expect(try RunReportBuilder.build(stateDirectory: s.state).journalFailures.isEmpty)
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: s.journalPath("reconciler@main") + suffix) }
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: s.journalPath("reconciler@main")))
        let r = try RunReportBuilder.build(stateDirectory: s.state)
        #expect(r.journalFailures.contains { $0.contains("reconciler@main") }, "\(r.journalFailures)")
        #expect(r.journalFailures.allSatisfy { r.problems.contains($0) })
    }

    @Test func missingJournalIsAJournalFailure() throws {
        let s = try Scenario(skip: ["strategy@main"])
        defer { s.dir.remove() }
        let r = try RunReportBuilder.build(stateDirectory: s.state)
        #expect(r.journalFailures.count == 1 && r.journalFailures.first?.contains("journal strategy@main is missing") == true)
    }

    @Test func missingStateDirectoryThrows() {
        #expect(throws: RunReportError.self) { try RunReportBuilder.build(stateDirectory: "/nonexistent/ast-state") }
    }
}
