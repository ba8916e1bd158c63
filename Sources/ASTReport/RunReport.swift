import ASTCore

/// What one run of the tree did, read from its journals: candidates, intents, risk decisions,
/// orders, fills, positions, P&L, Safe Mode transitions and reconciliations, per day and in total.
///
/// Every array is sorted (by time, then id), money and prices are fixed-point strings, and the
/// JSON keys are snake_case, so that the same journals always give the same bytes.
public struct RunReport: Sendable, Equatable, Codable {
    /// The state directory the journals were read from.
    public var stateDirectory: String
    /// The trading mode (`PAPER`, `DRY_RUN` ...), when known.
    public var mode: String?
    public var period: ReportPeriod
    /// One section per New York date on which anything happened, in date order.
    public var days: [DayReport]
    public var totals: ReportTotals
    /// Positions still open at the end, by symbol.
    public var finalPositions: [PositionLine]
    /// The Safe Mode state at the end (nil when ast-risk's journal holds none).
    public var safeModeNow: String?
    public var safeModeTransitions: [SafeModeLine]
    public var reconciliations: [ReconciliationLine]
    /// Damaged or missing journals, book anomalies, facts that do not agree across journals.
    public var problems: [String]
    /// The journals that could not be read, listed or verified (also in ``problems``): figures
    /// from them are missing or untrustworthy, so `astctl report` fails when this is not empty.
    /// Not part of the JSON (``problems`` says it there).
    public var journalFailures: [String] = []

    enum CodingKeys: String, CodingKey {
        case mode, period, days, totals, reconciliations, problems
        case stateDirectory = "state_directory"
        case finalPositions = "final_positions"
        case safeModeNow = "safe_mode_now"
        case safeModeTransitions = "safe_mode_transitions"
    }
}

/// The market time a run covered.
public struct ReportPeriod: Sendable, Equatable, Codable {
    public var firstMarketTime: Timestamp?
    public var lastMarketTime: Timestamp?
    /// The trading sessions covered (`2026-03-09` ...), in order.
    public var sessions: [String]
    /// Whether the market data replay reported that it finished.
    public var replayFinished: Bool

    enum CodingKeys: String, CodingKey {
        case sessions
        case firstMarketTime = "first_market_time"
        case lastMarketTime = "last_market_time"
        case replayFinished = "replay_finished"
    }
}

/// One day of the run (a New York date).
public struct DayReport: Sendable, Equatable, Codable {
    public var date: String
    public var candidates: [CandidateLine]
    public var intents: [IntentLine]
    public var decisions: [DecisionLine]
    public var orders: [OrderLine]
    public var fills: [FillLine]
    /// The last portfolio the reconciler derived on this date, if any.
    public var endOfDay: EndOfDay?

    enum CodingKeys: String, CodingKey {
        case date, candidates, intents, decisions, orders, fills
        case endOfDay = "end_of_day"
    }
}

/// A candidate a detector found at a scan.
public struct CandidateLine: Sendable, Equatable, Codable {
    public var symbol: String
    public var detector: String

    public init(symbol: String, detector: String) {
        self.symbol = symbol
        self.detector = detector
    }
}

/// An intent group the risk gate received.
public struct IntentLine: Sendable, Equatable, Codable {
    public var id: String
    public var symbol: String
    public var side: String
    public var quantity: Quantity
    /// `market` or `limit 12.34`.
    public var entry: String
    public var stop: Price?
    public var target: Price?
    public var at: Timestamp
}

/// The risk gate's answer to one intent.
public struct DecisionLine: Sendable, Equatable, Codable {
    public var intent: String
    /// `approved`, `downgraded` or `blocked`.
    public var outcome: String
    public var reason: String?
    public var detail: String?
    /// The approved quantity (nil when blocked).
    public var quantity: Quantity?
    public var at: Timestamp
}

/// One order leg as the reconciler's book held it at the end of a day (in a day's section: every
/// order submitted or changed that day, in its state as of that day's end).
public struct OrderLine: Sendable, Equatable, Codable {
    public var id: String
    public var symbol: String
    public var leg: String
    public var side: String
    public var type: String
    public var quantity: Quantity
    public var filledQuantity: Quantity
    public var averageFillPrice: Price?
    /// The state at the end of the day (`Filled`, `Cancelled`, `Accepted` ...).
    public var status: String
    public var submittedAt: Timestamp

