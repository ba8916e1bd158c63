import ASTCore
import ASTMessages

/// How strictly reconciliation compares.
public struct ReconciliationTolerance: Sendable, Equatable, Codable {
    /// The largest difference of average prices that is not a mismatch (default one cent).
    public var averagePrice: Price
    /// How long a PendingSubmit or Submitted order may be missing at the broker before it
    /// counts as missing: a submit in flight is not a difference yet.
    public var submitGraceSeconds: Int64

    public init(averagePrice: Price = Price(units: 100), submitGraceSeconds: Int64 = 60) {
        self.averagePrice = averagePrice
        self.submitGraceSeconds = submitGraceSeconds
    }

    enum CodingKeys: String, CodingKey {
        case averagePrice = "average_price"
        case submitGraceSeconds = "submit_grace_seconds"
    }
}

/// Whether a finding can be repaired in place (benign) or moves the system to HALTED.
public enum FindingSeverity: String, Sendable, Codable, Comparable {
    case critical
    case benign

    public static func < (a: FindingSeverity, b: FindingSeverity) -> Bool { a == .critical && b == .benign }
}

/// One difference between the system's book and a broker's account.
public enum Finding: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The broker is disconnected: its account cannot be trusted, nothing is compared.
    case brokerUnavailable(broker: String)
    /// An execution at the broker the book never applied. Repaired by applying it.
    case missedFill(Fill)
    /// An open order at the broker the book does not track as open. Repaired by adopting it
    /// (a bracket child whose parent the book knows, or a stop that protects a position) or
    /// by cancelling it at the broker.
    case orderAtBrokerOnly(BrokerOrder)
    /// An order the book has open that the broker does not list as open and that no
    /// execution completes. Repaired by marking it Cancelled, or Rejected when it never
    /// reached the broker.
    case orderMissingAtBroker(ClientOrderID, symbol: Symbol, ourState: OrderState)
    /// An Unknown order the broker lists as open: repaired by taking the broker's state.
    case unknownOrderResolved(ClientOrderID, symbol: Symbol, brokerStatus: BrokerOrderStatus)
    /// A working protective stop with no position on either book that it could protect.
    /// Repaired by cancelling it at the broker.
    case stopWithoutPosition(ClientOrderID, symbol: Symbol)
    /// Critical: the books disagree on how many shares are held.
    case positionQuantityMismatch(Symbol, ours: Quantity, broker: Quantity)
    /// Critical: the books agree on the shares but not on their average price (beyond the
    /// tolerance).
    case averagePriceMismatch(Symbol, ours: Price, broker: Price)
    /// Critical: a broker position not fully covered by working stops on the closing side.
    case unprotectedPosition(Symbol, quantity: Quantity, covered: Quantity)

    public var severity: FindingSeverity {
        switch self {
        case .brokerUnavailable, .positionQuantityMismatch, .averagePriceMismatch, .unprotectedPosition: .critical
        case .missedFill, .orderAtBrokerOnly, .orderMissingAtBroker, .unknownOrderResolved, .stopWithoutPosition: .benign
        }
    }

    /// The symbol the finding concerns, if any.
    public var symbol: Symbol? {
        switch self {
        case .brokerUnavailable: nil
        case .missedFill(let f): f.symbol
        case .orderAtBrokerOnly(let o): o.spec.symbol
        case .orderMissingAtBroker(_, let s, _), .unknownOrderResolved(_, let s, _), .stopWithoutPosition(_, let s),
            .positionQuantityMismatch(let s, _, _), .averagePriceMismatch(let s, _, _), .unprotectedPosition(let s, _, _):
            s
        }
    }

    /// What happened, in operator words with the numbers.
    public var description: String {
        switch self {
        case .brokerUnavailable(let broker):
            "\(broker) is disconnected: its account cannot be trusted, nothing was reconciled"
        case .missedFill(let f):
            "\(f.symbol): execution \(f.executionID) (\(f.side) \(f.quantity) at \(f.price) for \(f.clientOrderID)) happened at the broker but was never applied"
        case .orderAtBrokerOnly(let o):
            "\(o.spec.symbol): the broker has order \(o.spec.clientOrderID) open (\(o.spec.side) \(o.workingQuantity) \(o.spec.type.rawValue), \(o.status.rawValue)) that we do not track as open"
        case .orderMissingAtBroker(let id, let s, let state):
            "\(s): we have order \(id) \(state), the broker does not list it as open"
        case .unknownOrderResolved(let id, let s, let status):
            "\(s): order \(id) was Unknown to us, the broker has it \(status.rawValue)"
        case .stopWithoutPosition(let id, let s):
            "\(s): stop \(id) works at the broker with no position to protect"
        case .positionQuantityMismatch(let s, let ours, let broker):
            "\(s): we are \(ours.sharesText), the broker \(broker.holdingText)"
        case .averagePriceMismatch(let s, let ours, let broker):
            "\(s): our average price is \(ours), the broker's \(broker)"
        case .unprotectedPosition(let s, let q, let covered):
            "\(s): the broker position is \(q.sharesText) but working stops cover only \(covered)"
        }
    }

    /// Severity first, then the kind, the symbol, time and id: a total order for the report.
    var sortKey: (Int, Int, String, Int64, String) {
        let severityRank = severity == .critical ? 0 : 1
        switch self {
        case .brokerUnavailable(let b): return (severityRank, 0, "", 0, b)
        case .positionQuantityMismatch(let s, _, _): return (severityRank, 1, s.rawValue, 0, "")
        case .averagePriceMismatch(let s, _, _): return (severityRank, 2, s.rawValue, 0, "")
        case .unprotectedPosition(let s, _, _): return (severityRank, 3, s.rawValue, 0, "")
        case .missedFill(let f): return (severityRank, 4, f.symbol.rawValue, f.at.nanoseconds, f.executionID.rawValue)
        case .orderAtBrokerOnly(let o): return (severityRank, 5, o.spec.symbol.rawValue, 0, o.spec.clientOrderID.rawValue)
        case .stopWithoutPosition(let id, let s): return (severityRank, 6, s.rawValue, 0, id.rawValue)
        case .orderMissingAtBroker(let id, let s, _): return (severityRank, 7, s.rawValue, 0, id.rawValue)
        case .unknownOrderResolved(let id, let s, _): return (severityRank, 8, s.rawValue, 0, id.rawValue)
        }
    }
}

