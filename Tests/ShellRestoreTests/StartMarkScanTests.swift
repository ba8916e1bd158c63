import ASTCalendar
import ASTCore
import ASTJournal
import ASTNotify
import ASTRisk
import ASTStrategy
import ASTTestKit
import ASTWire
import Foundation
import Testing

@testable import ast_broker
@testable import ast_marketdata
@testable import ast_notifier
@testable import ast_strategy

/// M11: the start-up scans that have no core checkpoint read from their newest start-up mark
/// (the broker's approval screen, the strategy's schedule position, portfolio and entries, market
/// data's replay progress, the notifier's outbox and command desk). Each is checked on a journal
/// of thousands of entries of the kinds it folds, marked as the shell marks it: the state from the
/// newest mark is the state from entry 1, and the read from the mark is about one interval long.
@Suite struct StartMarkScanTests {
    let every: Int64 = 500
    let count = 6_000

    /// Writes `count` entries (`make(i)` gives entry i's records, none for filler) and lets a
    /// marker mark as a shell does, then restores from the newest mark and from entry 1.
    func restoreBothWays<Scan: MarkedScan>(
        _ scan: Scan.Type, _ make: (Int) throws -> [JournalRecord]
    ) throws -> (full: MarkedRestore<Scan.State>, fromMark: MarkedRestore<Scan.State>, journal: Journal, dir: StateDirectory) {
        let dir = try StateDirectory()
        let journal = try dir.open("p@main")
        let marker = StartMarker<Scan>(journal: journal, every: every, from: 1)
        for i in 0..<count {
            let records = try make(i)
            try journal.append(
                records.isEmpty ? [JournalRecord(kind: .event, type: "test.filler", timestamp: at(Int64(i)), body: [])] : records,
                durability: .batched)
            if i % 61 == 0 { try marker.markIfDue(at: at(Int64(i))) }
        }
        try journal.flush()
        return (try journal.restore(scan, fromEntryOne: true), try journal.restore(scan), journal, dir)
    }

    func expectBounded<State>(_ full: MarkedRestore<State>, _ fromMark: MarkedRestore<State>) {
        #expect(fromMark.mark != nil)
        #expect(full.scanned >= count)
        #expect(fromMark.scanned < Int(every) * 2)
        #expect(fromMark.through == full.through)
    }

    func envelope(_ message: Message, id: String, sender: ProcessIdentity = ProcessIdentity(role: .risk)) throws -> [UInt8] {
        try EnvelopeCodec.encode(Envelope(sender: sender, seq: 1, id: id, timestamp: t0, message: message))
    }

    func approval(_ n: Int, quantity: Int64 = 10) -> Approval {
        let intent = IntentID(validating: "2026-02-25.breakout.S\(n)")!
        return Approval(
            id: ApprovalID(for: intent), intent: intent, symbol: Symbol(validating: "AAPL")!, side: .buy, quantity: Quantity(quantity),
            requestedQuantity: Quantity(quantity), entry: .limit(Price("100.00")!), stopLoss: Price("95.00"),
            takeProfit: Price("110.00"), state: .active, at: t0)
    }

    @Test func theApprovalScreenFromItsMarkEqualsTheScreenFromEntryOne() throws {
        let (full, fromMark, journal, dir) = try restoreBothWays(ApprovalScan.self) { i in
            guard i % 10 == 0 else { return [] }
            let message = Message.orderSubmit(approval(i / 10 % 400))  // ids come again (re-sends)
            return [
                JournalRecord(
                    kind: .received, type: MessageType.orderSubmit.rawValue, timestamp: at(Int64(i)), messageID: "m\(i)",
                    peer: "risk@main", body: try envelope(message, id: "m\(i)"))
            ]
        }
        defer { dir.dir.remove() }
        defer { try? journal.close() }
        #expect(full.state.count == 400)
        #expect(fromMark.state == full.state)
        expectBounded(full, fromMark)

        // The screen a start builds reads from the mark and refuses a re-used id with other content.
        let screen = try ApprovalScreen(key: nil, journal: journal, markEvery: every)
        #expect(screen.restored.mark != nil)
        #expect(screen.handled.withLock { $0.count } == 400)
        let reused = Envelope(
            sender: ProcessIdentity(role: .risk), seq: 2, id: "x", timestamp: t0, message: .orderSubmit(approval(7, quantity: 11)))
        let peer = PeerInfo(identity: ProcessIdentity(role: .risk), pid: 1, uid: 0)
        #expect(screen.refusal(for: reused, from: peer)?.code == .approvalReused)
    }

