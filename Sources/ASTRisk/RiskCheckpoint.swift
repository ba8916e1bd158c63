import ASTCore

/// Everything a ``RiskGate`` holds besides its limits, in a form whose encoding never depends
/// on hashing: every dictionary is an array sorted by its key, every 128-bit amount a decimal
/// string (exact). A checkpoint (M11) keeps it; ``RiskGate/init(limits:restoring:)-(_,RiskGateState)``
/// takes it back, so that a gate restored from it handles every later input as the gate it was
/// taken from would.
public struct RiskGateState: Sendable, Equatable, Codable {
    public var state: TradingState
    public var since: Timestamp
    public var cause: SafeModeCause
    public var hasCleanReconciliationSinceHalt: Bool
    public var book: BookState?
    /// The last mark per symbol, sorted by symbol.
    public var quotes: [MarketMark]
    public var pending: [PendingState]
    public var approvalTimes: [Timestamp]
    /// Remembered decisions, oldest first (the order they are forgotten in).
    public var decided: [DecidedState]
    /// Broker -> reason, sorted by broker.
    public var brokersDown: [BrokerNote]
    public var brokersDisconnected: [BrokerNote]
    /// Brokers in a planned outage (absent in checkpoints written before it existed: none).
    public var plannedOutages: [BrokerNote]?
    public var lastCriticalFailureAt: Timestamp?
    public var operatorStops: [StopsState]
    public var refusedApprovals: [ApprovalID]

    /// The book: the last snapshot revalued by marks since (amounts in 1/10,000 of a dollar).
    public struct BookState: Sendable, Equatable, Codable {
        public var asOf: Timestamp
        public var equity: String
        public var peak: String
        public var startOfDay: String
        public var openOrders: Int
        /// Sorted by symbol.
        public var holdings: [HoldingState]
    }

    /// One held symbol of the book.
    public struct HoldingState: Sendable, Equatable, Codable {
        public var symbol: Symbol
        public var quantity: String
        public var mark: String
        public var markAt: Timestamp
        public var sector: String?
    }

    /// An approval counted as filled until a snapshot replaces it.
    public struct PendingState: Sendable, Equatable, Codable {
        public var approval: ApprovalID
        public var symbol: Symbol
        public var delta: String
        public var reference: String
        public var sector: String?
        public var at: Timestamp
    }

    /// A remembered decision for a re-sent intent.
    public struct DecidedState: Sendable, Equatable, Codable {
        public var intent: IntentGroup
        public var decision: IntentDecision
    }

    /// A broker the gate counts down or disconnected, and why.
    public struct BrokerNote: Sendable, Equatable, Codable {
        public var broker: ProcessIdentity
        public var detail: String
    }

    /// The operator's protective stops on one symbol.
    public struct StopsState: Sendable, Equatable, Codable {
        public var symbol: Symbol
        public var positionSign: Int
        public var shares: String
    }
}

/// A checkpoint that cannot be taken back: an amount that is not an integer, a count out of
/// range. The restore skips such a checkpoint (an older one, or the whole journal, is used).
public struct RiskGateStateError: Error, Sendable, Equatable, CustomStringConvertible {
    public var what: String
    public var description: String { "risk gate checkpoint: \(what)" }
}

