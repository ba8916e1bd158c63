import ASTCalendar
import ASTCore
import ASTExecution
import ASTIndicators
import ASTPaperBroker
import ASTRisk
import ASTStrategy

/// One session's outcome: the after-market (16:40) portfolio and what the day did.
public struct EngineSessionSummary: Sendable, Equatable, Codable {
    public var date: LocalDate
    public var intents: Int
    public var approved: Int
    public var fills: Int
    public var state: TradingState
    public var cash: Money
    public var equity: Money
    public var positions: Int
    public var openOrders: Int

    enum CodingKeys: String, CodingKey {
        case date, intents, approved, fills, state, cash, equity, positions
        case openOrders = "open_orders"
    }
}

/// One point of the equity series: equity at the session's after-market run, the running peak
/// of the series and the drawdown from it (in units of 1/10,000 of a dollar and basis points).
public struct EquityPoint: Sendable, Equatable, Codable {
    public var date: LocalDate
    public var equity: Money
    public var peak: Money
    public var drawdown: Money
    /// `drawdown / peak` in basis points, rounded toward zero (0 when the peak is not positive).
    public var drawdownBps: Int64

    enum CodingKeys: String, CodingKey {
        case date, equity, peak, drawdown
        case drawdownBps = "drawdown_bps"
    }
}

/// Everything one engine run produced: the same values the tree's processes journal (intents,
/// risk decisions, cancel decisions, execution reports with their fills, portfolio snapshots,
/// Safe Mode transitions, reconciliation summaries) plus the equity series. Arrays are in the
/// order things happened; encoded with sorted keys the bytes depend only on the inputs.
public struct EngineOutput: Sendable, Equatable, Codable {
    public var intents: [IntentGroup] = []
    public var decisions: [IntentDecision] = []
    public var cancels: [CancelDecision] = []
    public var reports: [ExecutionReport] = []
    public var snapshots: [PortfolioSnapshot] = []
    public var transitions: [SafeModeTransition] = []
    public var reconciliations: [ReconciliationSummary] = []
    public var anomalies: [String] = []
    public var sessions: [EngineSessionSummary] = []
    public var equity: [EquityPoint] = []
    /// Intents that expired undecided at their session's close (see ``EngineSemantics``).
    public var expired: [IntentID] = []
    /// Bar-symbols the exchange matched (one per symbol per session with a bar).
    public var barsMatched: Int = 0
    /// The reconciler's portfolio at the end of the run (nil before a run).
    public var portfolio: Portfolio?

    public init() {}

    /// The fills, in order.
    public var fills: [Fill] { reports.compactMap { if case .fill(let f) = $0.event { f } else { nil } } }

    enum CodingKeys: String, CodingKey {
        case intents, decisions, cancels, reports, snapshots, transitions, reconciliations, anomalies, sessions, equity, expired
        case portfolio
        case barsMatched = "bars_matched"
    }
}

/// The engine could not run.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// One deterministic, single-threaded, in-process composition of AST's pure cores — the strategy
/// pipeline (``PipelineRun``), the risk gate (``RiskGate``), the paper exchange
/// (``PaperExchange``) and the reconciler (``ReconcilerCore``: order book and portfolio) — driven
/// by the NYSE calendar and the daily schedule, session by session, beat by beat
/// (``EngineSemantics/beats(of:)``). No clock, no I/O, no threads: ``run(sessions:)`` is a pure
/// function of the configuration, the market and the sessions.
public struct Engine: Sendable {
    public let config: EngineConfig
    public let market: EngineMarket
    let pipeline: PipelineRun

    public init(config: EngineConfig, market: EngineMarket) {
        self.config = config
        self.market = market
        pipeline = PipelineRun(config: config.pipeline)
    }

    /// Plays `sessions` (in order) from a new paper account. `progress`, when given, is called
    /// with the number of sessions played after each one (for a progress bar; it sees nothing else).
    public func run(sessions: [Session], progress: ((Int) -> Void)? = nil) throws(EngineError) -> EngineOutput {
        guard let first = sessions.first else { return EngineOutput() }
        let start = EngineSemantics.start(of: first)
        let gate: RiskGate
        do {
            gate = try RiskGate(limits: config.limits, restoring: .firstStart(at: start))
        } catch {
            throw EngineError("risk.limits: \(error)")
        }
        var run = EngineRun(engine: self, gate: gate, exchange: PaperExchange(name: config.brokerName, config: config.paper))
        run.begin(at: start)
        for (i, session) in sessions.enumerated() {
            run.play(session)
            progress?(i + 1)
        }
        run.out.portfolio = run.reconciler.portfolio
        return run.out
    }
}

