import ASTCalendar
import ASTCore
import ASTExecution
import ASTJournal
import ASTReplay
import ASTRisk
import ASTStrategy
import ASTWire
import Foundation

/// Something that stops a report from being built at all (a missing journal is not: it is
/// listed in the report's problems).
public struct RunReportError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Builds a ``RunReport`` from a state directory's journals, read-only: works on a stopped
/// tree and on a running one (it sees what the processes have committed).
///
/// Journals are read as streams, one entry at a time and only the entry types the report uses:
/// memory is bounded by what the report itself holds (its lines: candidates, intents,
/// decisions, order states per day, fills, reconciliations) plus the reconciler's core (its book
/// and portfolio), never by the number of journal entries (bus traffic, progress, retries).
public enum RunReportBuilder {
    /// Reads every journal under `<stateDirectory>/journal` and builds the report. `mode` is the
    /// configured trading mode when the caller knows it (otherwise `DRY_RUN` is inferred from
    /// ast-risk's dry-run entries). Throws only when the state directory does not exist.
    public static func build(stateDirectory: String, mode: String? = nil) throws -> RunReport {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: stateDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RunReportError(
                "report: state directory \(stateDirectory) does not exist (pass --state-dir or set state_dir in the configuration)")
        }
        var reader = Reader(directory: "\(stateDirectory)/journal")
        reader.verifyAll()
        var state = Accumulator()

        reader.stream("strategy@main", types: [EntryTypes.Strategy.scan]) { state.readStrategy($0, problems: &$1) }
        reader.stream(
            "risk@main",
            types: [
                EntryTypes.Risk.input, EntryTypes.Risk.decision, EntryTypes.Risk.transition,
                EntryTypes.Risk.initial, EntryTypes.Risk.dryRun,
            ]
        ) { state.readRisk($0, problems: &$1) }
        reader.stream(
            "reconciler@main",
            types: [
                EntryTypes.Reconciler.input, EntryTypes.Reconciler.summary,
                EntryTypes.Reconciler.anomaly,
            ]
        ) { state.readReconciler($0, problems: &$1) }
        state.finishReconciler()
        reader.stream("marketdata@main", types: [EntryTypes.MarketData.progress, EntryTypes.MarketData.finished]) {
            state.readMarketData($0, problems: &$1)
        }
        let brokers = reader.brokerNames()
        if brokers.isEmpty { reader.fail("no broker journal (broker@*.sqlite) in \(reader.directory): orders cannot be cross-checked") }
        for broker in brokers {
            reader.stream(broker, types: [MessageType.executionReport.rawValue]) { entry, _ in state.crossCheck(entry) }
        }
        state.reportMissingFills(problems: &reader.problems)

        var report = state.report(stateDirectory: stateDirectory, mode: mode ?? state.inferredMode, problems: reader.problems)
        report.journalFailures = reader.failures
        return report
    }

    /// Lists, verifies and streams journal files, turning every failure into a problem line.
    struct Reader {
        let directory: String
        var problems: [String] = []
        /// The problems that are journals not read (a subset of ``problems``).
        var failures: [String] = []
        /// The journal files, listed once (nil when the directory cannot be listed).
        let listing: Result<[String], any Error>

        init(directory: String) {
            self.directory = directory
            listing = Result { try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sqlite") }.sorted() }
        }

        func files() -> [String] { (try? listing.get()) ?? [] }

        mutating func fail(_ problem: String) {
            problems.append(problem)
            failures.append(problem)
        }

        func brokerNames() -> [String] {
            files().filter { $0.hasPrefix("broker@") }.map { String($0.dropLast(".sqlite".count)) }
        }

        mutating func verifyAll() {
            guard FileManager.default.fileExists(atPath: directory) else {
                fail("journal directory \(directory) is missing: nothing to report")
                return
            }
            if case .failure(let error) = listing {
                fail("journal directory \(directory) cannot be listed (\(error)): nothing can be reported")
                return
            }
            for file in files() {
                let v = Journal.verify(path: "\(directory)/\(file)")
                if let damage = v.damage {
                    fail(
                        "journal \(file) fails verification: \(damage) (\(v.entries) entries verified before it); figures from it cannot be trusted"
                    )
                }
            }
        }

        /// Streams the entries of `types` of one process's journal to `body`, in seq order.
        mutating func stream(_ process: String, types: [String], _ body: (JournalEntry, inout [String]) -> Void) {
            let path = "\(directory)/\(process).sqlite"
            guard FileManager.default.fileExists(atPath: path) else {
                fail("journal \(process) is missing (\(path)): its part of the report is empty")
                return
            }
            var found: [String] = []
            do {
                try Journal.readEntries(path: path, types: types) { body($0, &found) }
            } catch {
                failures.append("journal \(process) cannot be read: \(error)")
                found.append("journal \(process) cannot be read: \(error)")
            }
            problems += found
        }
    }
}