/// An action that brings the system's book in line with the broker's account.
public enum Repair: Sendable, Equatable, Codable {
    /// Apply a missed execution to the book and the portfolio.
    case applyFill(Fill)
    /// Set an order's state on the broker's word.
    case markOrder(ClientOrderID, OrderState, reason: String)
    /// Take an order the broker has open into the book.
    case adopt(BrokerOrder)
    /// The shell asks the broker to cancel the order (always towards fewer orders).
    case cancelAtBroker(ClientOrderID, reason: String)

    /// Whether the repair changes only the system's own state (``OrderBook/apply(repairs:portfolio:at:)``
    /// does it); `cancelAtBroker` is sent to the broker instead.
    public var isLocal: Bool {
        if case .cancelAtBroker = self { return false }
        return true
    }
}

/// The outcome of comparing the book with one broker's account.
public struct ReconciliationReport: Sendable, Equatable, Codable {
    public var broker: String
    public var at: Timestamp
    /// Sorted: critical first, then by kind, symbol and id.
    public var findings: [Finding]
    /// In the order to carry out: fills (in the broker's execution order), order marks,
    /// adoptions, then cancels at the broker.
    public var repairs: [Repair]
    /// No finding at all.
    public var isClean: Bool
    /// A critical finding: the risk gate must move to HALTED.
    public var requiresHalt: Bool
    /// One paragraph for the operator, naming symbols and numbers.
    public var summary: String

    public init(broker: String, at: Timestamp, findings: [Finding], repairs: [Repair], summary: String) {
        self.broker = broker
        self.at = at
        self.findings = findings
        self.repairs = repairs
        isClean = findings.isEmpty
        requiresHalt = findings.contains { $0.severity == .critical }
        self.summary = summary
    }

    /// What the risk gate is told: a mismatch exactly when a halt is required (benign findings
    /// are repaired and do not stop trading).
    public var riskResult: ReconciliationResult { requiresHalt ? .mismatch(summary) : .clean }

    enum CodingKeys: String, CodingKey {
        case broker, at, findings, repairs, summary
        case isClean = "is_clean"
        case requiresHalt = "requires_halt"
    }
}

