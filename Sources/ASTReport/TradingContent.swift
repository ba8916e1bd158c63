import ASTCore
import ASTExecution
import ASTJournal
import ASTReplay
import ASTRisk
import Foundation

/// The trading content of a run, read from the journals of the risk gate and the reconciler:
/// what two runs must agree on to have traded the same, with everything that depends on the
/// wall clock, on process restarts or on bus timing left out (message ids, journal sequence
/// numbers, the number and timing of portfolio snapshots, journal entry timestamps, reasons'
/// free text).
///
/// ``lines`` is the canonical text form: one fact per line, in five sections and this order,
/// each section sorted (so two runs compare with `==` and a diff shows the first difference):
///
///     intent <intent-id> <side> <qty> <symbol> entry <market|limit P> stop <P|-> target <P|->
///     decision <intent-id> approved|downgraded <qty> | blocked <REASON_CODE>
///     order <client-order-id> <side> <qty> <symbol> <type> limit <P|-> stop <P|->
///     order-end <client-order-id> cancelled|expired|rejected
///     fill <execution-id> <client-order-id> <side> <qty> <symbol> @ <price> commission <money> at <market time ns>
///     position <symbol> <signed qty> avg <price>
///     cash <money>
///     realized <money>
///     commissions <money>
///
/// Market times (a decision's, a fill's) are the replay's market time, the same in every run;
/// decisions carry none (a decision is made at the time its scan ran). Quantities, prices and
/// money are the exact fixed-point values' descriptions. A report re-delivered after a restart
/// counts once (by report id), as the reconciler core counts it.
public struct TradingContent: Sendable, Equatable {
    public var intents: [String]
    public var decisions: [String]
    public var orders: [String]
    public var fills: [String]
    /// Final positions, then cash, realized P&L and commissions.
    public var portfolio: [String]

    public init(intents: [String], decisions: [String], orders: [String], fills: [String], portfolio: [String]) {
        self.intents = intents
        self.decisions = decisions
        self.orders = orders
        self.fills = fills
        self.portfolio = portfolio
    }

    /// Every line, section by section (see the type's comment).
    public var lines: [String] { intents + decisions + orders + fills + portfolio }

    /// The first line where `self` and `other` differ, as `index: mine | theirs`, or nil.
    public func firstDifference(from other: TradingContent) -> String? {
        let a = lines, b = other.lines
        for i in 0..<max(a.count, b.count) {
            let x = i < a.count ? a[i] : "(nothing)", y = i < b.count ? b[i] : "(nothing)"
            if x != y { return "line \(i + 1): \(x) | \(y)" }
        }
        return nil
    }

    /// Reads `<stateDirectory>/journal/risk@main.sqlite` and `.../reconciler@main.sqlite`
    /// (read-only, safe while the processes run).
    public static func read(stateDirectory: String) throws -> TradingContent {
        let dir = "\(stateDirectory)/journal"
        return try read(riskJournal: "\(dir)/risk@main.sqlite", reconcilerJournal: "\(dir)/reconciler@main.sqlite")
    }

    public static func read(riskJournal: String, reconcilerJournal: String) throws -> TradingContent {
        let decoder = JSONDecoder()
        var intents = Set<String>(), decisions = Set<String>()
        try JournalReader(path: riskJournal).scan { entry in
            switch entry.record.type {
            case EntryTypes.Risk.input:
                if case .intent(let g) = try decoder.decode(RiskInput.self, from: Data(entry.record.body)) { intents.insert(line(g)) }
            case EntryTypes.Risk.decision:
                decisions.insert(line(try decoder.decode(IntentDecision.self, from: Data(entry.record.body))))
            default:
                break
            }
            return true
        }
        var reports = Reports()
        // The reconciler's core through the fold its shell restores with; an input it cannot
        // replay makes the content unreadable, not silently smaller.
        let reconciler = try JournalReader(path: reconcilerJournal)
        let fold = try ReconcilerJournalFold.fold(
            process: reconciler.process, journal: reconcilerJournal,
            observe: { _, step in
                if case .report(let r) = step.input { reports.add(r) }
            }
        ) { try reconciler.scan($0) }
        if let q = fold.quarantine.found.first { throw FoldError(seq: q.seq, type: q.type, reason: q.cause) }
        let core = fold.core
        return TradingContent(
            intents: intents.sorted(), decisions: decisions.sorted(), orders: reports.orders.sorted(),
            fills: reports.fills.sorted(), portfolio: lines(core.portfolio))
    }