/// The mutable state of one run: the cores, what the strategy holds, what is published.
struct EngineRun {
    let engine: Engine
    var gate: RiskGate
    var exchange: PaperExchange
    var reconciler = ReconcilerCore()
    var out = EngineOutput()
    /// The latest portfolio the strategy received.
    var strategyPortfolio: PortfolioSnapshot?
    /// The reconciler's last snapshot not yet published.
    var pendingSnapshot: PortfolioSnapshot?
    /// Entries approved at today's scan (for the pre-close cleanup).
    var todaysEntries: [IntentID] = []
    /// The last mark of every symbol seen (the replay feed's marks), by symbol index.
    var marks: [MarketMark?]
    /// Per symbol, the index of the next bar not yet played.
    var cursor: [Int]
    /// Per symbol, the last scan's window of bars.
    var scanWindows = ScanWindowCursor()
    var reportsThrough: Int64 = 0
    var peak: Money?
    var dayIntents = 0, dayApproved = 0, dayFills = 0
    /// The scan's indicators, carried from session to session (as the tree's strategy carries them).
    var indicators: ScanIndicators?
    /// The entries of held positions, for the exit rules: the strategy's ``HoldingsLedger``, fed
    /// as ast-strategy's is (the stops of the scan's intents, the fills the reconciler applies,
    /// the portfolios the strategy takes).
    var holdings = HoldingsLedger()

    init(engine: Engine, gate: RiskGate, exchange: PaperExchange) {
        self.engine = engine
        self.gate = gate
        self.exchange = exchange
        marks = Array(repeating: nil, count: engine.market.symbols.count)
        cursor = Array(repeating: 0, count: engine.market.symbols.count)
        // Symbols sorted by name: the replay feed publishes bars and marks in symbol order.
        order = engine.market.symbols.indices.sorted { engine.market.symbols[$0].symbol < engine.market.symbols[$1].symbol }
        // Only a margin account needs to find a held symbol's bars.
        symbolIndex =
            engine.config.pipeline.sizing.marginRequirements == nil
            ? [:] : Dictionary(engine.market.symbols.enumerated().map { ($1.symbol, $0) }, uniquingKeysWith: { a, _ in a })
    }

    let order: [Int]
    /// Each symbol's index in the market (a margin account's only; empty otherwise).
    let symbolIndex: [Symbol: Int]

    /// The tree's start: the reconciler takes the broker's cash and the sectors, publishes the
    /// portfolio, reconciles at start and again when the broker reports itself connected.
    mutating func begin(at now: Timestamp) {
        reconcile(.initial(cash: exchange.cash), now)
        reconcile(.sectors(engine.market.sectors), now)
        pendingSnapshot = reconciler.snapshot(now)
        publish(now)
        // The broker's "connected" report changes nothing at the risk gate (it was never
        // disconnected); at the reconciler it starts a second reconciliation.
        reconcileRun(trigger: "start", now)
        reconcileRun(trigger: "\(engine.config.brokerName) connected", now)
        publish(now)
    }

    mutating func play(_ session: Session) {
        dayIntents = 0
        dayApproved = 0
        dayFills = 0
        for (time, beat) in EngineSemantics.beats(of: session) {
            switch beat {
            case .task(.fullScan): scan(session, time)
            case .task(.preCloseCleanup): cleanup(session, time)
            case .task(.afterMarket):
                reconcileRun(trigger: EngineSemantics.reconcileTrigger(.afterMarket), time)
                publish(time)
                closeDay(session, time)
            case .task(.reconcileAndReduce):
                reconcileRun(trigger: EngineSemantics.reconcileTrigger(.reconcileAndReduce), time)
                safeReduce(session, time)
            case .task(let task): reconcileRun(trigger: EngineSemantics.reconcileTrigger(task), time)
            case .bars:
                bars(session, time)
                maintenance(session, time)
            case .close: broker(.sessionClose(session.close), time)
            }
            publish(time)
        }
    }

    // MARK: The strategy's beats