    enum CodingKeys: String, CodingKey {
        case id, symbol, leg, side, type, quantity, status
        case filledQuantity = "filled_quantity"
        case averageFillPrice = "average_fill_price"
        case submittedAt = "submitted_at"
    }
}

/// One execution the reconciler applied.
public struct FillLine: Sendable, Equatable, Codable {
    public var executionID: String
    public var order: String
    public var symbol: String
    public var side: String
    public var quantity: Quantity
    public var price: Price
    public var commission: Money
    public var at: Timestamp

    enum CodingKeys: String, CodingKey {
        case order, symbol, side, quantity, price, commission, at
        case executionID = "execution_id"
    }
}

/// The portfolio at the end of a day.
public struct EndOfDay: Sendable, Equatable, Codable {
    public var at: Timestamp
    public var cash: Money
    public var equity: Money
    public var positions: [PositionLine]
}

/// One open position.
public struct PositionLine: Sendable, Equatable, Codable {
    public var symbol: String
    public var quantity: Quantity
    public var averagePrice: Price
    public var mark: Price?
    public var unrealizedPnL: Money?
    /// Whether a working stop loss covers it (nil when not known, as in an end-of-day line).
    public var protectedByStop: Bool?

    public init(symbol: String, quantity: Quantity, averagePrice: Price, mark: Price?, unrealizedPnL: Money?, protectedByStop: Bool?) {
        self.symbol = symbol
        self.quantity = quantity
        self.averagePrice = averagePrice
        self.mark = mark
        self.unrealizedPnL = unrealizedPnL
        self.protectedByStop = protectedByStop
    }

    enum CodingKeys: String, CodingKey {
        case symbol, quantity, mark
        case averagePrice = "average_price"
        case unrealizedPnL = "unrealized_pnl"
        case protectedByStop = "protected_by_stop"
    }
}

/// One Safe Mode transition.
public struct SafeModeLine: Sendable, Equatable, Codable {
    public var from: String
    public var to: String
    public var cause: String
    public var at: Timestamp
}

/// One reconciliation run.
public struct ReconciliationLine: Sendable, Equatable, Codable {
    public var trigger: String
    public var at: Timestamp
    public var broker: String
    /// `clean`, `repaired`, `mismatch (HALTED)` or `not reconciled`.
    public var outcome: String
    public var summary: String
    /// `severity kind: detail`, in the reconciler's order.
    public var findings: [String]
    public var repairs: [String]
}

/// A count per reason code.
public struct ReasonCount: Sendable, Equatable, Codable {
    public var reason: String
    public var count: Int

    public init(reason: String, count: Int) {
        self.reason = reason
        self.count = count
    }
}

/// The run in numbers.
public struct ReportTotals: Sendable, Equatable, Codable {
    public var sessions: Int
    public var candidates: Int
    public var intents: Int
    public var approved: Int
    public var downgraded: Int
    public var blocked: Int
    public var blockedByReason: [ReasonCount]
    /// Distinct orders (legs) of the run, each counted once in its latest state.
    public var orders: Int
    public var fills: Int
    /// Orders that ended cancelled or expired.
    public var cancelled: Int
    public var expired: Int
    public var rejected: Int
    /// Gross of commissions (net = realised - commissions).
    public var realizedPnL: Money
    public var unrealizedPnL: Money
    public var commissions: Money
    public var equityStart: Money?
    public var equityEnd: Money?
    /// Start, end, peak, trough and drawdown all come from one equity series: every portfolio
    /// snapshot the reconciler produced, then its final portfolio. So
    /// `equityPeak - equityTrough >= maxDrawdown >= equityPeak - equityEnd`.
    public var equityPeak: Money?
    public var equityTrough: Money?
    /// The largest fall from a running peak to a later value of the equity series.
    public var maxDrawdown: Money
    /// ``maxDrawdown`` as a percentage of the peak it fell from (`2.5`), nil without one.
    public var maxDrawdownPct: String?

    enum CodingKeys: String, CodingKey {
        case sessions, candidates, intents, approved, downgraded, blocked, orders, fills, cancelled, expired, rejected, commissions
        case blockedByReason = "blocked_by_reason"
        case realizedPnL = "realized_pnl"
        case unrealizedPnL = "unrealized_pnl"
        case equityStart = "equity_start"
        case equityEnd = "equity_end"
        case equityPeak = "equity_peak"
        case equityTrough = "equity_trough"
        case maxDrawdown = "max_drawdown"
        case maxDrawdownPct = "max_drawdown_pct"
    }
}