/// Compares the book and the portfolio with a broker's own account and says what differs and
/// what to do about it.
///
/// The comparison runs in phases on copies: (1) executions the book never applied become
/// `missedFill` findings and are applied to the copies; (2) orders are compared against the
/// repaired book (so a missed fill that completes an order does not also count as "missing");
/// order marks and adoptions are applied to the copies; (3) positions and their protection are
/// compared on the repaired portfolio. The shell then applies ``ReconciliationReport/repairs``
/// to its real state with ``OrderBook/apply(repairs:portfolio:at:)`` — the same call the
/// copies went through — and sends the cancels. Indexed by id and symbol: linear in orders,
/// positions and executions (plus sorting).
public enum Reconciliation {
    /// Compares `book` and `portfolio` (left untouched) with `broker`'s account at `now`. A
    /// disconnected broker yields one critical finding and no repairs: when in doubt, do nothing.
    public static func reconcile(
        book: OrderBook, portfolio: Portfolio, broker: BrokerAccountState, now: Timestamp,
        tolerance: ReconciliationTolerance = ReconciliationTolerance()
    ) -> ReconciliationReport {
        guard broker.connected else {
            let findings = [Finding.brokerUnavailable(broker: broker.broker)]
            return ReconciliationReport(
                broker: broker.broker, at: now, findings: findings, repairs: [],
                summary: summary(broker: broker.broker, at: now, findings: findings, repairs: [], positions: 0, orders: 0))
        }
        var book = book
        var portfolio = portfolio
        var findings: [Finding] = []

        // (1) Missed fills, in the broker's execution order.
        var fillRepairs: [Repair] = []
        var seen = Set<ExecutionID>()
        for fill in broker.executions where !book.hasApplied(fill.executionID) && seen.insert(fill.executionID).inserted {
            findings.append(.missedFill(fill))
            fillRepairs.append(.applyFill(fill))
        }
        _ = book.apply(repairs: fillRepairs, portfolio: &portfolio, at: now)

        // Indexes.
        let brokerOpen = Dictionary(
            broker.openOrders.filter { $0.status.isOpen }.map { ($0.spec.clientOrderID, $0) }, uniquingKeysWith: { _, last in last })
        let brokerPositions = Dictionary(
            broker.positions.filter { !$0.quantity.isZero }.map { ($0.symbol, $0) }, uniquingKeysWith: { _, last in last })
        var coverage: [Symbol: Int64] = [:]
        for order in brokerOpen.values where isWorkingStop(order) {
            if let p = brokerPositions[order.spec.symbol], order.spec.side == closingSide(p.quantity) {
                // The broker's numbers: summed without a trap (more than 2^63 shares of stops is as covered as it gets).
                let (sum, overflow) = coverage[order.spec.symbol, default: 0].addingReportingOverflow(order.workingQuantity.shares)
                coverage[order.spec.symbol] = overflow ? (order.workingQuantity.shares > 0 ? .max : .min) : sum
            }
        }
        /// A stop on the closing side of a position either book holds: never cancel it here
        /// (on a disagreement the halt decides, not a repair).
        func couldProtect(_ order: BrokerOrder) -> Bool {
            guard isStop(order) else { return false }
            let s = order.spec.symbol
            let theirs = brokerPositions[s]?.quantity ?? .zero
            let ours = portfolio.quantity(of: s)
            return (!theirs.isZero && order.spec.side == closingSide(theirs)) || (!ours.isZero && order.spec.side == closingSide(ours))
        }

        // (2) Orders.
        var marks: [Repair] = []
        var adoptions: [Repair] = []
        var cancels: [Repair] = []
        for order in brokerOpen.values.sorted(by: { $0.spec.clientOrderID < $1.spec.clientOrderID }) {
            let id = order.spec.clientOrderID
            let ours = book.order(id)
            if isWorkingStop(order) && order.spec.leg != .entry && !couldProtect(order) {
                findings.append(.stopWithoutPosition(id, symbol: order.spec.symbol))
                cancels.append(.cancelAtBroker(id, reason: "stop with no position to protect"))
            } else if let ours, ours.state == .unknown {
                findings.append(.unknownOrderResolved(id, symbol: order.spec.symbol, brokerStatus: order.status))
                marks.append(.markOrder(id, OrderState(order.status), reason: "the broker has it \(order.status.rawValue)"))
            } else if !(ours?.state.isOpen ?? false) {
                findings.append(.orderAtBrokerOnly(order))
                let parentKnown = order.spec.leg != .entry && order.spec.parent.map { book.order($0) != nil } == true
                if parentKnown || couldProtect(order) {
                    adoptions.append(.adopt(order))
                } else {
                    cancels.append(.cancelAtBroker(id, reason: "open at the broker but not in the book"))
                }
            }
        }
        let grace = tolerance.submitGraceSeconds * 1_000_000_000
        for order in book.openOrders where brokerOpen[order.id] == nil {
            let inFlight = order.state == .pendingSubmit || order.state == .submitted
            if inFlight && now.nanoseconds - order.updatedAt.nanoseconds < grace { continue }
            findings.append(.orderMissingAtBroker(order.id, symbol: order.spec.symbol, ourState: order.state))
            let neverReached = order.brokerOrderID == nil && (inFlight || order.state == .unknown)
            marks.append(
                neverReached
                    ? .markOrder(order.id, .rejected, reason: "never reached the broker")
                    : .markOrder(order.id, .cancelled, reason: "not at the broker"))
        }
        marks.sort { orderID(of: $0) < orderID(of: $1) }
        _ = book.apply(repairs: marks + adoptions, portfolio: &portfolio, at: now)

        // (3) Positions and their protection, on the repaired portfolio.
        let symbols = Set(portfolio.positions.keys).union(brokerPositions.keys)
        for symbol in symbols {
            let ours = portfolio.positions[symbol]
            let theirs = brokerPositions[symbol]
            let oursQty = ours?.quantity ?? .zero
            let theirsQty = theirs?.quantity ?? .zero
            if oursQty != theirsQty {
                findings.append(.positionQuantityMismatch(symbol, ours: oursQty, broker: theirsQty))
            } else if let ours, let theirs,
                (Int128(ours.averagePrice.units) - Int128(theirs.averagePrice.units)).magnitude
                    > UInt128(tolerance.averagePrice.units.magnitude)
            {
                findings.append(.averagePriceMismatch(symbol, ours: ours.averagePrice, broker: theirs.averagePrice))
            }
            if let theirs {
                let covered = Quantity(coverage[symbol] ?? 0)
                if covered < theirsQty.magnitude {
                    findings.append(.unprotectedPosition(symbol, quantity: theirs.quantity, covered: covered))
                }
            }
        }

        findings.sort { $0.sortKey < $1.sortKey }
        let repairs = fillRepairs + marks + adoptions + cancels
        return ReconciliationReport(
            broker: broker.broker, at: now, findings: findings, repairs: repairs,
            summary: summary(
                broker: broker.broker, at: now, findings: findings, repairs: repairs, positions: symbols.count,
                orders: brokerOpen.count))
    }