    @Test func theStrategyStartFromItsMarkEqualsTheStartFromEntryOne() throws {
        let snapshotEncoder = JSONEncoder()
        snapshotEncoder.outputFormatting = .sortedKeys
        let (full, fromMark, journal, dir) = try restoreBothWays(StrategyScan.self) { i in
            let time = at(Int64(i) * 600)  // ten minutes apart: a new session every 144 entries
            if i % 50 == 0 {
                let r = ScheduleRecord(task: "full_scan", time: time, fired: true, detail: "d\(i)")
                return [
                    JournalRecord(
                        kind: .decision, type: StrategyJournal.schedule, timestamp: time, body: Array(try snapshotEncoder.encode(r)))
                ]
            } else if i % 7 == 0 {
                return [JournalRecord(kind: .received, type: MessageType.marketTime.rawValue, timestamp: time, body: Array("{}".utf8))]
            } else if i % 23 == 0 {
                // Some snapshots arrive older than the latest: they are not taken.
                let asOf = at(Int64(i % 46 == 0 ? i - 4_000 : i) * 600)
                // It holds H0 ... H8 (a record of H9 ends at each snapshot: a close the strategy missed).
                let held = (0..<9).map {
                    (
                        Symbol(validating: "H\($0)")!,
                        PositionSnapshot(quantity: 1_000, averagePrice: Price("100.00")!, lastMark: Price("100.00")!)
                    )
                }
                let s = PortfolioSnapshot(
                    asOf: asOf, cash: Money("1000.00")!, equity: Money("\(1000 + i).00")!, peakEquity: Money("5000.00")!,
                    startOfDayEquity: Money("1000.00")!, positions: Dictionary(uniqueKeysWithValues: held), openOrders: i % 5)
                return [
                    JournalRecord(
                        kind: .received, type: MessageType.portfolioSnapshot.rawValue, timestamp: time, messageID: "p\(i)",
                        peer: "reconciler@main",
                        body: try envelope(.portfolioSnapshot(s), id: "p\(i)", sender: ProcessIdentity(role: .reconciler)))
                ]
            } else if i % 11 == 0 {
                let a = approval(i)
                let d = IntentDecision(
                    intent: a.intent, decision: i % 33 == 0 ? .block(.tradingHalted, detail: "x") : .approve(a), at: time)
                return [
                    JournalRecord(
                        kind: .decision, type: StrategyJournal.decision, timestamp: time, body: Array(try snapshotEncoder.encode(d)))
                ]
            } else if i % 13 == 0 {
                // The record of each holding's entry: a scan's stops, then a fill from the reconciler
                // (entries, and every third round a stop-out that ends the record).
                let symbol = Symbol(validating: "H\(i / 13 % 10)")!
                let intent = IntentID(validating: "2026-02-25.breakout.\(symbol)")!
                let group = IntentGroup(
                    id: intent, symbol: symbol, side: .buy, quantity: 10, entry: .market, stopLoss: Price("95.00"), createdAt: time)
                let stops = HoldingsLedger.EntryStops(intents: [group], date: NewYorkTime.local(time).date)
                let side: Side = i / 130 % 3 == 2 ? .sell : .buy
                let f = Fill(
                    executionID: ExecutionID("e\(i)"), clientOrderID: ClientOrderID(intent: intent, leg: side == .buy ? .entry : .stopLoss),
                    symbol: symbol, side: side, quantity: 10, price: Price("100.00")!, commission: .zero, at: time)
                let report = ExecutionReport(id: "broker@paper-r\(i)", broker: "broker@paper", event: .fill(f), at: time)
                return [
                    JournalRecord(
                        kind: .decision, type: StrategyJournal.entryStops, timestamp: time, body: Array(try snapshotEncoder.encode(stops))),
                    JournalRecord(
                        kind: .received, type: MessageType.executionReport.rawValue, timestamp: time, messageID: "f\(i)",
                        peer: "reconciler@main",
                        body: try envelope(.executionReport(report), id: "f\(i)", sender: ProcessIdentity(role: .reconciler))),
                ]
            }
            return []
        }
        defer { dir.dir.remove() }
        defer { try? journal.close() }
        #expect(full.state.handledThrough != nil && full.state.portfolio != nil && full.state.heardMarketTime)
        #expect(!full.state.entries.isEmpty)
        // Records with the scan's stop survive the restore.
        #expect(!full.state.holdings.records.isEmpty)
        #expect(full.state.holdings.records.values.allSatisfy { $0.initialStop == Price("95.00") })
        #expect(fromMark.state == full.state)
        expectBounded(full, fromMark)
    }

