import ASTCore

/// An order's `status` at Alpaca. Unknown strings are kept as ``unknown(_:)``: never terminal,
/// never filled (the shell raises an alert and reconciles).
public enum AlpacaOrderStatus: Sendable, Hashable {
    case new, partiallyFilled, filled, doneForDay, canceled, expired, replaced, pendingCancel, pendingReplace
    case accepted, pendingNew, acceptedForBidding, stopped, rejected, suspended, calculated
    /// Undocumented but sent: an inactive bracket leg waiting for its trigger.
    case held
    case unknown(String)

    static let names: [(String, AlpacaOrderStatus)] = [
        ("new", .new), ("partially_filled", .partiallyFilled), ("filled", .filled), ("done_for_day", .doneForDay),
        ("canceled", .canceled), ("expired", .expired), ("replaced", .replaced), ("pending_cancel", .pendingCancel),
        ("pending_replace", .pendingReplace), ("accepted", .accepted), ("pending_new", .pendingNew),
        ("accepted_for_bidding", .acceptedForBidding), ("stopped", .stopped), ("rejected", .rejected), ("suspended", .suspended),
        ("calculated", .calculated), ("held", .held),
    ]

    public init(_ text: String) {
        self = Self.names.first { $0.0 == text }?.1 ?? .unknown(String(text.prefix(40)))
    }

    public var name: String {
        if case .unknown(let s) = self { return s }
        return Self.names.first { $0.1 == self }?.0 ?? "?"
    }

    /// No further updates will come: filled, canceled, expired, rejected or replaced (follow
    /// `replaced_by`).
    public var isTerminal: Bool {
        switch self {
        case .filled, .canceled, .expired, .rejected, .replaced: true
        default: false
        }
    }

    /// AST's view of it.
    public var brokerStatus: BrokerOrderStatus? {
        switch self {
        case .new, .accepted, .pendingNew, .acceptedForBidding, .pendingReplace, .pendingCancel, .stopped, .calculated, .doneForDay:
            .working
        case .held: .held
        case .partiallyFilled: .partiallyFilled
        case .filled: .filled
        case .canceled, .expired, .replaced: .cancelled
        case .rejected: .rejected
        case .suspended, .unknown: nil
        }
    }
}

/// Why an Alpaca answer could not be read into a value: the field and what was wrong, bounded.
public struct AlpacaDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = String(reason.prefix(200)) }
    public var description: String { "alpaca answer refused: \(reason)" }
}

/// Reads the fields of one JSON object, each checked.
struct AlpacaFields {
    let json: AlpacaJSON
    let what: String

    init(_ json: AlpacaJSON, _ what: String) throws(AlpacaDecodeError) {
        guard case .object = json else { throw AlpacaDecodeError("\(what) is not a JSON object") }
        self.json = json
        self.what = what
    }

    func string(_ key: String) throws(AlpacaDecodeError) -> String {
        guard let s = json[key]?.stringValue else { throw AlpacaDecodeError("\(what).\(key) is missing or not a string") }
        return s
    }

    func optionalString(_ key: String) throws(AlpacaDecodeError) -> String? {
        guard let v = json[key], !v.isNull else { return nil }
        guard let s = v.stringValue else { throw AlpacaDecodeError("\(what).\(key) is not a string") }
        return s
    }

    func decimal(_ key: String) throws(AlpacaDecodeError) -> AlpacaDecimal {
        guard let d = try optionalDecimal(key) else { throw AlpacaDecodeError("\(what).\(key) is missing") }
        return d
    }

    /// A decimal sent as a JSON string (a JSON number is refused: it may have passed a double).
    func optionalDecimal(_ key: String) throws(AlpacaDecodeError) -> AlpacaDecimal? {
        guard let s = try optionalString(key) else { return nil }
        guard let d = AlpacaDecimal(s) else { throw AlpacaDecodeError("\(what).\(key) is not an exact decimal") }
        return d
    }

    func time(_ key: String) throws(AlpacaDecodeError) -> Timestamp? {
        guard let s = try optionalString(key) else { return nil }
        guard let t = AlpacaTime.parse(s) else { throw AlpacaDecodeError("\(what).\(key) is not an RFC 3339 time") }
        return t
    }

    func bool(_ key: String) throws(AlpacaDecodeError) -> Bool? {
        guard let v = json[key], !v.isNull else { return nil }
        guard let b = v.boolValue else { throw AlpacaDecodeError("\(what).\(key) is not a boolean") }
        return b
    }

