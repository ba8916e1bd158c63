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

/// The journal entry types of the wall-clock feed.
enum LiveJournal {
    /// A fetched session was validated and stored (body: ``LiveDayRecord``).
    static let stored = "marketdata.live_stored"
    /// A fetch round stored nothing from `date` on (body: ``LiveDayRecord``): the P1's reason.
    static let refused = "marketdata.live_refused"
    /// Marks were published at a schedule point (body: ``LiveMarksRecord``).
    static let marks = "marketdata.live_marks"
}

/// One session's outcome, as journaled.
struct LiveDayRecord: Codable {
    var date: String
    var bars: Int
    var skippedTickers: Int
    var outcome: String
}

/// One publication of marks, as journaled.
struct LiveMarksRecord: Codable {
    var point: String
    var marks: Int
    var session: String?
}

/// The wall-clock feed's state in the shell (``MarketDataShell``).
struct LiveState {
    var polygon: PolygonClient?
    /// The newest stored session, read once at start and kept current by the feed.
    var lastStored: LocalDate?
    var loaded = false
    /// After a failure: no new attempt before this instant.
    var retryAt: Timestamp?
    /// The instant marks were last published.
    var marksAt: Timestamp?
    /// Why the feed cannot fetch at all (no API key, bad settings), if so.
    var degraded: String?
    /// The status line last sent to the supervisor.
    var status = ""
}

/// The wall-clock (production) feed, as an extension of ast-marketdata's shell: after each
/// session's close (``LiveMarketDataConfig/fetchAt``) it fetches the whole market's daily bars
/// from Polygon's grouped-daily endpoint, with the splits, dividends and ticker reference data
/// the universe filter and the event guard use, and backfills every session missed since the
/// store's newest bar; each day is validated as `ast ingest` validates (``LiveDayValidation``)
/// and stored whole or not at all; a failure stores nothing and raises a P1. At start and at
/// every schedule point (09:00 … 16:40) the last closes go to the risk gate and the reconciler
/// as marks; the day's bars go to the broker (fills of resting orders), then its session close.
/// The decisions are the pure ``LiveFeedPlan``; this is the I/O around it.
extension MarketDataShell {
    var liveSettings: LiveFeedSettings {
        let c = config.marketdataInEffect.liveSettings
        return LiveFeedSettings(
            fetchTime: c.fetchTime ?? LocalTime(hour: 16, minute: 10), initialSessions: c.initialSessions,
            retrySeconds: Int64(c.retrySeconds), minBarsPerDay: c.minBarsPerDay,
            mode: c.validation == "lenient" ? .lenient : .strict)
    }

