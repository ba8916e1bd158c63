import ASTCore

/// An HTTP method of the Trading API.
public enum AlpacaMethod: String, Sendable, Equatable {
    case get = "GET"
    case post = "POST"
    case patch = "PATCH"
    case delete = "DELETE"
}

/// One Trading API request as the shell sends it: method, path with its query (relative to the
/// base URL, starting `/v2/`), and a JSON body. The credentials are not in it: the shell adds the
/// `APCA-API-KEY-ID` and `APCA-API-SECRET-KEY` headers, so a request can be logged and journaled.
public struct AlpacaRequest: Sendable, Equatable, CustomStringConvertible {
    public var method: AlpacaMethod
    public var path: String
    public var body: String?

    public init(method: AlpacaMethod, path: String, body: String? = nil) {
        self.method = method
        self.path = path
        self.body = body
    }

    public var description: String { "\(method.rawValue) \(path)" }
}

/// Why AST refuses to build a request: the order breaks a rule Alpaca documents (and would refuse
/// with a 422), or a value is out of range. Checked before anything is sent.
public struct AlpacaRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "alpaca request refused: \(reason)" }
}

/// The `status` filter of an order listing.
public enum AlpacaOrderListStatus: String, Sendable, Equatable {
    case open, closed, all
}

/// `GET /v2/orders` parameters: `status`, `limit` (1 ... 500), `after`/`until` (exclusive, on
/// submission time), `direction`, `nested`.
public struct AlpacaOrderQuery: Sendable, Equatable {
    public var status: AlpacaOrderListStatus
    public var limit: Int
    public var after: Timestamp?
    public var until: Timestamp?
    public var ascending: Bool
    public var nested: Bool

    public init(
        status: AlpacaOrderListStatus = .all, limit: Int = 500, after: Timestamp? = nil, until: Timestamp? = nil, ascending: Bool = true,
        nested: Bool = true
    ) {
        self.status = status
        self.limit = limit
        self.after = after
        self.until = until
        self.ascending = ascending
        self.nested = nested
    }
}

/// Builds every Trading API request AST sends, checking each against Alpaca's documented rules.
public enum AlpacaRequests {
    /// The most characters of a `client_order_id`: the current Trading API reference says 128
    /// (older pages said 48); AST's ``ClientOrderID`` is at most 128 too.
    public static let maxClientOrderIDLength = 128
    /// The largest bracket quantity AST sends (a bound, far above any swing position).
    public static let maxShares: Int64 = 10_000_000
    /// The largest price AST sends: $1,000,000 a share.
    public static let maxPrice = Price(units: 1_000_000 * 10_000)
    /// Alpaca's `limit` cap for order listings.
    public static let maxListLimit = 500
    /// Alpaca's `page_size` cap for activities without a `date`.
    public static let maxActivityPageSize = 100

    /// `GET /v2/account`.
    public static func account() -> AlpacaRequest { AlpacaRequest(method: .get, path: "/v2/account") }

    /// `GET /v2/positions`.
    public static func positions() -> AlpacaRequest { AlpacaRequest(method: .get, path: "/v2/positions") }

    /// `GET /v2/orders/{id}?nested=true`: one order with its legs.
    public static func order(id: String, nested: Bool = true) throws(AlpacaRequestError) -> AlpacaRequest {
        guard isOrderID(id) else { throw AlpacaRequestError("order id \(show(id)) is not an Alpaca order id") }
        return AlpacaRequest(method: .get, path: "/v2/orders/\(id)" + (nested ? "?nested=true" : ""))
    }

    /// `GET /v2/orders:by_client_order_id?client_order_id=…`: the order AST named, or a 404.
    public static func order(clientOrderID: ClientOrderID) throws(AlpacaRequestError) -> AlpacaRequest {
        try checkClientOrderID(clientOrderID)
        return AlpacaRequest(method: .get, path: "/v2/orders:by_client_order_id?client_order_id=\(percentEncode(clientOrderID.rawValue))")
    }