    /// 09:00: the pipeline over what was known before the session, every intent to the risk
    /// gate, the approved brackets to the exchange.
    mutating func scan(_ session: Session, _ now: Timestamp) {
        todaysEntries.removeAll()
        guard let portfolio = strategyPortfolio else { return }  // when in doubt, do nothing
        var input = scanInput(session.date, now: now, portfolio: portfolio)
        advanceIndicators(&input)
        let view = holdings.view(portfolio: portfolio, date: session.date, calendar: engine.pipeline.calendar)
        input.holdings = view.holdings
        input.unknownHoldings = view.unknown
        let result = engine.pipeline.scan(input)
        holdings.note(HoldingsLedger.EntryStops(intents: result.intents, date: session.date))
        var approvals: [Approval] = []
        for var intent in result.intents {
            // Decided by the end of its session or never (the tree's strategy sets the same).
            intent.expiresAt = EngineSemantics.intentExpiry(of: session)
            out.intents.append(intent)
            dayIntents += 1
            if EngineSemantics.isExpired(intentCreatedAt: intent.createdAt, session: session, now: now) {
                out.expired.append(intent.id)
                continue
            }
            for case .decision(let d) in risk(.intent(intent), now) where d.intent == intent.id {
                if let a = d.decision.approval {
                    approvals.append(a)
                    todaysEntries.append(intent.id)
                    dayApproved += 1
                }
            }
            if !EngineSemantics.decideAllIntentsBeforeSubmitting {
                for a in approvals { broker(.submit(BracketBuilder.bracket(for: a)), now) }
                approvals.removeAll()
            }
        }
        for a in approvals { broker(.submit(BracketBuilder.bracket(for: a)), now) }
    }

    /// Close − 5 min: cancel the day's entries still resting unfilled, then verify every
    /// position has its stop (a reconciliation).
    mutating func cleanup(_ session: Session, _ now: Timestamp) {
        for intent in todaysEntries {
            let id = ClientOrderID(intent: intent, leg: .entry)
            if EngineSemantics.cleanupCancelsOnlyUnfilledEntries {
                guard let o = reconciler.book.order(id), o.state.isOpen, o.filledQuantity.isZero else { continue }
            }
            _ = risk(.cancel(CancelRequest(orderID: id.rawValue, intent: nil, kind: .restingUnfilledEntry)), now)
        }
        todaysEntries.removeAll()
        reconcileRun(trigger: EngineSemantics.reconcileTrigger(.preCloseCleanup), now)
    }

    /// The session's bars to the exchange (volume-less bars are not published) and every
    /// symbol's last mark to the risk gate and the reconciler (see ``EngineSemantics/marksBeforeBars``).
    mutating func bars(_ session: Session, _ now: Timestamp) {
        let m = engine.market
        let date = session.date
        var played: [Int] = []
        for i in order {
            var c = cursor[i]
            let dates = m.dates[i]
            while c < dates.count, dates[c] < date { c += 1 }
            if c < dates.count, dates[c] == date {
                played.append(i)
                let bar = m.bars[i][c]
                marks[i] = MarketMark(symbol: bar.symbol, price: bar.close, at: session.close)
                c += 1
            }
            cursor[i] = c
        }
        if EngineSemantics.marksBeforeBars { sendMarks(now) }
        for i in played {
            let bar = m.bars[i][cursor[i] - 1]
            guard bar.volume != 0 else { continue }
            out.barsMatched += 1
            broker(.bar(bar), now)
        }
        if !EngineSemantics.marksBeforeBars { sendMarks(now) }
    }

