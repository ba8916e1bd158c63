import ASTCalendar
import ASTCore
import ASTExecution
import ASTJournal
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
public enum RunReportBuilder {
    /// The journal entry types the report reads, as the shells write them.
    enum EntryType {
        static let riskInput = "risk.input"
        static let riskDecision = "risk.decision"
        static let transition = "safe_mode.transition"
        static let safeModeInitial = "safe_mode.initial"
        static let dryRun = "risk.dry_run"
        static let reconcilerInput = "reconciler.input"
        static let reconciliationSummary = "reconciliation.summary"
        static let reconcilerAnomaly = "reconciler.anomaly"
        static let scan = "strategy.scan"
        static let replayProgress = "marketdata.replay"
        static let replayFinished = "marketdata.replay_finished"
        static let executionReport = "execution.report"
    }

    /// `marketdata.replay`'s body as ast-marketdata writes it.
    struct ReplayProgress: Decodable {
        var time: Timestamp
        var session: String
    }

    /// Reads every journal under `<stateDirectory>/journal` and builds the report. `mode` is the
    /// configured trading mode when the caller knows it (otherwise `DRY_RUN` is inferred from
    /// ast-risk's dry-run entries). Throws only when the state directory does not exist.
    public static func build(stateDirectory: String, mode: String? = nil) throws -> RunReport {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: stateDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RunReportError("report: state directory \(stateDirectory) does not exist (pass --state-dir or set state_dir in the configuration)")
        }
        var reader = Reader(directory: "\(stateDirectory)/journal")
        reader.verifyAll()
        var state = Accumulator()

        let risk = reader.entries(of: "risk@main")
        let strategy = reader.entries(of: "strategy@main")
        let reconciler = reader.entries(of: "reconciler@main")
        let marketdata = reader.entries(of: "marketdata@main")
        let brokers = reader.brokerNames()
        if brokers.isEmpty { reader.problems.append("no broker journal (broker@*.sqlite) in \(reader.directory): orders cannot be cross-checked") }
        let brokerEntries = brokers.flatMap { reader.entries(of: $0) }

        state.readStrategy(strategy, problems: &reader.problems)
        state.readRisk(risk, problems: &reader.problems)
        state.replayReconciler(reconciler, problems: &reader.problems)
        state.readMarketData(marketdata, problems: &reader.problems)
        state.crossCheck(brokerEntries, problems: &reader.problems)

        return state.report(stateDirectory: stateDirectory, mode: mode ?? state.inferredMode, problems: reader.problems)
    }

    /// Lists, verifies and reads journal files, turning every failure into a problem line.
    struct Reader {
        let directory: String
        var problems: [String] = []

        init(directory: String) { self.directory = directory }

        func files() -> [String] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            return names.filter { $0.hasSuffix(".sqlite") }.sorted()
        }

        func brokerNames() -> [String] {
            files().filter { $0.hasPrefix("broker@") }.map { String($0.dropLast(".sqlite".count)) }
        }

        mutating func verifyAll() {
            guard FileManager.default.fileExists(atPath: directory) else {
                problems.append("journal directory \(directory) is missing: nothing to report")
                return
            }
            for file in files() {
                let v = Journal.verify(path: "\(directory)/\(file)")
                if let damage = v.damage {
                    problems.append("journal \(file) fails verification: \(damage) (\(v.entries) entries verified before it); figures from it cannot be trusted")
                }
            }
        }

        mutating func entries(of process: String) -> [JournalEntry] {
            let path = "\(directory)/\(process).sqlite"
            guard FileManager.default.fileExists(atPath: path) else {
                problems.append("journal \(process) is missing (\(path)): its part of the report is empty")
                return []
            }
            do {
                return try Journal.readEntries(path: path)
            } catch {
                problems.append("journal \(process) cannot be read: \(error)")
                return []
            }
        }
    }
}

/// The facts gathered from the journals, before they are sorted into a report.
struct Accumulator {
    var days: [String: DayReport] = [:]
    var transitions: [SafeModeLine] = []
    var safeModeNow: String?
    var reconciliations: [ReconciliationLine] = []
    var inferredMode: String?
    var scanDates: [String] = []
    var core = ReconcilerCore()
    var equitySeries: [Money] = []
    var firstEquity: Money?
    /// Per date, the portfolio after the last reconciler input of that date.
    var endOfDay: [String: (Timestamp, Portfolio)] = [:]
    var replayTimes: [Timestamp] = []
    var sessions: Set<String> = []
    var replayFinished = false
    var otherTimes: [Timestamp] = []
    let decoder = JSONDecoder()

