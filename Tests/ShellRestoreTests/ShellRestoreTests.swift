import ASTCore
import ASTExecution
import ASTJournal
import ASTPaperBroker
import ASTReport
import ASTRisk
import ASTTestKit
import ASTWire
import Foundation
import Logging
import Synchronization
import Testing

@testable import ASTReplay
@testable import ast_broker
@testable import ast_reconciler
@testable import ast_risk

// One restore path per process (M11): the shell's own restore (the executables' code, imported
// here), `astctl replay --verify`'s re-execution and `astctl report` read the same journal and
// must leave the same state. The journals are written with the real journal writer from the
// real cores' outputs (the paper broker's by the shell's own adapter), each with a journaled
// input that cannot be replayed, which all three must skip alike.

let t0 = Timestamp(nanoseconds: 1_772_000_000_000_000_000)  // 2026-02-25
func at(_ seconds: Int64) -> Timestamp { t0.advanced(by: .seconds(seconds)) }
let logger = Logger(label: "shell-restore-test")
let encoder: JSONEncoder = {
    let e = JSONEncoder()
    e.outputFormatting = .sortedKeys
    return e
}()

/// Journals what ast-reconciler records itself of `outputs` (summaries and anomalies; the
/// rest are bus messages) as the shell does.
func journalReconcilerOutputs(_ outputs: [ReconcilerOutput], at now: Timestamp, to journal: Journal, durability: Durability) throws {
    for output in outputs {
        switch output {
        case .summary(let s):
            try journal.append(
                JournalRecord(kind: .decision, type: ReconcilerJournal.summary, timestamp: now, body: Array(encoder.encode(s))),
                durability: durability)
        case .anomaly(let text):
            try journal.append(
                JournalRecord(kind: .decision, type: ReconcilerJournal.anomaly, timestamp: now, body: Array(text.utf8)),
                durability: durability)
        default:
            continue
        }
    }
}

/// A clock the test moves by hand.
final class TestClock: WallClock {
    let current = Mutex(t0)
    func now() -> Timestamp { current.withLock { $0 } }
    func set(_ t: Timestamp) { current.withLock { $0 = t } }
}

/// A state directory with its `journal/` folder, as the tree lays it out.
struct StateDirectory {
    let dir: TemporaryDirectory
    init() throws {
        dir = try TemporaryDirectory(prefix: "shell-restore")
        try FileManager.default.createDirectory(atPath: "\(dir.path)/journal", withIntermediateDirectories: true)
    }
    func journal(_ process: String) -> String { "\(dir.path)/journal/\(process).sqlite" }
    func open(_ process: String) throws -> Journal { try Journal(path: journal(process), process: process, logger: logger) }
}

/// A bracket the paper exchange fills on the first bar that trades through its limit.
func bracket(_ symbol: String, limit: String, stop: String, target: String, quantity: Int64 = 10) -> BracketOrder {
    let intent = IntentID(validating: "2026-02-25.breakout.\(symbol)")!
    func spec(_ leg: BracketLeg) -> OrderSpec {
        let parent = leg == .entry ? nil : ClientOrderID(intent: intent, leg: .entry)
        switch leg {
        case .entry:
            return OrderSpec(
                clientOrderID: ClientOrderID(intent: intent, leg: leg), intent: intent, leg: leg, symbol: Symbol(validating: symbol)!,
                side: .buy, quantity: Quantity(quantity), type: .limit, limitPrice: Price(limit)!, timeInForce: .day)
        case .stopLoss:
            return OrderSpec(
                clientOrderID: ClientOrderID(intent: intent, leg: leg), intent: intent, leg: leg, symbol: Symbol(validating: symbol)!,
                side: .sell, quantity: Quantity(quantity), type: .stop, stopPrice: Price(stop)!, timeInForce: .gtc, parent: parent,
                ocaGroup: intent.rawValue)
        case .takeProfit:
            return OrderSpec(
                clientOrderID: ClientOrderID(intent: intent, leg: leg), intent: intent, leg: leg, symbol: Symbol(validating: symbol)!,
                side: .sell, quantity: Quantity(quantity), type: .limit, limitPrice: Price(target)!, timeInForce: .gtc, parent: parent,
                ocaGroup: intent.rawValue)
        }
    }
    return BracketOrder(intent: intent, entry: spec(.entry), stopLoss: spec(.stopLoss), takeProfit: spec(.takeProfit))
}