    @Test func marketDataProgressFromItsMarkEqualsProgressFromEntryOne() throws {
        let (full, fromMark, journal, dir) = try restoreBothWays(ReplayProgressScan.self) { i in
            guard i % 10 == 0 else { return [] }
            let p = ReplayProgress(time: at(Int64(i)), session: "2026-02-25", index: i / 10, of: 10_000, what: "bars")
            return [
                JournalRecord(
                    kind: .state, type: MarketDataJournal.progress, timestamp: at(Int64(i)), body: Array(try JSONEncoder().encode(p)))
            ]
        }
        defer { dir.dir.remove() }
        defer { try? journal.close() }
        #expect(full.state.done == at(5_990))
        #expect(fromMark.state == full.state)
        expectBounded(full, fromMark)
        try journal.append(
            JournalRecord(kind: .state, type: MarketDataJournal.finished, timestamp: at(6_000), body: []), durability: .durable)
        #expect(try journal.restore(ReplayProgressScan.self).state.finished)
    }

    @Test func theNotifierOutboxAndDeskFromTheirMarksEqualThemFromEntryOne() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        func notifierEntry(_ i: Int) throws -> [JournalRecord] {
            let time = at(Int64(i))
            if i == 0 { return [JournalRecord(kind: .state, type: NotifierJournal.initial, timestamp: time, body: Array("1234567".utf8))] }
            if i % 1_000 == 1 { return [JournalRecord(kind: .state, type: NotifierJournal.started, timestamp: time, body: [])] }
            switch i % 20 {
            case 2:
                let alert = Alert(priority: i % 40 == 2 ? .p0 : .p1, key: "k\(i / 20)", title: "t", text: "text \(i)", at: time)
                return [
                    JournalRecord(
                        kind: .received, type: MessageType.alert.rawValue, timestamp: time, messageID: "a\(i)", peer: "risk@main",
                        body: try envelope(.alert(alert), id: "a\(i)"))
                ]
            case 5:
                let body =
                    "{\"id\":\"s\(i / 20 % 30)\",\"chat\":\"42\",\"alert_keys\":[\"k\(i / 20)\"],\"part\":0,\"parts\":1,\"mode\":\"HTML\"}"
                return [JournalRecord(kind: .sent, type: NotifierJournal.sent, timestamp: time, body: Array(body.utf8))]
            case 9 where i % 60 != 9:
                let record = DeliveryRecord(chat: "42", alertKeys: ["k\(i / 20)"], part: 0, parts: 1, abandoned: false)
                return [
                    JournalRecord(
                        kind: .decision, type: NotifierJournal.delivered, timestamp: time, body: Array(try encoder.encode(record)))
                ]
            case 13:
                let record = CommandRecord(updateID: Int64(i), chat: 42, at: time, outcome: i % 3 == 0 ? .offset : .execute(.status))
                return [
                    JournalRecord(kind: .decision, type: CommandJournal.command, timestamp: time, body: Array(try encoder.encode(record)))
                ]
            default:
                return []
            }
        }
        let outbox = try restoreBothWays(NotifierOutboxScan.self, notifierEntry)
        defer { outbox.dir.dir.remove() }
        defer { try? outbox.journal.close() }
        #expect(outbox.full.state.seed == 1_234_567 && outbox.full.state.run == 6)
        #expect(outbox.full.state.alerts.count == 300 && !outbox.full.state.inFlight.isEmpty)
        #expect(outbox.fromMark.state == outbox.full.state)
        expectBounded(outbox.full, outbox.fromMark)

