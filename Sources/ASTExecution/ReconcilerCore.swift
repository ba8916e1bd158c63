import ASTCore
import ASTMessages

/// Everything ast-reconciler reacts to. The shell journals each input with the time it was
/// handled at; replaying them through a new core reproduces the book, the portfolio and
/// every output.
public enum ReconcilerInput: Sendable, Equatable, Codable {
    /// First start: the paper account's (or the broker's) cash is the portfolio's starting cash.
    case initial(cash: Money)
    /// A broker process's report about one order.
    case report(ExecutionReport)
    /// The last price of a symbol.
    case mark(MarketMark)
    /// A reconciliation: what started it and the broker's own account of the truth.
    case reconciliation(trigger: String, broker: BrokerAccountState)
    /// A reconciliation that could not compare anything (the broker did not answer or is disconnected).
    case reconciliationIncomplete(trigger: String, broker: String, detail: String)
    /// A new trading day starts: start-of-day equity is taken now.
    case startDay
    /// The sector of each symbol (from market data's reference data), for the risk gate's
    /// sector concentration rule.
    case sectors([String: String])
}

/// What the reconciler core asks its shell to do.
public enum ReconcilerOutput: Sendable, Equatable {
    /// Publish the portfolio to the risk gate and the strategy.
    case snapshot(PortfolioSnapshot)
    /// Ask the broker to cancel an order (a reconciliation repair).
    case cancelAtBroker(OrderCancel)
    /// Tell the risk gate how the reconciliation came out.
    case result(ReconciliationResult)
    /// An alert for the operator.
    case alert(Alert)
    /// A reconciliation run finished (journaled, shown by `astctl status`).
    case summary(ReconciliationSummary)
    /// Something in a report did not fit the book (logged and journaled, never a crash).
    case anomaly(String)
}

/// The reconciler's logic as one value: the order book (order state machines), the portfolio
/// derived from fills, and reconciliation against the broker. Time is an input.
public struct ReconcilerCore: Sendable, Equatable {
    public private(set) var book: OrderBook
    public private(set) var portfolio: Portfolio
    public private(set) var initialized: Bool
    public private(set) var lastSummary: ReconciliationSummary?
    /// When the last reconciliation that compared anything ran.
    public private(set) var lastCompleted: Timestamp?
    /// Per broker, the highest report sequence applied (reports carry `<broker>-r<n>` ids).
    public private(set) var reportsApplied: [String: Int64] = [:]
    /// Symbol -> sector, carried into every snapshot.
    public private(set) var sectors: [Symbol: String] = [:]

    public init() {
        book = OrderBook()
        portfolio = Portfolio(startingCash: .zero)
        initialized = false
    }

    /// Handles one input at `now`.
    public mutating func handle(_ input: ReconcilerInput, now: Timestamp) -> [ReconcilerOutput] {
        switch input {
        case .initial(let cash):
            guard !initialized else { return [.anomaly("a second initial record was ignored")] }
            portfolio = Portfolio(startingCash: cash)
            portfolio.startDay(at: now)
            initialized = true
            return [.snapshot(snapshot(now))]
        case .report(let report):
            if let seq = report.sequence { reportsApplied[report.broker] = max(reportsApplied[report.broker] ?? 0, seq) }
            return applyReport(report, now: now)
        case .mark(let m):
            portfolio.mark(m.symbol, price: m.price, at: m.at)
            return []
        case .startDay:
            portfolio.startDay(at: now)
            return [.snapshot(snapshot(now))]
        case .sectors(let map):
            var next: [Symbol: String] = [:]
            for (k, v) in map { if let s = Symbol(validating: k) { next[s] = v } }
            guard next != sectors else { return [] }
            sectors = next
            return initialized ? [.snapshot(snapshot(now))] : []
        case .reconciliationIncomplete(let trigger, let broker, let detail):
            let s = ReconciliationSummary(
                trigger: trigger, at: now, broker: broker, completed: false, clean: false, requiresHalt: false,
                findings: [], repairs: [], summary: "not reconciled: \(detail)",
                positions: portfolio.positions.count, openOrders: book.openOrders.count)
            lastSummary = s
            return [.summary(s)]
        case .reconciliation(let trigger, let broker):
            guard initialized else { return [.anomaly("a reconciliation before the starting cash was known was ignored")] }
            return reconcile(trigger: trigger, broker: broker, now: now)
        }
    }

    /// The portfolio as the risk gate and the strategy receive it.
    public func snapshot(_ now: Timestamp) -> PortfolioSnapshot {
        portfolio.snapshot(asOf: now, openEntryOrders: book.openEntryOrderCount, sectors: sectors)
    }

    mutating func applyReport(_ report: ExecutionReport, now: Timestamp) -> [ReconcilerOutput] {
        var outputs: [ReconcilerOutput] = []
        var changed = false
        for o in book.apply(report, portfolio: &portfolio) {
            switch o {
            case .fillApplied, .portfolioChanged:
                changed = true
            case .anomaly(let text):
                outputs.append(.anomaly(text))
            case .bookOverflow(let text):
                outputs += Self.failClosed(text, now: now)
            default:
                break
            }
        }
        if changed { outputs.append(.snapshot(snapshot(now))) }
        return outputs
    }