/// The equity of a run as one series, folded as it streams by: start, end, peak, trough and the
/// largest drawdown all come from the same values, so they always agree
/// (`peak - trough >= maxDrawdown >= peak - end`).
public struct EquitySeries: Sendable, Equatable {
    public private(set) var count = 0
    public private(set) var start: Money?
    public private(set) var end: Money?
    public private(set) var peak: Money?
    public private(set) var trough: Money?
    /// The largest fall from a running peak to a later value.
    public private(set) var maxDrawdown = Money.zero
    /// The running peak that ``maxDrawdown`` fell from.
    public private(set) var maxDrawdownPeak: Money?

    public init() {}

    /// Adds the next value of the series.
    public mutating func add(_ equity: Money) {
        count += 1
        if start == nil { start = equity }
        end = equity
        if peak.map({ equity > $0 }) ?? true { peak = equity }
        if trough.map({ equity < $0 }) ?? true { trough = equity }
        let (fall, overflow) = peak!.units.subtractingReportingOverflow(equity.units)
        if !overflow, fall > maxDrawdown.units {
            maxDrawdown = Money(units: fall)
            maxDrawdownPeak = peak
        }
    }

    /// ``maxDrawdown`` as a percentage of the peak it fell from, nil without a drawdown.
    public var maxDrawdownPercent: String? {
        guard let p = maxDrawdownPeak, maxDrawdown > .zero, let pct = try? maxDrawdown.ratio(to: p) else { return nil }
        return pct.description
    }
}

/// The facts gathered from the journals, before they are sorted into a report.
struct Accumulator {
    var days: [String: DayReport] = [:]
    var transitions: [SafeModeLine] = []
    var safeModeNow: String?
    var reconciliations: [ReconciliationLine] = []
    var inferredMode: String?
    var scanDates: Set<String> = []
    var fold = ReconcilerJournalFold()
    var core: ReconcilerCore { fold.core }
    var equity = EquitySeries()
    /// The New York date of the reconciler input being read, and the portfolio after it.
    var currentDate: String?
    var lastInputAt: Timestamp?
    /// Per order, the state (`status filled`) last shown in a day's section.
    var shownOrderState: [String: String] = [:]
    /// Execution ids listed as fills (each once).
    var listedFills = Set<String>()
    var firstTime: Timestamp?
    var lastTime: Timestamp?
    var replayFirst: Timestamp?
    var replayLast: Timestamp?
    var sessions: Set<String> = []
    var replayFinished = false
    /// Fills a broker reported that the reconciler's book does not hold (counted; the first ids kept).
    var missingFills: [String] = []
    var missingFillCount = 0
    let decoder = JSONDecoder()

    static func date(_ t: Timestamp) -> String { NewYorkTime.local(t).date.description }

    mutating func update(_ date: String, _ change: (inout DayReport) -> Void) {
        var d = days[date] ?? DayReport(date: date, candidates: [], intents: [], decisions: [], orders: [], fills: [], endOfDay: nil)
        change(&d)
        days[date] = d
    }