    func liveLoop() async {
        let md = config.marketdataInEffect
        let plan = LiveFeedPlan(settings: liveSettings)
        if md.source == .polygon { await setUpPolygon(md) }
        while !Task.isCancelled {
            let now = clock.now()
            if !live.loaded {
                do {
                    let store = self.store
                    live.lastStored = try await Self.offPool { try store.lastDailyDate() }
                    live.loaded = true
                } catch {
                    await degrade("the bar store cannot be read: \(error)", key: "marketdata:store-unreadable", at: now)
                }
            }
            if md.source == .polygon, live.polygon != nil, live.loaded,
                case .fetch(let dates) = plan.decide(now: now, lastStored: live.lastStored, retryAt: live.retryAt)
            {
                await fetchRound(dates, plan: plan)
            }
            if live.marksAt == nil {
                await publishMarks(point: "start", session: nil, at: now)
            } else if let marksAt = live.marksAt, let point = LiveMarks.point(after: marksAt, through: now) {
                await publishMarks(point: point.task.rawValue, session: point.session, at: now)
            }
            reportStatus(plan: plan, now: clock.now())
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// The Polygon client from the configuration and the secret `polygon_api_key`. Without them
    /// the feed is DEGRADED (P1): it fetches nothing, and the freshness gate stops the scans.
    func setUpPolygon(_ md: MarketDataConfig) async {
        let now = clock.now()
        do {
            let secret = try SecretStore.fromEnvironment(secretsFile: config.secretsFile).secret("polygon_api_key")
            let settings = PolygonSettings(baseURL: md.polygonSettings.baseURL)
            let logger = self.logger
            live.polygon = try secret.withValue { value throws(PolygonError) in
                try PolygonClient(apiKey: PolygonAPIKey(value), settings: settings, logger: logger)
            }
        } catch {
            await degrade(
                "no Polygon client: \(error) (marketdata.source is polygon; the secret polygon_api_key is needed)",
                key: "marketdata:no-polygon-client", at: now)
        }
    }

    /// Fetches `dates` (oldest first): reference data once, then each day validated and stored on
    /// its own; the first failure stops the round, stores nothing more, and raises a P1.
    func fetchRound(_ dates: [LocalDate], plan: LiveFeedPlan) async {
        guard let client = live.polygon, let first = dates.first, let last = dates.last else { return }
        let initialFill = live.lastStored == nil
        logger.notice("live feed: fetching \(dates.count) session(s) \(first) … \(last)\(initialFill ? " (initial fill)" : "")")
        var reference: StoreBatch?
        do {
            let symbols = try await client.tickers()
            let to = last.adding(days: plan.settings.eventDays)
            let actions = try await client.splits(from: first, to: to) + client.dividends(from: first, to: to)
            let events = actions.map { a in
                MarketEvent(symbol: a.symbol, date: a.exDate, kind: { if case .split = a.kind { .split } else { .dividend } }())
            }
            reference = StoreBatch(actions: actions, symbols: symbols, events: events)
        } catch {
            await refuse(first, reason: "the reference data (tickers, splits, dividends) could not be fetched: \(error)", skipped: 0)
            return
        }
        for date in dates {
            let day: GroupedDay
            do { day = try await client.groupedDaily(date) } catch {
                await refuse(date, reason: "\(error)", skipped: 0)
                return
            }
            switch LiveDayValidation.decide(day, settings: plan.settings) {
            case .refuse(let reason):
                await refuse(date, reason: reason, skipped: day.skippedTickers.count)
                return
            case .store(let bars, _):
                var batch = reference ?? StoreBatch()
                batch.bars = bars
                let store = self.store
                do { try await Self.offPool { [batch] in try store.write(batch) } } catch {
                    await refuse(date, reason: "the bar store refused the write: \(error)", skipped: day.skippedTickers.count)
                    return
                }
                reference = nil
                live.lastStored = date
                live.retryAt = nil
                journalLive(
                    LiveJournal.stored,
                    LiveDayRecord(
                        date: date.description, bars: bars.count, skippedTickers: day.skippedTickers.count,
                        outcome: "stored"), at: clock.now())
                logger.notice("live feed: stored \(bars.count) bars of \(date) (\(day.skippedTickers.count) tickers not AST symbols)")
                // Sessions before AST ran had no orders resting: the initial fill goes to nobody.
                if !initialFill { await publishDay(date, bars: bars) }
            }
        }
        await publishMarks(point: "stored \(last)", session: nil, at: clock.now())
    }

    /// A failed round: nothing stored from `date` on, a P1 (one per session), the next attempt later.
    func refuse(_ date: LocalDate, reason: String, skipped: Int) async {
        let now = clock.now()
        let bounded = String(reason.prefix(2_000))
        live.retryAt = Timestamp(nanoseconds: now.nanoseconds + liveSettings.retrySeconds * 1_000_000_000)
        logger.error("live feed: nothing stored for \(date): \(bounded)")
        journalLive(LiveJournal.refused, LiveDayRecord(date: date.description, bars: 0, skippedTickers: skipped, outcome: bounded), at: now)
        await alert(
            key: "marketdata:not-stored:\(date)", title: "AST market data: \(date) not stored",
            text: "\(bounded)\nNothing was stored; the next attempt is in \(liveSettings.retrySeconds) s. Until the store holds "
                + "the previous session, the 09:00 scan does nothing (DEGRADED).", at: now)
    }

    /// The feed cannot work at all: logged, in the status line, and a P1 (once per cause).
    func degrade(_ why: String, key: String, at now: Timestamp) async {
        guard live.degraded != why else { return }
        live.degraded = why
        logger.error("live feed DEGRADED: \(why)")
        await alert(key: key, title: "AST market data DEGRADED", text: why, at: now)
    }

    func alert(key: String, title: String, text: String, at: Timestamp) async {
        guard let alerts else { return }
        do {
            _ = try await alerts.sendAndWaitForAck(
                .alert(Alert(priority: .p1, key: key, title: title, text: text, at: at)), timeout: .seconds(30))
        } catch {
            // Journaled and pending in the client: delivered once the notifier answers.
            logger.warning("P1 \(key) not yet acknowledged by the notifier: \(error)")
        }
    }

    /// A stored session's bars to the broker (the paper exchange fills resting orders against
    /// them), then the session's close (DAY orders expire).
    func publishDay(_ date: LocalDate, bars: [Bar]) async {
        let selected = LiveMarks.current(bars, minDollarVolume: config.marketdataInEffect.liveSettings.markMinDollarVolume)
        let broker = self.broker
        do {
            // Each send is a durable journal append: off the cooperative pool, so the watchdog
            // and the bus keep answering meanwhile.
            let ids: [String] = try await Self.offPool {
                var ids: [String] = []
                for bar in selected where bar.volume > 0 { ids.append(try broker.send(.bar(bar), correlationID: bar.symbol.rawValue)) }
                if let session = TradingCalendar.nyse.session(on: date) {
                    ids.append(try broker.send(.sessionClose(SessionClose(at: session.close))))
                }
                return ids
            }
            for id in ids { try await broker.waitForAck(id: id, timeout: .seconds(60)) }
        } catch {
            logger.warning("live feed: the broker has not acknowledged the bars of \(date) yet: \(error)")
        }
    }

    /// The last close of every current symbol to the risk gate and the reconciler, as marks
    /// dated at their session's close.
    func publishMarks(point: String, session: Session?, at now: Timestamp) async {
        live.marksAt = now
        let (store, risk, reconciler) = (self.store, self.risk, self.reconciler)
        let minimum = config.marketdataInEffect.liveSettings.markMinDollarVolume
        // The store read and the durable sends run off the cooperative pool (see publishDay).
        let pending: [(BusClient, String)]
        do {
            pending = try await Self.offPool {
                var pending: [(BusClient, String)] = []
                for bar in LiveMarks.current(try store.lastBars(), minDollarVolume: minimum) {
                    guard let s = TradingCalendar.nyse.session(on: bar.date) else { continue }
                    let m = MarketMark(symbol: bar.symbol, price: bar.close, at: s.close)
                    pending.append((risk, try risk.send(.mark(m), correlationID: bar.symbol.rawValue)))
                    pending.append((reconciler, try reconciler.send(.mark(m), correlationID: bar.symbol.rawValue)))
                }
                return pending
            }
        } catch {
            logger.error("live feed: no marks at \(point): \(error)")
            return
        }
        guard !pending.isEmpty else { return }
        do {
            for (c, id) in pending { try await c.waitForAck(id: id, timeout: .seconds(60)) }
        } catch {
            logger.warning("live feed: marks at \(point) not all acknowledged yet: \(error)")
        }
        journalLive(LiveJournal.marks, LiveMarksRecord(point: point, marks: pending.count / 2, session: session?.date.description), at: now)
        logger.info("live feed: \(pending.count / 2) marks published (\(point))")
    }

    /// Runs blocking work (SQLite, durable journal appends) on a thread of its own, so that the
    /// process's event loop and watchdog are never starved by it.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in
            Thread.detachNewThread { c.resume(with: Result { try body() }) }
        }
    }

    func reportStatus(plan: LiveFeedPlan, now: Timestamp) {
        var text: String
        if let degraded = live.degraded {
            text = "DEGRADED: \(degraded)"
        } else {
            text = "live: store through \(live.lastStored.map(\.description) ?? "nothing")"
            if let retryAt = live.retryAt {
                text += "; fetch failed, retry at \(NewYorkTime.format(retryAt))"
            } else if let next = plan.nextFetch(after: now) {
                text += "; next fetch \(NewYorkTime.format(next))"
            }
        }
        // Only on change: a status line a second kept astd from noticing another child's missed
        // watchdog (SupervisorTests.aStoppedWorkerMissesItsWatchdogAndIsReplaced).
        text = String(text.prefix(200))
        guard text != live.status else { return }
        live.status = text
        _ = notifier.status(text)
    }

    func journalLive(_ type: String, _ value: some Encodable, at: Timestamp) {
        do {
            try journal.append(
                JournalRecord(kind: .event, type: type, timestamp: at, body: Array(JSONEncoder().encode(value))), durability: .durable)
        } catch {
            logger.error("live feed: cannot journal \(type): \(error)")
        }
    }
}