    static func date(_ t: Timestamp) -> String { NewYorkTime.local(t).date.description }

    mutating func day(_ date: String) -> DayReport {
        days[date] ?? DayReport(date: date, candidates: [], intents: [], decisions: [], orders: [], fills: [], endOfDay: nil)
    }

    mutating func update(_ date: String, _ change: (inout DayReport) -> Void) {
        var d = day(date)
        change(&d)
        days[date] = d
    }

    func decode<T: Decodable>(_ type: T.Type, _ entry: JournalEntry, _ process: String, _ problems: inout [String]) -> T? {
        do {
            return try decoder.decode(type, from: Data(entry.record.body))
        } catch {
            problems.append("\(process) entry \(entry.seq) (\(entry.record.type)) cannot be decoded: \(error)")
            return nil
        }
    }

    mutating func readStrategy(_ entries: [JournalEntry], problems: inout [String]) {
        for e in entries where e.record.type == RunReportBuilder.EntryType.scan {
            guard let scan = decode(ScanResult.self, e, "strategy@main", &problems) else { continue }
            let date = scan.date.description
            scanDates.append(date)
            otherTimes.append(e.record.timestamp)
            let lines = scan.candidates.flatMap(\.candidates).map { CandidateLine(symbol: $0.symbol.rawValue, detector: $0.detector) }
            update(date) { $0.candidates += lines }
        }
    }

    mutating func readRisk(_ entries: [JournalEntry], problems: inout [String]) {
        for e in entries {
            let r = e.record
            switch r.type {
            case RunReportBuilder.EntryType.riskInput:
                guard let input = decode(RiskInput.self, e, "risk@main", &problems) else { continue }
                if case .intent(let g) = input {
                    let line = IntentLine(id: g.id.rawValue, symbol: g.symbol.rawValue, side: g.side.rawValue, quantity: g.quantity,
                                          entry: g.entry.description, stop: g.stopLoss, target: g.takeProfit, at: r.timestamp)
                    update(Self.date(r.timestamp)) { $0.intents.append(line) }
                }
            case RunReportBuilder.EntryType.riskDecision:
                guard let d = decode(IntentDecision.self, e, "risk@main", &problems) else { continue }
                let line: DecisionLine
                switch d.decision {
                case .approve(let a):
                    line = DecisionLine(intent: d.intent.rawValue, outcome: "approved", reason: nil, detail: nil, quantity: a.quantity, at: d.at)
                case .downgrade(let a, let rule, let detail):
                    line = DecisionLine(intent: d.intent.rawValue, outcome: "downgraded", reason: rule.rawValue, detail: detail, quantity: a.quantity, at: d.at)
                case .block(let code, let detail):
                    line = DecisionLine(intent: d.intent.rawValue, outcome: "blocked", reason: code.rawValue, detail: detail, quantity: nil, at: d.at)
                }
                update(Self.date(d.at)) { $0.decisions.append(line) }
            case RunReportBuilder.EntryType.transition:
                guard let t = decode(SafeModeTransition.self, e, "risk@main", &problems) else { continue }
                transitions.append(SafeModeLine(from: t.from.rawValue, to: t.to.rawValue, cause: t.cause.text, at: t.at))
                safeModeNow = t.to.rawValue
            case RunReportBuilder.EntryType.safeModeInitial:
                if let s = decode(SafeModeRecord.self, e, "risk@main", &problems), safeModeNow == nil { safeModeNow = s.state.rawValue }
            case RunReportBuilder.EntryType.dryRun:
                inferredMode = TradingMode.dryRun.rawValue
            default:
                break
            }
        }
    }

