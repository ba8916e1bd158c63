import ASTCore
import ASTMessages
import Testing

@testable import ASTRisk

/// The test clock's origin.
let t0 = Timestamp(nanoseconds: 1_700_000_000_000_000_000)

func at(_ seconds: Int64) -> Timestamp { t0.advanced(by: .seconds(seconds)) }
func money(_ text: String) -> Money { Money(text)! }
func price(_ text: String) -> Price { Price(text)! }
let paper = ProcessIdentity(role: .broker, instance: "paper")
let ibkr = ProcessIdentity(role: .broker, instance: "ibkr")

/// Limits nobody would run with, so that a table row tightens only the rule it pins.
let loose = RiskLimits(
    maxGrossLeveragePct: 1000, maxDrawdownPct: 100, dailyLossLimitPct: 100, maxSymbolConcentrationPct: 1000,
    maxSectorConcentrationPct: 1000, maxOrderNotionalPct: 1000, maxOpenPositions: 100_000, maxOrdersPerWindow: 1_000_000,
    orderRateWindowSeconds: 60, priceBandPct: 100, maxMarkAgeSeconds: 86_400, requireProtectiveStop: false,
    resumeRequiresCleanReconciliation: true)

extension RiskLimits {
    func with(_ change: (inout RiskLimits) -> Void) -> RiskLimits {
        var copy = self
        change(&copy)
        return copy
    }
}

/// A held position for a snapshot: `("AAPL", 100, "100.00", "tech")`.
struct Holding: Sendable {
    var symbol: Symbol
    var quantity: Int64
    var mark: String
    var sector: String?

    init(_ symbol: Symbol, _ quantity: Int64, _ mark: String = "100.00", _ sector: String? = "tech") {
        self.symbol = symbol
        self.quantity = quantity
        self.mark = mark
        self.sector = sector
    }
}

func snapshot(
    equity: String = "100000.00", peak: String? = nil, startOfDay: String? = nil, _ holdings: [Holding] = [],
    openOrders: Int = 0, asOf: Timestamp = t0
) -> PortfolioSnapshot {
    var positions: [Symbol: PositionSnapshot] = [:]
    for h in holdings {
        positions[h.symbol] = PositionSnapshot(
            quantity: Quantity(h.quantity), averagePrice: price(h.mark), sector: h.sector, lastMark: price(h.mark))
    }
    return PortfolioSnapshot(
        asOf: asOf, cash: money(equity), equity: money(equity), peakEquity: money(peak ?? equity),
        startOfDayEquity: money(startOfDay ?? equity), positions: positions, openOrders: openOrders)
}

/// A buy of AAPL (tech) with a stop at 95.00, at the market unless `limit` is given.
func intent(
    _ id: IntentID = "i-1", quantity: Int64, limit: String? = nil, stop: String? = "95.00", target: String? = nil,
    sector: String? = "tech"
) -> IntentGroup {
    intent(id, "AAPL", .buy, quantity, limit: limit, stop: stop, target: target, sector: sector)
}

func intent(
    _ id: IntentID, _ symbol: Symbol, _ side: Side, _ quantity: Int64, limit: String? = nil,
    stop: String? = "95.00", target: String? = nil, sector: String? = "tech"
) -> IntentGroup {
    IntentGroup(
        id: id, symbol: symbol, sector: sector, side: side, quantity: Quantity(quantity),
        entry: limit.map { .limit(price($0)) } ?? .market, stopLoss: stop.map(price), takeProfit: target.map(price),
        createdAt: t0)
}

func lifecycle(
    _ kind: LifecycleKind, _ child: ProcessIdentity? = paper, reason: String? = nil, onCrash: CrashImpact? = nil
) -> LifecycleEvent {
    LifecycleEvent(kind: kind, child: child, reason: reason, onCrash: onCrash, at: t0)
}

/// A gate driven by a test clock.
struct Desk {
    var gate: RiskGate
    var now = t0

    init(_ limits: RiskLimits = .cautiousDefaults, _ record: SafeModeRecord = .firstStart(at: t0)) throws {
        gate = try RiskGate(limits: limits, restoring: record)
    }

    /// A gate in `state` since t0 (restored as if from its journal).
    init(_ limits: RiskLimits = .cautiousDefaults, in state: TradingState) throws {
        try self.init(limits, SafeModeRecord(state: state, since: t0, cause: SafeModeCause(kind: .operatorHalt, text: "test")))
    }

    mutating func advance(_ d: Duration) { now = now.advanced(by: d) }

    @discardableResult
    mutating func send(_ input: RiskInput) -> [RiskOutput] { gate.handle(input, now: now) }

    /// Marks `symbols` at `price` now.
    mutating func mark(_ symbols: [Symbol], _ p: String = "100.00") {
        for s in symbols { send(.mark(MarketMark(symbol: s, price: price(p), at: now))) }
    }

    mutating func decide(_ group: IntentGroup) -> RiskDecision {
        let out = send(.intent(group))
        guard out.count == 1, case .decision(let d) = out[0], d.intent == group.id else {
            Issue.record("expected one decision, got \(out)")
            return .block(.noPortfolio, detail: "")
        }
        return d.decision
    }

    mutating func command(_ c: OperatorCommand) -> CommandResult {
        for case .commandResult(let r) in send(.command(c)) { return r }
        Issue.record("no command result")
        return CommandResult(command: c, accepted: false, message: "no command result")
    }

    /// A desk with a snapshot and fresh marks, one second after them.
    static func ready(
        _ limits: RiskLimits = .cautiousDefaults, _ portfolio: PortfolioSnapshot = snapshot(),
        marks: [Symbol: String] = ["AAPL": "100.00"]
    ) throws -> Desk {
        var desk = try Desk(limits)
        desk.send(.portfolio(portfolio))
        for s in marks.keys.sorted() { desk.mark([s], marks[s]!) }
        desk.advance(.seconds(1))
        return desk
    }
}

/// A decision reduced to what a table row pins.
enum Verdict: Equatable, Sendable, CustomStringConvertible {
    case approve
    case downgrade(Int64, ReasonCode)
    case block(ReasonCode)

    init(_ d: RiskDecision) {
        switch d {
        case .approve: self = .approve
        case .downgrade(let a, let rule, _): self = .downgrade(a.quantity.shares, rule)
        case .block(let code, _): self = .block(code)
        }
    }

    var description: String {
        switch self {
        case .approve: "approve"
        case .downgrade(let q, let r): "downgrade(\(q), \(r))"
        case .block(let r): "block(\(r))"
        }
    }
}

extension [RiskOutput] {
    var transitions: [SafeModeTransition] { compactMap { if case .transition(let t) = $0 { t } else { nil } } }
    var alerts: [Alert] { compactMap { if case .alert(let a) = $0 { a } else { nil } } }
    var decisions: [IntentDecision] { compactMap { if case .decision(let d) = $0 { d } else { nil } } }
}