    /// `DELETE /v2/orders/{id}`: a cancel request (204 accepted, 404 unknown, 422 not cancelable).
    public static func cancel(id: String) throws(AlpacaRequestError) -> AlpacaRequest {
        guard isOrderID(id) else { throw AlpacaRequestError("order id \(show(id)) is not an Alpaca order id") }
        return AlpacaRequest(method: .delete, path: "/v2/orders/\(id)")
    }

    /// `GET /v2/orders?…`.
    public static func listOrders(_ q: AlpacaOrderQuery) throws(AlpacaRequestError) -> AlpacaRequest {
        guard (1...maxListLimit).contains(q.limit) else { throw AlpacaRequestError("limit \(q.limit) is not in 1...\(maxListLimit)") }
        var query = ["status=\(q.status.rawValue)", "limit=\(q.limit)", "direction=\(q.ascending ? "asc" : "desc")"]
        if let after = q.after { query.append("after=\(percentEncode(AlpacaTime.format(after)))") }
        if let until = q.until { query.append("until=\(percentEncode(AlpacaTime.format(until)))") }
        if q.nested { query.append("nested=true") }
        return AlpacaRequest(method: .get, path: "/v2/orders?" + query.joined(separator: "&"))
    }

    /// `GET /v2/account/activities?activity_types=FILL…`: fills for reconciliation, oldest first
    /// after `after`, paged by `page_token` (the id of the last activity of the previous page).
    public static func fillActivities(after: Timestamp?, pageToken: String?, pageSize: Int = 100) throws(AlpacaRequestError)
        -> AlpacaRequest
    {
        guard (1...maxActivityPageSize).contains(pageSize) else {
            throw AlpacaRequestError("page_size \(pageSize) is not in 1...\(maxActivityPageSize)")
        }
        var query = ["activity_types=FILL", "direction=asc", "page_size=\(pageSize)"]
        if let after { query.append("after=\(percentEncode(AlpacaTime.format(after)))") }
        if let pageToken {
            guard isActivityID(pageToken) else { throw AlpacaRequestError("page token \(show(pageToken)) is not an activity id") }
            query.append("page_token=\(percentEncode(pageToken))")
        }
        return AlpacaRequest(method: .get, path: "/v2/account/activities?" + query.joined(separator: "&"))
    }

