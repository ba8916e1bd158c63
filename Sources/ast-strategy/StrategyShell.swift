import ASTBus
import ASTCalendar
import ASTCore
import ASTExecution
import ASTJournal
import ASTMarketData
import ASTReport
import ASTRisk
import ASTRuntime
import ASTScanInput
import ASTStrategy
import ASTWire
import Foundation
import Logging

/// The journal entry types of ast-strategy.
typealias StrategyJournal = EntryTypes.Strategy

extension EntryTypes.Strategy {
    /// The stops of a scan's buy intents, journaled before any is submitted (body:
    /// ``HoldingsLedger/EntryStops``): a fill of one of them opens a holding with its stop.
    static let entryStops = "strategy.entry_stops"
}

/// What one scheduled event did, as journaled.
struct ScheduleRecord: Codable {
    var task: String
    var time: Timestamp
    var fired: Bool
    var detail: String
}

/// What ast-strategy's start reads from its journal, in one pass (from the newest start-up mark
/// that verifies, or from entry 1): where the schedule resumes (after the last event handled, none
/// twice), whether market time was heard (a replay restart catches up at once), the latest
/// portfolio the reconciler published (the scan a restart catches up on reads it, as the
/// interrupted one would have), the approved entries of the latest session with decisions
/// (`strategy.decision` entries, journaled at the scan's market time) for the pre-close cleanup,
/// and the record of each holding's entry (``HoldingsLedger``: from the received fills and
/// portfolios and the journaled `strategy.entry_stops`, fed by ``take(_:portfolio:holdings:)`` as the live
/// process feeds it).
enum StrategyScan: MarkedScan {
    struct Entry: Codable, Sendable, Equatable {
        var intent: IntentID
        var date: LocalDate
    }

    struct State: Codable, Sendable, Equatable {
        var handledThrough: Timestamp?
        var heardMarketTime = false
        var portfolio: PortfolioSnapshot?
        var entries: [Entry] = []
        var holdings = HoldingsLedger()
    }

    /// What the strategy takes of a message from the reconciler, in the process and in the
    /// restore alike: a newer portfolio (and the records it ends), a fill the book applied.
    static func take(_ message: Message, portfolio: inout PortfolioSnapshot?, holdings: inout HoldingsLedger) {
        switch message {
        case .portfolioSnapshot(let s):
            guard portfolio.map({ s.asOf >= $0.asOf }) ?? true else { return }
            portfolio = s
            holdings.reconcile(with: s)
        case .executionReport(let report):
            guard case .fill(let f) = report.event, validate(report) == nil else { return }
            holdings.apply(f)
        default:
            break
        }
    }

    /// Validate before journaling: the reconciler sends fills only, each within the reconciler's
    /// own bounds (``ReconcilerInput/validate()``).
    static func validate(_ report: ExecutionReport) -> InputRefusal? {
        guard case .fill = report.event else {
            return InputRefusal(
                .invalid,
                "the strategy takes fills only from the reconciler (report \(InputRefusal.bounded(report.id, limit: 100)) is none)")
        }
        return ReconcilerInput.report(report).validate()
    }

    static let markName = "strategy.start"
    static var initial: State { State() }

    static func fold(_ state: inout State, _ entry: JournalEntry) throws {
        let r = entry.record
        if r.type == StrategyJournal.schedule, let s = try? JSONDecoder().decode(ScheduleRecord.self, from: Data(r.body)) {
            state.handledThrough = s.time
        } else if r.kind == .received, r.type == MessageType.marketTime.rawValue {
            state.heardMarketTime = true
        } else if r.kind == .received,
            r.type == MessageType.portfolioSnapshot.rawValue || r.type == MessageType.executionReport.rawValue,
            let message = try? EnvelopeCodec.decode(r.body).message
        {
            take(message, portfolio: &state.portfolio, holdings: &state.holdings)
        } else if r.type == StrategyJournal.entryStops,
            let stops = try? JSONDecoder().decode(HoldingsLedger.EntryStops.self, from: Data(r.body))
        {
            state.holdings.note(stops)
        } else if r.type == StrategyJournal.decision,
            let d = try? JSONDecoder().decode(IntentDecision.self, from: Data(r.body)), d.decision.approval != nil,
            !d.intent.rawValue.contains(".\(SafeReducing.strategyName).")
        {
            let date = NewYorkTime.local(r.timestamp).date
            if let last = state.entries.last, last.date != date { state.entries.removeAll() }
            state.entries.append(Entry(intent: d.intent, date: date))
        }
    }
}

