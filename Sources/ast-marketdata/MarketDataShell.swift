import ASTBus
import ASTCalendar
import ASTCore
import ASTJournal
import ASTMarketData
import ASTRisk
import ASTRuntime
import ASTWire
import Foundation
import Logging

/// The journal entry types of ast-marketdata, and where the replay stands, as journaled.
typealias MarketDataJournal = EntryTypes.MarketData
typealias ReplayProgress = EntryTypes.MarketData.Progress

/// ast-marketdata's shell: keeps the bar store (installs the bundled data set, or ingests a CSV
/// directory, on the first start) and, with the replay clock, plays the configured sessions.
/// Progress is journaled, so a restart resumes where the replay stood and nothing is published twice.
///
/// The replay is a **causal clock**: the next schedule point comes only when every consequence
/// of the current one has settled. The phases of one session, in this order (the in-process
/// engine mirrors them; keep the two in step):
///
/// 1. `settle` before the first beat of a replay (the reconciler's first portfolio reaches the
///    risk gate and the strategy, sectors are loaded).
/// 2. For each event of ``DailySchedule/events(for:)`` in time order (09:00 full scan, 10:30 and
///    12:30 reconcile, 14:30 reconcile-and-reduce, pre-close cleanup at close − 5 min, after-market
///    at close + 40 min), plus two replay beats:
///    - BARS, one minute before the pre-close cleanup: the session's bars to the broker (in the
///      feed's symbol order; the paper exchange fills resting orders against each), then the
///      marks to the risk gate and the reconciler;
///    - CLOSE, at the session's close: `session.close` to the broker (DAY orders expire).
///    Each beat: `market.time` to broker, risk and reconciler (acknowledged), then to the
///    strategy (acknowledged after its scheduled work: the scan's intents are decided by then);
///    then the beat's own publishing; then ``settle(_:)``; then the beat is journaled as done.
/// 3. ``settle(_:)`` asks, in causal order, strategy (its cancels handled by risk), risk (its
///    orders and cancels handled by the broker), broker (its reports applied by the reconciler),
///    reconciler (its portfolio published and handled by risk and strategy), and repeats the pass
///    until one in which nobody had anything pending. While the risk gate is HALTED, or while a
///    hold file exists (`<runtime_dir>/replay.hold`, for drills), the replay waits there: a
///    halt, a crash or a resume never changes which schedule point an intent meets.
actor MarketDataShell: WorkerLogic {
    let config: ASTConfig
    let journal: Journal
    let logger: Logger
    let clock: any WallClock
    let store: BarStore
    let broker: BusClient
    let risk: BusClient
    let reconciler: BusClient
    let strategy: BusClient
    /// Where P1 alerts of the live feed go (nil when the tree has no notifier).
    let alerts: BusClient?
    let notifier = SystemdNotifier()
    /// The wall-clock feed's state (``ClockMode/wall`` only).
    var live = LiveState()

    init(context: WorkerContext) throws {
        let config = context.config
        self.config = config
        journal = context.journal
        logger = context.logger
        clock = context.clock
        let md = config.marketdataInEffect
        let path = md.storePath(stateDir: config.stateDir)
        let logger = context.logger
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        store = try BarStore(path: path, logger: logger)
        let client: (ProcessIdentity) throws -> BusClient = { try context.busClient(to: $0) }
        broker = try client(ProcessIdentity(parsing: config.risk.broker)!)
        risk = try client(ProcessIdentity(role: .risk))
        reconciler = try client(ProcessIdentity(role: .reconciler))
        strategy = try client(ProcessIdentity(role: .strategy))
        alerts = config.supervisor.children.contains { $0.name == "notifier@main" } ? try client(ProcessIdentity(role: .notifier)) : nil
    }

    /// The first start fills the store from the configured source; later starts use it as it is.
    nonisolated func installIfEmpty(_ md: MarketDataConfig) throws {
        guard try store.barCount() == 0 else { return }
        switch md.source {
        case .bundled:
            let report = try BundledData.install(into: store, logger: logger)
            logger.notice("installed the bundled data set: \(report.storedBars) bars stored")
        case .csv:
            let report = try MarketDataIngest.ingestDirectory(md.csvDirectory, into: store, logger: logger)
            logger.notice("ingested \(md.csvDirectory): \(report.storedBars) bars stored")
        case .store:
            logger.warning("the bar store \(store.path) is empty and marketdata.source is store: nothing to publish")
        case .polygon:
            // With the wall clock the live feed fills it (the initial sessions); nothing to install.
            return
        }
        try journal.append(
            JournalRecord(
                kind: .state, type: MarketDataJournal.installed, timestamp: clock.now(),
                body: Array("\(md.source.rawValue)".utf8)), durability: .durable)
    }

    func run() async {
        // After READY, on a thread of its own: installing the bundled data takes a few seconds of
        // CPU, and the process (its event loop, its watchdog) must answer meanwhile.
        let md = config.marketdataInEffect
        let failure: String? = await withCheckedContinuation { c in
            Thread.detachNewThread {
                do {
                    try self.installIfEmpty(md)
                    c.resume(returning: nil)
                } catch { c.resume(returning: "\(error)") }
            }
        }
        if let failure {
            logger.critical("cannot fill the bar store: \(failure)")
            fatalError("ast-marketdata: \(failure)")
        }
        await withDiscardingTaskGroup { group in
            for c in [broker, risk, reconciler, strategy] { group.addTask { await c.run() } }
            if let alerts { group.addTask { await alerts.run() } }
            if (config.clock ?? .wall).mode == .wall {
                group.addTask { await self.liveLoop() }
            }
            if (config.clock ?? .wall).mode == .replay {
                group.addTask {
                    do { try await self.replay() } catch is CancellationError {} catch {
                        self.logger.critical("the replay failed: \(error)")
                        fatalError("ast-marketdata: \(error)")
                    }
                }
            }
        }
    }

    /// One point of the replay's timeline.
    enum Beat {
        case time(ScheduledTask?)
        /// The session's bars and marks. With daily bars the order of intraday events is unknown;
        /// the bar goes out one minute before the pre-close cleanup, so that the cleanup sees the
        /// day's fills (what a live broker would have filled by then).
        case bars
        /// The session's end: DAY orders expire.
        case close

        /// As `marketdata.beat` names it (`full_scan`, `bars`, `close` ...).
        var name: String {
            switch self {
            case .time(let task): task?.rawValue ?? "time"
            case .bars: "bars"
            case .close: "close"
            }
        }
    }

    /// Plays the configured sessions.
    func replay() async throws {
        let md = config.marketdataInEffect
        let feedBars = try store.allBars()
        var feed = ReplayFeed(bars: feedBars, from: md.replay.fromDate)
        let sessions = Array(feed.sessions.prefix(md.replay.sessions))
        guard !sessions.isEmpty else {
            logger.warning("nothing to replay from \(md.replay.from): the store has no bars from then on")
            _ = notifier.status("replay: no sessions from \(md.replay.from)")
            return
        }
        // From the newest start-up mark that verifies (or entry 1): how far the replay went.
        let restored = try journal.restore(ReplayProgressScan.self)
        var done = restored.state.done
        let marker = StartMarker<ReplayProgressScan>(
            journal: journal, every: StartMarker<ReplayProgressScan>.defaultEvery, from: restored.from)
        try marker.markIfDue(at: done)
        if restored.state.finished {
            _ = notifier.status("replay finished: \(sessions.count) sessions from \(md.replay.from)")
            return
        }
        // Wait for the trading processes before the first beat, and for the tree to settle.
        for c in [broker, risk, reconciler, strategy] { await c.waitUntilConnected() }
        try await settle(done)
        for (i, session) in sessions.enumerated() {
            let events = DailySchedule.events(for: session)
            var beats: [(Timestamp, Beat)] = events.map { ($0.time, .time($0.task)) }
            let cleanup = events.first { $0.task == .preCloseCleanup }?.time ?? session.close
            beats.append((Timestamp(nanoseconds: cleanup.nanoseconds - 60_000_000_000), .bars))
            beats.append((session.close, .close))
            beats.sort { $0.0 < $1.0 }
            for (time, beat) in beats {
                // Steps of sessions already played are consumed from the feed without publishing.
                if case .bars = beat, time <= done {
                    _ = feed.advance(to: session.close)
                    continue
                }
                guard time > done else { continue }
                try Task.checkCancellation()
                let point = ReplayProgress(time: time, session: session.date.description, index: i + 1, of: sessions.count, what: beat.name)
                try journal.append(
                    JournalRecord(
                        kind: .decision, type: MarketDataJournal.beat, timestamp: time,
                        body: Array(JSONEncoder().encode(point))), durability: .durable)
                CrashAfterInputFault.point(MarketDataJournal.beat, beat, outputs: 1)
                try await announce(time)
                try await settle(time)
                var what = "\(NewYorkTime.format(time))"
                switch beat {
                case .time(let task?): what += " \(task.rawValue)"
                case .time(nil): break
                case .bars:
                    let steps = feed.advance(to: session.close)
                    for step in steps { try await publish(step) }
                    what += " bars: \(steps.map(\.bars.count).reduce(0, +))"
                case .close:
                    _ = try await broker.sendAndWaitForAck(.sessionClose(SessionClose(at: session.close)))
                    what += " close"
                }
                if case .time = beat {} else { try await settle(time) }
                let progress = ReplayProgress(time: time, session: session.date.description, index: i + 1, of: sessions.count, what: what)
                try journal.append(
                    JournalRecord(
                        kind: .state, type: MarketDataJournal.progress, timestamp: time,
                        body: Array(JSONEncoder().encode(progress))), durability: .batched)
                do { try marker.markIfDue(at: time) } catch {
                    logger.warning("could not journal a start-up mark (the next start reads further back): \(error)")
                }
                _ = notifier.status("replay \(session.date) (\(i + 1)/\(sessions.count)) \(what)")
                done = time
            }
            logger.info("replayed \(session.date) (\(i + 1)/\(sessions.count))")
        }
        try journal.append(JournalRecord(kind: .state, type: MarketDataJournal.finished, timestamp: done, body: []), durability: .durable)
        _ = notifier.status("replay finished: \(sessions.count) sessions from \(md.replay.from)")
        logger.notice("replay finished: \(sessions.count) sessions")
    }

    /// Market time is `time`: every trading process hears it and does what is due before the
    /// replay goes on (the strategy's acknowledgement comes after its scheduled work).
    func announce(_ time: Timestamp) async throws {
        let message = Message.marketTime(MarketTime(now: time))
        let ids = try [broker, risk, reconciler].map { try ($0, $0.send(message)) }
        for (c, id) in ids { try await c.waitForAck(id: id) }
        _ = try await strategy.sendAndWaitForAck(message)
    }

    /// The settle barrier of the causal clock (see the type's comment): returns once a full pass
    /// over strategy, risk, broker and reconciler found nothing pending, the risk gate is not
    /// HALTED and no hold file exists. Waits as long as that takes (a stopped or restarting
    /// worker is asked again); what it waits for is in the status line.
    func settle(_ time: Timestamp) async throws {
        let chain: [(String, BusClient)] = [("strategy", strategy), ("risk", risk), ("broker", broker), ("reconciler", reconciler)]
        let hold = "\(config.runtimeDir)/replay.hold"
        var round = 0
        var waiting = ""
        while true {
            try Task.checkCancellation()
            round += 1
            var busy: [String] = []
            var halted = false
            for (name, client) in chain {
                let report = try await settleReport(from: name, client, MarketSettle(at: time, round: round))
                if report.hadPending { busy.append(name) }
                if round % 1000 == 0 { logger.warning("settle of \(NewYorkTime.format(time)): \(round) passes; \(name): \(report.detail)") }
                if report.tradingState == "HALTED" { halted = true }
            }
            guard busy.isEmpty else { continue }
            let held = FileManager.default.fileExists(atPath: hold)
            if !halted && !held { break }
            do {
                let why = halted ? "the risk gate is HALTED (astctl resume after a clean reconciliation)" : "\(hold) exists"
                if why != waiting {
                    logger.notice("replay held at \(NewYorkTime.format(time)): \(why)")
                    waiting = why
                }
                _ = notifier.status("replay held at \(NewYorkTime.format(time)): \(why)")
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        if !waiting.isEmpty { logger.notice("replay goes on at \(NewYorkTime.format(time))") }
    }

    /// One process's settle answer; asks again after a timeout or a lost connection.
    func settleReport(from name: String, _ client: BusClient, _ request: MarketSettle) async throws -> SettleReport {
        var attempt = 0
        while true {
            try Task.checkCancellation()
            attempt += 1
            do {
                if !client.isConnected { await client.waitUntilConnected() }
                let reply = try await client.request(.marketSettle(request), timeout: .seconds(15))
                if case .settled(let report) = reply.message { return report }
                logger.error("\(name) answered market.settle with \(reply.type)")
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if attempt == 1 || attempt % 10 == 0 { logger.notice("settle: waiting for \(name): \(error)") }
                _ = notifier.status("replay settling at \(NewYorkTime.format(request.at)): waiting for \(name)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// A session's marks to the risk gate and the reconciler, then (once both have handled every
    /// one: an ack comes after the handling) its bars to the broker, whose fills reach the
    /// reconciler after the marks — the engine's order (``ASTEngine/EngineSemantics/marksBeforeBars``).
    /// Sent at once, the reconciler could take a fill before its symbol's mark: its portfolio,
    /// snapshotted at the fill, was then published valued at the day before's close (a mark
    /// changes the book but publishes nothing), and a limit broken by the day's own fills was
    /// seen only at the cleanup's reconciliation a minute later (15:55, where the engine says 15:54).
    func publish(_ step: ReplayStep) async throws {
        var marks: [(BusClient, String)] = []
        for mark in step.marks {
            let m = MarketMark(symbol: mark.symbol, price: mark.price, at: mark.asOf)
            marks.append((risk, try risk.send(.mark(m), correlationID: mark.symbol.rawValue)))
            marks.append((reconciler, try reconciler.send(.mark(m), correlationID: mark.symbol.rawValue)))
        }
        for (c, id) in marks { try await c.waitForAck(id: id) }
        var bars: [String] = []
        for bar in step.bars where !(bar.volume == 0) {
            bars.append(try broker.send(.bar(bar), correlationID: bar.symbol.rawValue))
        }
        for id in bars { try await broker.waitForAck(id: id) }
        MarketDataMetrics.newestSession(closingAt: step.session.close)
    }

    func stopped() async {
        await live.polygon?.shutdown()
        try? store.close()
    }

    /// Market data takes only diagnostics on its endpoint; it publishes as a client.
    func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message? { nil }
}

/// What market data's replay reads from its journal at start (from the newest start-up mark that
/// verifies, or from entry 1): the time of the last progress point and whether it finished.
enum ReplayProgressScan: MarkedScan {
    struct State: Codable, Sendable, Equatable {
        var done = Timestamp(nanoseconds: 0)
        var finished = false
    }

    static let markName = "marketdata.replay"
    static var initial: State { State() }

    static func fold(_ state: inout State, _ entry: JournalEntry) throws {
        if entry.record.type == MarketDataJournal.progress,
            let p = try? JSONDecoder().decode(ReplayProgress.self, from: Data(entry.record.body))
        {
            state.done = p.time
        }
        if entry.record.type == MarketDataJournal.finished { state.finished = true }
    }
}