    /// The same content from the values themselves, as an in-process run (the engine) holds
    /// them: the intents the risk gate received, its decisions, the execution reports in the
    /// order the reconciler handled them, and the reconciler's final portfolio.
    public static func make(intents: [IntentGroup], decisions: [IntentDecision], reports: [ExecutionReport], portfolio: Portfolio)
        -> TradingContent
    {
        var r = Reports()
        for report in reports { r.add(report) }
        return TradingContent(
            intents: Set(intents.map(line)).sorted(), decisions: Set(decisions.map(line)).sorted(),
            orders: r.orders.sorted(), fills: r.fills.sorted(), portfolio: lines(portfolio))
    }

    /// Order and fill lines, each report once (by id).
    struct Reports {
        var orders = Set<String>(), fills = Set<String>()
        var seen = Set<String>()

        mutating func add(_ r: ExecutionReport) {
            guard seen.insert(r.id).inserted else { return }
            switch r.event {
            case .submitting(let s):
                orders.insert(
                    "order \(s.clientOrderID) \(s.side) \(s.quantity) \(s.symbol) \(s.type.rawValue) "
                        + "limit \(s.limitPrice.map { "\($0)" } ?? "-") stop \(s.stopPrice.map { "\($0)" } ?? "-")")
            case .fill(let f):
                fills.insert(
                    "fill \(f.executionID) \(f.clientOrderID) \(f.side) \(f.quantity) \(f.symbol) @ \(f.price) "
                        + "commission \(f.commission) at \(f.at.nanoseconds)")
            case .cancelled(let id, _): orders.insert("order-end \(id) cancelled")
            case .expired(let id): orders.insert("order-end \(id) expired")
            case .rejected(let id, _): orders.insert("order-end \(id) rejected")
            case .modified(let id, let quantity, _): orders.insert("order-resize \(id) \(quantity)")
            case .commission(let execution, let id, let amount): fills.insert("commission \(execution) \(id) \(amount)")
            default: break
            }
        }
    }

    /// Final positions (non-zero, by symbol), then cash, realized P&L and commissions.
    static func lines(_ p: Portfolio) -> [String] {
        var out = p.positions.keys.sorted().compactMap { s -> String? in
            guard let pos = p.positions[s], pos.quantity != .zero else { return nil }
            return "position \(s) \(pos.quantity) avg \(pos.averagePrice)"
        }
        out += ["cash \(p.cash)", "realized \(p.realizedPnL)", "commissions \(p.commissions)"]
        return out
    }

    static func line(_ g: IntentGroup) -> String {
        let entry: String =
            switch g.entry {
            case .market: "market"
            case .limit(let p): "limit \(p)"
            case .stop(let p): "stop \(p)"
            }
        return
            "intent \(g.id) \(g.side) \(g.quantity) \(g.symbol) entry \(entry) stop \(g.stopLoss.map { "\($0)" } ?? "-") target \(g.takeProfit.map { "\($0)" } ?? "-")"
    }

    static func line(_ d: IntentDecision) -> String {
        switch d.decision {
        case .approve(let a): "decision \(d.intent) approved \(a.quantity)"
        case .downgrade(let a, _, _): "decision \(d.intent) downgraded \(a.quantity)"
        case .block(let code, _): "decision \(d.intent) blocked \(code.rawValue)"
        }
    }
}