    func symbol(_ key: String) throws(AlpacaDecodeError) -> Symbol {
        guard let s = Symbol(validating: try string(key)) else { throw AlpacaDecodeError("\(what).\(key) is not a ticker") }
        return s
    }

    func side(_ key: String) throws(AlpacaDecodeError) -> Side {
        switch try string(key) {
        case "buy": return .buy
        case "sell", "sell_short": return .sell
        default: throw AlpacaDecodeError("\(what).\(key) is not buy or sell")
        }
    }

    func orderID(_ key: String) throws(AlpacaDecodeError) -> String {
        let s = try string(key)
        guard AlpacaRequests.isOrderID(s) else { throw AlpacaDecodeError("\(what).\(key) is not an order id") }
        return s
    }

    func optionalOrderID(_ key: String) throws(AlpacaDecodeError) -> String? {
        guard let s = try optionalString(key) else { return nil }
        guard AlpacaRequests.isOrderID(s) else { throw AlpacaDecodeError("\(what).\(key) is not an order id") }
        return s
    }
}

/// The Order object (`GET/POST /v2/orders…`, and inside every trade update), with what AST uses.
public struct AlpacaOrder: Sendable, Equatable {
    public var id: String
    /// Alpaca's client order id; AST's own when AST sent it (legs get server-made ones).
    public var clientOrderID: String
    public var symbol: Symbol
    public var side: Side
    /// `market`, `limit`, `stop`, `stop_limit`, `trailing_stop`.
    public var type: String
    /// `simple` (also sent as `""`), `bracket`, `oco`, `oto`.
    public var orderClass: String
    public var timeInForce: String
    /// Whole shares; nil for a notional order (AST sends none).
    public var quantity: Quantity?
    public var filledQuantity: Quantity
    public var filledAveragePrice: Price?
    public var limitPrice: Price?
    public var stopPrice: Price?
    public var status: AlpacaOrderStatus
    public var submittedAt: Timestamp?
    public var updatedAt: Timestamp?
    public var filledAt: Timestamp?
    public var replacedBy: String?
    public var replaces: String?
    /// The bracket's take-profit and stop-loss legs when listed with `nested=true`.
    public var legs: [AlpacaOrder]

    /// Reads an Order object; legs only one level deep (Alpaca nests no further).
    public static func decode(_ json: AlpacaJSON, depth: Int = 0) throws(AlpacaDecodeError) -> AlpacaOrder {
        let f = try AlpacaFields(json, depth == 0 ? "order" : "order.legs[]")
        let status = AlpacaOrderStatus(try f.string("status"))
        let quantity = try f.optionalDecimal("qty")
        guard quantity.map({ $0.wholeShares != nil && $0.significand >= 0 }) ?? true else {
            throw AlpacaDecodeError("order.qty is not a whole, non-negative number of shares")
        }
        var filledShares = Quantity.zero
        if let filled = try f.optionalDecimal("filled_qty") {
            guard let shares = filled.wholeShares, shares.shares >= 0 else {
                throw AlpacaDecodeError("order.filled_qty is not a whole, non-negative number of shares")
            }
            filledShares = shares
        }
        if let q = quantity?.wholeShares, filledShares > q { throw AlpacaDecodeError("order.filled_qty is above order.qty") }
        func price(_ key: String) throws(AlpacaDecodeError) -> Price? {
            guard let d = try f.optionalDecimal(key) else { return nil }
            guard let p = d.exactPrice, p.isPositive else { throw AlpacaDecodeError("order.\(key) is not a price") }
            return p
        }
        var average: Price? = nil
        if let d = try f.optionalDecimal("filled_avg_price") {
            guard let p = d.roundedPrice, !p.isNegative else { throw AlpacaDecodeError("order.filled_avg_price is not a price") }
            average = p
        }
        var legs: [AlpacaOrder] = []
        if let l = json["legs"], !l.isNull {
            guard depth == 0, let items = l.arrayValue, items.count <= 8 else {
                throw AlpacaDecodeError("order.legs is not a short array of orders")
            }
            for item in items { legs.append(try decode(item, depth: depth + 1)) }
        }
        let clientID = try f.string("client_order_id")
        guard (1...AlpacaRequests.maxClientOrderIDLength).contains(clientID.utf8.count) else {
            throw AlpacaDecodeError("order.client_order_id is empty or too long")
        }
        let type = try f.optionalString("type")
        let legacyType = try f.optionalString("order_type")
        return AlpacaOrder(
            id: try f.orderID("id"), clientOrderID: clientID, symbol: try f.symbol("symbol"), side: try f.side("side"),
            type: String((type ?? legacyType ?? "").prefix(20)),
            orderClass: String((try f.optionalString("order_class") ?? "").prefix(20)),
            timeInForce: String((try f.optionalString("time_in_force") ?? "").prefix(10)), quantity: quantity?.wholeShares,
            filledQuantity: filledShares, filledAveragePrice: average, limitPrice: try price("limit_price"),
            stopPrice: try price("stop_price"), status: status, submittedAt: try f.time("submitted_at"),
            updatedAt: try f.time("updated_at"), filledAt: try f.time("filled_at"), replacedBy: try f.optionalOrderID("replaced_by"),
            replaces: try f.optionalOrderID("replaces"), legs: legs)
    }