/// ast-strategy's shell: on the daily schedule (driven by the trading clock: market time in
/// replay) it runs the pure pipeline (``PipelineRun``) over the bar store at 09:00 and sends the
/// intent groups to the risk gate; asks the reconciler to reconcile at 10:30, 12:30, 14:30 and
/// 16:40; at 14:30, in SAFE_REDUCING, proposes the reduce-only orders that bring the book back
/// within the violated limits; at 15:55 asks the risk gate to cancel the day's entries still resting and has every
/// position's stop verified. Every scan and decision is journaled.
actor StrategyShell: WorkerLogic {
    let journal: Journal
    let clock: any WallClock
    let logger: Logger
    let risk: BusClient
    let reconciler: BusClient
    let notifier: BusClient?
    let stateDir: String
    let pipeline: PipelineRun
    let mode: TradingMode
    /// The risk gate's limits, for the 14:30 safe-reducing plan.
    let limits: RiskLimits
    let storePath: String
    /// The wall clock (production): the schedule runs on its own timer and the 09:00 scan passes
    /// the freshness gate first. In replay, market time drives it and the replayed store is whole.
    let wallClock: Bool
    /// How often the wall-clock loop looks at the schedule (5 s of trading time, as system time).
    let schedulePoll: Duration
    /// With live data from Polygon: the regime inputs the 09:00 scan needs fresh (``RegimeInputGate``).
    let regimeInputs: RegimeInputs?
    /// Nil until the trading clock is first read on a first start.
    var scheduler: Scheduler?
    /// The latest portfolio and the record of each holding's entry, kept as the restore folds
    /// them (``StrategyScan/take(_:portfolio:holdings:)``); the 09:00 scan reads both.
    var portfolio: PortfolioSnapshot?
    var holdings: HoldingsLedger
    /// Entries approved on the latest scanned session, for the pre-close cleanup; rebuilt from
    /// the journal's decisions at start, so a restart between the scan and the cleanup loses none.
    var todaysEntries: [(IntentID, LocalDate)] = []
    /// In replay, a restart handles at once what was due at the last `market.time` received
    /// (a crash between that input and its scheduled work): while it does, settle says busy.
    var catchingUp: Bool
    /// Journals the start-up scan's state in a mark every so many entries (``StrategyScan``).
    let marker: StartMarker<StrategyScan>
    /// The scan's indicators, carried from scan to scan (O(1) per symbol per new bar). Not
    /// journaled: after a restart the first scan rebuilds them from the bar store, which gives
    /// the same values (``ScanIndicators``).
    var indicators: ScanIndicators?

    init(context: WorkerContext) throws {
        journal = context.journal
        clock = context.clock
        logger = context.logger
        let config = context.config
        let client: (ProcessIdentity) throws -> BusClient = { try context.busClient(to: $0) }
        risk = try client(ProcessIdentity(role: .risk))
        reconciler = try client(ProcessIdentity(role: .reconciler))
        notifier = try context.busClientIfConfigured(to: ProcessIdentity(role: .notifier))
        stateDir = config.stateDir
        pipeline = PipelineRun(config: config.strategy ?? PipelineConfig())
        mode = (config.trading ?? .paper).mode
        limits = config.risk.limits
        storePath = (config.marketdata ?? .standard).storePath(stateDir: config.stateDir)
        wallClock = (config.clock ?? .wall).mode == .wall
        schedulePoll = (config.clock ?? .wall).systemInterval(.seconds(5))
        let md = config.marketdataInEffect
        let inputs = md.liveSettings.inputsInEffect
        regimeInputs =
            md.source == .polygon ? RegimeInputs(index: inputs.indexSymbol ?? "SPY", volatilityTicker: inputs.volatilityIndex) : nil
        // The schedule resumes after the last event handled before a restart (none twice); a
        // first start begins at the first moment the trading clock shows.
        let restored = try journal.restore(StrategyScan.self)
        let handledThrough = restored.state.handledThrough
        scheduler = handledThrough.map { Scheduler(start: $0) }
        portfolio = restored.state.portfolio
        holdings = restored.state.holdings
        catchingUp = restored.state.heardMarketTime && (config.clock ?? .wall).mode == .replay
        todaysEntries = restored.state.entries.map { ($0.intent, $0.date) }
        marker = StartMarker(journal: journal, every: StartMarker<StrategyScan>.defaultEvery, from: restored.from)
        // A start that read a whole interval marks at once: the next start reads from here.
        try marker.markIfDue(at: clock.now())
        logger.notice(
            "strategy ready",
            metadata: [
                "mode": "\(mode)", "store": "\(storePath)",
                "schedule_from": "\(handledThrough.map(\.description) ?? "the first market time")",
                "read_from": "\(restored.from)", "entries_read": "\(restored.scanned)",
                "holdings_recorded": "\(restored.state.holdings.records.count)",
            ])
    }

    /// The causal clock's settle barrier: the cancels sent to the risk gate are acknowledged
    /// (handled there, and their orders handed to the broker's outbox).
    func settle() async -> SettleReport {
        if catchingUp { return SettleReport(hadPending: true, detail: "catching up on the schedule after a restart") }
        let pending = await risk.drain()
        return SettleReport(hadPending: pending, detail: pending ? "cancels to the risk gate" : "")
    }

    func run() async {
        await withDiscardingTaskGroup { group in
            // The bus clients first: they connect only while they run, and the catch-up below
            // sends the interrupted scan's intents through them.
            group.addTask { await self.risk.run() }
            group.addTask { await self.reconciler.run() }
            if let notifier = self.notifier { group.addTask { await notifier.run() } }
            group.addTask { await self.catchUp() }
            group.addTask { await self.wallClockLoop() }
        }
    }

    /// In replay, after a restart: the market clock is restored to the last `market.time`
    /// received, and what was due by then and is not journaled as handled runs now, before the
    /// replay goes on (settle says busy until it is done). Its events wait for the risk gate and
    /// the reconciler to be connected (``waitForPeers(timeout:)``), as a live event's find them:
    /// run before the bus clients ran, a caught-up scan's intents failed "not connected" and
    /// were lost, so a strategy crash at a 09:00 scan changed the trades.
    func catchUp() async {
        guard catchingUp else { return }
        await runDue()
        catchingUp = false
    }

    /// With the wall clock, the schedule runs on its own timer; in replay, `market.time` drives it.
    func wallClockLoop() async {
        guard wallClock else { return }
        while !Task.isCancelled {
            await runDue()
            try? await Task.sleep(for: schedulePoll)
        }
    }

    /// Validate before journaling: a fill from the reconciler, within its bounds (``StrategyScan/validate(_:)``).
    nonisolated func validate(_ envelope: Envelope, from peer: PeerInfo) -> InputRefusal? {
        if case .executionReport(let report) = envelope.message { return StrategyScan.validate(report) }
        return nil
    }

    func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message? {
        switch envelope.message {
        case .portfolioSnapshot, .executionReport:
            StrategyScan.take(envelope.message, portfolio: &portfolio, holdings: &holdings)
        case .marketTime:
            await runDue()
        default:
            break
        }
        return nil
    }

    /// Carries out every scheduled event due at the trading clock's now, in order.
    func runDue() async {
        let now = clock.now()
        // First start. With the wall clock, today's events before now are caught up or journaled
        // as skipped (``Scheduler/init(calendar:firstStartAt:)``): the process may first run
        // minutes after the tree was started (a 09:00 scan of a tree started at 08:58 was never
        // run nor recorded). In replay, market time begins at the first `market.time`: from
        // there on (the event exactly at `now` included).
        if scheduler == nil {
            scheduler = wallClock ? Scheduler(firstStartAt: now) : Scheduler(start: Timestamp(nanoseconds: now.nanoseconds - 1))
        }
        let decisions = scheduler!.due(at: now)
        // Fault injection for tests: a crash after the `market.time` input, before its work.
        if let first = decisions.first {
            CrashAfterInputFault.point(MessageType.marketTime.rawValue, first.event.task, outputs: decisions.count)
        }
        for decision in decisions {
            switch decision {
            case .fire(let event):
                await waitForPeers()
                let detail = await perform(event)
                record(
                    ScheduleRecord(
                        task: event.task.rawValue, time: event.time, fired: true,
                        detail: (wallClock ? Self.lateNote(event, now) : "") + detail))
            case .skip(let event, let reason):
                logger.warning("skipped \(event): \(reason.rawValue)")
                record(ScheduleRecord(task: event.task.rawValue, time: event.time, fired: false, detail: reason.rawValue))
            }
        }
    }

    /// "late (ran at …): " for an event run more than a minute after its time (a catch-up at start
    /// or after a gap), so the journal and the report say the scan ran at 09:03, not at 09:00.
    static func lateNote(_ event: ScheduledEvent, _ now: Timestamp) -> String {
        now.duration(since: event.time) > .seconds(60) ? "late (ran at \(NewYorkTime.format(now))): " : ""
    }

    /// An event caught up at start (the wall clock is past it when the process comes up) fires
    /// before the bus has connected: its reconciliation and its intents then failed with "not
    /// connected" and the event was recorded as done. Waits (bounded: a peer that stays away
    /// is reported by the event itself) until the risk gate and the reconciler are connected.
    func waitForPeers(timeout: Duration = .seconds(30)) async {
        let deadline = ContinuousClock.now + timeout
        while !(risk.isConnected && reconciler.isConnected) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    func record(_ r: ScheduleRecord) {
        append(type: StrategyJournal.schedule, r, at: r.time, durability: .durable)
        do { try marker.markIfDue(at: r.time) } catch {
            logger.warning("could not journal a start-up mark (the next start reads further back): \(error)")
        }
    }

    func append(type: String, _ value: some Encodable, at: Timestamp, correlation: String? = nil, durability: Durability = .batched) {
        do {
            try journal.append(
                JournalRecord(
                    kind: .decision, type: type, timestamp: at, correlationID: correlation,
                    body: Array(JSONEncoder.sorted.encode(value))), durability: durability)
        } catch {
            logger.critical("cannot journal: \(error)")
            fatalError("ast-strategy: the journal refused an entry: \(error)")
        }
    }

    /// One scheduled event; returns what it did, in words.
    func perform(_ event: ScheduledEvent) async -> String {
        switch event.task {
        case .fullScan:
            return await scan(event)
        case .afterMarket:
            let check = await reconcile("schedule \(event.task.rawValue)")
            return check + "; " + dailyReport(event)
        case .preCloseCleanup:
            let cancelled = await cancelRestingEntries(event)
            let check = await reconcile("schedule \(event.task.rawValue): verify every position has its stop")
            return "asked to cancel \(cancelled) resting entr\(cancelled == 1 ? "y" : "ies"); \(check)"
        case .reconcileAndReduce:
            let check = await reconcile("schedule \(event.task.rawValue)")
            return check + "; " + (await safeReduce(event))
        default:
            return await reconcile("schedule \(event.task.rawValue)")
        }
    }

    /// The 14:30 safe reducing (after its reconciliation): asks the risk gate for its Safe Mode
    /// state; in SAFE_REDUCING plans the reduce-only orders that bring the portfolio back within
    /// the violated limits (``SafeReducing``), journals the plan and sends each intent to the
    /// gate, journaling its decision. Without the gate's state or a portfolio nothing is proposed.
    func safeReduce(_ event: ScheduledEvent) async -> String {
        let state: TradingState
        do {
            let reply = try await risk.request(.riskCommand(.status), timeout: .seconds(10))
            guard case .riskStatus(let r) = reply.message else {
                return "safe reducing: the risk gate answered \(reply.type); nothing proposed"
            }
            state = r.state
        } catch {
            logger.error("safe reducing: no Safe Mode state from the risk gate: \(error)")
            return "safe reducing: no state from the risk gate (\(error)); nothing proposed"
        }
        guard state == .safeReducing else { return "safe reducing: \(state), nothing to reduce" }
        guard let portfolio else { return "safe reducing: no portfolio yet; nothing proposed (when in doubt, do nothing)" }
        let date = event.session.date.description
        let plan = SafeReducing.plan(state: state, portfolio: portfolio, limits: limits)
        append(type: StrategyJournal.reduction, plan, at: event.time, correlation: date, durability: .durable)
        logger.notice("14:30 safe reducing \(date): \(plan.summary)")
        if !plan.unreducible.isEmpty, let notifier {
            // What no order can bring back is the operator's to decide: say so (P1).
            let text = plan.unreducible.map { "\($0.code) \($0.subject): \($0.reason)" }.joined(separator: "\n")
            _ = try? notifier.send(
                .alert(
                    Alert(
                        priority: .p1, key: "safe-reduce:\(date)", title: "AST safe reducing \(date): limits no reduction restores",
                        text: String(text.prefix(2000)), at: event.time)))
        }
        let intents = plan.intents(day: date, createdAt: event.time, expiresAt: event.session.close)
        var approved = 0
        for intent in intents where await submit(intent) { approved += 1 }
        return "safe reducing: \(plan.summary); \(intents.count) intents, \(approved) approved"
    }

    /// Submits `intent` to the risk gate and journals its decision; whether it was approved.
    /// Without an answer (the gate busy or restarting, as right after a start under load) the
    /// same intent is sent again, up to `submitAttempts` times 2 s apart: the gate answers a
    /// re-sent intent with its first decision, so a retry never approves twice.
    func submit(_ intent: IntentGroup) async -> Bool {
        var line = ""
        var approved = false
        for attempt in 1...submitAttempts {
            do {
                let reply = try await risk.request(.intentSubmit(intent), timeout: .seconds(10))
                if case .intentDecision(let d) = reply.message {
                    approved = d.decision.approval != nil
                    append(type: StrategyJournal.decision, d, at: clock.now(), correlation: intent.id.rawValue)
                    line = "\(intent.id): \(d.decision.reason?.rawValue ?? "approved")"
                } else {
                    line = "\(intent.id): the risk gate answered \(reply.type)"
                }
                break
            } catch {
                line = "\(intent.id): no decision (\(error)); nothing was ordered"
                guard attempt < submitAttempts, !Task.isCancelled else { break }
                logger.warning("\(intent.id): no decision (\(error)); sending it again (attempt \(attempt + 1) of \(submitAttempts))")
                try? await Task.sleep(for: .seconds(2))
            }
        }
        logger.info("\(line)")
        return approved
    }

    /// How often an intent the risk gate did not answer is sent: on the wall clock only, like
    /// ``reconcileAttempts``.
    var submitAttempts: Int { wallClock ? 3 : 1 }

    /// The 16:40 daily report: the day's section of the run report, from every process's
    /// journal (read-only), as JSON and Markdown under `<state_dir>/reports/daily-<date>/`, and a
    /// P1 alert that it is there.
    func dailyReport(_ event: ScheduledEvent) -> String {
        let date = event.session.date.description
        do {
            let report = try RunReportBuilder.build(stateDirectory: stateDir, mode: mode.rawValue).daily(date: date)
            let dir = "\(stateDir)/reports/daily-\(date)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try report.json().write(to: URL(fileURLWithPath: "\(dir)/report.json"))
            try Data(report.markdown.utf8).write(to: URL(fileURLWithPath: "\(dir)/report.md"))
            let summary = report.summaryLines.joined(separator: "\n")
            if let notifier {
                try notifier.send(
                    .alert(
                        Alert(
                            priority: .p1, key: "daily-report:\(date)", title: "AST daily report \(date)",
                            text: summary + "\n\(dir)/report.md", at: event.time)))
            }
            logger.info("daily report \(date): \(dir)/report.md")
            return "daily report \(dir)/report.md"
        } catch {
            logger.error("daily report \(date) failed: \(error)")
            return "daily report failed: \(error)"
        }
    }

    /// Asks the reconciler for a reconciliation. One that could not compare anything (the broker
    /// did not answer or is disconnected, as right after a restart) is asked again, up to
    /// `reconcileAttempts` times 5 s apart (real time: a broker's reconnect is not market time),
    /// so a scheduled check right after a restart reports the comparison, not the restart.
    func reconcile(_ reason: String) async -> String {
        var attempt = 1
        while true {
            do {
                let reply = try await reconciler.request(
                    .reconcileRequest(ReconcileRequest(run: true, reason: reason)), timeout: .seconds(30))
                guard case .reconciliationReport(let s) = reply.message else {
                    return "reconciliation: the reconciler answered \(reply.type)"
                }
                if s.completed || attempt >= reconcileAttempts || Task.isCancelled {
                    let tries = attempt == 1 ? "" : " (attempt \(attempt) of \(reconcileAttempts))"
                    return "reconciliation: \(s.summary)\(tries)"
                }
                logger.warning("\(reason): \(s.summary); asking again in 5 s (attempt \(attempt) of \(reconcileAttempts))")
            } catch {
                logger.error("reconciliation request failed: \(error)")
                return "reconciliation not run: \(error)"
            }
            attempt += 1
            try? await Task.sleep(for: .seconds(5))
        }
    }

    /// How often a scheduled reconciliation that could not compare anything is asked for: on the
    /// wall clock only. On the replay clock market time waits for the tree, so a wait would hold
    /// the replay (and a drill's killed broker would stall it); the first answer stands there.
    var reconcileAttempts: Int { wallClock ? 6 : 1 }

    /// The 09:00 scan: reads the bar store as of the session (no look-ahead, splits only as far as
    /// they happened), runs the pipeline, journals the result, sends each intent to the risk gate.
    func scan(_ event: ScheduledEvent) async -> String {
        let date = event.session.date
        todaysEntries.removeAll()
        if wallClock, let why = freshnessProblem(scanDate: date) {
            logger.error("09:00 scan of \(date) DEGRADED: \(why); no scan, no orders")
            if let notifier {
                _ = try? notifier.send(
                    .alert(
                        Alert(
                            priority: .p1, key: "scan-degraded:\(date)", title: "AST scan of \(date) DEGRADED",
                            text: "\(why)\nNo scan and no new orders today (when in doubt, do nothing).", at: event.time)))
            }
            return "DEGRADED: \(why): no scan"
        }
        guard let portfolio else {
            logger.warning("09:00 scan of \(date) skipped: no portfolio from the reconciler yet")
            return "no portfolio yet: no scan (when in doubt, do nothing)"
        }
        var input: ScanInput
        do {
            input = try ScanInputLoader.load(
                storePath: storePath, date: date, now: event.time, portfolio: portfolio, pipeline: pipeline, indicators: &indicators,
                logger: logger)
        } catch {
            logger.error("09:00 scan of \(date): the bar store cannot be read: \(error)")
            return "bar store unreadable: no scan (\(error))"
        }
        // The exit rules' holdings, from the record of each entry (as the engine computes them).
        let view = holdings.view(portfolio: portfolio, date: date, calendar: pipeline.calendar)
        input.holdings = view.holdings
        input.unknownHoldings = view.unknown
        let result = pipeline.scan(input)
        append(type: StrategyJournal.scan, result, at: event.time, correlation: date.description, durability: .durable)
        // The stops a fill of today's entries opens its holding with: journaled before any is submitted.
        let stops = HoldingsLedger.EntryStops(intents: result.intents, date: date)
        append(type: StrategyJournal.entryStops, stops, at: event.time, correlation: date.description, durability: .durable)
        holdings.note(stops)
        reportUnknownEntries(result, event)
        let candidates = result.candidates.map(\.candidates.count).reduce(0, +)
        logger.info(
            "scan \(date): \(result.universe.included.count) symbols, regime \(result.regime.regime), \(candidates) candidates, \(result.intents.count) intents"
        )
        var approved = 0
        for var intent in result.intents {
            // Decided by the end of its session or never (INTENT_EXPIRED at the gate).
            intent.expiresAt = event.session.close
            if await submit(intent) {
                approved += 1
                todaysEntries.append((intent.id, date))
            }
        }
        return "scan \(date): \(candidates) candidates, \(result.intents.count) intents, \(approved) approved (mode \(mode))"
    }

    /// A held long whose entry is unknown while a configured exit rule needs it: the rule does
    /// not act on it (never treated as a fresh entry); the scan's notes say so, and the operator
    /// hears it (P1, once per scan), since only the bracket's stop then protects the position.
    func reportUnknownEntries(_ result: ScanResult, _ event: ScheduledEvent) {
        let unknown = result.notes.filter { $0.hasPrefix(ExitIntents.unknownEntryNote) }
        guard !unknown.isEmpty else { return }
        let date = event.session.date
        for note in unknown { logger.warning("09:00 scan of \(date): \(note)") }
        _ = try? notifier?.send(
            .alert(
                Alert(
                    priority: .p1, key: "unknown-entries:\(date)", title: "AST \(date): exit rules hold \(unknown.count) position(s)",
                    text: String(unknown.joined(separator: "\n").prefix(2000)), at: event.time)))
    }

    /// The freshness gate (``FreshnessGate``) and, with live data, the regime-input gate
    /// (``RegimeInputGate``): why the store cannot be scanned for `scanDate`, or nil when it
    /// holds the previous session (and the regime's index and volatility index of it).
    func freshnessProblem(scanDate: LocalDate) -> String? {
        do {
            let store = try BarStore(path: storePath, logger: logger)
            defer { try? store.close() }
            return try RegimeInputGate.problem(store: store, scanDate: scanDate, inputs: regimeInputs)
        } catch {
            return "the bar store cannot be read: \(error)"
        }
    }

    /// Asks the risk gate to cancel every entry of today that the reconciler's book shows still
    /// working with nothing filled. Without an answer from the reconciler, asks for all of them
    /// (a cancel only reduces risk; the broker refuses the cancel of a filled order).
    func cancelRestingEntries(_ event: ScheduledEvent) async -> Int {
        let entries = todaysEntries.filter { $0.1 == event.session.date }.map { ($0.0, ClientOrderID(intent: $0.0, leg: .entry)) }
        let ids = entries.map(\.1)
        guard !ids.isEmpty else { return 0 }
        let at = NewYorkTime.local(event.time).time
        var unfilled = ids
        var why = "entry not filled by \(at)"
        do {
            let reply = try await reconciler.request(.openEntriesQuery(OpenEntriesQuery(orders: ids)), timeout: .seconds(30))
            if case .openEntries(let r) = reply.message {
                let open = Set(r.unfilled)
                unfilled = ids.filter { open.contains($0) }
            } else {
                why += " (the reconciler answered \(reply.type); fill state unknown)"
            }
        } catch {
            logger.error("the reconciler did not say which entries are unfilled: \(error); asking to cancel all of today's")
            why += " (fill state unknown: \(error))"
        }
        var n = 0
        let unfilledIDs = Set(unfilled)
        for (intentID, id) in entries where unfilledIDs.contains(id) {
            let intent = intentID.rawValue
            let c = OrderCancel(clientOrderID: id, reason: "pre-close cleanup: \(why)")
            do {
                try risk.send(.orderCancel(c), correlationID: intent)
                append(type: StrategyJournal.cancel, c, at: event.time, correlation: intent)
                n += 1
            } catch {
                logger.error("cannot send the cancel of \(c.clientOrderID): \(error)")
            }
        }
        todaysEntries.removeAll()
        return n
    }
}
