import ASTBus
import ASTCore
import ASTExecution
import ASTJournal
import ASTMarketData
import ASTReplay
import ASTRisk
import ASTRuntime
import ASTWire
import Foundation
import Logging
import Synchronization

/// The journal entry types of ast-reconciler.
typealias ReconcilerJournal = EntryTypes.Reconciler

/// ast-reconciler's shell around the pure ``ReconcilerCore``: journals every input before the
/// core sees it; publishes the portfolio to the risk gate and the strategy; asks the broker for
/// its account and reconciles at start, after every (re)connection of the broker and on demand
/// (`astctl reconcile`); carries out repairs (cancels at the broker), tells the risk gate the
/// outcome and raises a P0 alert on a mismatch. Every fill its book applies goes on to the
/// strategy (for its record of each holding's entry).
actor ReconcilerShell: WorkerLogic {
    var core = ReconcilerCore()
    let identity: ProcessIdentity
    let journal: Journal
    let clock: any WallClock
    let logger: Logger
    let brokerName: String
    let broker: BusClient
    let risk: BusClient
    let strategy: BusClient?
    let notifier: BusClient?
    /// While a reconciliation compares: reports after this broker sequence wait, so that the
    /// book holds exactly what the broker's answer reflects.
    var horizon: Int64?
    var reconciling = false
    /// Set once start-up caught up with the journal; reports arriving before wait for it.
    var started = false
    /// The portfolio waiting to be published (see ``publishSnapshot()``).
    var pendingSnapshot: PortfolioSnapshot?
    let snapshotCoalescing: Duration = .milliseconds(20)
    let queryTimeout: Duration = .seconds(5)
    let storePath: String
    /// Journaled inputs the restore could not replay and the operator's acknowledgements.
    let quarantine: Mutex<QuarantineJournal.State>
    /// Replay's causal clock: portfolios are published at the settle barrier only (one per
    /// schedule point, whatever the timing), never by the coalescing timer.
    let causal: Bool
    /// Message ids of execution reports the start-up scan handled: the live path, which waited
    /// for the scan, drops them instead of journaling the same report a second time.
    var takenAtStart: Set<String> = []
    /// Whether the sectors came from market data's reference data yet (see ``loadSectorsIfMissing()``).
    var sectorsLoaded = false
    /// The market time of the last attempt to read them, so that marks do not reopen the store each time.
    var sectorsTriedAt: Timestamp?
    /// The restore's fold, carried forward over the journal to write checkpoints.
    var checkpointFold: ReconcilerJournalFold
    var checkpoints: CheckpointSchedule

    init(context: WorkerContext) throws {
        identity = context.identity
        journal = context.journal
        clock = context.clock
        logger = context.logger
        let config = context.config
        brokerName = config.risk.broker
        storePath = (config.marketdata ?? .standard).storePath(stateDir: config.stateDir)
        causal = (config.clock ?? .wall).mode == .replay
        let client: (ProcessIdentity) throws -> BusClient = { try context.busClient(to: $0) }
        let optional = context.busClientIfConfigured(to:)
        broker = try client(ProcessIdentity(parsing: config.risk.broker)!)
        risk = try client(ProcessIdentity(role: .risk))
        strategy = try optional(ProcessIdentity(role: .strategy))
        notifier = try optional(ProcessIdentity(role: .notifier))
        try MissingState.quarantine(context)
        let (restored, quarantined, known, fold) = try Self.restore(journal: journal)
        core = restored
        checkpointFold = fold
        checkpoints = CheckpointSchedule(every: config.journal.checkpointEvery ?? JournalConfig.defaultCheckpointEvery)
        for rejected in fold.rejectedCheckpoints { context.logger.warning("reconciler restore: \(rejected)") }
        let state = try QuarantineJournal.recordAndTell(
            quarantined, into: known, journal: journal, clock: clock, process: context.identity.description, logger: logger)
        quarantine = Mutex(state)
        logger.notice(
            "book restored",
            metadata: [
                "orders": "\(restored.book.orders.count)", "positions": "\(restored.portfolio.positions.count)",
                "cash": "\(restored.portfolio.cash)",
                "from_checkpoint": "\(fold.startedFromCheckpoint.map(String.init) ?? "none")",
            ])
    }

    /// Rebuilds the core with the fold replay and the reports use (``ReconcilerJournalFold``):
    /// every journaled input with the time it was handled at.
    ///
    /// An input that does not decode or that its validation now refuses is skipped and returned
    /// in `quarantined` (never thrown: a journaled input must not make the reconciler crash-loop);
    /// `quarantine` is what the journal already says about quarantines.
    /// The restore starts from the newest checkpoint that verifies, then folds the tail.
    static func restore(journal: Journal) throws
        -> (core: ReconcilerCore, quarantined: [QuarantinedEntry], quarantine: QuarantineJournal.State, fold: ReconcilerJournalFold)
    {
        let fold = try ReconcilerJournalFold.restore(journal: journal)
        return (fold.core, fold.quarantine.found, fold.quarantine.state, fold)
    }

    /// Every `journal.checkpoint_every` inputs, journals a checkpoint of the restore's fold carried
    /// forward (as ast-risk does); one that cannot be written is logged and skipped.
    func checkpointIfDue(now: Timestamp) {
        do {
            try checkpoints.checkpointIfDue(&checkpointFold, journal: journal, now: now)
        } catch {
            logger.error("reconciler checkpoint not written: \(error)")
        }
    }

    /// While a quarantined entry waits for the operator the book may be wrong: the risk gate
    /// hears a mismatch (and halts) at every start until it is acknowledged.
    func reportQuarantine() {
        guard let text = QuarantineJournal.startupMismatch(pending: quarantine.withLock { $0.pending }) else { return }
        do {
            try risk.send(.reconciliationResult(.mismatch(text)))
        } catch {
            logger.critical("cannot tell the risk gate about a quarantine: \(error)")
            fatalError("ast-reconciler: \(error)")
        }
    }

    func run() async {
        reportQuarantine()
        await withDiscardingTaskGroup { group in
            group.addTask { await self.broker.run() }
            group.addTask { await self.risk.run() }
            if let strategy = self.strategy { group.addTask { await strategy.run() } }
            if let notifier = self.notifier { group.addTask { await notifier.run() } }
            group.addTask { await self.start() }
        }
    }

    /// At start: handle what the bus journaled but we never handled, take the starting cash
    /// from the broker on the very first start, publish the portfolio, reconcile.
    func start() async {
        while !core.initialized && !Task.isCancelled {
            if let state = await queryBroker(), state.connected {
                handle(.initial(cash: state.account.cash))
                logger.notice("first start: the portfolio starts with the broker's cash \(state.account.cash)")
            } else {
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        do {
            for env in try UnhandledMessages.find(in: journal, types: [.executionReport], handledType: ReconcilerJournal.input) {
                logger.notice("handling \(env.type) \(env.id), journaled but not handled before the last exit")
                if case .executionReport(let report) = env.message {
                    takenAtStart.insert(env.id)
                    handle(.report(report), messageID: env.id)
                }
            }
        } catch {
            fatalError("ast-reconciler: reading the journal failed: \(error)")
        }
        started = true
        // Sectors for the risk gate's concentration rule, from market data's reference data. On a
        // first start market data may still be installing them: retried at every settle and mark.
        loadSectorsIfMissing()
        carryOut([.snapshot(core.snapshot(clock.now()))])
        _ = await reconcile(trigger: "start")
    }

    /// Reads the sectors from the bar store until it has them (market data installs the store
    /// after it starts, possibly after this process did). At most once per market time.
    func loadSectorsIfMissing() {
        guard !sectorsLoaded, sectorsTriedAt != clock.now() else { return }
        sectorsTriedAt = clock.now()
        guard let sectors = sectorsFromMarketData() else { return }
        sectorsLoaded = true
        handle(.sectors(sectors))
        logger.info("sectors of \(sectors.count) symbols loaded from market data's reference data")
    }

    /// The causal clock's settle barrier (replay): no reconciliation running, sectors loaded,
    /// the portfolio published, and the portfolio, reconciliation results and repairs
    /// acknowledged by the risk gate, the strategy and the broker (each after handling them).
    func settle() async -> SettleReport {
        while !started && !Task.isCancelled { try? await Task.sleep(for: .milliseconds(2)) }
        var busy = reconciling
        while reconciling && !Task.isCancelled { try? await Task.sleep(for: .milliseconds(2)) }
        loadSectorsIfMissing()
        if pendingSnapshot != nil {
            busy = true
            publishSnapshot()
        }
        let toRisk = await risk.drain()
        let toStrategy = await strategy?.drain() ?? false
        let toBroker = await broker.drain()
        return SettleReport(
            hadPending: busy || toRisk || toStrategy || toBroker,
            detail: busy ? "portfolio published" : (toBroker ? "repairs to the broker" : ""))
    }

    /// Symbol -> sector from the bar store's reference data (read-only), or nil without one.
    func sectorsFromMarketData() -> [String: String]? {
        guard FileManager.default.fileExists(atPath: storePath), let store = try? BarStore(path: storePath, logger: logger) else {
            return nil
        }
        defer { try? store.close() }
        guard let infos = try? store.symbolInfo(), !infos.isEmpty else { return nil }
        return Dictionary(infos.map { ($0.symbol.rawValue, $0.sector ?? "") }, uniquingKeysWith: { a, _ in a })
    }

    func queryBroker() async -> BrokerAccountState? {
        // Executions since a day before the last completed reconciliation: older ones were compared then.
        let since = core.lastCompleted.map { Timestamp(nanoseconds: $0.nanoseconds - 86_400_000_000_000) } ?? Timestamp(nanoseconds: 0)
        do {
            if let state = try await BrokerPages.fetch(
                executionsSince: since, timeout: queryTimeout, { try await self.broker.request($0, timeout: $1) })
            {
                return state
            }
            logger.error("the broker's answer to an account query did not make sense")
        } catch {
            logger.warning("the broker did not answer its account query: \(error)")
        }
        return nil
    }

    /// One reconciliation against the broker; one at a time.
    func reconcile(trigger: String) async -> ReconciliationSummary? {
        // Nothing to compare before the book is restored and has its starting cash.
        while !started && !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
        while reconciling { try? await Task.sleep(for: .milliseconds(5)) }
        reconciling = true
        defer {
            reconciling = false
            horizon = nil
        }
        guard let state = await queryBroker() else {
            handle(.reconciliationIncomplete(trigger: trigger, broker: brokerName, detail: "\(brokerName) did not answer"))
            return core.lastSummary
        }
        guard state.connected else {
            handle(.reconciliationIncomplete(trigger: trigger, broker: brokerName, detail: "\(brokerName) is disconnected from its broker"))
            return core.lastSummary
        }
        // Apply exactly the reports the broker had sent when it answered; hold newer ones.
        if let through = state.reportsThrough {
            horizon = through
            // A real-time wait (not the trading clock, which a chaos run speeds up).
            let deadline = ContinuousClock.now + .seconds(3)
            while (core.reportsApplied[state.broker] ?? 0) < through, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        handle(.reconciliation(trigger: trigger, broker: state))
        return core.lastSummary
    }

    /// Journals `input` (write-ahead), hands it to the core and carries out the outputs.
    func handle(_ input: ReconcilerInput, messageID: String? = nil, durability: Durability = .durable) {
        let now = clock.now()
        let seq: Int64
        do {
            seq = try journal.append(
                JournalRecord(
                    kind: .received, type: ReconcilerJournal.input, timestamp: now, messageID: messageID,
                    correlationID: input.correlationID, body: Array(JSONEncoder.sorted.encode(input))),
                durability: durability)
        } catch {
            logger.critical("cannot journal a reconciler input: \(error)")
            fatalError("ast-reconciler: the journal refused an input: \(error)")
        }
        // A fill the book has not applied yet: once applied, the strategy hears of it (its
        // record of each holding's entry, ``HoldingsLedger``), once per execution.
        var fresh: ExecutionReport?
        if case .report(let r) = input, case .fill(let f) = r.event, !core.book.hasApplied(f.executionID) { fresh = r }
        // Alert keys: the input's journal sequence, unique per event (never the trading clock).
        let outputs = ReconcilerOutput.keyed(core.handle(input, now: now), input: seq)
        CrashAfterInputFault.point(ReconcilerJournal.input, input, outputs: outputs.count)
        if let r = fresh, case .fill(let f) = r.event, core.book.hasApplied(f.executionID) {
            do {
                try strategy?.send(.executionReport(r), correlationID: f.clientOrderID.rawValue)
            } catch {
                logger.critical("cannot journal or send a fill to the strategy: \(error)")
                fatalError("ast-reconciler: \(error)")
            }
        }
        carryOut(outputs)
        checkpointIfDue(now: now)
    }

    func carryOut(_ outputs: [ReconcilerOutput]) {
        do {
            for output in outputs {
                switch output {
                case .snapshot(let s):
                    // A burst of fills publishes its last portfolio once, not one per fill.
                    let first = pendingSnapshot == nil
                    pendingSnapshot = s
                    if first && !causal {
                        Task {
                            try? await Task.sleep(for: self.snapshotCoalescing)
                            await self.publishSnapshot()
                        }
                    }
                case .cancelAtBroker(let c):
                    try broker.send(.orderCancel(c), correlationID: c.clientOrderID.rawValue)
                    logger.notice("reconciliation repair: cancel \(c.clientOrderID): \(c.reason)")
                case .result(let r):
                    try risk.send(.reconciliationResult(r))
                case .alert(let a):
                    logger.critical("\(a.title): \(a.text)")
                    try notifier?.send(.alert(a), correlationID: a.key)
                case .summary(let s):
                    try journal.append(
                        JournalRecord(
                            kind: .decision, type: ReconcilerJournal.summary, timestamp: s.at,
                            body: Array(JSONEncoder.sorted.encode(s))), durability: .durable)
                    let line = "reconciliation (\(s.trigger)): \(s.summary)"
                    if s.requiresHalt {
                        logger.critical("\(line)")
                    } else if !s.clean {
                        logger.warning("\(line)")
                    } else {
                        logger.info("\(line)")
                    }
                case .anomaly(let text):
                    try journal.append(
                        JournalRecord(
                            kind: .decision, type: ReconcilerJournal.anomaly, timestamp: clock.now(),
                            body: Array(text.utf8)), durability: .batched)
                    logger.warning("book anomaly: \(text)")
                }
            }
        } catch {
            logger.critical("cannot journal or send a reconciler output: \(error)")
            fatalError("ast-reconciler: \(error)")
        }
    }

    func stopped() async { publishSnapshot() }

    /// Sends the latest portfolio to the risk gate and the strategy (acknowledged, journaled first).
    func publishSnapshot() {
        guard let s = pendingSnapshot else { return }
        pendingSnapshot = nil
        ReconcilerMetrics.published(s)
        do {
            try risk.send(.portfolioSnapshot(s))
            try strategy?.send(.portfolioSnapshot(s))
        } catch {
            logger.critical("cannot journal or send the portfolio: \(error)")
            fatalError("ast-reconciler: \(error)")
        }
    }

    /// Validate before you journal: reports and marks within ``ReconcilerInput/validate()``; a
    /// quarantine acknowledgement must name an entry pending here.
    nonisolated func validate(_ envelope: Envelope, from peer: PeerInfo) -> InputRefusal? {
        switch envelope.message {
        case .executionReport(let report): ReconcilerInput.report(report).validate()
        case .mark(let mark): ReconcilerInput.mark(mark).validate()
        case .reconcileRequest(let request): InputCheck.text(request.reason, "reason")
        case .quarantineAck(let ack): QuarantineJournal.validate(ack, process: identity.description, state: quarantine.withLock { $0 })
        default: nil
        }
    }

    func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message? {
        switch envelope.message {
        case .executionReport(let report):
            while !started { try? await Task.sleep(for: .milliseconds(5)) }
            // The start-up scan took it already (it was journaled before this process stopped
            // handling, and re-delivered): handling it again would journal it twice.
            if takenAtStart.contains(envelope.id) { return nil }
            // Hold a report newer than what a running reconciliation compares against.
            while let h = horizon, let seq = report.sequence, seq > h, report.broker == brokerName {
                try? await Task.sleep(for: .milliseconds(2))
            }
            handle(.report(report), messageID: envelope.id)
        case .mark(let mark):
            loadSectorsIfMissing()
            handle(.mark(mark), durability: .batched)
        case .brokerConnection(let report) where report.connected:
            Task { _ = await self.reconcile(trigger: "\(report.broker) connected") }
        case .quarantineAck(let ack):
            let pending: Int
            do {
                pending = try QuarantineJournal.acknowledge(ack, journal: journal, state: quarantine, at: clock.now()).count
            } catch {
                logger.critical("cannot journal a quarantine acknowledgement: \(error)")
                fatalError("ast-reconciler: \(error)")
            }
            logger.notice("operator acknowledged quarantined entry seq \(ack.seq): \(ack.reason)")
            return .commandResult(
                OperatorReply(accepted: true, message: "\(identity): entry seq \(ack.seq) acknowledged; \(pending) still pending"))
        case .openEntriesQuery(let q):
            // Unknown to the book counts as unfilled: a cancel of it can only reduce risk.
            let unfilled = q.orders.filter { id in core.book.order(id).map { $0.state.isOpen && $0.filledQuantity == .zero } ?? true }
            return .openEntries(OpenEntriesReport(unfilled: unfilled))
        case .reconcileRequest(let request):
            let summary =
                request.run ? await reconcile(trigger: request.reason.isEmpty ? "astctl reconcile" : request.reason) : core.lastSummary
            if let summary { return .reconciliationReport(summary) }
            return .commandResult(OperatorReply(accepted: false, message: "no reconciliation has run yet"))
        default:
            break
        }
        return nil
    }
}

extension ReconcilerInput {
    /// The order or symbol an input concerns, for the journal's correlation index.
    var correlationID: String? {
        switch self {
        case .report(let r): r.event.clientOrderID.rawValue
        case .mark(let m): m.symbol.rawValue
        default: nil
        }
    }
}
