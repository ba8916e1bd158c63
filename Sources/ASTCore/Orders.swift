/// The vocabulary of the execution path shared by the strategy, the risk gate, the broker
/// processes and the reconciler: order specifications, bracket groups, fills and what a broker
/// says about its own account. Pure values; the state machines live in ASTExecution and
/// ASTPaperBroker.

/// How an order executes at the broker.
public enum OrderType: String, Sendable, Codable, CaseIterable {
    /// At the next available price (the paper broker: the next bar's open).
    case market
    /// At `limitPrice` or better.
    case limit
    /// Becomes a market order once the price trades through `stopPrice`.
    case stop
    /// Becomes a limit order at `limitPrice` once the price trades through `stopPrice`.
    case stopLimit = "stop_limit"
}

/// How long an order works: until the end of the session it was accepted in, or until cancelled.
public enum TimeInForce: String, Sendable, Codable, CaseIterable {
    case day
    case gtc
}

/// Which leg of a bracket group an order is.
public enum BracketLeg: String, Sendable, Codable, CaseIterable {
    case entry
    case stopLoss = "stop_loss"
    case takeProfit = "take_profit"

    /// The suffix of the leg's client order id.
    var code: String {
        switch self {
        case .entry: "E"
        case .stopLoss: "S"
        case .takeProfit: "T"
        }
    }
}