    /// Reads a JSON array of orders (a listing).
    public static func decodeList(_ json: AlpacaJSON) throws(AlpacaDecodeError) -> [AlpacaOrder] {
        guard let items = json.arrayValue else { throw AlpacaDecodeError("the order listing is not an array") }
        guard items.count <= AlpacaRequests.maxListLimit else { throw AlpacaDecodeError("the order listing has over 500 orders") }
        var out: [AlpacaOrder] = []
        for item in items { out.append(try decode(item)) }
        return out
    }

    /// The leg whose type is `limit` (the take profit) and the one that is a stop (the stop loss).
    public var takeProfitLeg: AlpacaOrder? { legs.first { $0.type == "limit" } }
    public var stopLossLeg: AlpacaOrder? { legs.first { $0.type == "stop" || $0.type == "stop_limit" } }
}

/// One position (`GET /v2/positions`): AST trades whole shares and long only; a short or a
/// fractional position is read but flagged by the caller.
public struct AlpacaPosition: Sendable, Equatable {
    public var symbol: Symbol
    /// Signed: negative when `side` is `short`.
    public var quantity: AlpacaDecimal
    public var averageEntryPrice: Price
    public var side: String

    public static func decodeList(_ json: AlpacaJSON) throws(AlpacaDecodeError) -> [AlpacaPosition] {
        guard let items = json.arrayValue, items.count <= 10_000 else { throw AlpacaDecodeError("positions is not an array") }
        var out: [AlpacaPosition] = []
        for item in items {
            let f = try AlpacaFields(item, "position")
            let side = try f.string("side")
            guard side == "long" || side == "short" else { throw AlpacaDecodeError("position.side is not long or short") }
            var qty = try f.decimal("qty")
            // Whether `qty` is negative for a short is not documented: the side decides.
            if side == "short", qty.significand > 0, let negated = AlpacaDecimal(significand: -qty.significand, scale: qty.scale) {
                qty = negated
            }
            guard let avg = try f.decimal("avg_entry_price").roundedPrice, !avg.isNegative else {
                throw AlpacaDecodeError("position.avg_entry_price is not a price")
            }
            out.append(AlpacaPosition(symbol: try f.symbol("symbol"), quantity: qty, averageEntryPrice: avg, side: side))
        }
        return out
    }

    /// As AST holds positions: whole signed shares; nil for a fractional position.
    public var brokerPosition: BrokerPosition? {
        quantity.wholeShares.map { BrokerPosition(symbol: symbol, quantity: $0, averagePrice: averageEntryPrice) }
    }
}

/// The account (`GET /v2/account`). Every field but `id`, `account_number` and `status` is
/// optional in what Alpaca sends; money fields AST needs are required here.
public struct AlpacaAccount: Sendable, Equatable {
    public var id: String
    public var accountNumber: String
    public var status: String
    public var currency: String?
    public var cash: Money
    public var equity: Money
    public var buyingPower: Money?
    public var tradingBlocked: Bool?
    public var accountBlocked: Bool?
    public var tradeSuspendedByUser: Bool?

    public static func decode(_ json: AlpacaJSON) throws(AlpacaDecodeError) -> AlpacaAccount {
        let f = try AlpacaFields(json, "account")
        func money(_ key: String) throws(AlpacaDecodeError) -> Money? {
            guard let d = try f.optionalDecimal(key) else { return nil }
            guard let p = d.roundedPrice else { throw AlpacaDecodeError("account.\(key) does not fit") }
            return Money(units: p.units)
        }
        guard let cash = try money("cash") else { throw AlpacaDecodeError("account.cash is missing") }
        let portfolioValue = try money("portfolio_value")
        guard let equity = try money("equity") ?? portfolioValue else { throw AlpacaDecodeError("account.equity is missing") }
        return AlpacaAccount(
            id: String(try f.string("id").prefix(64)), accountNumber: String(try f.string("account_number").prefix(32)),
            status: String(try f.string("status").prefix(32)), currency: try f.optionalString("currency"), cash: cash, equity: equity,
            buyingPower: try money("buying_power"), tradingBlocked: try f.bool("trading_blocked"),
            accountBlocked: try f.bool("account_blocked"), tradeSuspendedByUser: try f.bool("trade_suspended_by_user"))
    }