func bar(_ symbol: String, day: Int64, open: String, high: String, low: String, close: String) -> Bar {
    Bar(
        symbol: Symbol(validating: symbol)!, start: at(day * 86_400), open: Price(open)!, high: Price(high)!, low: Price(low)!,
        close: Price(close)!, volume: 1_000_000)
}

/// The paper inputs of the scenarios: two brackets, bars that fill AAA's entry and later its
/// take profit, and fill BBB's entry.
let paperInputs: [(PaperInput, Timestamp)] = [
    (.submit(bracket("AAA", limit: "50.00", stop: "48.00", target: "52.00")), at(10)),
    (.submit(bracket("BBB", limit: "20.00", stop: "18.00", target: "24.00")), at(11)),
    (.bar(bar("AAA", day: 1, open: "50.50", high: "51.00", low: "49.50", close: "50.80")), at(86_400 + 60)),
    (.bar(bar("BBB", day: 1, open: "20.50", high: "20.80", low: "19.90", close: "20.10")), at(86_400 + 61)),
    (.bar(bar("AAA", day: 2, open: "51.00", high: "52.50", low: "50.90", close: "52.20")), at(2 * 86_400 + 60)),
]

/// Writes one received entry whose body no core can decode (an older version's, or damage).
func appendUndecodable(_ journal: Journal, type: String, at time: Timestamp) throws -> Int64 {
    try journal.append(
        JournalRecord(kind: .received, type: type, timestamp: time, body: Array(#"{"unknown":1}"#.utf8)), durability: .durable)
}

@Suite(.serialized) struct ShellRestoreAgreementTests {
    // MARK: ast-risk

    /// ast-risk's journal as its shell writes it (``RiskShell/handle(_:durability:)``): every
    /// input before the gate sees it, then the gate's outputs.
    ///
    /// Two journaled inputs the live gate never handled: one that does not decode and one its
    /// validation refuses (a halt with an oversized reason, as an older version could have let
    /// through): replayed, the latter would halt the gate early; every restore must skip both.
    func writeRiskJournal(_ state: StateDirectory) throws -> (quarantined: [Int64], lastGate: RiskGate) {
        let journal = try state.open("risk@main")
        defer { try? journal.close() }
        let initial = SafeModeRecord.firstStart(at: t0)
        try journal.append(
            JournalRecord(kind: .state, type: RiskJournal.initial, timestamp: t0, body: Array(encoder.encode(initial))),
            durability: .durable)
        try journal.append(JournalRecord(kind: .state, type: RiskJournal.started, timestamp: t0, body: []), durability: .durable)
        var gate = try RiskGate(limits: .cautiousDefaults, restoring: initial)
        let equity = Money("100000.00")!
        let intent = IntentGroup(
            id: IntentID(validating: "2026-02-25.breakout.AAA")!, symbol: "AAA", sector: "tech", side: .buy, quantity: 10,
            entry: .limit(Price("50.00")!), stopLoss: Price("48.00")!, takeProfit: Price("52.00")!, createdAt: at(3))
        let inputs: [(RiskInput, Timestamp)] = [
            (.portfolio(PortfolioSnapshot(asOf: at(1), cash: equity, equity: equity, peakEquity: equity, startOfDayEquity: equity)), at(1)),
            (.mark(MarketMark(symbol: "AAA", price: Price("50.00")!, at: at(2))), at(2)),
            (.intent(intent), at(3)),
            // A day's loss beyond the limit: ACTIVE -> SAFE_REDUCING.
            (
                .portfolio(
                    PortfolioSnapshot(
                        asOf: at(4), cash: Money("90000.00")!, equity: Money("90000.00")!, peakEquity: equity,
                        startOfDayEquity: equity)), at(4)
            ),
            (.command(.halt(reason: "operator drill")), at(6)),
        ]
        var quarantined: [Int64] = []
        for (i, (input, now)) in inputs.enumerated() {
            if i == 2 {
                let refused = RiskInput.command(.halt(reason: String(repeating: "x", count: InputCheck.maxTextBytes + 1)))
                #expect(refused.validate() != nil)
                quarantined.append(
                    try journal.append(
                        JournalRecord(
                            kind: .received, type: RiskJournal.input, timestamp: at(2),
                            body: Array(encoder.encode(refused))), durability: .durable))
            }
            if i == 4 { quarantined.append(try appendUndecodable(journal, type: RiskJournal.input, at: at(5))) }
            try journal.append(
                JournalRecord(kind: .received, type: RiskJournal.input, timestamp: now, body: Array(encoder.encode(input))),
                durability: .durable)
            for output in gate.handle(input, now: now) {
                if let record = try output.journalRecord(at: now, encoder: encoder) { try journal.append(record, durability: .durable) }
            }
        }
        // No `risk.stopped`: the run ended uncleanly.
        return (quarantined, gate)
    }

    @Test func riskShellRestoreReplayAndReportLeaveTheSameGate() throws {
        let state = try StateDirectory()
        defer { state.dir.remove() }
        let written = try writeRiskJournal(state)
        #expect(written.lastGate.state == .halted)

        // The shell's restore, as ast-risk runs it at start.
        let journal = try state.open("risk@main")
        let (shell, unclean, quarantined, _, _) = try RiskShell.restore(limits: .cautiousDefaults, journal: journal, now: at(100))
        try journal.close()
        // Replay verify's re-execution.
        let (replay, replayer) = ReplayVerifier.replayKeepingState(path: state.journal("risk@main"), config: ReplaySettings())
        let verify = try #require((replayer as? RiskReplayer)?.fold)
        let verifyGate = try #require(verify.gate)
        // The report.
        let report = try RunReportBuilder.build(stateDirectory: state.dir.path)

        #expect(shell.record == verifyGate.record)
        #expect(shell.downBrokers == verifyGate.downBrokers && shell.disconnectedBrokers == verifyGate.disconnectedBrokers)
        #expect(shell.portfolioViolation == verifyGate.portfolioViolation)
        #expect(shell.hasCleanReconciliationSinceHalt == verifyGate.hasCleanReconciliationSinceHalt)
        #expect(report.safeModeNow == shell.state.rawValue && shell.state == .halted, "\(report.safeModeNow ?? "nil")")
        #expect(report.safeModeTransitions.last?.to == shell.state.rawValue)
        #expect(shell.record == written.lastGate.record, "the live gate without the undecodable input")
        #expect(unclean && verify.uncleanPreviousExit)
        // The undecodable input: skipped by the shell (quarantined) and named by replay.
        #expect(quarantined.map(\.seq) == written.quarantined)
        #expect(verify.quarantine.found == quarantined)
        #expect(replay.divergences.map(\.seq) == written.quarantined, "\(replay.divergences)")
    }

    // MARK: ast-reconciler

    /// The execution reports the real paper exchange produces for ``paperInputs``.
    func paperReports() -> [ExecutionReport] {
        var exchange = PaperExchange(name: "broker@paper", config: .standard)
        return paperInputs.flatMap { exchange.handle($0.0, now: $0.1).reports }
    }

    @Test func reconcilerShellRestoreReplayAndReportLeaveTheSameBook() throws {
        let state = try StateDirectory()
        defer { state.dir.remove() }
        let reports = paperReports()
        #expect(reports.contains { if case .fill = $0.event { true } else { false } }, "the scenario fills orders")
        var inputs: [(ReconcilerInput, Timestamp)] = [(.initial(cash: Money("100000.00")!), at(1))]
        inputs += reports.map { (.report($0), $0.at) }
        inputs.append((.mark(MarketMark(symbol: "BBB", price: Price("21.00")!, at: at(2 * 86_400 + 100))), at(2 * 86_400 + 100)))
        let quarantinedSeq: Int64
        var live = ReconcilerCore()
        do {
            // ast-reconciler's journal: every input before the core sees it, then its decisions.
            let journal = try state.open("reconciler@main")
            defer { try? journal.close() }
            for (input, now) in inputs.prefix(3) { try write(input, now, to: journal, core: &live) }
            quarantinedSeq = try appendUndecodable(journal, type: ReconcilerJournal.input, at: inputs[2].1)
            for (input, now) in inputs.dropFirst(3) { try write(input, now, to: journal, core: &live) }
            let account = live.snapshot(at(2 * 86_400 + 200))
            let broker = BrokerAccountState(
                broker: "broker@paper", asOf: at(2 * 86_400 + 200), connected: true,
                account: AccountValues(cash: account.cash, equity: account.equity),
                positions: live.portfolio.positions.values.map {
                    BrokerPosition(symbol: $0.symbol, quantity: $0.quantity, averagePrice: $0.averagePrice)
                },
                openOrders: [], executions: [], reportsThrough: Int64(reports.count))
            try write(.reconciliation(trigger: "test", broker: broker), at(2 * 86_400 + 200), to: journal, core: &live)
        }

        let journal = try state.open("reconciler@main")
        let (shell, quarantined, _, _) = try ReconcilerShell.restore(journal: journal)
        try journal.close()
        let (replay, replayer) = ReplayVerifier.replayKeepingState(path: state.journal("reconciler@main"), config: ReplaySettings())
        let verify = try #require((replayer as? ReconcilerReplayer)?.fold)
        let report = try RunReportBuilder.build(stateDirectory: state.dir.path)

        #expect(shell == verify.core, "the whole core: book, portfolio, reconciliation state")
        #expect(shell == live, "the live core (which never saw the undecodable entry)")
        #expect(!shell.portfolio.positions.isEmpty)
        let positions = shell.portfolio.positions.values.sorted { $0.symbol < $1.symbol }
        #expect(report.finalPositions.map(\.symbol) == positions.map(\.symbol.rawValue))
        #expect(report.finalPositions.map(\.quantity) == positions.map(\.quantity))
        #expect(report.finalPositions.map(\.averagePrice) == positions.map(\.averagePrice))
        #expect(report.totals.realizedPnL == shell.portfolio.realizedPnL && report.totals.commissions == shell.portfolio.commissions)
        #expect(report.totals.equityEnd == shell.portfolio.equity)
        #expect(report.totals.orders == shell.book.orders.count)
        #expect(quarantined.map(\.seq) == [quarantinedSeq] && verify.quarantine.found == quarantined)
        #expect(replay.divergences.map(\.seq) == [quarantinedSeq], "\(replay.divergences)")
    }

    func write(_ input: ReconcilerInput, _ now: Timestamp, to journal: Journal, core: inout ReconcilerCore) throws {
        try journal.append(
            JournalRecord(kind: .received, type: ReconcilerJournal.input, timestamp: now, body: Array(encoder.encode(input))),
            durability: .durable)
        try journalReconcilerOutputs(core.handle(input, now: now), at: now, to: journal, durability: .durable)
    }

    // MARK: ast-broker (paper)

    @Test func paperAdapterRestoreReplayAndReportLeaveTheSameAccount() async throws {
        try await paperRestore(checkpointEvery: Int.max)
    }

    /// With a checkpoint every 2 inputs the restart starts from the latest one plus the tail: the
    /// same account as a fold from entry 1, replay (which re-executes up to each checkpoint and
    /// compares) and the report.
    @Test func paperRestoreFromACheckpointPlusTheTailEqualsAFullReplay() async throws {
        try await paperRestore(checkpointEvery: 2)
    }

    /// The same account after the journal was rotated three times: verify, the shell's restore
    /// (from a checkpoint in an archived segment), replay and the report read across segments.
    @Test func aPaperJournalRotatedThreeTimesVerifiesReplaysIdenticalAndReports() async throws {
        try await paperRestore(checkpointEvery: 2, rotations: [6, 14, 22])
    }

    /// A checkpoint that re-executing the entries before it does not reproduce is a divergence.
    @Test func replayFlagsACheckpointItsReexecutionDoesNotReproduce() throws {
        let state = try StateDirectory()
        defer { state.dir.remove() }
        let journal = try state.open("broker@paper")
        var exchange = PaperExchange(name: "broker@paper", config: .standard)
        for (input, now) in paperInputs.prefix(3) {
            _ = exchange.handle(input, now: now)
            try journal.append(
                JournalRecord(
                    kind: .received, type: PaperJournal.input, timestamp: now,
                    body: Array(try encoder.encode(PaperJournalInput(input: input)))),
                durability: .durable)
        }
        // A well-chained checkpoint whose state is that of an empty account.
        let stale = PaperJournalFold(name: "broker@paper", config: .standard)
        let forged = try #require(
            try journal.appendCovering { last in
                JournalRecord(
                    kind: .state, type: EntryTypes.checkpoint, timestamp: at(0),
                    body: try JournalCheckpoint(process: "broker@paper", covers: last, state: stale.checkpointState).encoded())
            })
        try journal.close()
        let replay = ReplayVerifier.replay(path: state.journal("broker@paper"), config: ReplaySettings())
        // (The reports of the three inputs were never sent here: those are divergences too.)
        let atCheckpoints = replay.divergences.filter { $0.type == EntryTypes.checkpoint }
        #expect(atCheckpoints.map(\.seq) == [forged], "\(replay.divergences)")
        #expect(atCheckpoints.first?.what.contains("checkpoint differs") == true)
    }

    func paperRestore(checkpointEvery: Int, rotations: [Int64] = []) async throws {
        let state = try StateDirectory()
        defer { state.dir.remove() }
        let me = ProcessIdentity(role: .broker, instance: "paper")
        let clock = TestClock()
        let sentCount = Mutex(0)
        /// The bus's side of `deliver`: each report journaled as a sent message; off = a crash
        /// after the adapter journaled its input and before the bus took the reports.
        let busUp = Mutex(true)
        @Sendable func bus(_ journal: Journal) -> @Sendable ([ExecutionReport]) throws -> Void {
            { reports in
                guard busUp.withLock({ $0 }) else { return }
                for r in reports {
                    let n = sentCount.withLock {
                        $0 += 1
                        return $0
                    }
                    let env = Envelope(
                        sender: me, seq: UInt64(n), id: "broker@paper-m\(n)", correlationID: nil, timestamp: clock.now(),
                        message: .executionReport(r))
                    try journal.append(
                        JournalRecord(
                            kind: .sent, type: env.type.rawValue, timestamp: env.timestamp, messageID: env.id,
                            peer: "reconciler@main", body: EnvelopeCodec.encode(env)), durability: .durable)
                }
            }
        }
        var quarantinedSeq: Int64 = 0
        do {
            // The first run, through the shell's own adapter; the last bar's reports never reach the bus.
            let journal = try state.open("broker@paper")
            defer { try? journal.close() }
            let adapter = try PaperAdapter(
                name: "broker@paper", config: .standard, journal: journal, clock: clock, logger: logger, checkpointEvery: checkpointEvery,
                deliver: bus(journal), connectionChanged: { _, _ in })
            for (i, (input, now)) in paperInputs.enumerated() {
                clock.set(now)
                if i == 2 { quarantinedSeq = try appendUndecodable(journal, type: PaperJournal.input, at: now) }
                if i == paperInputs.count - 1 { busUp.withLock { $0 = false } }
                try await adapter.handle(input, message: "m-in-\(i)")
            }
        }

        for upTo in rotations {
            let segment = try #require(try Journal.rotate(path: state.journal("broker@paper"), upTo: upTo))
            #expect(segment.last == upTo)
        }
        if !rotations.isEmpty {
            #expect(JournalSegments.all(forLive: state.journal("broker@paper")).count == rotations.count)
            let chain = Journal.verify(path: state.journal("broker@paper"))
            #expect(chain.isClean && chain.entries == Int(chain.lastSeq), "\(chain)")
        }

        // The restart: the shell's restore, then the adapter delivers what the bus never took.
        busUp.withLock { $0 = true }
        let journal = try state.open("broker@paper")
        let restored = try PaperAdapter.restore(name: "broker@paper", config: .standard, journal: journal)
        let delivered = Mutex<[ExecutionReport]>([])
        let adapter = try PaperAdapter(
            name: "broker@paper", config: .standard, journal: journal, clock: clock, logger: logger,
            deliver: { r in delivered.withLock { $0 += r } }, connectionChanged: { _, _ in })
        let shellExchange = await adapter.exchange
        try journal.close()
        let (replay, replayer) = ReplayVerifier.replayKeepingState(path: state.journal("broker@paper"), config: ReplaySettings())
        let verify = try #require((replayer as? PaperReplayer)?.fold)
        let report = try RunReportBuilder.build(stateDirectory: state.dir.path)
        // A fold from entry 1 over what the restart's restore read (the restart has journaled
        // the quarantine record since).
        let full = try PaperJournalFold.fold(name: "broker@paper", config: .standard, journal: state.journal("broker@paper")) { body in
            try JournalReader(path: state.journal("broker@paper")).scan { $0.seq <= restored.fold.foldedThrough ? try body($0) : false }
        }
        if checkpointEvery == Int.max {
            #expect(restored.fold.startedFromCheckpoint == nil)
        } else {
            let from = try #require(restored.fold.startedFromCheckpoint, "the restart did not start from a checkpoint")
            #expect(from > 1 && restored.fold.rejectedCheckpoints.isEmpty)
            #expect(replay.outputsCompared > 0)
        }
        #expect(restored.fold.checkpointState == full.checkpointState, "checkpoint + tail == a fold from entry 1")

        var live = PaperExchange(name: "broker@paper", config: .standard)
        let liveReports = paperInputs.flatMap { live.handle($0.0, now: $0.1).reports }
        #expect(shellExchange == verify.exchange, "the whole exchange: cash, positions, orders, executions")
        #expect(shellExchange == restored.exchange && shellExchange == live)
        #expect(restored.unsentReports == verify.unsentReports && !restored.unsentReports.isEmpty)
        #expect(delivered.withLock { $0 } == restored.unsentReports, "the restart delivers the reports the crash lost")
        #expect(restored.reportsThrough == verify.reportsThrough && restored.reportsThrough == liveReports.compactMap(\.sequence).max())
        #expect(restored.quarantined.map(\.seq) == [quarantinedSeq] && verify.quarantine.found == restored.quarantined)
        #expect(replay.divergences.map(\.seq) == [quarantinedSeq], "\(replay.divergences)")
        // The report cross-checks the fills the broker sent against the reconciler's book (there
        // is none here): exactly the fills the restored exchange produced and the bus took.
        let unsentIDs = Set(restored.unsentReports.map(\.id))
        let sentFills = liveReports.compactMap { r -> String? in
            guard !unsentIDs.contains(r.id), case .fill(let f) = r.event else { return nil }
            return f.executionID.rawValue
        }
        #expect(!sentFills.isEmpty)
        let line = try #require(report.problems.first { $0.contains("fill(s) the reconciler's book does not hold") }, "\(report.problems)")
        #expect(line.contains("reported \(sentFills.count) fill(s)") && sentFills.allSatisfy { line.contains($0) }, "\(line)")
    }
}
