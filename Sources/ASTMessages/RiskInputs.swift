import ASTCore

/// How an intent group's entry is to be executed.
public enum EntryOrder: Sendable, Equatable, Codable, CustomStringConvertible {
    /// At the market; the risk gate prices it at the symbol's last mark.
    case market
    /// At `price` or better.
    case limit(Price)
    /// A stop order at `price`, good till cancelled: only an operator's protective stop
    /// (``OperatorOrder``) is approved with it; a strategy intent with a stop entry is blocked.
    case stop(Price)

    /// The limit price, if any.
    public var limitPrice: Price? {
        if case .limit(let p) = self { return p }
        return nil
    }

    /// The stop price, if any.
    public var stopPrice: Price? {
        if case .stop(let p) = self { return p }
        return nil
    }

    public var description: String {
        switch self {
        case .market: "market"
        case .limit(let p): "limit \(p)"
        case .stop(let p): "stop \(p)"
        }
    }

    enum CodingKeys: String, CodingKey { case type, limitPrice = "limit_price", stopPrice = "stop_price" }

    /// `{"type":"market"}` or `{"type":"limit","limit_price":"123.45"}`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .type) {
        case "market": self = .market
        case "limit": self = .limit(try c.decode(Price.self, forKey: .limitPrice))
        case "stop": self = .stop(try c.decode(Price.self, forKey: .stopPrice))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown entry type '\(other)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .market: try c.encode("market", forKey: .type)
        case .limit(let p):
            try c.encode("limit", forKey: .type)
            try c.encode(p, forKey: .limitPrice)
        case .stop(let p):
            try c.encode("stop", forKey: .type)
            try c.encode(p, forKey: .stopPrice)
        }
    }
}

/// A bracket from the strategy: an entry with its protective stop and take profit, approved,
/// downgraded (all legs to the smaller quantity) or refused as a whole.
public struct IntentGroup: Sendable, Equatable, Codable {
    public var id: IntentID
    public var symbol: Symbol
    /// The symbol's sector for the sector-concentration rule; `nil` counts as the unknown sector.
    public var sector: String?
    public var side: Side
    /// Shares to trade; must be positive (``side`` gives the direction).
    public var quantity: Quantity
    public var entry: EntryOrder
    /// The protective stop: below the entry for a buy, above it for a sell.
    public var stopLoss: Price?
    /// The take profit: above the entry for a buy, below it for a sell.
    public var takeProfit: Price?
    public var createdAt: Timestamp
    /// The end of the session the intent was made for (its close): from then on the gate blocks
    /// it as ``ReasonCode/intentExpired``. Nil: it does not expire (older journals).
    public var expiresAt: Timestamp?

    public init(
        id: IntentID, symbol: Symbol, sector: String? = nil, side: Side, quantity: Quantity, entry: EntryOrder,
        stopLoss: Price?, takeProfit: Price? = nil, createdAt: Timestamp, expiresAt: Timestamp? = nil
    ) {
        self.id = id
        self.symbol = symbol
        self.sector = sector
        self.side = side
        self.quantity = quantity
        self.entry = entry
        self.stopLoss = stopLoss
        self.takeProfit = takeProfit
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case id, symbol, sector, side, quantity, entry
        case stopLoss = "stop_loss"
        case takeProfit = "take_profit"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
    }
}

/// One held position in a ``PortfolioSnapshot``.
public struct PositionSnapshot: Sendable, Equatable, Codable {
    /// Signed shares: long > 0, short < 0.
    public var quantity: Quantity
    public var averagePrice: Price
    public var sector: String?
    /// The price the position was valued at for the snapshot's equity.
    public var lastMark: Price

    public init(quantity: Quantity, averagePrice: Price, sector: String? = nil, lastMark: Price) {
        self.quantity = quantity
        self.averagePrice = averagePrice
        self.sector = sector
        self.lastMark = lastMark
    }

    enum CodingKeys: String, CodingKey {
        case quantity, sector
        case averagePrice = "average_price"
        case lastMark = "last_mark"
    }
}

/// The book as the reconciler last saw it. Replaces the previous snapshot unless it is older.
public struct PortfolioSnapshot: Sendable, Equatable, Codable {
    public var asOf: Timestamp
    public var cash: Money
    /// Cash plus positions at their last marks.
    public var equity: Money
    /// The highest equity so far (the drawdown's reference). The gate raises it when marks
    /// take equity higher.
    public var peakEquity: Money
    public var startOfDayEquity: Money
    public var positions: [Symbol: PositionSnapshot]
    /// Working entry orders at the broker (protective stops and take profits not counted):
    /// each may become a position, so they count toward ``RiskLimits/maxOpenPositions``.
    public var openOrders: Int

    public init(
        asOf: Timestamp, cash: Money, equity: Money, peakEquity: Money, startOfDayEquity: Money,
        positions: [Symbol: PositionSnapshot] = [:], openOrders: Int = 0
    ) {
        self.asOf = asOf
        self.cash = cash
        self.equity = equity
        self.peakEquity = peakEquity
        self.startOfDayEquity = startOfDayEquity
        self.positions = positions
        self.openOrders = openOrders
    }

    enum CodingKeys: String, CodingKey {
        case cash, equity, positions
        case asOf = "as_of"
        case peakEquity = "peak_equity"
        case startOfDayEquity = "start_of_day_equity"
        case openOrders = "open_orders"
    }
}

/// The last price of a symbol from market data.
public struct MarketMark: Sendable, Equatable, Codable {
    public var symbol: Symbol
    public var price: Price
    public var at: Timestamp