/// The id the system gives an order at the broker. Derived from the intent id and the leg
/// (`<intent>.E`, `<intent>.S`, `<intent>.T`), never random, so that a re-submission after a
/// crash carries the same id and the broker (and the reconciler) recognise it.
public struct ClientOrderID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    public static let maxLength = 128

    public init?(validating text: String) {
        guard TradingIDText.isValid(text, maxLength: ClientOrderID.maxLength) else { return nil }
        rawValue = text
    }

    /// The id of `leg` of the bracket group for `intent`.
    public init(intent: IntentID, leg: BracketLeg) {
        rawValue = "\(intent.rawValue).\(leg.code)"
    }

    /// For literals in code and tests; traps on an invalid id, a programming error.
    public init(stringLiteral value: String) {
        precondition(TradingIDText.isValid(value, maxLength: ClientOrderID.maxLength), "'\(value)' is not a valid client order id")
        rawValue = value
    }

    public var description: String { rawValue }
    public static func < (a: ClientOrderID, b: ClientOrderID) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let id = ClientOrderID(validating: text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(text)' is not a valid client order id")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// One order as the system asks a broker to work it.
public struct OrderSpec: Sendable, Equatable, Codable {
    public var clientOrderID: ClientOrderID
    /// The intent group the order belongs to.
    public var intent: IntentID
    public var leg: BracketLeg
    public var symbol: Symbol
    public var side: Side
    /// Shares, positive. For a stop loss or take profit: the most it may ever cover; the
    /// working quantity follows the entry's filled quantity.
    public var quantity: Quantity
    public var type: OrderType
    /// For `limit` and `stop_limit`.
    public var limitPrice: Price?
    /// For `stop` and `stop_limit`.
    public var stopPrice: Price?
    public var timeInForce: TimeInForce
    /// The entry's id for a stop loss or take profit; nil for an entry.
    public var parent: ClientOrderID?
    /// One-cancels-all group: when one member fills, the others are cancelled.
    public var ocaGroup: String?
    /// Reduce-only: the order may only make a position smaller, never open, add to or flip one.
    /// A broker fills it at most up to the shares held on the closing side at the moment it
    /// fills (cut to what is held; cancelled with the reason when nothing is), so an exit that
    /// races another on the same bar (a bracket stop and the 14:30 reduction) never leaves the
    /// position short. Set for the 14:30 safe-reducing orders and the operator's flatten and
    /// protective stop (``isReduceOnlyIntent`` decides from the signed intent id). Absent on
    /// the wire and in older journals: false.
    public var reduceOnly: Bool

    public init(
        clientOrderID: ClientOrderID, intent: IntentID, leg: BracketLeg, symbol: Symbol, side: Side, quantity: Quantity,
        type: OrderType, limitPrice: Price? = nil, stopPrice: Price? = nil, timeInForce: TimeInForce,
        parent: ClientOrderID? = nil, ocaGroup: String? = nil, reduceOnly: Bool = false
    ) {
        self.clientOrderID = clientOrderID
        self.intent = intent
        self.leg = leg
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.type = type
        self.limitPrice = limitPrice
        self.stopPrice = stopPrice
        self.timeInForce = timeInForce
        self.parent = parent
        self.ocaGroup = ocaGroup
        self.reduceOnly = reduceOnly
    }

    enum CodingKeys: String, CodingKey {
        case intent, leg, symbol, side, quantity, type, parent
        case clientOrderID = "client_order_id"
        case limitPrice = "limit_price"
        case stopPrice = "stop_price"
        case timeInForce = "time_in_force"
        case ocaGroup = "oca_group"
        case reduceOnly = "reduce_only"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        clientOrderID = try c.decode(ClientOrderID.self, forKey: .clientOrderID)
        intent = try c.decode(IntentID.self, forKey: .intent)
        leg = try c.decode(BracketLeg.self, forKey: .leg)
        symbol = try c.decode(Symbol.self, forKey: .symbol)
        side = try c.decode(Side.self, forKey: .side)
        quantity = try c.decode(Quantity.self, forKey: .quantity)
        type = try c.decode(OrderType.self, forKey: .type)
        limitPrice = try c.decodeIfPresent(Price.self, forKey: .limitPrice)
        stopPrice = try c.decodeIfPresent(Price.self, forKey: .stopPrice)
        timeInForce = try c.decode(TimeInForce.self, forKey: .timeInForce)
        parent = try c.decodeIfPresent(ClientOrderID.self, forKey: .parent)
        ocaGroup = try c.decodeIfPresent(String.self, forKey: .ocaGroup)
        reduceOnly = try c.decodeIfPresent(Bool.self, forKey: .reduceOnly) ?? false
    }

    /// `reduce_only` is written only when true, so that every order journaled before it existed
    /// re-encodes to the same bytes (replay compares outputs byte for byte).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(clientOrderID, forKey: .clientOrderID)
        try c.encode(intent, forKey: .intent)
        try c.encode(leg, forKey: .leg)
        try c.encode(symbol, forKey: .symbol)
        try c.encode(side, forKey: .side)
        try c.encode(quantity, forKey: .quantity)
        try c.encode(type, forKey: .type)
        try c.encodeIfPresent(limitPrice, forKey: .limitPrice)
        try c.encodeIfPresent(stopPrice, forKey: .stopPrice)
        try c.encode(timeInForce, forKey: .timeInForce)
        try c.encodeIfPresent(parent, forKey: .parent)
        try c.encodeIfPresent(ocaGroup, forKey: .ocaGroup)
        if reduceOnly { try c.encode(true, forKey: .reduceOnly) }
    }

    /// Whether orders for `intent` are reduce-only: the 14:30 safe-reducing intents
    /// (`<day>.safe-reduce.<symbol>`) and the operator's orders (`op-flatten-…`, `op-protect-…`).
    /// Decided from the intent id, which the risk gate signs in its approval, so that a broker
    /// never has to trust anything else; the gate blocks such an intent unless it reduces.
    public static func isReduceOnlyIntent(_ intent: IntentID) -> Bool {
        let id = intent.rawValue
        return id.contains(".safe-reduce.") || id.hasPrefix("op-flatten-") || id.hasPrefix("op-protect-") || id.contains(".exit-")
    }
}

/// An entry with its protective stop and take profit, submitted as one group. The stop and
/// the target become active when the entry fills and form an OCA group.
public struct BracketOrder: Sendable, Equatable, Codable {
    public var intent: IntentID
    public var entry: OrderSpec
    public var stopLoss: OrderSpec?
    public var takeProfit: OrderSpec?

    public init(intent: IntentID, entry: OrderSpec, stopLoss: OrderSpec?, takeProfit: OrderSpec?) {
        self.intent = intent
        self.entry = entry
        self.stopLoss = stopLoss
        self.takeProfit = takeProfit
    }