    mutating func seen(_ t: Timestamp) {
        if firstTime.map({ t < $0 }) ?? true { firstTime = t }
        if lastTime.map({ t > $0 }) ?? true { lastTime = t }
    }

    func decode<T: Decodable>(_ type: T.Type, _ entry: JournalEntry, _ process: String, _ problems: inout [String]) -> T? {
        do {
            return try decoder.decode(type, from: Data(entry.record.body))
        } catch {
            problems.append("\(process) entry \(entry.seq) (\(entry.record.type)) cannot be decoded: \(error)")
            return nil
        }
    }

    mutating func readStrategy(_ e: JournalEntry, problems: inout [String]) {
        guard e.record.type == EntryTypes.Strategy.scan, let scan = decode(ScanResult.self, e, "strategy@main", &problems) else { return }
        let date = scan.date.description
        scanDates.insert(date)
        seen(e.record.timestamp)
        let lines = scan.candidates.flatMap(\.candidates).map { CandidateLine(symbol: $0.symbol.rawValue, detector: $0.detector) }
        update(date) { $0.candidates += lines }
    }

    mutating func readRisk(_ e: JournalEntry, problems: inout [String]) {
        let r = e.record
        switch r.type {
        case EntryTypes.Risk.input:
            guard let input = decode(RiskInput.self, e, "risk@main", &problems) else { return }
            if case .intent(let g) = input {
                let line = IntentLine(
                    id: g.id.rawValue, symbol: g.symbol.rawValue, side: g.side.rawValue, quantity: g.quantity,
                    entry: g.entry.description, stop: g.stopLoss, target: g.takeProfit, at: r.timestamp)
                update(Self.date(r.timestamp)) { $0.intents.append(line) }
            }
        case EntryTypes.Risk.decision:
            guard let d = decode(IntentDecision.self, e, "risk@main", &problems) else { return }
            let line: DecisionLine
            switch d.decision {
            case .approve(let a):
                line = DecisionLine(
                    intent: d.intent.rawValue, outcome: "approved", reason: nil, detail: nil, quantity: a.quantity, at: d.at)
            case .downgrade(let a, let rule, let detail):
                line = DecisionLine(
                    intent: d.intent.rawValue, outcome: "downgraded", reason: rule.rawValue, detail: detail, quantity: a.quantity, at: d.at)
            case .block(let code, let detail):
                line = DecisionLine(
                    intent: d.intent.rawValue, outcome: "blocked", reason: code.rawValue, detail: detail, quantity: nil, at: d.at)
            }
            update(Self.date(d.at)) { $0.decisions.append(line) }
        case EntryTypes.Risk.transition:
            guard let t = decode(SafeModeTransition.self, e, "risk@main", &problems) else { return }
            transitions.append(SafeModeLine(from: t.from.rawValue, to: t.to.rawValue, cause: t.cause.text, at: t.at))
            safeModeNow = t.to.rawValue
        case EntryTypes.Risk.initial:
            if let s = decode(SafeModeRecord.self, e, "risk@main", &problems), safeModeNow == nil { safeModeNow = s.state.rawValue }
        case EntryTypes.Risk.dryRun:
            inferredMode = TradingMode.dryRun.rawValue
        default:
            break
        }
    }