    public init(symbol: Symbol, price: Price, at: Timestamp) {
        self.symbol = symbol
        self.price = price
        self.at = at
    }
}

/// A broker process saying whether it is connected to its broker.
public struct BrokerConnectionReport: Sendable, Equatable, Codable {
    public var broker: ProcessIdentity
    public var connected: Bool
    public var detail: String
    /// A disconnect the broker expected (IB Gateway's nightly restart, inside the configured
    /// window): the risk gate blocks orders until the broker is back and reconciled, without a
    /// halt or a P0. Absent (nil) in every other report, so older encodings are unchanged.
    public var planned: Bool?

    public init(broker: ProcessIdentity, connected: Bool, detail: String = "", planned: Bool = false) {
        self.broker = broker
        self.connected = connected
        self.detail = detail
        self.planned = planned && !connected ? true : nil
    }
}

/// The outcome of one reconciliation of the book against the brokers.
public enum ReconciliationResult: Sendable, Equatable, Codable {
    case clean
    /// What differs, in words (journaled, shown in the alert).
    case mismatch(String)
}

/// A command from `astctl`.
public enum OperatorCommand: Sendable, Equatable, Codable, CustomStringConvertible {
    /// `astctl halt [--reason TEXT]`.
    case halt(reason: String)
    /// `astctl resume [--to active|reducing]`.
    case resume(to: ResumeTarget)

    public var description: String {
        switch self {
        case .halt(let reason): reason.isEmpty ? "halt" : "halt (\(reason))"
        case .resume(let target): "resume --to \(target)"
        }
    }
}

/// What kind of working order a cancel request concerns.
public enum CancelKind: String, Sendable, Codable, CaseIterable {
    /// An entry resting at the broker with nothing filled: cancelling it only removes exposure
    /// that does not exist yet, so it is allowed in every state.
    case restingUnfilledEntry = "resting_unfilled_entry"
    /// An entry with a partial fill: cancelling the rest changes the bracket's legs.
    case partiallyFilledEntry = "partially_filled_entry"
    /// A protective stop: never cancelled by the system.
    case protectiveStop = "protective_stop"
    case takeProfit = "take_profit"
}

/// A request to cancel one working order.
public struct CancelRequest: Sendable, Equatable, Codable {
    public var orderID: String
    public var intent: IntentID?
    public var kind: CancelKind

    public init(orderID: String, intent: IntentID? = nil, kind: CancelKind) {
        self.orderID = orderID
        self.intent = intent
        self.kind = kind
    }

    enum CodingKeys: String, CodingKey {
        case intent, kind
        case orderID = "order_id"
    }
}

/// Everything the risk gate reacts to. The shell journals each input with the `now` it was
/// handled at; replaying them through a gate restored the same way reproduces every output.
public enum RiskInput: Sendable, Equatable, Codable {
    case intent(IntentGroup)
    case portfolio(PortfolioSnapshot)
    case mark(MarketMark)
    /// From astd: spawns, exits, watchdog timeouts of the tree's children.
    case lifecycle(LifecycleEvent)
    case brokerConnection(BrokerConnectionReport)
    case reconciliation(ReconciliationResult)
    /// A journal failed its hash-chain verification: data corruption.
    case journalVerificationFailed(detail: String)
    case command(OperatorCommand)
    case cancel(CancelRequest)
    /// The shell found that ast-risk's previous run did not end cleanly.
    case startedAfterUncleanExit
    /// A broker refused an approval the gate sent (its reply to `order.submit`): no order exists.
    case orderRefused(OrderRefusal)
    /// `astctl protect` or `astctl flatten`: an operator order for a held position
    /// (``RiskGate/decideOperatorOrder(_:now:)``), allowed in every state, HALTED included.
    case operatorOrder(OperatorOrder)
}

/// A broker's refusal of an approval the risk gate sent: the bus's reply to an `order.submit`
/// that the broker did not take (a signature that does not verify, an approval id re-used, a
/// bracket its exchange would not accept). Nothing of it reached the exchange.
public struct OrderRefusal: Sendable, Equatable, Codable {
    public var approval: ApprovalID
    public var intent: IntentID
    /// The broker process that refused (`broker@paper`).
    public var broker: String
    /// The broker's stable refusal code (`APPROVAL_SIGNATURE_INVALID`, `INPUT_OUT_OF_RANGE` ...).
    public var code: String
    /// The broker's words, bounded by the shell (``InputRefusal/maxDetailBytes``).
    public var detail: String

    public init(approval: ApprovalID, intent: IntentID, broker: String, code: String, detail: String) {
        self.approval = approval
        self.intent = intent
        self.broker = broker
        self.code = code
        self.detail = detail
    }

    /// Refusal codes that say the tree itself is wrong (the kernel-checked identity or the
    /// approval signature failed for the gate's own order): a P0, not a P1. The raw values of
    /// the wire's security refusal codes (`RefusalCode.isSecurityViolation`), which a test keeps equal.
    public static let identityCodes: Set<String> = [
        "IDENTITY_NOT_SPAWNED", "PID_MISMATCH", "APPROVAL_SIGNATURE_INVALID", "APPROVAL_REUSED",
    ]

    /// Whether the refusal is one of ``identityCodes``.
    public var isIdentityRefusal: Bool { Self.identityCodes.contains(code) }

    /// The most bytes of a refusal code kept.
    public static let maxCodeBytes = 64
}