    /// A fact the book could not take (``BookOutput/bookOverflow(_:)``): the book no longer
    /// matches the broker, so the risk gate goes HALTED with the reason named, and a P0.
    static func failClosed(_ text: String, now: Timestamp) -> [ReconcilerOutput] {
        [
            .result(.mismatch("book overflow: \(text)")),
            .alert(
                Alert(
                    priority: .p0, key: "book-overflow", title: "AST book overflow: HALTED",
                    text: "\(text). The reconciler's book no longer matches the broker; trading is HALTED."
                        + " See runbooks/reconciliation-mismatch.md.", at: now)),
        ]
    }

    mutating func reconcile(trigger: String, broker: BrokerAccountState, now: Timestamp) -> [ReconcilerOutput] {
        let report = Reconciliation.reconcile(book: book, portfolio: portfolio, broker: broker, now: now)
        var outputs: [ReconcilerOutput] = []
        var repairs: [String] = []
        for repair in report.repairs {
            switch repair {
            case .cancelAtBroker(let id, let reason):
                outputs.append(.cancelAtBroker(OrderCancel(clientOrderID: id, reason: reason)))
                repairs.append("asked the broker to cancel \(id): \(reason)")
            case .applyFill(let f):
                repairs.append("applied missed fill \(f.executionID): \(f.side) \(f.quantity) \(f.symbol) @ \(f.price)")
            case .markOrder(let id, let state, let reason):
                repairs.append("marked \(id) \(state.rawValue): \(reason)")
            case .adopt(let o):
                repairs.append("adopted \(o.spec.clientOrderID) (\(o.status.rawValue) at the broker)")
            }
        }
        var overflows: [ReconcilerOutput] = []
        for o in book.apply(repairs: report.repairs, portfolio: &portfolio, at: now) {
            if case .anomaly(let text) = o { outputs.append(.anomaly(text)) }
            if case .bookOverflow(let text) = o { overflows += Self.failClosed(text, now: now) }
        }
        let lines = report.findings.map {
            ReconciliationFindingLine(kind: $0.kind, severity: $0.severity.rawValue, symbol: $0.symbol, detail: $0.description)
        }
        let summary = ReconciliationSummary(
            trigger: trigger, at: now, broker: broker.broker, completed: true, clean: report.isClean, requiresHalt: report.requiresHalt,
            findings: lines, repairs: repairs, summary: report.summary, positions: broker.positions.count,
            openOrders: broker.openOrders.count)
        lastSummary = summary
        lastCompleted = now
        outputs.append(.summary(summary))
        outputs.append(.snapshot(snapshot(now)))
        if report.requiresHalt {
            let critical = report.findings.filter { $0.severity == .critical }.map(\.description)
            outputs.append(.result(.mismatch(critical.joined(separator: "; "))))
            outputs.append(
                .alert(
                    Alert(
                        priority: .p0, key: "reconciliation-mismatch", title: "AST reconciliation mismatch: HALTED",
                        text: "Reconciliation (\(trigger)) against \(broker.broker) found: " + critical.joined(separator: "; ")
                            + ". Trading is HALTED; see runbooks/reconciliation-mismatch.md.",
                        at: now)))
        } else if overflows.isEmpty {
            outputs.append(.result(.clean))
        }
        return outputs + overflows
    }
}

extension Finding {
    /// The difference class, as `astctl reconcile` and the journal name it.
    public var kind: String {
        switch self {
        case .brokerUnavailable: "broker_unavailable"
        case .missedFill: "missed_fill"
        case .orderAtBrokerOnly: "order_at_broker_only"
        case .orderMissingAtBroker: "order_missing_at_broker"
        case .unknownOrderResolved: "unknown_order_resolved"
        case .stopWithoutPosition: "stop_without_position"
        case .positionQuantityMismatch: "position_quantity_mismatch"
        case .averagePriceMismatch: "average_price_mismatch"
        case .unprotectedPosition: "unprotected_position"
        }
    }
}

// Codable for checkpoints (M11): the book and the portfolio encode their collections as sorted
// arrays, the per-broker report counters are keyed by string (sorted by the encoder) and the
// sectors become a string-keyed map, so the same core always gives the same bytes.
extension ReconcilerCore: Codable {
    enum CodingKeys: String, CodingKey {
        case book, portfolio, initialized, sectors
        case lastSummary = "last_summary"
        case lastCompleted = "last_completed"
        case reportsApplied = "reports_applied"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        book = try c.decode(OrderBook.self, forKey: .book)
        portfolio = try c.decode(Portfolio.self, forKey: .portfolio)
        initialized = try c.decode(Bool.self, forKey: .initialized)
        lastSummary = try c.decodeIfPresent(ReconciliationSummary.self, forKey: .lastSummary)
        lastCompleted = try c.decodeIfPresent(Timestamp.self, forKey: .lastCompleted)
        reportsApplied = try c.decode([String: Int64].self, forKey: .reportsApplied)
        var sectors: [Symbol: String] = [:]
        for (k, v) in try c.decode([String: String].self, forKey: .sectors) {
            guard let s = Symbol(validating: k) else {
                throw DecodingError.dataCorruptedError(forKey: .sectors, in: c, debugDescription: "\(k.prefix(40)) is not a symbol")
            }
            sectors[s] = v
        }
        self.sectors = sectors
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(book, forKey: .book)
        try c.encode(portfolio, forKey: .portfolio)
        try c.encode(initialized, forKey: .initialized)
        try c.encodeIfPresent(lastSummary, forKey: .lastSummary)
        try c.encodeIfPresent(lastCompleted, forKey: .lastCompleted)
        try c.encode(reportsApplied, forKey: .reportsApplied)
        try c.encode(Dictionary(uniqueKeysWithValues: sectors.map { ($0.key.rawValue, $0.value) }), forKey: .sectors)
    }
}