    /// Folds `reconciler.input` into the reconciler's core with the fold ast-reconciler restores
    /// with (``ReconcilerJournalFold``): the book, the portfolio, every fill applied and every
    /// snapshot's equity (the one equity series); at each change of date, the day's orders.
    mutating func readReconciler(_ e: JournalEntry, problems: inout [String]) {
        let r = e.record
        switch r.type {
        case EntryTypes.Reconciler.input:
            let date = Self.date(r.timestamp)
            if let current = currentDate, current != date { closeDay(current) }
            currentDate = date
            let step: (input: ReconcilerInput, outputs: [ReconcilerOutput])?
            do { step = try fold.apply(e) } catch {
                problems.append("reconciler@main \(error)")
                return
            }
            guard let step else { return }
            for output in step.outputs {
                if case .snapshot(let s) = output { equity.add(s.equity) }
            }
            var offered: [Fill] = []
            switch step.input {
            case .report(let report): if case .fill(let f) = report.event { offered = [f] }
            case .reconciliation(_, let broker): offered = broker.executions
            default: break
            }
            for f in offered where core.book.hasApplied(f.executionID) && listedFills.insert(f.executionID.rawValue).inserted {
                let line = FillLine(
                    executionID: f.executionID.rawValue, order: f.clientOrderID.rawValue, symbol: f.symbol.rawValue,
                    side: f.side.rawValue, quantity: f.quantity, price: f.price, commission: f.commission, at: f.at)
                update(Self.date(f.at)) { $0.fills.append(line) }
            }
            lastInputAt = r.timestamp
            seen(r.timestamp)
        case EntryTypes.Reconciler.summary:
            guard let s = decode(ReconciliationSummary.self, e, "reconciler@main", &problems) else { return }
            let outcome = !s.completed ? "not reconciled" : s.requiresHalt ? "mismatch (HALTED)" : s.clean ? "clean" : "repaired"
            reconciliations.append(
                ReconciliationLine(
                    trigger: s.trigger, at: s.at, broker: s.broker, outcome: outcome, summary: s.summary,
                    findings: s.findings.map { "\($0.severity) \($0.kind): \($0.detail)" }, repairs: s.repairs))
        case EntryTypes.Reconciler.anomaly:
            problems.append("reconciler anomaly at \(NewYorkTime.format(r.timestamp)): \(String(decoding: r.body, as: UTF8.self))")
        default:
            break
        }
    }

    /// The end of `date`: its portfolio, and every order submitted or changed that day with its
    /// state as of the end of that day (an order filled two days later shows `Accepted` here).
    mutating func closeDay(_ date: String) {
        let portfolio = core.portfolio
        if let at = lastInputAt {
            let eod = EndOfDay(at: at, cash: portfolio.cash, equity: portfolio.equity, positions: Self.positions(portfolio, book: nil))
            update(date) { $0.endOfDay = eod }
        }
        var lines: [OrderLine] = []
        for order in core.book.orders.values {
            let line = Self.orderLine(order)
            let state = "\(line.status) \(line.filledQuantity)"
            if shownOrderState.updateValue(state, forKey: line.id) != state { lines.append(line) }
        }
        if !lines.isEmpty { update(date) { $0.orders += lines } }
    }

    mutating func finishReconciler() {
        if let current = currentDate { closeDay(current) }
        // The end of the series is the final portfolio, so that peak, end and drawdown agree.
        if core.initialized, equity.end != core.portfolio.equity { equity.add(core.portfolio.equity) }
    }

    static func orderLine(_ order: TrackedOrder) -> OrderLine {
        OrderLine(
            id: order.id.rawValue, symbol: order.spec.symbol.rawValue, leg: order.spec.leg.rawValue, side: order.spec.side.rawValue,
            type: order.spec.type.rawValue, quantity: order.spec.quantity, filledQuantity: order.filledQuantity,
            averageFillPrice: order.averageFillPrice, status: order.state.rawValue, submittedAt: order.createdAt)
    }

    /// The open positions of `portfolio`, by symbol; with `book`, whether a working stop covers each.
    static func positions(_ portfolio: Portfolio, book: OrderBook?) -> [PositionLine] {
        portfolio.positions.values.sorted { $0.symbol < $1.symbol }.map { p in
            var protected: Bool?
            if let book {
                let closingSide: Side = p.quantity.isLong ? .sell : .buy
                protected = book.openOrders.contains {
                    $0.spec.leg == .stopLoss && $0.spec.symbol == p.symbol && $0.spec.side == closingSide
                }
            }
            return PositionLine(
                symbol: p.symbol.rawValue, quantity: p.quantity, averagePrice: p.averagePrice,
                mark: portfolio.marks[p.symbol]?.price, unrealizedPnL: portfolio.unrealizedPnL(for: p.symbol),
                protectedByStop: protected)
        }
    }