    /// Entry first, then the stop loss, then the take profit.
    public var legs: [OrderSpec] { [entry] + [stopLoss, takeProfit].compactMap { $0 } }

    enum CodingKeys: String, CodingKey {
        case intent, entry
        case stopLoss = "stop_loss"
        case takeProfit = "take_profit"
    }
}

/// The broker's id of one execution; fills are deduplicated on it.
public struct ExecutionID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public static func < (a: ExecutionID, b: ExecutionID) -> Bool { a.rawValue < b.rawValue }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// One execution of (part of) an order.
public struct Fill: Sendable, Equatable, Codable {
    public var executionID: ExecutionID
    public var clientOrderID: ClientOrderID
    public var symbol: Symbol
    public var side: Side
    /// Shares, positive.
    public var quantity: Quantity
    public var price: Price
    public var commission: Money
    public var at: Timestamp

    public init(
        executionID: ExecutionID, clientOrderID: ClientOrderID, symbol: Symbol, side: Side, quantity: Quantity,
        price: Price, commission: Money, at: Timestamp
    ) {
        self.executionID = executionID
        self.clientOrderID = clientOrderID
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.price = price
        self.commission = commission
        self.at = at
    }

    enum CodingKeys: String, CodingKey {
        case symbol, side, quantity, price, commission, at
        case executionID = "execution_id"
        case clientOrderID = "client_order_id"
    }
}

/// An order's status as a broker reports it.
public enum BrokerOrderStatus: String, Sendable, Codable, CaseIterable {
    /// Held by the broker, not yet active (a bracket child waiting for its entry to fill).
    case held
    /// Working at the broker.
    case working
    case partiallyFilled = "partially_filled"
    case filled
    case cancelled
    case rejected
    case expired

    /// Whether the order can still execute.
    public var isOpen: Bool { self == .held || self == .working || self == .partiallyFilled }
}

/// One order in a broker's own account of the truth.
public struct BrokerOrder: Sendable, Equatable, Codable {
    public var spec: OrderSpec
    public var brokerOrderID: String
    public var status: BrokerOrderStatus
    public var filledQuantity: Quantity
    /// The quantity the broker works now (a bracket child follows its entry's filled quantity).
    public var workingQuantity: Quantity
    public var averageFillPrice: Price?

    public init(
        spec: OrderSpec, brokerOrderID: String, status: BrokerOrderStatus, filledQuantity: Quantity,
        workingQuantity: Quantity, averageFillPrice: Price?
    ) {
        self.spec = spec
        self.brokerOrderID = brokerOrderID
        self.status = status
        self.filledQuantity = filledQuantity
        self.workingQuantity = workingQuantity
        self.averageFillPrice = averageFillPrice
    }

    enum CodingKeys: String, CodingKey {
        case spec, status
        case brokerOrderID = "broker_order_id"
        case filledQuantity = "filled_quantity"
        case workingQuantity = "working_quantity"
        case averageFillPrice = "average_fill_price"
    }
}

/// One position in a broker's own account of the truth.
public struct BrokerPosition: Sendable, Equatable, Codable {
    public var symbol: Symbol
    /// Signed: long > 0, short < 0.
    public var quantity: Quantity
    public var averagePrice: Price

    public init(symbol: Symbol, quantity: Quantity, averagePrice: Price) {
        self.symbol = symbol
        self.quantity = quantity
        self.averagePrice = averagePrice
    }

    enum CodingKeys: String, CodingKey {
        case symbol, quantity
        case averagePrice = "average_price"
    }
}

/// A broker's account values.
public struct AccountValues: Sendable, Equatable, Codable {
    public var cash: Money
    /// Cash plus positions at the broker's marks.
    public var equity: Money

    public init(cash: Money, equity: Money) {
        self.cash = cash
        self.equity = equity
    }
}