        let desk = try restoreBothWays(CommandDeskScan.self, notifierEntry)
        defer { desk.dir.dir.remove() }
        defer { try? desk.journal.close() }
        #expect(desk.full.state.records.count == 300 && desk.full.state.seed == 1_234_567)
        #expect(desk.fromMark.state == desk.full.state)
        expectBounded(desk.full, desk.fromMark)
    }

    /// The start-up read's time from entry 1 (what every start did before the marks) and from the
    /// newest mark, on a broker journal of N entries (an `order.submit` every 100, the rest filler
    /// as large as a bus entry), marked every 10,000 entries, then 9,000 more after the last mark.
    /// Behind a variable: a measurement, not a test (`AST_BENCH_START_MARK_ENTRIES=1000000`); see
    /// BENCHMARKS.md.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["AST_BENCH_START_MARK_ENTRIES"] != nil))
    func startUpReadTimeWithAndWithoutMarks() throws {
        let n = Int(ProcessInfo.processInfo.environment["AST_BENCH_START_MARK_ENTRIES"] ?? "") ?? 1_000_000
        let dir = try StateDirectory()
        defer { dir.dir.remove() }
        let journal = try dir.open("broker@paper")
        defer { try? journal.close() }
        let marker = StartMarker<ApprovalScan>(journal: journal, every: 10_000, from: 1)
        let filler = Array(String(repeating: "x", count: 300).utf8)
        var batch: [JournalRecord] = []
        for i in 0..<n {
            if i % 100 == 0 {
                let message = Message.orderSubmit(approval(i / 100))
                batch.append(
                    JournalRecord(
                        kind: .received, type: MessageType.orderSubmit.rawValue, timestamp: at(Int64(i)), messageID: "m\(i)",
                        peer: "risk@main", body: try envelope(message, id: "m\(i)")))
            } else {
                batch.append(JournalRecord(kind: .received, type: "bar.update", timestamp: at(Int64(i)), body: filler))
            }
            if batch.count == 1_000 {
                try journal.append(batch, durability: .batched)
                batch.removeAll(keepingCapacity: true)
                try marker.markIfDue(at: at(Int64(i)))
            }
        }
        try journal.append(batch, durability: .batched)
        // A tail of 9,000 entries after the newest mark (a start reads up to one interval).
        for i in n..<(n + 9_000) {
            let record =
                i % 100 == 0
                ? JournalRecord(
                    kind: .received, type: MessageType.orderSubmit.rawValue, timestamp: at(Int64(i)), messageID: "m\(i)",
                    peer: "risk@main", body: try envelope(.orderSubmit(approval(i / 100)), id: "m\(i)"))
                : JournalRecord(kind: .received, type: "bar.update", timestamp: at(Int64(i)), body: filler)
            try journal.append(record, durability: .batched)
        }
        try journal.flush()
        func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
            let start = ContinuousClock.now
            let value = try body()
            let d = ContinuousClock.now - start
            return (value, Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
        }
        for _ in 0..<2 {
            let (full, fullTime) = try timed { try journal.restore(ApprovalScan.self, fromEntryOne: true) }
            let (marked, markTime) = try timed { try journal.restore(ApprovalScan.self) }
            #expect(marked.state == full.state)
            print(
                "start-mark bench: \(journal.lastSeq) entries, \(full.state.count) approval ids: from entry 1 \(fullTime) s "
                    + "(\(full.scanned) rows); from the newest mark \(markTime) s (\(marked.scanned) rows)")
        }
    }
}