    /// A margin account (`strategy.sizing.margin: regt`) after the session's bars were matched:
    /// the exchange's cash and longs, each long at its worst price of the session (its bar's low;
    /// without a bar today, its last mark), against the maintenance requirement
    /// (``MarginRequirements/breachesMaintenance(cash:worstValue:)``, the research mode's
    /// arithmetic). On a breach every long with a bar today is liquidated at the session's close:
    /// a reduce-only market intent `<date>.exit-margin_call.<symbol>` for the whole position,
    /// decided by the risk gate like every exit, then filled by the exchange on the session's
    /// closing print (a one-minute bar ending at the close whose prices are all the close, with
    /// the session's volume: slippage and the volume cap apply; a rest expires at the close). A
    /// long that cannot be valued (no bar, no mark) leaves the check undone: no sale on a guess.
    mutating func maintenance(_ session: Session, _ now: Timestamp) {
        guard let margin = engine.config.pipeline.sizing.marginRequirements else { return }
        let longs = exchange.positions.filter { $0.quantity > .zero }
        guard !longs.isEmpty else { return }
        let m = engine.market
        var worst: Int128 = 0
        var today: [Symbol: (index: Int, bar: Bar)] = [:]
        for p in longs {
            guard let i = symbolIndex[p.symbol] else { return }
            let c = cursor[i]
            let bar: Bar? = c > 0 && m.dates[i][c - 1] == session.date ? m.bars[i][c - 1] : nil
            guard let price = bar?.low ?? marks[i]?.price else { return }
            worst += Int128(p.quantity.shares) * Int128(price.units)
            if let bar { today[p.symbol] = (i, bar) }
        }
        guard margin.breachesMaintenance(cash: Int128(exchange.cash.units), worstValue: worst) else { return }
        // The risk gate decides on the positions after today's fills.
        publish(now)
        let printStart = Timestamp(nanoseconds: max(session.close.nanoseconds - 60_000_000_000, now.nanoseconds + 1))
        for p in longs {
            guard let held = today[p.symbol], held.bar.volume > 0,
                let id = IntentID(validating: "\(session.date).\(ExitIntents.prefix)margin_call.\(p.symbol.rawValue)")
            else { continue }
            let intent = IntentGroup(
                id: id, symbol: p.symbol, sector: m.symbols[held.index].sector, side: .sell, quantity: p.quantity, entry: .market,
                stopLoss: nil,
                takeProfit: nil, createdAt: now, expiresAt: EngineSemantics.intentExpiry(of: session))
            out.intents.append(intent)
            dayIntents += 1
            for case .decision(let d) in risk(.intent(intent), now) where d.intent == intent.id {
                guard let a = d.decision.approval else { continue }
                dayApproved += 1
                broker(.submit(BracketBuilder.bracket(for: a)), now)
                let close = held.bar.close
                broker(
                    .bar(
                        Bar(
                            symbol: p.symbol, resolution: .minute, start: printStart, open: close, high: close, low: close, close: close,
                            volume: held.bar.volume)), now)
            }
        }
    }

    /// Every symbol's last mark, in symbol order, to the risk gate and the reconciler.
    mutating func sendMarks(_ now: Timestamp) {
        for i in order {
            guard let mark = marks[i] else { continue }
            _ = risk(.mark(mark), now)
            reconcile(.mark(mark), now)
        }
    }

    /// The after-market run's numbers for the day.
    mutating func closeDay(_ session: Session, _ now: Timestamp) {
        let s = reconciler.snapshot(now)
        out.sessions.append(
            EngineSessionSummary(
                date: session.date, intents: dayIntents, approved: dayApproved, fills: dayFills, state: gate.state, cash: s.cash,
                equity: s.equity, positions: s.positions.values.filter { !$0.quantity.isZero }.count,
                openOrders: reconciler.book.openOrders.count))
        let peak = max(peak ?? s.equity, s.equity)
        self.peak = peak
        let drawdown = peak - s.equity
        let bps = peak.units > 0 ? Int64((Int128(drawdown.units) * 10_000) / Int128(peak.units)) : 0
        out.equity.append(EquityPoint(date: session.date, equity: s.equity, peak: peak, drawdown: drawdown, drawdownBps: bps))
    }

    // MARK: Wiring between the cores (what the bus does in the tree)

    /// An input to the risk gate; decisions, transitions and cancels are carried out.
    mutating func risk(_ input: RiskInput, _ now: Timestamp) -> [RiskOutput] {
        let outputs = gate.handle(input, now: now)
        for output in outputs {
            switch output {
            case .decision(let d): out.decisions.append(d)
            case .transition(let t): out.transitions.append(t)
            case .cancel(let c):
                out.cancels.append(c)
                if c.allowed, let id = ClientOrderID(validating: c.orderID) {
                    broker(.cancel(id, reason: "\(c.kind.rawValue) cancel approved by the risk gate"), now)
                }
            case .alert, .commandResult: break
            }
        }
        return outputs
    }