/// Everything a broker says about its account at one moment: what reconciliation compares
/// the system's book against.
public struct BrokerAccountState: Sendable, Equatable, Codable {
    public var broker: String
    public var asOf: Timestamp
    public var connected: Bool
    public var account: AccountValues
    /// Positions, by symbol, sorted.
    public var positions: [BrokerPosition]
    /// Every order the broker knows of that is still open, sorted by client order id.
    public var openOrders: [BrokerOrder]
    /// Executions at or after the requested point, in the order they happened.
    public var executions: [Fill]
    /// The sequence number of the last execution report the broker process had sent when it
    /// answered: the reconciler compares only once it has applied exactly the reports up to it.
    public var reportsThrough: Int64?
    /// For an answer in pages: which page of which snapshot this is.
    public var page: BrokerStatePage?

    public init(
        broker: String, asOf: Timestamp, connected: Bool, account: AccountValues, positions: [BrokerPosition],
        openOrders: [BrokerOrder], executions: [Fill], reportsThrough: Int64? = nil, page: BrokerStatePage? = nil
    ) {
        self.page = page
        self.broker = broker
        self.asOf = asOf
        self.connected = connected
        self.account = account
        self.positions = positions
        self.openOrders = openOrders
        self.executions = executions
        self.reportsThrough = reportsThrough
    }

    enum CodingKeys: String, CodingKey {
        case broker, connected, account, positions, executions
        case asOf = "as_of"
        case openOrders = "open_orders"
        case reportsThrough = "reports_through"
        case page
    }

    /// Most orders, executions and positions in one page: a page stays far below the bus's
    /// 1 MiB frame limit (an order is about 400 bytes of JSON).
    public static let pageSize = 1_000

    /// The most pages a query may ask for: 10 million orders, executions or positions.
    public static let maxPageIndex = 10_000

    /// Refuses a page number a query may not ask for (negative, or beyond ``maxPageIndex``).
    public static func validatePage(_ n: Int) -> InputRefusal? {
        InputCheck.integer(n, "page", in: 0...maxPageIndex)
    }

    /// Page `n` of this state: the n-th slice of each list (the account values on every page).
    /// A page past the end (or a negative one) has empty lists; it never traps.
    public func page(_ n: Int, snapshot: String) -> BrokerAccountState {
        let (start, overflow) = max(0, n).multipliedReportingOverflow(by: Self.pageSize)
        func slice<T>(_ a: [T]) -> [T] {
            let lo = overflow ? a.count : min(a.count, start)
            return Array(a[lo..<min(a.count, lo + Self.pageSize)])
        }
        let pages = max(
            1, [positions.count, openOrders.count, executions.count].map { ($0 + Self.pageSize - 1) / Self.pageSize }.max() ?? 1)
        var p = self
        p.positions = slice(positions)
        p.openOrders = slice(openOrders)
        p.executions = slice(executions)
        p.page = BrokerStatePage(snapshot: snapshot, index: n, count: pages)
        return p
    }

    /// The pages of one snapshot put back together, in page order.
    public static func merging(_ pages: [BrokerAccountState]) -> BrokerAccountState? {
        guard var whole = pages.first else { return nil }
        for p in pages.dropFirst() {
            whole.positions += p.positions
            whole.openOrders += p.openOrders
            whole.executions += p.executions
        }
        whole.page = nil
        return whole
    }
}

/// Which page of which snapshot a ``BrokerAccountState`` is.
public struct BrokerStatePage: Sendable, Equatable, Codable {
    public var snapshot: String
    public var index: Int
    public var count: Int

    public init(snapshot: String, index: Int, count: Int) {
        self.snapshot = snapshot
        self.index = index
        self.count = count
    }
}

/// Something that happened to an order at a broker, as the broker process reports it to the
/// reconciler.
public enum ExecutionEvent: Sendable, Equatable, Codable {
    /// The broker process is sending the order to its broker (the order exists from now on).
    case submitting(OrderSpec)
    /// The broker acknowledged receipt and gave its own id.
    case acknowledged(ClientOrderID, brokerOrderID: String)
    /// The order is working (or held, for a bracket child) at the broker.
    case accepted(ClientOrderID)
    /// No acknowledgement came for a submit: the order may or may not exist at the broker.
    /// Resolved by asking the broker, never by submitting again.
    case unacknowledged(ClientOrderID, detail: String)
    case fill(Fill)
    case cancelled(ClientOrderID, reason: String)
    case rejected(ClientOrderID, reason: String)
    case expired(ClientOrderID)
    /// The broker reduced an open order's total quantity to `quantity` (its fills included): a
    /// bracket's protective legs resized to a position a reduce-only order or a flatten made
    /// smaller, so that they never sell more shares than are held.
    case modified(ClientOrderID, quantity: Quantity, reason: String)
    /// The broker's commission for an execution already reported without it (its commission came
    /// after the broker stopped waiting for it): `amount` is charged once, on top of the fill's.
    case commission(ExecutionID, ClientOrderID, amount: Money)