    mutating func readMarketData(_ e: JournalEntry, problems: inout [String]) {
        switch e.record.type {
        case EntryTypes.MarketData.progress:
            guard let p = decode(EntryTypes.MarketData.Progress.self, e, "marketdata@main", &problems) else { return }
            if replayFirst.map({ p.time < $0 }) ?? true { replayFirst = p.time }
            if replayLast.map({ p.time > $0 }) ?? true { replayLast = p.time }
            sessions.insert(p.session)
        case EntryTypes.MarketData.finished:
            replayFinished = true
        default:
            break
        }
    }

    /// Every fill a broker reported must be in the reconciler's book.
    mutating func crossCheck(_ e: JournalEntry) {
        guard e.record.kind == .sent, case .executionReport(let report)? = try? EnvelopeCodec.decode(e.record.body).message,
            case .fill(let f) = report.event, !core.book.hasApplied(f.executionID)
        else { return }
        missingFillCount += 1
        if missingFills.count < 100 { missingFills.append(f.executionID.rawValue) }
    }

    func reportMissingFills(problems: inout [String]) {
        guard missingFillCount > 0 else { return }
        let more = missingFillCount > missingFills.count ? " and \(missingFillCount - missingFills.count) more" : ""
        problems.append(
            "the broker reported \(missingFillCount) fill(s) the reconciler's book does not hold: "
                + missingFills.sorted().joined(separator: ", ") + more)
    }

    func report(stateDirectory: String, mode: String?, problems: [String]) -> RunReport {
        let sortedDays = days.keys.sorted().map { key -> DayReport in
            var d = days[key]!
            d.candidates.sort { ($0.symbol, $0.detector) < ($1.symbol, $1.detector) }
            d.intents.sort { ($0.at, $0.id) < ($1.at, $1.id) }
            d.decisions.sort { ($0.at, $0.intent) < ($1.at, $1.intent) }
            d.orders.sort { ($0.submittedAt, $0.id) < ($1.submittedAt, $1.id) }
            d.fills.sort { ($0.at, $0.executionID) < ($1.at, $1.executionID) }
            return d
        }
        let sessionList = sessions.isEmpty ? scanDates.sorted() : sessions.sorted()
        let period = ReportPeriod(
            firstMarketTime: replayFirst ?? firstTime, lastMarketTime: replayLast ?? lastTime,
            sessions: sessionList, replayFinished: replayFinished)
        let portfolio = core.portfolio
        let money = MoneyTotals(
            realizedPnL: portfolio.realizedPnL, unrealizedPnL: portfolio.unrealizedPnL,
            commissions: portfolio.commissions, equity: equity)
        let finalOrders = core.book.orders.values.map(Self.orderLine)
        return RunReport(
            stateDirectory: stateDirectory, mode: mode, period: period, days: sortedDays,
            totals: ReportTotals(days: sortedDays, orders: finalOrders, sessions: sessionList.count, money: money),
            finalPositions: Self.positions(portfolio, book: core.book), safeModeNow: safeModeNow,
            safeModeTransitions: transitions.sorted { $0.at < $1.at }, reconciliations: reconciliations.sorted { $0.at < $1.at },
            problems: problems)
    }
}

/// The money figures of ``ReportTotals``: P&L from the whole run's portfolio, equity figures
/// from its one ``EquitySeries``.
struct MoneyTotals {
    var realizedPnL: Money
    var unrealizedPnL: Money
    var commissions: Money
    var equityStart: Money?
    var equityEnd: Money?
    var equityPeak: Money?
    var equityTrough: Money?
    var maxDrawdown: Money
    var maxDrawdownPct: String?

    init(realizedPnL: Money, unrealizedPnL: Money, commissions: Money, equity: EquitySeries) {
        self.init(
            realizedPnL: realizedPnL, unrealizedPnL: unrealizedPnL, commissions: commissions, equityStart: equity.start,
            equityEnd: equity.end, equityPeak: equity.peak, equityTrough: equity.trough, maxDrawdown: equity.maxDrawdown,
            maxDrawdownPct: equity.maxDrawdownPercent)
    }