extension RiskGate {
    /// The gate's state for a checkpoint (its limits aside: the checkpoint keeps those beside it).
    public var checkpointState: RiskGateState {
        func note(_ map: [ProcessIdentity: String]) -> [RiskGateState.BrokerNote] {
            map.keys.sorted { $0.description < $1.description }.map { RiskGateState.BrokerNote(broker: $0, detail: map[$0]!) }
        }
        return RiskGateState(
            state: state, since: since, cause: cause, hasCleanReconciliationSinceHalt: hasCleanReconciliationSinceHalt,
            book: book.map { b in
                RiskGateState.BookState(
                    asOf: b.asOf, equity: "\(b.equity)", peak: "\(b.peak)", startOfDay: "\(b.startOfDay)", openOrders: b.openOrders,
                    holdings: b.holdings.keys.sorted().map { s in
                        let h = b.holdings[s]!
                        return RiskGateState.HoldingState(
                            symbol: s, quantity: "\(h.quantity)", mark: "\(h.mark)", markAt: h.markAt, sector: h.sector)
                    })
            },
            quotes: quotes.keys.sorted().map { quotes[$0]! },
            pending: pending.map {
                RiskGateState.PendingState(
                    approval: $0.approval, symbol: $0.symbol, delta: "\($0.delta)", reference: "\($0.reference)", sector: $0.sector,
                    at: $0.at)
            },
            approvalTimes: approvalTimes,
            decided: decidedOrder.compactMap { id in
                decided[id].map { RiskGateState.DecidedState(intent: $0.intent, decision: $0.decision) }
            },
            brokersDown: note(brokersDown), brokersDisconnected: note(brokersDisconnected),
            plannedOutages: plannedOutages.isEmpty ? nil : note(plannedOutages),
            lastCriticalFailureAt: lastCriticalFailureAt,
            operatorStops: operatorStops.keys.sorted().map { s in
                let o = operatorStops[s]!
                return RiskGateState.StopsState(symbol: s, positionSign: o.positionSign, shares: "\(o.shares)")
            },
            refusedApprovals: refusedApprovals)
    }

    /// A gate as `saved` describes it, under `limits` (the ones in force when it was saved: the
    /// restore checks that). Throws for limits out of range, and for a state no gate could have
    /// been in (an amount that is not an integer, a remembered decision twice).
    public init(limits: RiskLimits, restoring saved: RiskGateState) throws {
        try self.init(limits: limits, restoring: SafeModeRecord(state: saved.state, since: saved.since, cause: saved.cause))
        func amount(_ text: String, _ what: String) throws -> Int128 {
            guard let v = Int128(text) else { throw RiskGateStateError(what: "\(what) \(text.prefix(40)) is not an integer") }
            return v
        }
        hasCleanReconciliationSinceHalt = saved.hasCleanReconciliationSinceHalt
        lastCriticalFailureAt = saved.lastCriticalFailureAt
        if let b = saved.book {
            var holdings: [Symbol: Book.Holding] = [:]
            for h in b.holdings {
                holdings[h.symbol] = Book.Holding(
                    quantity: try amount(h.quantity, "a holding's quantity"), mark: try amount(h.mark, "a holding's mark"),
                    markAt: h.markAt,
                    sector: h.sector)
            }
            book = Book(
                asOf: b.asOf, equity: try amount(b.equity, "the equity"), peak: try amount(b.peak, "the peak"),
                startOfDay: try amount(b.startOfDay, "the start-of-day equity"), openOrders: b.openOrders, holdings: holdings)
        }
        for q in saved.quotes { quotes[q.symbol] = q }
        pending = try saved.pending.map {
            PendingApproval(
                approval: $0.approval, symbol: $0.symbol, delta: try amount($0.delta, "a pending delta"),
                reference: try amount($0.reference, "a pending reference"), sector: $0.sector, at: $0.at)
        }
        approvalTimes = saved.approvalTimes
        for d in saved.decided {
            guard decided.updateValue(Remembered(intent: d.intent, decision: d.decision), forKey: d.intent.id) == nil else {
                throw RiskGateStateError(what: "intent \(d.intent.id) is remembered twice")
            }
            decidedOrder.append(d.intent.id)
        }
        for n in saved.brokersDown { brokersDown[n.broker] = n.detail }
        for n in saved.brokersDisconnected { brokersDisconnected[n.broker] = n.detail }
        for n in saved.plannedOutages ?? [] { plannedOutages[n.broker] = n.detail }
        for s in saved.operatorStops {
            operatorStops[s.symbol] = OperatorStops(positionSign: s.positionSign, shares: try amount(s.shares, "an operator stop's shares"))
        }
        refusedApprovals = saved.refusedApprovals
    }
}

extension Book {
    /// A book as a checkpoint kept it.
    init(asOf: Timestamp, equity: Int128, peak: Int128, startOfDay: Int128, openOrders: Int, holdings: [Symbol: Holding]) {
        self.asOf = asOf
        self.equity = equity
        self.peak = peak
        self.startOfDay = startOfDay
        self.openOrders = openOrders
        self.holdings = holdings
    }
}