    /// The order the event concerns.
    public var clientOrderID: ClientOrderID {
        switch self {
        case .submitting(let s): s.clientOrderID
        case .acknowledged(let id, _), .accepted(let id), .unacknowledged(let id, _), .cancelled(let id, _),
            .rejected(let id, _), .expired(let id), .modified(let id, _, _), .commission(_, let id, _):
            id
        case .fill(let f): f.clientOrderID
        }
    }
}

/// An ``ExecutionEvent`` with a broker-assigned id that is stable across a replay of the
/// broker's journal, so that the reconciler drops a report it has already applied.
public struct ExecutionReport: Sendable, Equatable, Codable {
    public var id: String
    /// The broker process (`broker@paper`).
    public var broker: String
    public var event: ExecutionEvent
    public var at: Timestamp

    public init(id: String, broker: String, event: ExecutionEvent, at: Timestamp) {
        self.id = id
        self.broker = broker
        self.event = event
        self.at = at
    }

    /// The report's place in its broker's sequence: the number after the last `-r` of ``id``
    /// (`broker@paper-r42` -> 42), or nil for an id of another form.
    public var sequence: Int64? {
        let chars = Array(id.utf8)
        var i = chars.count - 1
        while i > 0, chars[i] >= UInt8(ascii: "0"), chars[i] <= UInt8(ascii: "9") { i -= 1 }
        guard i >= 1, i < chars.count - 1, chars[i] == UInt8(ascii: "r"), chars[i - 1] == UInt8(ascii: "-") else { return nil }
        return Int64(String(decoding: chars[(i + 1)...], as: UTF8.self))
    }
}

/// A broker-side event injected into a simulated broker for drills and tests
/// (`astctl broker inject ...`); a real broker refuses every injection.
public enum BrokerInjection: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The next submitted bracket is rejected, every leg, with `reason`.
    case rejectNext(reason: String)
    /// The broker is unreachable for `seconds`: submits are not acknowledged, reports are lost.
    case disconnect(seconds: Int)
    /// The next submit reaches the broker but its acknowledgement is lost.
    case dropNextAcknowledgement
    /// The broker cancels an order on its own, and reports it.
    case brokerCancel(ClientOrderID)
    /// The broker cancels an order on its own and the report is lost (reconciliation must find it).
    case brokerCancelSilently(ClientOrderID)

    public var description: String {
        switch self {
        case .rejectNext(let reason): "reject the next order (\(reason))"
        case .disconnect(let s): "disconnect for \(s) s"
        case .dropNextAcknowledgement: "drop the next acknowledgement"
        case .brokerCancel(let id): "cancel \(id) as the broker"
        case .brokerCancelSilently(let id): "cancel \(id) as the broker, without a report"
        }
    }
}

extension ExecutionEvent {
    /// The key a broker adapter dedupes its reports by: one acknowledgement, one final state and
    /// one fill per execution, whatever re-delivers them (a stream replay, a REST catch-up).
    public var reportKey: String {
        switch self {
        case .submitting(let s): "submit:\(s.clientOrderID)"
        case .acknowledged(let id, _): "ack:\(id)"
        case .accepted(let id): "accepted:\(id)"
        case .unacknowledged(let id, _): "unack:\(id)"
        case .fill(let f): "fill:\(f.executionID)"
        case .cancelled(let id, _), .rejected(let id, _), .expired(let id): "final:\(id)"
        case .modified(let id, let q, _): "modified:\(id):\(q)"
        case .commission(let execution, _, _): "commission:\(execution)"
        }
    }
}