    /// An input to the paper exchange; its reports go to the reconciler, in order. After a
    /// fill, protective legs above their position are resized (``ProtectiveResize``), as the
    /// tree's broker process does.
    mutating func broker(_ input: PaperInput, _ now: Timestamp) {
        let outcome = exchange.handle(input, now: now)
        for report in outcome.reports {
            out.reports.append(report)
            var fresh: Fill?
            if case .fill(let f) = report.event {
                dayFills += 1
                if !reconciler.book.hasApplied(f.executionID) { fresh = f }
            }
            if let seq = report.sequence { reportsThrough = max(reportsThrough, seq) }
            reconcile(.report(report), now)
            // The reconciler sends the strategy each fill its book applies (ast-reconciler does the same).
            if let f = fresh, reconciler.book.hasApplied(f.executionID) { holdings.apply(f) }
        }
        if outcome.reports.contains(where: { if case .fill = $0.event { true } else { false } }) || outcome.connection == .restored {
            resizeProtection(now)
        }
    }

    /// Sends the exchange every adjustment that keeps protective legs within their positions.
    mutating func resizeProtection(_ now: Timestamp) {
        guard exchange.isConnected(at: now) else { return }
        for adjustment in ProtectiveResize.plan(positions: exchange.positions, openOrders: exchange.openOrders) {
            switch adjustment {
            case .modify(let id, let quantity, let reason): broker(.modify(id, quantity: quantity, reason: reason), now)
            case .cancel(let id, let reason): broker(.cancel(id, reason: reason), now)
            }
        }
    }

    /// An input to the reconciler; its repairs, results and snapshots are carried out.
    mutating func reconcile(_ input: ReconcilerInput, _ now: Timestamp) {
        for output in reconciler.handle(input, now: now) {
            switch output {
            case .snapshot(let s): pendingSnapshot = s
            case .cancelAtBroker(let c): broker(.cancel(c.clientOrderID, reason: c.reason), now)
            case .result(let r): _ = risk(.reconciliation(r), now)
            case .summary(let s): out.reconciliations.append(s)
            case .anomaly(let text): out.anomalies.append(text)
            case .alert: break
            }
        }
    }

    /// One reconciliation against the exchange's account.
    mutating func reconcileRun(trigger: String, _ now: Timestamp) {
        var state = exchange.accountState(
            executionsSince: EngineSemantics.executionsSince(lastCompleted: reconciler.lastCompleted), now: now)
        state.reportsThrough = reportsThrough
        reconcile(.reconciliation(trigger: trigger, broker: state), now)
    }

    /// The reconciler's latest snapshot to the risk gate and the strategy (the tree coalesces a
    /// burst of snapshots into its last one).
    mutating func publish(_ now: Timestamp) {
        guard let s = pendingSnapshot else { return }
        pendingSnapshot = nil
        out.snapshots.append(s)
        _ = risk(.portfolio(s), now)
        if strategyPortfolio.map({ s.asOf >= $0.asOf }) ?? true {
            strategyPortfolio = s
            holdings.reconcile(with: s)
        }
    }

    // MARK: The scan's input

    /// Advances the carried indicators to `input` (the one ``ScanIndicators`` the tree's strategy
    /// uses); a symbol's track is rebuilt from its whole history, split-adjusted as of the scan,
    /// only on its first scan or after a new split.
    mutating func advanceIndicators(_ input: inout ScanInput) {
        guard var carried = indicators ?? engine.pipeline.scanIndicators() else { return }
        // The only reference from here on: advancing must not copy every symbol's track (copy on write).
        indicators = nil
        let m = engine.market
        let date = input.date
        let tradable = m.symbols.indices.filter { !m.symbols[$0].isIndex }
        carried.advance(input) { k in
            let i = tradable[k]
            let hi = m.lowerBound(i, date)
            var bars = Array(m.bars[i][..<hi])
            EngineScan.adjustForSplits(&bars, dates: m.dates[i][..<hi], splits: m.splits[i], through: date)
            return bars
        }
        input.indicators = carried
        indicators = carried
    }