    /// Fail closed: trading only when the account is `ACTIVE`, in USD, and explicitly not blocked.
    public var permitsTrading: Bool {
        status == "ACTIVE" && (currency ?? "USD") == "USD" && tradingBlocked == false && accountBlocked == false
            && tradeSuspendedByUser != true
    }
}

/// A FILL activity (`GET /v2/account/activities?activity_types=FILL`): one execution.
public struct AlpacaFillActivity: Sendable, Equatable {
    /// `<yyyymmddhhmmssmmm>::<uuid>`: the stable dedupe key and the page token.
    public var id: String
    public var orderID: String
    public var symbol: Symbol
    public var side: Side
    /// This execution's shares and price.
    public var quantity: Quantity
    public var price: Price
    /// The order's running total after this execution (identifies the execution per order).
    public var cumulativeQuantity: Quantity
    public var leavesQuantity: Quantity
    public var transactionTime: Timestamp
    /// `fill` or `partial_fill`.
    public var type: String

    public static func decodeList(_ json: AlpacaJSON) throws(AlpacaDecodeError) -> [AlpacaFillActivity] {
        guard let items = json.arrayValue, items.count <= 10_000 else { throw AlpacaDecodeError("activities is not an array") }
        var out: [AlpacaFillActivity] = []
        for item in items {
            let f = try AlpacaFields(item, "activity")
            guard try f.string("activity_type") == "FILL" else { continue }
            let id = try f.string("id")
            guard AlpacaRequests.isActivityID(id) else { throw AlpacaDecodeError("activity.id is not an activity id") }
            func shares(_ key: String) throws(AlpacaDecodeError) -> Quantity {
                guard let q = try f.decimal(key).wholeShares, q.shares >= 0 else {
                    throw AlpacaDecodeError("activity.\(key) is not whole shares")
                }
                return q
            }
            guard let price = try f.decimal("price").exactPrice, price.isPositive else { throw AlpacaDecodeError("activity.price") }
            guard let time = try f.time("transaction_time") else { throw AlpacaDecodeError("activity.transaction_time is missing") }
            let qty = try shares("qty")
            guard qty.shares > 0 else { throw AlpacaDecodeError("activity.qty is zero") }
            out.append(
                AlpacaFillActivity(
                    id: id, orderID: try f.orderID("order_id"), symbol: try f.symbol("symbol"), side: try f.side("side"), quantity: qty,
                    price: price, cumulativeQuantity: try shares("cum_qty"), leavesQuantity: try shares("leaves_qty"),
                    transactionTime: time, type: String((try f.optionalString("type") ?? "fill").prefix(20))))
        }
        return out
    }
}

/// Alpaca's error body, `{"code": <8 digits>, "message": "…"}`; a body that is not JSON keeps a
/// bounded, printable piece of its text as the message.
public struct AlpacaAPIError: Sendable, Equatable, CustomStringConvertible {
    public var code: Int64?
    public var message: String

    public init(code: Int64?, message: String) {
        self.code = code
        self.message = message
    }

    public static func decode(_ body: [UInt8]) -> AlpacaAPIError {
        if let json = try? AlpacaJSONParser.parse(body), case .object = json {
            return AlpacaAPIError(code: json["code"]?.integerValue, message: clean(json["message"]?.stringValue ?? ""))
        }
        return AlpacaAPIError(code: nil, message: clean(String(decoding: body.prefix(200), as: UTF8.self)))
    }

    static func clean(_ s: String) -> String {
        String(s.unicodeScalars.prefix(200).map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
    }

    /// Whether it is the refusal of a `client_order_id` already used (as reported by clients:
    /// 422 code 40010001 "client_order_id must be unique"; undocumented, so matched loosely).
    public var isDuplicateClientOrderID: Bool {
        let m = message.lowercased()
        let names = ["client_order_id", "client order id", "client-order-id", "clientorderid"]
        return names.contains { m.contains($0) } && (m.contains("unique") || m.contains("exist") || m.contains("duplicate"))
    }

    public var description: String { code.map { "\($0) \(message)" } ?? message }
}