    /// Replays `reconciler.input` through a new ``ReconcilerCore``, as ast-reconciler does at
    /// start: the book, the portfolio, every fill applied and every snapshot's equity.
    mutating func replayReconciler(_ entries: [JournalEntry], problems: inout [String]) {
        for e in entries {
            let r = e.record
            switch r.type {
            case RunReportBuilder.EntryType.reconcilerInput:
                guard let input = decode(ReconcilerInput.self, e, "reconciler@main", &problems) else { continue }
                var offered: [Fill] = []
                switch input {
                case .report(let report):
                    if case .fill(let f) = report.event { offered.append(f) }
                case .reconciliation(_, let broker):
                    offered = broker.executions
                default:
                    break
                }
                offered = offered.filter { !core.book.hasApplied($0.executionID) }
                for output in core.handle(input, now: r.timestamp) {
                    if case .snapshot(let s) = output {
                        equitySeries.append(s.equity)
                        if firstEquity == nil { firstEquity = s.equity }
                    }
                }
                for f in offered where core.book.hasApplied(f.executionID) {
                    let line = FillLine(executionID: f.executionID.rawValue, order: f.clientOrderID.rawValue, symbol: f.symbol.rawValue,
                                        side: f.side.rawValue, quantity: f.quantity, price: f.price, commission: f.commission, at: f.at)
                    update(Self.date(f.at)) { $0.fills.append(line) }
                }
                endOfDay[Self.date(r.timestamp)] = (r.timestamp, core.portfolio)
                otherTimes.append(r.timestamp)
            case RunReportBuilder.EntryType.reconciliationSummary:
                guard let s = decode(ReconciliationSummary.self, e, "reconciler@main", &problems) else { continue }
                let outcome = !s.completed ? "not reconciled" : s.requiresHalt ? "mismatch (HALTED)" : s.clean ? "clean" : "repaired"
                reconciliations.append(ReconciliationLine(
                    trigger: s.trigger, at: s.at, broker: s.broker, outcome: outcome, summary: s.summary,
                    findings: s.findings.map { "\($0.severity) \($0.kind): \($0.detail)" }, repairs: s.repairs))
            case RunReportBuilder.EntryType.reconcilerAnomaly:
                problems.append("reconciler anomaly at \(NewYorkTime.format(r.timestamp)): \(String(decoding: r.body, as: UTF8.self))")
            default:
                break
            }
        }
        for order in core.book.orders.values {
            let line = OrderLine(
                id: order.id.rawValue, symbol: order.spec.symbol.rawValue, leg: order.spec.leg.rawValue, side: order.spec.side.rawValue,
                type: order.spec.type.rawValue, quantity: order.spec.quantity, filledQuantity: order.filledQuantity,
                averageFillPrice: order.averageFillPrice, status: order.state.rawValue, submittedAt: order.createdAt)
            update(Self.date(order.createdAt)) { $0.orders.append(line) }
        }
        for (date, (at, portfolio)) in endOfDay {
            let eod = EndOfDay(at: at, cash: portfolio.cash, equity: portfolio.equity,
                               positions: Self.positions(portfolio, book: nil))
            update(date) { $0.endOfDay = eod }
        }
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
            return PositionLine(symbol: p.symbol.rawValue, quantity: p.quantity, averagePrice: p.averagePrice,
                                mark: portfolio.marks[p.symbol]?.price, unrealizedPnL: portfolio.unrealizedPnL(for: p.symbol),
                                protectedByStop: protected)
        }
    }

    mutating func readMarketData(_ entries: [JournalEntry], problems: inout [String]) {
        for e in entries {
            switch e.record.type {
            case RunReportBuilder.EntryType.replayProgress:
                guard let p = decode(RunReportBuilder.ReplayProgress.self, e, "marketdata@main", &problems) else { continue }
                replayTimes.append(p.time)
                sessions.insert(p.session)
            case RunReportBuilder.EntryType.replayFinished:
                replayFinished = true
            default:
                break
            }
        }
    }

    /// Every fill a broker reported must be in the reconciler's book.
    mutating func crossCheck(_ brokerEntries: [JournalEntry], problems: inout [String]) {
        var missing: [String] = []
        for e in brokerEntries where e.record.kind == .sent && e.record.type == RunReportBuilder.EntryType.executionReport {
            guard case .executionReport(let report)? = try? EnvelopeCodec.decode(e.record.body).message,
                  case .fill(let f) = report.event else { continue }
            if !core.book.hasApplied(f.executionID) { missing.append(f.executionID.rawValue) }
        }
        if !missing.isEmpty {
            problems.append("the broker reported \(missing.count) fill(s) the reconciler's book does not hold: \(missing.sorted().joined(separator: ", "))")
        }
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
        let times = replayTimes.isEmpty ? otherTimes : replayTimes
        let sessionList = sessions.isEmpty ? Array(Set(scanDates)).sorted() : sessions.sorted()
        let period = ReportPeriod(firstMarketTime: times.min(), lastMarketTime: times.max(), sessions: sessionList, replayFinished: replayFinished)
        let portfolio = core.portfolio
        let money = MoneyTotals(
            realizedPnL: portfolio.realizedPnL, unrealizedPnL: portfolio.unrealizedPnL, commissions: portfolio.commissions,
            equityStart: firstEquity, equityEnd: core.initialized ? portfolio.equity : nil,
            equityPeak: core.initialized ? portfolio.peakEquity : nil, drawdown: Self.maxDrawdown(equitySeries))
        return RunReport(
            stateDirectory: stateDirectory, mode: mode, period: period, days: sortedDays,
            totals: ReportTotals(days: sortedDays, sessions: sessionList.count, money: money),
            finalPositions: Self.positions(portfolio, book: core.book), safeModeNow: safeModeNow,
            safeModeTransitions: transitions.sorted { $0.at < $1.at }, reconciliations: reconciliations.sorted { $0.at < $1.at },
            problems: problems)
    }

    /// The largest fall from a running peak, and that fall as a percentage of the peak.
    static func maxDrawdown(_ series: [Money]) -> (Money, String?) {
        var peak: Money?
        var worst = Money.zero
        var worstPeak: Money?
        for equity in series {
            if peak == nil || equity > peak! { peak = equity }
            let fall = peak! - equity
            if fall > worst {
                worst = fall
                worstPeak = peak
            }
        }
        guard let worstPeak, let pct = try? worst.ratio(to: worstPeak) else { return (worst, nil) }
        return (worst, pct.description)
    }
}