    /// `POST /v2/orders` with `order_class=bracket`: the entry with its take-profit limit and
    /// stop-loss, `client_order_id` = the entry's AST client order id.
    ///
    /// Refuses what Alpaca documents it would refuse, so that nothing goes out that can only
    /// come back as a 422: both exits present and on the other side, whole shares, `day`/`gtc`,
    /// prices above zero on the tick (whole cents at or above $1, 1/10,000 below), a buy's
    /// take-profit above its stop (a sell's below), and the stop more than $0.01 beyond a limit
    /// entry's price (Alpaca's words: "stop price must be less than base_price - 0.01").
    public static func submitBracket(_ bracket: BracketOrder) throws(AlpacaRequestError) -> AlpacaRequest {
        let entry = bracket.entry
        guard let stop = bracket.stopLoss else { throw AlpacaRequestError("a bracket needs a stop loss (stop_loss.stop_price)") }
        guard let target = bracket.takeProfit else {
            throw AlpacaRequestError("a bracket needs a take profit (take_profit.limit_price)")
        }
        try checkClientOrderID(entry.clientOrderID)
        guard entry.leg == .entry, stop.leg == .stopLoss, target.leg == .takeProfit else {
            throw AlpacaRequestError("bracket legs are not entry, stop loss and take profit")
        }
        guard stop.symbol == entry.symbol, target.symbol == entry.symbol else {
            throw AlpacaRequestError("bracket legs name other symbols")
        }
        guard stop.side == entry.side.opposite, target.side == entry.side.opposite else {
            throw AlpacaRequestError("bracket exits must be on the other side of the entry")
        }
        guard entry.quantity.shares > 0, entry.quantity.shares <= maxShares else {
            throw AlpacaRequestError("quantity \(entry.quantity) is not in 1...\(maxShares) shares")
        }
        guard stop.quantity == entry.quantity, target.quantity == entry.quantity else {
            throw AlpacaRequestError("bracket exits must cover the entry's quantity (Alpaca sizes the legs from it)")
        }
        guard entry.timeInForce == .day || entry.timeInForce == .gtc else { throw AlpacaRequestError("time_in_force must be day or gtc") }
        var body: [(String, String)] = [
            ("symbol", AlpacaJSONWriter.quote(entry.symbol.rawValue)),
            ("qty", AlpacaJSONWriter.quote(String(entry.quantity.shares))),
            ("side", AlpacaJSONWriter.quote(entry.side.rawValue)),
        ]
        let entryLimit: Price?
        switch entry.type {
        case .market:
            entryLimit = nil
            body.append(("type", #""market""#))
        case .limit:
            guard let limit = entry.limitPrice else { throw AlpacaRequestError("a limit entry needs its limit price") }
            try checkPrice(limit, "limit_price")
            entryLimit = limit
            body.append(("type", #""limit""#))
            body.append(("limit_price", AlpacaJSONWriter.quote(limit.description)))
        case .stop, .stopLimit:
            throw AlpacaRequestError("AST sends bracket entries as market or limit orders (got \(entry.type.rawValue))")
        }
        guard target.type == .limit, let takeProfit = target.limitPrice else {
            throw AlpacaRequestError("the take profit must be a limit order with its price")
        }
        try checkPrice(takeProfit, "take_profit.limit_price")
        guard stop.type == .stop || stop.type == .stopLimit, let stopPrice = stop.stopPrice else {
            throw AlpacaRequestError("the stop loss must be a stop or stop-limit order with its stop price")
        }
        try checkPrice(stopPrice, "stop_loss.stop_price")
        var stopMembers = [("stop_price", AlpacaJSONWriter.quote(stopPrice.description))]
        if stop.type == .stopLimit {
            guard let stopLimit = stop.limitPrice else { throw AlpacaRequestError("a stop-limit stop loss needs its limit price") }
            try checkPrice(stopLimit, "stop_loss.limit_price")
            stopMembers.append(("limit_price", AlpacaJSONWriter.quote(stopLimit.description)))
        }
        let cent = Price(units: 100)
        if entry.side == .buy {
            guard takeProfit > stopPrice else { throw AlpacaRequestError("a buy bracket's take profit must be above its stop") }
            if let entryLimit, stopPrice >= (try? entryLimit.subtracting(cent)) ?? entryLimit {
                throw AlpacaRequestError("stop price must be less than base_price - 0.01 (stop \(stopPrice), limit \(entryLimit))")
            }
        } else {
            guard takeProfit < stopPrice else { throw AlpacaRequestError("a sell bracket's take profit must be below its stop") }
            if let entryLimit, stopPrice <= (try? entryLimit.adding(cent)) ?? entryLimit {
                throw AlpacaRequestError("stop price must be greater than base_price + 0.01 (stop \(stopPrice), limit \(entryLimit))")
            }
        }
        body += [
            ("time_in_force", AlpacaJSONWriter.quote(entry.timeInForce.rawValue)),
            ("order_class", #""bracket""#),
            ("client_order_id", AlpacaJSONWriter.quote(entry.clientOrderID.rawValue)),
            ("extended_hours", "false"),
            ("take_profit", AlpacaJSONWriter.object([("limit_price", AlpacaJSONWriter.quote(takeProfit.description))])),
            ("stop_loss", AlpacaJSONWriter.object(stopMembers)),
        ]
        return AlpacaRequest(method: .post, path: "/v2/orders", body: AlpacaJSONWriter.object(body))
    }

    /// Alpaca's price increments: above zero, at most $1,000,000, whole cents at or above $1.00,
    /// 1/10,000 below (finer than that AST cannot hold anyway).
    public static func checkPrice(_ p: Price, _ field: String) throws(AlpacaRequestError) {
        guard p.isPositive else { throw AlpacaRequestError("\(field) \(p) must be > 0") }
        guard p <= maxPrice else { throw AlpacaRequestError("\(field) \(p) is above \(maxPrice)") }
        if p.units >= 10_000, p.units % 100 != 0 {
            throw AlpacaRequestError("invalid \(field) \(p). sub-penny increment does not fulfill minimum pricing criteria")
        }
    }

    static func checkClientOrderID(_ id: ClientOrderID) throws(AlpacaRequestError) {
        guard id.rawValue.utf8.count <= maxClientOrderIDLength else {
            throw AlpacaRequestError("client_order_id is longer than \(maxClientOrderIDLength) characters")
        }
    }

    /// Alpaca order ids are UUIDs; accepted: 1 to 64 hex digits and dashes.
    public static func isOrderID(_ text: String) -> Bool {
        let b = text.utf8
        return (1...64).contains(b.count) && b.allSatisfy { isHex($0) || $0 == UInt8(ascii: "-") }
    }

    /// Activity ids look like `20190524113406977::8efc7b9a-…`: digits, `:`, hex and dashes.
    public static func isActivityID(_ text: String) -> Bool {
        let b = text.utf8
        return (1...96).contains(b.count) && b.allSatisfy { isHex($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ":") }
    }

    static func isHex(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
            || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F"))
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters.
    public static func percentEncode(_ text: String) -> String {
        var out = ""
        for c in text.utf8 {
            let unreserved =
                (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
                || c == UInt8(ascii: "_") || c == UInt8(ascii: "~")
            if unreserved {
                out.unicodeScalars.append(Unicode.Scalar(c))
            } else {
                let hex = String(c, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return out
    }

    /// A value from outside shown in a message: at most 40 characters, quoted.
    static func show(_ text: String) -> String {
        "\"" + String(text.unicodeScalars.prefix(40).map { $0.value < 0x20 || $0.value > 0x7E ? "?" : Character($0) }) + "\""
    }
}

/// Pages through `GET /v2/orders` to close a gap: Alpaca has no cursor, so it asks
/// `status=all&direction=asc&nested=true&after=T`, first with T = the last event journaled minus a
/// margin (the server's time precision is undocumented), then with T just under the newest
/// `submitted_at` seen (`after` is exclusive, and orders may share a time), de-duplicating by id.
/// A full page that brings nothing new, a page without times, or more than `maxPages` pages leaves
/// the listing ``isComplete`` false: the caller must not trust it (stay HALTED).
public struct AlpacaOrderPager: Sendable {
    public let pageSize: Int
    public let maxPages: Int
    private var cursor: Timestamp?
    private var pages = 0
    private var seen: Set<String> = []
    public private(set) var orders: [AlpacaOrder] = []
    public private(set) var isDone = false
    public private(set) var isComplete = false

    public init(since: Timestamp?, margin: Duration = .seconds(1), pageSize: Int = AlpacaRequests.maxListLimit, maxPages: Int = 100) {
        cursor = since.map { $0.advanced(by: .zero - margin) }
        self.pageSize = min(max(pageSize, 1), AlpacaRequests.maxListLimit)
        self.maxPages = max(maxPages, 1)
    }

    /// The next listing to send, or nil when done.
    public func nextRequest() -> AlpacaRequest? {
        guard !isDone else { return nil }
        return try? AlpacaRequests.listOrders(AlpacaOrderQuery(status: .all, limit: pageSize, after: cursor, ascending: true, nested: true))
    }

    /// Takes in one page's orders.
    public mutating func received(_ page: [AlpacaOrder]) {
        guard !isDone else { return }
        pages += 1
        var fresh = 0
        for o in page where seen.insert(o.id).inserted {
            orders.append(o)
            fresh += 1
        }
        if page.count < pageSize {
            isDone = true
            isComplete = true
            return
        }
        guard fresh > 0, pages < maxPages, let newest = page.compactMap(\.submittedAt).max(), page.allSatisfy({ $0.submittedAt != nil })
        else {
            isDone = true
            return
        }
        cursor = newest.advanced(by: .nanoseconds(-1))
    }
}