    init(
        realizedPnL: Money, unrealizedPnL: Money, commissions: Money, equityStart: Money?, equityEnd: Money?, equityPeak: Money?,
        equityTrough: Money?, maxDrawdown: Money, maxDrawdownPct: String?
    ) {
        self.realizedPnL = realizedPnL
        self.unrealizedPnL = unrealizedPnL
        self.commissions = commissions
        self.equityStart = equityStart
        self.equityEnd = equityEnd
        self.equityPeak = equityPeak
        self.equityTrough = equityTrough
        self.maxDrawdown = maxDrawdown
        self.maxDrawdownPct = maxDrawdownPct
    }
}

extension ReportTotals {
    /// Counts from `days` (decisions, fills) and `orders` (each order once, in its latest state shown); money from the run.
    init(days: [DayReport], orders: [OrderLine], sessions: Int, money: MoneyTotals) {
        let decisions = days.flatMap(\.decisions)
        var byReason: [String: Int] = [:]
        for d in decisions where d.outcome == "blocked" { byReason[d.reason ?? "?", default: 0] += 1 }
        self.init(
            sessions: sessions, candidates: days.map(\.candidates.count).reduce(0, +), intents: days.map(\.intents.count).reduce(0, +),
            approved: decisions.filter { $0.outcome == "approved" }.count,
            downgraded: decisions.filter { $0.outcome == "downgraded" }.count,
            blocked: decisions.filter { $0.outcome == "blocked" }.count,
            blockedByReason: byReason.keys.sorted().map { ReasonCount(reason: $0, count: byReason[$0]!) },
            orders: orders.count, fills: days.map(\.fills.count).reduce(0, +),
            cancelled: orders.filter { $0.status == OrderState.cancelled.rawValue }.count,
            expired: orders.filter { $0.status == OrderState.expired.rawValue }.count,
            rejected: orders.filter { $0.status == OrderState.rejected.rawValue }.count,
            realizedPnL: money.realizedPnL, unrealizedPnL: money.unrealizedPnL, commissions: money.commissions,
            equityStart: money.equityStart, equityEnd: money.equityEnd, equityPeak: money.equityPeak, equityTrough: money.equityTrough,
            maxDrawdown: money.maxDrawdown, maxDrawdownPct: money.maxDrawdownPct)
    }

    /// The money figures again, to rebuild the totals for a subset of days.
    var money: MoneyTotals {
        MoneyTotals(
            realizedPnL: realizedPnL, unrealizedPnL: unrealizedPnL, commissions: commissions, equityStart: equityStart,
            equityEnd: equityEnd, equityPeak: equityPeak, equityTrough: equityTrough, maxDrawdown: maxDrawdown,
            maxDrawdownPct: maxDrawdownPct)
    }
}

extension RunReport {
    /// The report narrowed to one New York date (`2026-03-09`): that day's section, its Safe Mode
    /// transitions and reconciliations, and counts for that day. Money totals, final positions
    /// and problems stay those of the whole run.
    public func daily(date: String) -> RunReport {
        var r = self
        r.days = days.filter { $0.date == date }
        r.safeModeTransitions = safeModeTransitions.filter { Accumulator.date($0.at) == date }
        r.reconciliations = reconciliations.filter { Accumulator.date($0.at) == date }
        r.period.sessions = period.sessions.filter { $0 == date }
        r.totals = ReportTotals(days: r.days, orders: r.days.flatMap(\.orders), sessions: r.period.sessions.count, money: totals.money)
        return r
    }

    /// The New York date of the last market time seen (the last session without one).
    public var lastMarketDate: String? {
        period.lastMarketTime.map(Accumulator.date) ?? period.sessions.last
    }

    /// The report as JSON: sorted keys, pretty-printed.
    public func json() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try e.encode(self)
    }
}