    /// What the 09:00 scan of `date` may know (as ``ASTScanInput/ScanInputLoader`` reads it from
    /// the bar store): bars of the 400 calendar days before the date, back-adjusted for splits
    /// with an ex-date on or before it; events 30 days either side; `VOLX` the volatility index,
    /// any other index the market index.
    mutating func scanInput(_ date: LocalDate, now: Timestamp, portfolio: PortfolioSnapshot) -> ScanInput {
        let m = engine.market
        let from = date.adding(days: -EngineScan.historyDays)
        scanWindows.move(m, from: from, to: date)
        var universe: [SymbolHistory] = []
        universe.reserveCapacity(m.symbols.count)
        var index: [Bar] = [], volatility: [Bar] = []
        for (i, info) in m.symbols.enumerated() {
            let lo = scanWindows.lo[i], hi = scanWindows.hi[i]
            // The market's own bars, not a copy, unless a split back-adjusts them.
            var bars = m.bars[i][lo..<hi]
            if EngineScan.needsAdjustment(bars.count, splits: m.splits[i], through: date) {
                var adjusted = Array(bars)
                EngineScan.adjustForSplits(&adjusted, dates: m.dates[i][lo..<hi], splits: m.splits[i], through: date)
                bars = adjusted[...]
            }
            if info.isIndex {
                if info.symbol == EngineScan.volatilitySymbol { volatility = Array(bars) } else { index = Array(bars) }
            } else {
                var splits = 0
                for s in m.splits[i] where s.exDate <= date { splits += 1 }
                universe.append(SymbolHistory(info: info, bars: bars, splits: splits, ascending: m.ascending(i, lo, hi)))
            }
        }
        let lo = date.adding(days: -EngineScan.eventDays), hi = date.adding(days: EngineScan.eventDays)
        let events = m.events(from: lo, through: hi)
        return ScanInput(
            date: date, now: now, universe: universe, index: index, volatilityIndex: volatility, portfolio: portfolio,
            events: events)
    }
}

/// The scan input's rules, kept equal to ``ASTScanInput/ScanInputLoader``'s.
public enum EngineScan {
    public static let historyDays = 400
    public static let eventDays = 30
    public static let volatilitySymbol: Symbol = "VOLX"

    /// Back-adjusts `bars` (one symbol, ascending) for the splits with an ex-date on or before
    /// `through`: every bar before a split's ex-date is multiplied by `old / new` (prices,
    /// rounded half away from zero to 1/10,000) and its volume by `new / old` — the integer path
    /// of ASTMarketData's `BackAdjustment` in `.splits` mode.
    public static func adjustForSplits(_ bars: inout [Bar], dates: ArraySlice<LocalDate>, splits: [EngineSplit], through: LocalDate) {
        guard needsAdjustment(bars.count, splits: splits, through: through) else { return }
        let relevant = splits.filter { $0.exDate <= through && $0.newShares > 0 && $0.oldShares > 0 }
        guard !relevant.isEmpty, !bars.isEmpty else { return }
        var num: Int64 = 1, den: Int64 = 1
        var next = relevant.count - 1
        let base = dates.startIndex
        for i in stride(from: bars.count - 1, through: 0, by: -1) {
            let d = dates[base + i]
            while next >= 0, relevant[next].exDate > d {
                num *= relevant[next].oldShares
                den *= relevant[next].newShares
                next -= 1
            }
            guard num != den else { continue }
            bars[i].open = Price(units: scale(bars[i].open.units, num, den))
            bars[i].high = Price(units: scale(bars[i].high.units, num, den))
            bars[i].low = Price(units: scale(bars[i].low.units, num, den))
            bars[i].close = Price(units: scale(bars[i].close.units, num, den))
            bars[i].volume = scale(bars[i].volume, den, num)
        }
    }

    /// Whether ``adjustForSplits(_:dates:splits:through:)`` could change `count` bars: some split
    /// with an ex-date on or before `through` and positive share counts (no array is made to ask).
    public static func needsAdjustment(_ count: Int, splits: [EngineSplit], through: LocalDate) -> Bool {
        guard count > 0 else { return false }
        for s in splits where s.exDate <= through && s.newShares > 0 && s.oldShares > 0 { return true }
        return false
    }

    /// `value × num / den`, rounded half away from zero.
    static func scale(_ value: Int64, _ num: Int64, _ den: Int64) -> Int64 {
        let p = Int128(value) * Int128(num)
        let d = Int128(den)
        let q = p / d, r = p % d
        let rounded = 2 * (r.magnitude) >= d.magnitude ? q + (p < 0 ? -1 : 1) : q
        return Int64(clamping: rounded)
    }
}
