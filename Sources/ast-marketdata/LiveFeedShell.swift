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
    /// A stored session lacks a regime input (body: ``LiveDayRecord``, outcome: what is missing).
    static let regimeMissing = "marketdata.live_regime_missing"
    /// A sector refresh stored its lookups, or stored nothing (body: ``LiveSectorsRecord``).
    static let sectors = "marketdata.live_sectors"
}

/// One sector refresh, as journaled.
struct LiveSectorsRecord: Codable {
    var lookedUp: Int
    var withSector: Int
    /// Up to 20 symbols left without a sector.
    var withoutSector: [String]
    var outcome: String
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
    /// How many of the marks came from Polygon's snapshot (nil: marks from last closes only).
    var snapshot: Int?
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
    /// No sector refresh before this instant (nil: at the next look).
    var sectorsDueAt: Timestamp?
    /// The newest stored session lacks a regime input: fetched again (alone) at this instant.
    var regimeRetryAt: Timestamp?
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

    /// The regime inputs, sectors and marks settings (``LiveInputsConfig``).
    var liveInputs: LiveInputsConfig { config.marketdataInEffect.liveSettings.inputsInEffect }

    /// The regime's inputs as the store holds them.
    var regimeInputs: RegimeInputs {
        let c = liveInputs
        return RegimeInputs(index: c.indexSymbol ?? "SPY", volatilityTicker: c.volatilityIndex)
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
                    if let last = live.lastStored { MarketDataMetrics.newestSession(last) }
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
            if md.source == .polygon, live.polygon != nil, let at = live.regimeRetryAt, at <= clock.now() {
                await repairRegimeInputs(at: clock.now())
            }
            if md.source == .polygon, live.polygon != nil, live.loaded, live.sectorsDueAt.map({ $0 <= clock.now() }) ?? true {
                await refreshSectors(at: clock.now())
            }
            if live.marksAt == nil {
                await publishMarks(point: "start", session: nil, at: now)
            } else if let marksAt = live.marksAt, let point = LiveMarks.point(after: marksAt, through: now) {
                await publishMarks(point: point.task.rawValue, session: point.session, at: now)
            }
            reportStatus(plan: plan, now: clock.now())
            try? await Task.sleep(for: (config.clock ?? .wall).systemInterval(.seconds(1)))
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
        let regime = regimeInputs
        var volatility: [Bar] = []
        do {
            // The regime inputs are flagged as indexes (never traded); a listed ticker that takes
            // the volatility index's store symbol is left out (its bars would mix with the index).
            let listed = try await client.tickers()
            let indexName = listed.first { $0.symbol == regime.index }?.name
            let symbols = listed.filter { !regime.symbols.contains($0.symbol) } + regime.symbolInfo(indexName: indexName)
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
        // The volatility index from Polygon's indices aggregates, validated as any series. A
        // failure stores none of it (the scans that need it do nothing) but not the stocks: their
        // closes are the marks of the positions held.
        var volatilityProblem: String?
        do {
            let raw = try await client.indexDailyBars(
                regime.volatilityTicker, as: regime.volatilitySymbol, from: first.adding(days: -10), to: last)
            let input = (
                source: "polygon:\(regime.volatilityTicker)", symbol: regime.volatilitySymbol, bars: raw, parseIssues: [ValidationIssue]()
            )
            let (report, bars) = IngestCore.decide(raw.isEmpty ? [] : [input], mode: .strict)
            if report.refused {
                let named = report.sources.flatMap(\.report.errors).prefix(LiveDayValidation.namedIssues).map(\.description)
                volatilityProblem = "its bars are invalid, none stored: \(named.joined(separator: "; "))"
            } else {
                volatility = bars
            }
        } catch {
            volatilityProblem = "not fetched, none stored: \(error)"
        }
        var regimeMissing: [(LocalDate, [String])] = []
        for date in dates {
            let day: GroupedDay
            do { day = try await client.groupedDaily(date) } catch {
                await refuse(date, reason: "\(error)", skipped: 0)
                return
            }
            var stocks = day
            stocks.bars.removeAll { $0.bar.symbol == regime.volatilitySymbol }
            stocks.skippedTickers += Array(repeating: regime.volatilitySymbol.rawValue, count: day.bars.count - stocks.bars.count)
            switch LiveDayValidation.decide(stocks, settings: plan.settings) {
            case .refuse(let reason):
                await refuse(date, reason: reason, skipped: day.skippedTickers.count)
                return
            case .store(let bars, _):
                var batch = reference ?? StoreBatch()
                // The volatility index's bars of this day (and, with the first day, the ones before).
                let volatilityBars = volatility.filter { reference == nil ? $0.date == date : $0.date <= date }
                batch.bars = bars + volatilityBars
                var missing: [String] = []
                if !bars.contains(where: { $0.symbol == regime.index }) { missing.append("no bar of the market index \(regime.index)") }
                if !volatilityBars.contains(where: { $0.date == date }) {
                    missing.append("no bar of the volatility index \(regime.volatilityTicker)\(volatilityProblem.map { " (\($0))" } ?? "")")
                }
                let store = self.store
                do { try await Self.offPool { [batch] in try store.write(batch) } } catch {
                    await refuse(date, reason: "the bar store refused the write: \(error)", skipped: day.skippedTickers.count)
                    return
                }
                reference = nil
                live.lastStored = date
                MarketDataMetrics.newestSession(date)
                live.retryAt = nil
                journalLive(
                    LiveJournal.stored,
                    LiveDayRecord(
                        date: date.description, bars: bars.count, skippedTickers: day.skippedTickers.count,
                        outcome: "stored"), at: clock.now())
                logger.notice("live feed: stored \(bars.count) bars of \(date) (\(day.skippedTickers.count) tickers not AST symbols)")
                if !missing.isEmpty { regimeMissing.append((date, missing)) }
                // Sessions before AST ran had no orders resting: the initial fill goes to nobody.
                if !initialFill { await publishDay(date, bars: bars) }
            }
        }
        if !regimeMissing.isEmpty { await regimeInputMissing(regimeMissing) }
        // The newest session without its inputs: they are fetched again, alone, after retry_seconds.
        live.regimeRetryAt =
            regimeMissing.last?.0 == live.lastStored
            ? Timestamp(nanoseconds: clock.now().nanoseconds + liveSettings.retrySeconds * 1_000_000_000) : nil
        await publishMarks(point: "stored \(last)", session: nil, at: clock.now())
        // New symbols may have come: their sectors are looked up next.
        live.sectorsDueAt = nil
    }

    /// A stored session without a regime input: journaled and a P1 (the 09:00 scan that needs it
    /// does nothing, see ``RegimeInputGate``).
    /// Fetches the regime inputs of the newest stored session again (the index from Polygon's
    /// per-ticker aggregates, the volatility index from the indices aggregates, ten days back),
    /// validates and stores them; still missing: again after `retry_seconds`.
    func repairRegimeInputs(at now: Timestamp) async {
        guard let client = live.polygon, let last = live.lastStored else { return }
        let regime = regimeInputs
        let from = last.adding(days: -10)
        var inputs: [(source: String, symbol: Symbol, bars: [SourcedBar], parseIssues: [ValidationIssue])] = []
        do {
            let index = try await client.dailyBars(regime.index, from: from, to: last)
            let volatility = try await client.indexDailyBars(regime.volatilityTicker, as: regime.volatilitySymbol, from: from, to: last)
            inputs = [
                ("polygon:\(regime.index)", regime.index, index),
                ("polygon:\(regime.volatilityTicker)", regime.volatilitySymbol, volatility),
            ]
            .filter { !$0.2.isEmpty }.map { ($0.0, $0.1, $0.2, [ValidationIssue]()) }
        } catch {
            logger.warning("live feed: regime inputs of \(last) not fetched again: \(error)")
        }
        let (report, bars) = IngestCore.decide(inputs, mode: .strict)
        let complete = !report.refused && regime.symbols.allSatisfy { s in bars.contains { $0.symbol == s && $0.date == last } }
        if !report.refused, !bars.isEmpty {
            let store = self.store
            do { try await Self.offPool { try store.write(StoreBatch(bars: bars)) } } catch {
                logger.error("live feed: regime inputs of \(last) not stored: \(error)")
            }
        }
        live.regimeRetryAt = complete ? nil : Timestamp(nanoseconds: now.nanoseconds + liveSettings.retrySeconds * 1_000_000_000)
        if complete {
            logger.notice("live feed: the regime inputs of \(last) are stored now")
            journalLive(
                LiveJournal.regimeMissing, LiveDayRecord(date: last.description, bars: bars.count, skippedTickers: 0, outcome: "repaired"),
                at: now)
        }
    }

    /// One P1 per round (named for its last session), each session journaled.
    func regimeInputMissing(_ sessions: [(LocalDate, [String])]) async {
        guard let (last, lastMissing) = sessions.last else { return }
        let now = clock.now()
        for (date, missing) in sessions {
            let what = String(missing.joined(separator: "; ").prefix(2_000))
            logger.error("live feed: \(date) stored without a regime input: \(what)")
            journalLive(
                LiveJournal.regimeMissing, LiveDayRecord(date: date.description, bars: 0, skippedTickers: 0, outcome: what), at: now)
        }
        let more = sessions.count > 1 ? " (and \(sessions.count - 1) earlier session\(sessions.count == 2 ? "" : "s"))" : ""
        await alert(
            key: "marketdata:regime-missing:\(last)", title: "AST market data: regime input missing for \(last)\(more)",
            text: "\(String(lastMissing.joined(separator: "; ").prefix(2_000)))\nThe sessions' stocks were stored; a scan that needs "
                + "them does nothing until the input is there (the regime cannot be decided).", at: now)
    }

    /// Looks up the sectors of the liquid symbols whose lookup is missing or older than
    /// `sector_refresh_days` (at most `sector_max_per_round`, most liquid first) from Polygon's
    /// ticker overview (SIC code → ``SICSectors``), and stores them in one transaction. An
    /// unknown ticker (404) or one without a SIC code is stored as looked up, without a sector;
    /// any other failure stores nothing of the refresh and raises a P1.
    func refreshSectors(at now: Timestamp) async {
        guard let client = live.polygon else { return }
        let inputs = liveInputs
        let retry = Timestamp(nanoseconds: now.nanoseconds + liveSettings.retrySeconds * 1_000_000_000)
        let store = self.store
        let minimum = config.marketdataInEffect.liveSettings.markMinDollarVolume
        let exclude = Set(regimeInputs.symbols)
        let due: [Symbol]
        do {
            due = try await Self.offPool {
                let lookups = Dictionary(try store.sectorLookups().map { ($0.symbol, $0.checkedAt) }, uniquingKeysWith: { a, _ in a })
                return SectorRefresh.due(
                    lastBars: try store.lastBars(), lookups: lookups, exclude: exclude, minDollarVolume: minimum,
                    refreshDays: inputs.sectorRefreshDays, max: inputs.sectorMaxPerRound, now: now)
            }
        } catch {
            logger.error("live feed: sector refresh cannot read the store: \(error)")
            live.sectorsDueAt = retry
            return
        }
        // Again in six hours: symbols beyond this round's maximum, and the next ones to age.
        live.sectorsDueAt = Timestamp(nanoseconds: now.nanoseconds + 6 * 3_600 * 1_000_000_000)
        guard !due.isEmpty else { return }
        var lookups: [SectorLookup] = []
        for symbol in due {
            let code: Int?
            do {
                code = try await client.sicCode(symbol)
            } catch {
                if case .refused(404, _) = error {
                    code = nil
                } else {
                    let why = String("\(error)".prefix(1_000))
                    live.sectorsDueAt = retry
                    journalLive(
                        LiveJournal.sectors,
                        LiveSectorsRecord(lookedUp: 0, withSector: 0, withoutSector: [], outcome: "nothing stored: \(symbol): \(why)"),
                        at: now)
                    await alert(
                        key: "marketdata:sectors-not-stored", title: "AST market data: sectors not refreshed",
                        text: "The ticker overview of \(symbol) failed: \(why)\nNothing of this refresh was stored; the next attempt is in "
                            + "\(liveSettings.retrySeconds) s. Symbols without a sector are blocked by the risk gate (REFERENCE_DATA_MISSING).",
                        at: now)
                    return
                }
            }
            lookups.append(SectorLookup(symbol: symbol, sicCode: code, sector: code.flatMap(SICSectors.sector(sic:)), checkedAt: now))
        }
        do {
            try await Self.offPool { [lookups] in try store.writeSectors(lookups) }
        } catch {
            logger.error("live feed: sector lookups not stored: \(error)")
            live.sectorsDueAt = retry
            return
        }
        let without = lookups.filter { $0.sector == nil }.map(\.symbol.rawValue)
        journalLive(
            LiveJournal.sectors,
            LiveSectorsRecord(
                lookedUp: lookups.count, withSector: lookups.count - without.count, withoutSector: Array(without.prefix(20)),
                outcome: "stored"), at: now)
        logger.notice("live feed: sectors of \(lookups.count) symbols looked up, \(without.count) without a sector")
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
        // At a schedule point with `marks: snapshot`: the last trades from Polygon's snapshot,
        // where they are newer than the last close; a failed snapshot leaves the last closes (P1).
        var snapshot: [Symbol: SnapshotMark]?
        if let session, liveInputs.marks == "snapshot", let client = live.polygon {
            do {
                snapshot = try await client.snapshotMarks(now: now).marks
            } catch {
                let why = String("\(error)".prefix(1_000))
                logger.error("live feed: no snapshot at \(point): \(why); marks are the last closes")
                await alert(
                    key: "marketdata:snapshot-failed:\(session.date)", title: "AST market data: snapshot failed",
                    text: "\(why)\nThe marks at \(point) are the last closes.", at: now)
            }
        }
        // The store read and the durable sends run off the cooperative pool (see publishDay).
        let pending: [(BusClient, String)]
        let fromSnapshot: Int
        do {
            (pending, fromSnapshot) = try await Self.offPool { [snapshot] in
                var pending: [(BusClient, String)] = []
                var fromSnapshot = 0
                for bar in LiveMarks.current(try store.lastBars(), minDollarVolume: minimum) {
                    guard let s = TradingCalendar.nyse.session(on: bar.date) else { continue }
                    var m = MarketMark(symbol: bar.symbol, price: bar.close, at: s.close)
                    if let snap = snapshot?[bar.symbol], snap.at > s.close {
                        m = MarketMark(symbol: bar.symbol, price: snap.price, at: min(snap.at, now))
                        fromSnapshot += 1
                    }
                    pending.append((risk, try risk.send(.mark(m), correlationID: bar.symbol.rawValue)))
                    pending.append((reconciler, try reconciler.send(.mark(m), correlationID: bar.symbol.rawValue)))
                }
                return (pending, fromSnapshot)
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
        journalLive(
            LiveJournal.marks,
            LiveMarksRecord(
                point: point, marks: pending.count / 2, session: session?.date.description, snapshot: snapshot.map { _ in fromSnapshot }),
            at: now)
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