/// The money figures of ``ReportTotals``, which come from the whole run's portfolio.
struct MoneyTotals {
    var realizedPnL: Money
    var unrealizedPnL: Money
    var commissions: Money
    var equityStart: Money?
    var equityEnd: Money?
    var equityPeak: Money?
    var drawdown: (Money, String?)
}

extension ReportTotals {
    /// Counts from `days`; money from the run.
    init(days: [DayReport], sessions: Int, money: MoneyTotals) {
        let decisions = days.flatMap(\.decisions)
        let orders = days.flatMap(\.orders)
        var byReason: [String: Int] = [:]
        for d in decisions where d.outcome == "blocked" { byReason[d.reason ?? "?", default: 0] += 1 }
        self.init(
            sessions: sessions, candidates: days.map(\.candidates.count).reduce(0, +), intents: days.map(\.intents.count).reduce(0, +),
            approved: decisions.filter { $0.outcome == "approved" }.count, downgraded: decisions.filter { $0.outcome == "downgraded" }.count,
            blocked: decisions.filter { $0.outcome == "blocked" }.count,
            blockedByReason: byReason.keys.sorted().map { ReasonCount(reason: $0, count: byReason[$0]!) },
            orders: orders.count, fills: days.map(\.fills.count).reduce(0, +),
            cancelled: orders.filter { $0.status == OrderState.cancelled.rawValue }.count,
            expired: orders.filter { $0.status == OrderState.expired.rawValue }.count,
            rejected: orders.filter { $0.status == OrderState.rejected.rawValue }.count,
            realizedPnL: money.realizedPnL, unrealizedPnL: money.unrealizedPnL, commissions: money.commissions,
            equityStart: money.equityStart, equityEnd: money.equityEnd, equityPeak: money.equityPeak,
            maxDrawdown: money.drawdown.0, maxDrawdownPct: money.drawdown.1)
    }

    /// The money figures again, to rebuild the totals for a subset of days.
    var money: MoneyTotals {
        MoneyTotals(realizedPnL: realizedPnL, unrealizedPnL: unrealizedPnL, commissions: commissions, equityStart: equityStart,
                    equityEnd: equityEnd, equityPeak: equityPeak, drawdown: (maxDrawdown, maxDrawdownPct))
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
        r.totals = ReportTotals(days: r.days, sessions: r.period.sessions.count, money: totals.money)
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