    static func isStop(_ order: BrokerOrder) -> Bool { order.spec.type == .stop || order.spec.type == .stopLimit }

    /// A stop that can trigger now: working or partially filled, not held.
    static func isWorkingStop(_ order: BrokerOrder) -> Bool {
        isStop(order) && (order.status == .working || order.status == .partiallyFilled)
    }

    static func closingSide(_ quantity: Quantity) -> Side { quantity.isLong ? .sell : .buy }

    private static func orderID(of repair: Repair) -> String {
        switch repair {
        case .markOrder(let id, _, _), .cancelAtBroker(let id, _): id.rawValue
        case .adopt(let o): o.spec.clientOrderID.rawValue
        case .applyFill(let f): f.executionID.rawValue
        }
    }

    /// How many finding descriptions the summary spells out before "and N more".
    static let summaryDetailLimit = 12

    static func summary(
        broker: String, at: Timestamp, findings: [Finding], repairs: [Repair], positions: Int, orders: Int
    ) -> String {
        let head = "Reconciliation with \(broker) at \(at)"
        guard !findings.isEmpty else {
            return
                "\(head): clean; \(positions) position\(positions == 1 ? "" : "s") and \(orders) open order\(orders == 1 ? "" : "s") agree."
        }
        let critical = findings.filter { $0.severity == .critical }.count
        let benign = findings.count - critical
        var text = "\(head): \(critical) critical and \(benign) benign finding\(findings.count == 1 ? "" : "s")"
        text += critical > 0 ? "; HALT required. " : "; repaired in place. "
        text += findings.prefix(summaryDetailLimit).map(\.description).joined(separator: "; ")
        if findings.count > summaryDetailLimit { text += "; and \(findings.count - summaryDetailLimit) more" }
        text += "."
        var counts: [String] = []
        func count(_ n: Int, _ what: String) { if n > 0 { counts.append("\(what) \(n)") } }
        count(repairs.filter { if case .applyFill = $0 { true } else { false } }.count, "apply missed fills:")
        count(repairs.filter { if case .markOrder = $0 { true } else { false } }.count, "mark orders:")
        count(repairs.filter { if case .adopt = $0 { true } else { false } }.count, "adopt orders:")
        count(repairs.filter { if case .cancelAtBroker = $0 { true } else { false } }.count, "cancel at the broker:")
        if !counts.isEmpty { text += " Repairs: " + counts.joined(separator: ", ") + "." }
        return text
    }
}
