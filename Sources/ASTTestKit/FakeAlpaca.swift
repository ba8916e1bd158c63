import ASTCore
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import Synchronization

/// A fake of an outside service: Alpaca's Trading API (the endpoints AST uses) and its
/// `trade_updates` WebSocket, for tests only.
///
/// It is written from Alpaca's public documentation (docs.alpaca.markets: orders, order entity,
/// account, positions, account activities, websocket streaming) and, where the documentation is
/// silent, from what Alpaca's own SDKs and public issue threads show; those points are marked
/// UNCONFIRMED below and can be changed per test. It is no evidence of how the real service behaves.
///
/// REST over HTTPS on loopback (certificate made at test time): every `/v2/*` call needs
/// `APCA-API-KEY-ID` and `APCA-API-SECRET-KEY` (else 401, body code UNCONFIRMED); every answer
/// carries `X-Ratelimit-Limit`, `-Remaining` and `-Reset` (Unix seconds; from a forum answer) and
/// a request over the budget (200 a minute per key by default) gets a 429 (body UNCONFIRMED).
/// - `POST /v2/orders`: simple or `bracket` orders. A bracket needs `take_profit.limit_price` and
///   `stop_loss.stop_price` (422), whole shares, `day`/`gtc`, no extended hours, prices on the tick
///   (whole cents at or above $1: 422 code 42210000 "… sub-penny increment …"), a buy's take profit
///   above its stop and the stop under the entry's limit by at least $0.01 (a sell: the reverse).
///   A `client_order_id` used before, also by a cancelled order, is refused: 422 code 40010001
///   "client_order_id must be unique" (UNCONFIRMED: reported by clients). Over the buying power:
///   403 code 40310000. The answer is the Order without legs (whether Alpaca fills them in is
///   UNCONFIRMED). A bracket makes three orders: the entry (`new`), the take profit (`new`,
///   inactive until the entry fills) and the stop loss (`held`).
/// - `GET /v2/orders` (`status` open|closed|all, `limit` ≤ 500, exclusive `after`/`until` on
///   `submitted_at`, `direction`, `nested`), `GET /v2/orders/{id}[?nested=true]`,
///   `GET /v2/orders:by_client_order_id` (404 code 40410000), `DELETE /v2/orders/{id}` (204, then
///   the group is cancelled and streamed; 404; 422 when not cancelable), `GET /v2/positions`,
///   `GET /v2/account` (`account_number` `PA…`, as paper accounts are seen), and
///   `GET /v2/account/activities?activity_types=FILL` (`after`, `direction`, `page_size` ≤ 100,
///   `page_token` = the last id of the previous page; ids `<17-digit time>::<uuid>`).
/// - `PATCH /v2/orders/{id}` (replace: `qty`, `limit_price`, `stop_price`, `time_in_force`,
///   `client_order_id`; each given overrides, the rest stays): the answer is the new order (a new
///   id, `replaces` = the old one); the old order ends `replaced` with `replaced_by`, and a leg's
///   replacement takes its place in the bracket. 404 for an unknown order, 422 for an order not open
///   or in a status the reference lists as not replaceable (`accepted`, `pending_new`,
///   `pending_cancel`, `pending_replace`), for a price the order type does not have, a quantity under
///   what is filled, or a lone `client_order_id` (codes UNCONFIRMED). The stream then sends
///   `replaced` with the old order (UNCONFIRMED: which order the event carries) and, for a working
///   replacement, `new` with the new one. ``refuseReplaces(_:)`` makes the next ones refused (422).
///
/// The stream at `/stream`: `authenticate` with `key_id`/`secret_key` answered by `authorization`
/// (`authorized` or `unauthorized`), `listen` answered by `listening`, then `trade_updates`
/// messages in **binary** frames as the documentation says paper sends them (text frames as an
/// option); fills carry `price`, `qty`, `position_qty`, `execution_id`. A second session while
/// one is open is refused with HTTP 429 (SDK comment, UNCONFIRMED). There is no replay: events
/// while no session listens are lost, as documented. Paper fills are simulated by Alpaca too, and
/// tests drive them here: ``fill(orderID:quantity:price:streamed:)`` fills in parts,
/// ``brokerCancel(orderID:streamed:)`` cancels as the broker would (silently if asked: the
/// held-leg cancel that Alpaca may not stream), ``dropStreams()`` cuts every session mid-flow.
public final class FakeAlpacaServer: Sendable {
    /// How the fake answers one `POST /v2/orders`.
    public enum Behaviour: Sendable, Equatable {
        /// As documented: validates, creates or refuses.
        case normal
        /// `429` with the rate-limit headers; nothing is created.
        case rateLimited
        /// A 5xx; nothing is created.
        case serverError(status: Int)
        /// Creates the order, then closes the connection without answering (a POST whose reply is lost).
        case acceptThenClose
        /// Creates the order and answers after `delay` (time to kill the client in between).
        case acceptSlowly(Duration)
    }

    /// One order as the fake holds it.
    public struct Order: Sendable, Equatable {
        public var id: String
        public var clientOrderID: String
        public var symbol: String
        public var side: String
        public var type: String
        public var timeInForce: String
        public var orderClass: String
        public var quantity: Int64
        public var filledQuantity: Int64 = 0
        /// Sum of price units (1/10,000 $) times shares filled, for the average.
        public var filledValue: Int64 = 0
        public var limitPrice: Price?
        public var stopPrice: Price?
        public var status: String
        public var submittedAt: Int64
        public var updatedAt: Int64
        public var filledAt: Int64?
        /// The entry's id for a leg.
        public var parent: String?
        public var legs: [String] = []
        /// A replaced order's replacement.
        public var replacedBy: String?
        /// A replacement's replaced order.
        public var replaces: String?

        public var isTerminal: Bool { ["filled", "canceled", "expired", "rejected", "replaced"].contains(status) }
    }

    /// One fill activity.
    struct Activity {
        var id: String
        var orderID: String
        var symbol: String
        var side: String
        var qty: Int64
        var price: Price
        var cum: Int64
        var leaves: Int64
        var at: Int64
    }

    struct Session {
        var channel: any Channel
        var authorized = false
        var listening = false
    }

    struct State {
        var orders: [String: Order] = [:]
        var order: [String] = []
        var usedClientIDs: Set<String> = []
        var activities: [Activity] = []
        var script: [Behaviour] = []
        var posts = 0
        var requests: [String] = []
        var lastTime: Int64 = 0
        var counter: UInt64 = 0
        var windowStart: Int64 = 0
        var windowCount: Int64 = 0
        var sessions: [ObjectIdentifier: Session] = [:]
        var sessionCount = 0
        var streamedEvents: [String] = []
        var cash = Price(units: 1_000_000 * 10_000)
        var pending: [String] = []
        /// Sessions gone silent (``silenceStreams()``): they get nothing, answer nothing.
        var silent: Set<ObjectIdentifier> = []
        /// Replaces still to refuse with a 422 (``refuseReplaces(_:)``).
        var refuseReplaces = 0
        var patches = 0
    }

    let keyID: String
    let secretKey: String
    /// Requests a minute per key before 429s.
    public let rateLimit: Int64
    /// Whether trade updates go in text frames instead of binary ones.
    public let textFrames: Bool
    let state = Mutex(State())
    /// The market-data endpoint's bars and script (FakeAlpacaBars.swift).
    let barsState = Mutex(FakeAlpacaBars())
    let channel: any Channel
    public let port: Int
    /// `https://127.0.0.1:<port>`.
    public var baseURL: String { "https://127.0.0.1:\(port)" }

    /// Starts listening on 127.0.0.1 with `certificate` and `key` (PEM files), accepting one key pair.
    public init(
        keyID: String, secretKey: String, certificate: String, key: String, rateLimit: Int64 = 200, textFrames: Bool = false,
        port: Int = 0
    ) async throws {
        self.keyID = keyID
        self.secretKey = secretKey
        self.rateLimit = rateLimit
        self.textFrames = textFrames
        let chain = try NIOSSLCertificate.fromPEMFile(certificate)
        let context = try NIOSSLContext(
            configuration: .makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))))
        let box = Mutex<FakeAlpacaServer?>(nil)
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard let server = box.withLock({ $0 }) else {
                    return channel.eventLoop.makeFailedFuture(HarnessError("fake Alpaca not ready"))
                }
                let upgrader = NIOWebSocketServerUpgrader(
                    maxFrameSize: 1 << 20,
                    shouldUpgrade: { channel, head in
                        let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
                        // One session per account: a second handshake is refused (429) while one is open.
                        let busy = server.state.withLock { !$0.sessions.isEmpty }
                        return channel.eventLoop.makeSucceededFuture(path == "/stream" && !busy ? HTTPHeaders() : nil)
                    },
                    upgradePipelineHandler: { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(FakeAlpacaStreamHandler(server: server))
                        }
                    })
                let http = FakeAlpacaHTTPHandler(server: server)
                let bound = NIOLoopBound(http, eventLoop: channel.eventLoop)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                }.flatMap {
                    // After an upgrade to a WebSocket the request handler leaves the pipeline.
                    channel.pipeline.configureHTTPServerPipeline(
                        withServerUpgrade: (
                            upgraders: [upgrader],
                            completionHandler: { context in context.pipeline.syncOperations.removeHandler(bound.value, promise: nil) }
                        ))
                }.flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(bound.value)
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        self.port = channel.localAddress?.port ?? port
        box.withLock { $0 = self }
    }

    /// Stops listening and closes every stream session.
    public func stop() async {
        dropStreams()
        try? await channel.close()
    }

    // MARK: test controls

    /// The next `POST /v2/orders` are answered, in order, as `behaviours` say; then normally.
    public func script(_ behaviours: [Behaviour]) { state.withLock { $0.script += behaviours } }

    /// Every order, in creation order.
    public var orders: [Order] { state.withLock { s in s.order.compactMap { s.orders[$0] } } }
    /// The order whose client order id is `id`, if any.
    public func order(clientOrderID id: String) -> Order? { orders.first { $0.clientOrderID == id } }
    /// The next `count` `PATCH /v2/orders/{id}` are refused with a 422 and change nothing (the
    /// server's own refusal, whatever the reason).
    public func refuseReplaces(_ count: Int) { state.withLock { $0.refuseReplaces += count } }
    /// `PATCH /v2/orders/{id}` requests received.
    public var patches: Int { state.withLock { $0.patches } }
    /// The order whose id is `id`, if any.
    public func order(id: String) -> Order? { state.withLock { $0.orders[id] } }
    /// `POST /v2/orders` requests received.
    public var posts: Int { state.withLock { $0.posts } }
    /// `METHOD path` of every request received, in order.
    public var requests: [String] { state.withLock { $0.requests } }
    /// The `event` of every trade update sent to a listening session, as `event:client_order_id`.
    public var streamedEvents: [String] { state.withLock { $0.streamedEvents } }
    /// Open stream sessions (authorized or not).
    public var sessions: Int { state.withLock { $0.sessions.count } }
    /// Stream sessions ever opened.
    public var sessionsOpened: Int { state.withLock { $0.sessionCount } }

    /// Fills `quantity` shares of order `orderID` at `price` (a partial fill unless it completes
    /// the order). An entry that completes activates its legs (the stop loss leaves `held`); a
    /// leg that completes cancels its sibling. `streamed: false` leaves the event out of the
    /// stream (as if it happened while no session listened).
    public func fill(orderID: String, quantity: Int64, price: Price, streamed: Bool = true) {
        let events: [String] = state.withLock { s in
            guard var o = s.orders[orderID], !o.isTerminal, quantity > 0, o.filledQuantity + quantity <= o.quantity else { return [] }
            let now = Self.tick(&s)
            o.filledQuantity += quantity
            o.filledValue += price.units * quantity
            o.status = o.filledQuantity == o.quantity ? "filled" : "partially_filled"
            o.updatedAt = now
            if o.status == "filled" { o.filledAt = now }
            s.orders[orderID] = o
            let sign: Int64 = o.side == "buy" ? -1 : 1
            s.cash = Price(units: s.cash.units + sign * price.units * quantity)
            let position = Self.position(s, o.symbol)
            let execution = Self.uuid(&s)
            s.activities.append(
                Activity(
                    id: "\(Self.activityTime(now))::\(Self.uuid(&s))", orderID: o.id, symbol: o.symbol, side: o.side, qty: quantity,
                    price: price, cum: o.filledQuantity, leaves: o.quantity - o.filledQuantity, at: now))
            var events = [
                Self.update(
                    s, event: o.status == "filled" ? "fill" : "partial_fill", orderID: orderID, now: now,
                    extra: #","price":"\#(price)","qty":"\#(quantity)","position_qty":"\#(position)","execution_id":"\#(execution)""#)
            ]
            if o.status == "filled" {
                if o.parent == nil {
                    for leg in o.legs where s.orders[leg]?.status == "held" {
                        s.orders[leg]?.status = "new"
                        s.orders[leg]?.updatedAt = now
                        events.append(Self.update(s, event: "new", orderID: leg, now: now, extra: ""))
                    }
                } else if let parent = o.parent, let siblings = s.orders[parent]?.legs {
                    for leg in siblings where leg != orderID && !(s.orders[leg]?.isTerminal ?? true) {
                        s.orders[leg]?.status = "canceled"
                        s.orders[leg]?.updatedAt = now
                        events.append(Self.update(s, event: "canceled", orderID: leg, now: now, extra: ""))
                    }
                }
            }
            return streamed ? events : []
        }
        broadcast(events)
    }

    /// Cancels `orderID` as the broker would (a venue cancel, an expired day order). Only that
    /// order; `streamed: false` sends no event (the held-leg cancel Alpaca may not stream).
    public func brokerCancel(orderID: String, streamed: Bool = true) {
        let events: [String] = state.withLock { s in
            guard s.orders[orderID].map({ !$0.isTerminal }) ?? false else { return [] }
            let now = Self.tick(&s)
            s.orders[orderID]?.status = "canceled"
            s.orders[orderID]?.updatedAt = now
            return streamed ? [Self.update(s, event: "canceled", orderID: orderID, now: now, extra: "")] : []
        }
        broadcast(events)
    }

    /// Rejects an accepted order after the fact (the venue refused it): status `rejected`, and the group with it.
    public func brokerReject(orderID: String) {
        let events: [String] = state.withLock { s in
            guard let o = s.orders[orderID], !o.isTerminal else { return [] }
            let now = Self.tick(&s)
            var events: [String] = []
            for id in [orderID] + o.legs where !(s.orders[id]?.isTerminal ?? true) {
                s.orders[id]?.status = id == orderID ? "rejected" : "canceled"
                s.orders[id]?.updatedAt = now
                events.append(Self.update(s, event: id == orderID ? "rejected" : "canceled", orderID: id, now: now, extra: ""))
            }
            return events
        }
        broadcast(events)
    }

    /// Makes every open stream session a half-open connection: from now on it gets no event and
    /// no pong, and what its client sends is not answered, yet the socket stays open (only the
    /// client's keep-alive can tell). Events meanwhile are lost for it, as for a dropped session;
    /// sessions opened later work normally.
    public func silenceStreams() {
        state.withLock { s in s.silent.formUnion(s.sessions.keys) }
    }

    /// Whether stream session `channel` was silenced.
    func isSilent(_ channel: any Channel) -> Bool { state.withLock { $0.silent.contains(ObjectIdentifier(channel)) } }

    /// Closes every stream session at once, without a close frame (a dropped connection).
    public func dropStreams() {
        let channels = state.withLock { s in
            defer { s.sessions = [:] }
            return s.sessions.values.map(\.channel)
        }
        for c in channels { c.close(promise: nil) }
    }

    // MARK: REST

    struct Answer: Error {
        var status: HTTPResponseStatus
        var body: String
        var close = false
        var delay: Duration? = nil
        /// Headers besides the rate-limit ones (a 429's `Retry-After`).
        var headers: [(String, String)] = []
    }

    static func error(_ status: Int, _ code: Int, _ message: String) -> Answer {
        Answer(status: HTTPResponseStatus(statusCode: status), body: #"{"code":\#(code),"message":\#(quote(message))}"#)
    }

    /// The rate-limit headers after counting this request, and whether it is over the budget.
    func countRequest() -> (over: Bool, headers: [(String, String)]) {
        state.withLock { s in
            let now = Int64(Date().timeIntervalSince1970)
            if now >= s.windowStart + 60 {
                s.windowStart = now
                s.windowCount = 0
            }
            s.windowCount += 1
            let remaining = max(0, rateLimit - s.windowCount)
            return (
                s.windowCount > rateLimit,
                [
                    ("X-Ratelimit-Limit", String(rateLimit)), ("X-Ratelimit-Remaining", String(remaining)),
                    ("X-Ratelimit-Reset", String(s.windowStart + 60)),
                ]
            )
        }
    }

    func answer(method: HTTPMethod, uri: String, headers: HTTPHeaders, body: [UInt8]) -> Answer {
        let parts = uri.split(separator: "?", maxSplits: 1)
        let path = parts.first.map(String.init) ?? uri
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                if kv.count == 2 { query[kv[0]] = kv[1] }
            }
        }
        state.withLock { $0.requests.append("\(method.rawValue) \(path)") }
        guard headers["APCA-API-KEY-ID"].first == keyID, headers["APCA-API-SECRET-KEY"].first == secretKey else {
            // Status and body of a bad key are UNCONFIRMED (401 with a JSON message assumed).
            return Self.error(401, 40110000, "request is not authorized")
        }
        switch (method, path) {
        case (.GET, "/v2/account"): return accountAnswer()
        case (.GET, "/v2/positions"): return positionsAnswer()
        case (.POST, "/v2/orders"): return submit(body)
        case (.GET, "/v2/orders"): return list(query)
        case (.GET, "/v2/orders:by_client_order_id"):
            return state.withLock { s in
                let orders = s.orders
                guard let id = query["client_order_id"], let o = s.order.compactMap({ orders[$0] }).first(where: { $0.clientOrderID == id })
                else { return Self.error(404, 40410000, "order not found") }
                return Answer(status: .ok, body: Self.json(s, o.id, nested: query["nested"] == "true"))
            }
        case (.GET, "/v2/account/activities"): return activities(query)
        case (.GET, "/v2/stocks/bars"): return barsAnswer(rawQuery: parts.count == 2 ? String(parts[1]) : "", query: query)
        default:
            if path.hasPrefix("/v2/orders/") {
                let id = String(path.dropFirst("/v2/orders/".count))
                if method == .GET {
                    return state.withLock { s in
                        guard s.orders[id] != nil else { return Self.error(404, 40410000, "order not found") }
                        return Answer(status: .ok, body: Self.json(s, id, nested: query["nested"] == "true"))
                    }
                }
                if method == .DELETE { return cancel(id) }
                if method == .PATCH { return replace(id, body) }
            }
            return Self.error(404, 40410000, "endpoint not found")
        }
    }

    func accountAnswer() -> Answer {
        state.withLock { s in
            var equity = s.cash.units
            for symbol in Set(s.orders.values.map(\.symbol)) {
                let (qty, avg) = Self.positionAndAverage(s, symbol)
                equity += qty * avg.units
            }
            return Answer(
                status: .ok,
                body:
                    #"{"id":"e6fe16f3-64a4-4921-8928-cadf02f92f98","account_number":"PA3G5ZX0M9BV","status":"ACTIVE","currency":"USD","cash":"\#(s.cash)","equity":"\#(Price(units: equity))","buying_power":"\#(s.cash)","trading_blocked":false,"account_blocked":false,"transfers_blocked":false,"trade_suspended_by_user":false,"shorting_enabled":false,"multiplier":"1","created_at":"2026-01-02T15:00:00Z"}"#
            )
        }
    }

    func positionsAnswer() -> Answer {
        state.withLock { s in
            let items = Set(s.orders.values.map(\.symbol)).sorted().compactMap { symbol -> String? in
                let (qty, avg) = Self.positionAndAverage(s, symbol)
                guard qty != 0 else { return nil }
                return
                    #"{"asset_id":"b0b6dd9d-8b9b-48a9-ba46-b9d54906e415","symbol":"\#(symbol)","exchange":"ARCA","asset_class":"us_equity","qty":"\#(abs(qty))","qty_available":"\#(abs(qty))","side":"\#(qty > 0 ? "long" : "short")","avg_entry_price":"\#(avg)","market_value":"\#(Price(units: qty * avg.units))","cost_basis":"\#(Price(units: qty * avg.units))"}"#
            }
            return Answer(status: .ok, body: "[" + items.joined(separator: ",") + "]")
        }
    }

    func submit(_ body: [UInt8]) -> Answer {
        let behaviour = state.withLock { s in
            s.posts += 1
            return s.script.isEmpty ? Behaviour.normal : s.script.removeFirst()
        }
        switch behaviour {
        case .rateLimited: return Self.error(429, 42910000, "rate limit exceeded")
        case .serverError(let status): return Self.error(status, 50010000, "internal server error")
        default: break
        }
        var answer = create(body)
        if behaviour == .acceptThenClose { answer.close = true }
        if case .acceptSlowly(let d) = behaviour { answer.delay = d }
        return answer
    }

    /// Validates and creates an order (and a bracket's legs).
    func create(_ body: [UInt8]) -> Answer {
        guard let json = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            return Self.error(400, 40010000, "request body format is invalid")
        }
        func text(_ k: String) -> String? { json[k] as? String }
        func price(_ v: Any?, _ field: String) -> Result<Price?, Answer> {
            guard let v else { return .success(nil) }
            guard let s = v as? String, let p = Price(s), p.isPositive else {
                return .failure(Self.error(422, 40010001, "\(field) must be > 0"))
            }
            if p.units >= 10_000, p.units % 100 != 0 {
                return .failure(
                    Self.error(422, 42210000, "invalid \(field) \(s). sub-penny increment does not fulfill minimum pricing criteria"))
            }
            return .success(p)
        }
        guard let symbol = text("symbol"), Symbol(validating: symbol) != nil else { return Self.error(422, 40010001, "invalid symbol") }
        guard let qtyText = text("qty"), let qty = Int64(qtyText), qty > 0 else {
            return Self.error(422, 40010001, "qty must be a positive whole number for this order")
        }
        guard let side = text("side"), side == "buy" || side == "sell" else { return Self.error(422, 40010001, "invalid side") }
        guard let type = text("type"), ["market", "limit", "stop", "stop_limit"].contains(type) else {
            return Self.error(422, 40010001, "invalid order type")
        }
        guard let tif = text("time_in_force"), ["day", "gtc", "opg", "cls", "ioc", "fok"].contains(tif) else {
            return Self.error(422, 40010001, "invalid time_in_force")
        }
        let orderClass = text("order_class") ?? "simple"
        guard ["simple", "", "bracket"].contains(orderClass) else {
            return Self.error(422, 40010001, "order_class not supported by the fake")
        }
        let limit: Price?
        let stop: Price?
        switch price(json["limit_price"], "limit_price") {
        case .failure(let a): return a
        case .success(let p): limit = p
        }
        switch price(json["stop_price"], "stop_price") {
        case .failure(let a): return a
        case .success(let p): stop = p
        }
        if (type == "limit" || type == "stop_limit") && limit == nil { return Self.error(422, 40010001, "limit_price is required") }
        if (type == "stop" || type == "stop_limit") && stop == nil { return Self.error(422, 40010001, "stop_price is required") }
        var takeProfit: Price? = nil
        var stopLoss: Price? = nil
        var stopLossLimit: Price? = nil
        if orderClass == "bracket" {
            let tp = json["take_profit"] as? [String: Any]
            let sl = json["stop_loss"] as? [String: Any]
            guard tp?["limit_price"] != nil else { return Self.error(422, 40010001, "bracket orders require take_profit.limit_price") }
            guard sl?["stop_price"] != nil else { return Self.error(422, 40010001, "bracket orders require stop_loss.stop_price") }
            guard tif == "day" || tif == "gtc" else { return Self.error(422, 40010001, "bracket orders must be day or gtc") }
            guard (json["extended_hours"] as? Bool) != true else {
                return Self.error(422, 40010001, "extended hours order must be DAY limit orders")
            }
            let legPrices: [(Any?, String, Int)] = [
                (tp?["limit_price"], "take_profit.limit_price", 0), (sl?["stop_price"], "stop_loss.stop_price", 1),
                (sl?["limit_price"], "stop_loss.limit_price", 2),
            ]
            for (value, field, slot) in legPrices {
                switch price(value, field) {
                case .failure(let a): return a
                case .success(let p):
                    if slot == 0 { takeProfit = p } else if slot == 1 { stopLoss = p } else { stopLossLimit = p }
                }
            }
            guard let takeProfit, let stopLoss else { return Self.error(422, 40010001, "bracket prices missing") }
            if side == "buy" {
                guard takeProfit > stopLoss else {
                    return Self.error(422, 40010001, "take_profit.limit_price must be > stop_loss.stop_price")
                }
                if let limit, stopLoss.units >= limit.units - 100 {
                    return Self.error(422, 42210000, "stop price must be less than base_price - 0.01")
                }
            } else {
                guard takeProfit < stopLoss else {
                    return Self.error(422, 40010001, "take_profit.limit_price must be < stop_loss.stop_price")
                }
                if let limit, stopLoss.units <= limit.units + 100 {
                    return Self.error(422, 42210000, "stop price must be greater than base_price + 0.01")
                }
            }
        }
        let clientID = text("client_order_id")
        if let clientID, clientID.isEmpty || clientID.utf8.count > 128 {
            return Self.error(422, 40010001, "client_order_id must be no more than 128 characters")
        }
        return state.withLock { s -> Answer in
            if let clientID, s.usedClientIDs.contains(clientID) { return Self.error(422, 40010001, "client_order_id must be unique") }
            let reference = limit ?? stop ?? Price(units: 100 * 10_000)
            if side == "buy", reference.units * qty > s.cash.units { return Self.error(403, 40310000, "insufficient buying power") }
            let now = Self.tick(&s)
            let id = Self.uuid(&s)
            let cid = clientID ?? Self.uuid(&s)
            s.usedClientIDs.insert(cid)
            var parent = Order(
                id: id, clientOrderID: cid, symbol: symbol, side: side, type: type, timeInForce: tif,
                orderClass: orderClass == "" ? "simple" : orderClass, quantity: qty, limitPrice: limit, stopPrice: stop, status: "new",
                submittedAt: now, updatedAt: now)
            var events: [String] = []
            if orderClass == "bracket" {
                let exitSide = side == "buy" ? "sell" : "buy"
                let tpID = Self.uuid(&s)
                let slID = Self.uuid(&s)
                let tpClient = Self.uuid(&s)
                let slClient = Self.uuid(&s)
                s.orders[tpID] = Order(
                    id: tpID, clientOrderID: tpClient, symbol: symbol, side: exitSide, type: "limit", timeInForce: tif,
                    orderClass: "bracket", quantity: qty, limitPrice: takeProfit, status: "new", submittedAt: now, updatedAt: now,
                    parent: id)
                s.orders[slID] = Order(
                    id: slID, clientOrderID: slClient, symbol: symbol, side: exitSide, type: stopLossLimit == nil ? "stop" : "stop_limit",
                    timeInForce: tif, orderClass: "bracket", quantity: qty, limitPrice: stopLossLimit, stopPrice: stopLoss, status: "held",
                    submittedAt: now, updatedAt: now, parent: id)
                s.usedClientIDs.formUnion([tpClient, slClient])
                parent.legs = [tpID, slID]
                s.orders[id] = parent
                s.order += [id, tpID, slID]
            } else {
                s.orders[id] = parent
                s.order.append(id)
            }
            events.append(Self.update(s, event: "new", orderID: id, now: now, extra: ""))
            s.pendingBroadcast(events)
            return Answer(status: .ok, body: Self.json(s, id, nested: false))
        }
    }

    func list(_ q: [String: String]) -> Answer {
        let status = q["status"] ?? "open"
        let limit = Int(q["limit"] ?? "50") ?? -1
        guard (1...500).contains(limit) else { return Self.error(422, 40010001, "limit must be between 1 and 500") }
        guard ["open", "closed", "all"].contains(status) else { return Self.error(422, 40010001, "invalid status") }
        let after = q["after"].flatMap(Self.parseTime)
        let until = q["until"].flatMap(Self.parseTime)
        let nested = q["nested"] == "true"
        let ascending = q["direction"] == "asc"
        return state.withLock { s in
            var items = s.order.compactMap { s.orders[$0] }.filter { o in
                if nested && o.parent != nil { return false }
                // A held leg is listed as closed (issue threads: it is not "open").
                let open = !o.isTerminal && o.status != "held"
                if status == "open" && !open { return false }
                if status == "closed" && open { return false }
                if let after, o.submittedAt <= after { return false }
                if let until, o.submittedAt >= until { return false }
                return true
            }
            items.sort { ascending ? $0.submittedAt < $1.submittedAt : $0.submittedAt > $1.submittedAt }
            return Answer(
                status: .ok, body: "[" + items.prefix(limit).map { Self.json(s, $0.id, nested: nested) }.joined(separator: ",") + "]")
        }
    }

    func cancel(_ id: String) -> Answer {
        let result: Answer = state.withLock { s in
            guard let o = s.orders[id] else { return Self.error(404, 40410000, "order not found") }
            guard !o.isTerminal else { return Self.error(422, 42210000, "order is not cancelable") }
            let now = Self.tick(&s)
            // Cancelling one order of a bracket cancels the rest of the group.
            let root = o.parent ?? id
            let group = [root] + (s.orders[root]?.legs ?? [])
            var events: [String] = []
            for member in group where !(s.orders[member]?.isTerminal ?? true) {
                s.orders[member]?.status = "canceled"
                s.orders[member]?.updatedAt = now
                events.append(Self.update(s, event: "canceled", orderID: member, now: now, extra: ""))
            }
            s.pendingBroadcast(events)
            return Answer(status: .noContent, body: "")
        }
        return result
    }

    /// Replaces an open order: a new order with the fields given, the old one `replaced`.
    func replace(_ id: String, _ body: [UInt8]) -> Answer {
        guard let json = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            return Self.error(400, 40010000, "request body format is invalid")
        }
        return state.withLock { s -> Answer in
            s.patches += 1
            guard let old = s.orders[id] else { return Self.error(404, 40410000, "order not found") }
            if s.refuseReplaces > 0 {
                s.refuseReplaces -= 1
                return Self.error(422, 42210000, "order is not replaceable (refused by the test)")
            }
            guard !old.isTerminal, !["accepted", "pending_new", "pending_cancel", "pending_replace"].contains(old.status) else {
                return Self.error(422, 42210000, "order is not replaceable in status \(old.status)")
            }
            let fields = ["qty", "limit_price", "stop_price", "time_in_force"]
            guard fields.contains(where: { json[$0] != nil }) else {
                return Self.error(422, 40010001, "client_order_id cannot be replaced alone")
            }
            var new = old
            if let q = json["qty"] {
                guard let text = q as? String, let qty = Int64(text), qty > 0, qty >= old.filledQuantity else {
                    return Self.error(422, 40010001, "qty must be a whole number of shares, at least what is filled")
                }
                new.quantity = qty
            }
            for (field, hasIt) in [
                ("limit_price", old.type == "limit" || old.type == "stop_limit"), ("stop_price", old.type.hasPrefix("stop")),
            ] {
                guard let v = json[field] else { continue }
                guard hasIt else { return Self.error(422, 40010001, "\(field) is not allowed for a \(old.type) order") }
                guard let text = v as? String, let p = Price(text), p.isPositive, p.units < 10_000 || p.units % 100 == 0 else {
                    return Self.error(422, 42210000, "invalid \(field). sub-penny increment does not fulfill minimum pricing criteria")
                }
                if field == "limit_price" { new.limitPrice = p } else { new.stopPrice = p }
            }
            if let tif = json["time_in_force"] {
                guard let t = tif as? String, ["day", "gtc"].contains(t) else { return Self.error(422, 40010001, "invalid time_in_force") }
                new.timeInForce = t
            }
            let now = Self.tick(&s)
            if let c = json["client_order_id"] {
                guard let cid = c as? String, !cid.isEmpty, cid.utf8.count <= 128, !s.usedClientIDs.contains(cid) else {
                    return Self.error(422, 40010001, "client_order_id must be unique")
                }
                new.clientOrderID = cid
            } else {
                new.clientOrderID = Self.uuid(&s)
            }
            s.usedClientIDs.insert(new.clientOrderID)
            new.id = Self.uuid(&s)
            new.status = old.status == "held" ? "held" : "new"
            new.filledQuantity = 0
            new.filledValue = 0
            new.submittedAt = now
            new.updatedAt = now
            new.replaces = id
            s.orders[id]?.status = "replaced"
            s.orders[id]?.replacedBy = new.id
            s.orders[id]?.updatedAt = now
            s.orders[new.id] = new
            s.order.append(new.id)
            if let parent = old.parent, let at = s.orders[parent]?.legs.firstIndex(of: id) { s.orders[parent]?.legs[at] = new.id }
            var events = [Self.update(s, event: "replaced", orderID: id, now: now, extra: "")]
            if new.status == "new" { events.append(Self.update(s, event: "new", orderID: new.id, now: now, extra: "")) }
            s.pendingBroadcast(events)
            return Answer(status: .ok, body: Self.json(s, new.id, nested: false))
        }
    }

    func activities(_ q: [String: String]) -> Answer {
        guard q["activity_types"]?.split(separator: ",").contains("FILL") ?? false else {
            return Self.error(422, 40010001, "the fake knows only FILL activities")
        }
        let size = Int(q["page_size"] ?? "100") ?? -1
        guard (1...100).contains(size) else { return Self.error(422, 40010001, "page_size must be between 1 and 100") }
        let after = q["after"].flatMap(Self.parseTime)
        let ascending = q["direction"] == "asc"
        return state.withLock { s in
            var items = s.activities.filter { a in after.map { a.at > $0 } ?? true }
            if !ascending { items.reverse() }
            if let token = q["page_token"], let at = items.firstIndex(where: { $0.id == token }) {
                items = Array(items[(at + 1)...])
            }
            let page = items.prefix(size).map { a in
                #"{"activity_type":"FILL","id":"\#(a.id)","transaction_time":"\#(Self.format(a.at))","type":"\#(a.leaves == 0 ? "fill" : "partial_fill")","price":"\#(a.price)","qty":"\#(a.qty)","side":"\#(a.side)","symbol":"\#(a.symbol)","leaves_qty":"\#(a.leaves)","cum_qty":"\#(a.cum)","order_id":"\#(a.orderID)","order_status":"\#(a.leaves == 0 ? "filled" : "partially_filled")"}"#
            }
            return Answer(status: .ok, body: "[" + page.joined(separator: ",") + "]")
        }
    }

    // MARK: JSON and helpers

    static func json(_ s: State, _ id: String, nested: Bool) -> String {
        guard let o = s.orders[id] else { return "null" }
        func p(_ v: Price?) -> String { v.map { #""\#($0)""# } ?? "null" }
        func t(_ v: Int64?) -> String { v.map { #""\#(format($0))""# } ?? "null" }
        let avg = o.filledQuantity > 0 ? #""\#(Price(units: o.filledValue / o.filledQuantity))""# : "null"
        let legs = nested && !o.legs.isEmpty ? "[" + o.legs.map { json(s, $0, nested: false) }.joined(separator: ",") + "]" : "null"
        let canceled = o.status == "canceled" ? t(o.updatedAt) : "null"
        return
            #"{"id":"\#(o.id)","client_order_id":\#(quote(o.clientOrderID)),"created_at":\#(t(o.submittedAt)),"updated_at":\#(t(o.updatedAt)),"submitted_at":\#(t(o.submittedAt)),"filled_at":\#(t(o.filledAt)),"expired_at":null,"canceled_at":\#(canceled),"failed_at":null,"replaced_at":\#(o.replacedBy == nil ? "null" : t(o.updatedAt)),"replaced_by":\#(o.replacedBy.map(quote) ?? "null"),"replaces":\#(o.replaces.map(quote) ?? "null"),"asset_id":"b0b6dd9d-8b9b-48a9-ba46-b9d54906e415","symbol":"\#(o.symbol)","asset_class":"us_equity","notional":null,"qty":"\#(o.quantity)","filled_qty":"\#(o.filledQuantity)","filled_avg_price":\#(avg),"order_class":"\#(o.orderClass == "simple" ? "" : o.orderClass)","order_type":"\#(o.type)","type":"\#(o.type)","side":"\#(o.side)","time_in_force":"\#(o.timeInForce)","limit_price":\#(p(o.limitPrice)),"stop_price":\#(p(o.stopPrice)),"status":"\#(o.status)","extended_hours":false,"legs":\#(legs),"trail_percent":null,"trail_price":null,"hwm":null}"#
    }

    static func update(_ s: State, event: String, orderID: String, now: Int64, extra: String) -> String {
        #"{"stream":"trade_updates","data":{"event":"\#(event)","timestamp":"\#(format(now))"\#(extra),"order":\#(json(s, orderID, nested: false))}}"#
    }

    static func position(_ s: State, _ symbol: String) -> Int64 { positionAndAverage(s, symbol).0 }

    static func positionAndAverage(_ s: State, _ symbol: String) -> (Int64, Price) {
        var qty: Int64 = 0
        var cost: Int64 = 0
        for a in s.activities where a.symbol == symbol {
            if a.side == "buy" {
                qty += a.qty
                cost += a.qty * a.price.units
            } else {
                if qty > 0 { cost -= cost / qty * min(a.qty, qty) }
                qty -= a.qty
            }
        }
        return (qty, qty > 0 ? Price(units: cost / qty) : .zero)
    }

    /// A strictly increasing time in nanoseconds (wall clock, bumped by 1 µs when it ties).
    static func tick(_ s: inout State) -> Int64 {
        let wall = Int64(Date().timeIntervalSince1970 * 1_000_000) * 1000
        s.lastTime = max(wall, s.lastTime + 1000)
        return s.lastTime
    }

    static func uuid(_ s: inout State) -> String {
        s.counter += 1
        let h = String(s.counter, radix: 16)
        let tail = String(repeating: "0", count: 12 - min(12, h.count)) + h
        return "f4c3a1a0-0000-4000-8000-\(tail)"
    }

    static func activityTime(_ ns: Int64) -> String {
        let text = format(ns)  // 2026-12-07T15:01:02.123456789Z
        let digits = text.filter(\.isNumber)
        return String(digits.prefix(17))
    }

    static func format(_ ns: Int64) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(ns / 1_000_000_000))
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        let base = f.string(from: date).dropLast()  // drop the Z
        let frac = String(ns % 1_000_000_000)
        return base + "." + String(repeating: "0", count: 9 - frac.count) + frac + "Z"
    }

    static func parseTime(_ text: String) -> Int64? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var nanos: Int64 = 0
        if let dot = text.firstIndex(of: "."), let end = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
            let digits = text[text.index(after: dot)..<end]
            nanos = Int64((digits + String(repeating: "0", count: max(0, 9 - digits.count))).prefix(9)) ?? 0
            let whole = String(text[..<dot]) + String(text[end...])
            f.formatOptions = [.withInternetDateTime]
            guard let d = f.date(from: whole) else { return nil }
            return Int64(d.timeIntervalSince1970) * 1_000_000_000 + nanos
        }
        f.formatOptions = [.withInternetDateTime]
        guard let d = f.date(from: text) else { return nil }
        return Int64(d.timeIntervalSince1970) * 1_000_000_000
    }

    static func quote(_ s: String) -> String {
        String(decoding: try! JSONEncoder().encode(s), as: UTF8.self)
    }

    // MARK: stream

    func broadcast(_ events: [String]) {
        guard !events.isEmpty else { return }
        let targets: [any Channel] = state.withLock { s in
            let listening = s.sessions.values.filter { $0.listening && !s.silent.contains(ObjectIdentifier($0.channel)) }.map(\.channel)
            if !listening.isEmpty {
                for e in events {
                    if let json = try? JSONSerialization.jsonObject(with: Data(e.utf8)) as? [String: Any],
                        let data = json["data"] as? [String: Any], let order = data["order"] as? [String: Any]
                    {
                        s.streamedEvents.append("\(data["event"] ?? "?"):\(order["client_order_id"] ?? "?")")
                    }
                }
            }
            return listening
        }
        for c in targets {
            for e in events {
                let frame = WebSocketFrame(fin: true, opcode: textFrames ? .text : .binary, data: ByteBuffer(string: e))
                c.writeAndFlush(frame, promise: nil)
            }
        }
    }

    func flushPending() {
        let events = state.withLock { s in
            defer { s.pending = [] }
            return s.pending
        }
        broadcast(events)
    }

    func sessionOpened(_ channel: any Channel) {
        state.withLock { s in
            s.sessions[ObjectIdentifier(channel)] = Session(channel: channel)
            s.sessionCount += 1
        }
    }

    func sessionClosed(_ channel: any Channel) {
        _ = state.withLock { $0.sessions.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// A client message on the stream: the answer to send back, if any.
    func streamMessage(_ text: [UInt8], channel: any Channel) -> String? {
        guard let json = (try? JSONSerialization.jsonObject(with: Data(text))) as? [String: Any], let action = json["action"] as? String
        else { return #"{"stream":"error","data":{"error_message":"invalid syntax"}}"# }
        let data = json["data"] as? [String: Any]
        let key = ObjectIdentifier(channel)
        switch action {
        case "authenticate":
            let ok = data?["key_id"] as? String == keyID && data?["secret_key"] as? String == secretKey
            state.withLock { $0.sessions[key]?.authorized = ok }
            return ok
                ? #"{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}"#
                : #"{"stream":"authorization","data":{"status":"unauthorized","action":"authenticate","message":"access key verification failed"}}"#
        case "listen":
            let streams = (data?["streams"] as? [String]) ?? []
            let authorized = state.withLock { s in
                guard s.sessions[key]?.authorized == true else { return false }
                s.sessions[key]?.listening = streams.contains("trade_updates")
                return true
            }
            guard authorized else { return #"{"stream":"authorization","data":{"status":"unauthorized","action":"listen"}}"# }
            let granted = streams.filter { $0 == "trade_updates" }.map { #""\#($0)""# }.joined(separator: ",")
            return #"{"stream":"listening","data":{"streams":[\#(granted)]}}"#
        default:
            return #"{"stream":"error","data":{"error_message":"unknown action"}}"#
        }
    }
}

extension FakeAlpacaServer.State {
    /// Events made inside a locked section, broadcast by the caller after the lock is released.
    mutating func pendingBroadcast(_ events: [String]) { pending += events }
}

/// One HTTPS connection of the fake Alpaca server.
final class FakeAlpacaHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let server: FakeAlpacaServer
    var head: HTTPRequestHead?
    var body: [UInt8] = []

    init(server: FakeAlpacaServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = []
        case .body(let b):
            if body.count < 1 << 20 { body += b.readableBytesView }
        case .end:
            guard let head else { return }
            let path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
            if path == "/stream" {
                // Not upgraded: a session is already open (one per account).
                return write(
                    .init(status: .tooManyRequests, body: #"{"code":42910000,"message":"connection limit exceeded"}"#), [], context)
            }
            let (over, limitHeaders) = server.countRequest()
            if over { return write(FakeAlpacaServer.error(429, 42910000, "rate limit exceeded"), limitHeaders, context) }
            let answer = server.answer(method: head.method, uri: head.uri, headers: head.headers, body: body)
            server.flushPending()
            if answer.close {
                context.close(promise: nil)
                return
            }
            if let delay = answer.delay {
                let loop = context.eventLoop.assumeIsolated()
                loop.scheduleTask(in: .nanoseconds(delay.totalNanoseconds)) { [self] in self.write(answer, limitHeaders, context) }
                return
            }
            write(answer, limitHeaders, context)
        }
    }

    func write(_ answer: FakeAlpacaServer.Answer, _ extra: [(String, String)], _ context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        if !answer.body.isEmpty { headers.add(name: "Content-Type", value: "application/json; charset=UTF-8") }
        headers.add(name: "Content-Length", value: String(answer.body.utf8.count))
        for (n, v) in extra + answer.headers { headers.add(name: n, value: v) }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: answer.status, headers: headers))), promise: nil)
        if !answer.body.isEmpty { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: answer.body)))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

/// One `/stream` WebSocket session of the fake Alpaca server.
final class FakeAlpacaStreamHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame
    let server: FakeAlpacaServer

    init(server: FakeAlpacaServer) { self.server = server }

    func handlerAdded(context: ChannelHandlerContext) { server.sessionOpened(context.channel) }
    func channelInactive(context: ChannelHandlerContext) {
        server.sessionClosed(context.channel)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if server.isSilent(context.channel) && frame.opcode != .connectionClose { return }
        switch frame.opcode {
        case .text, .binary:
            var data = frame.unmaskedData
            let bytes = data.readBytes(length: data.readableBytes) ?? []
            if let reply = server.streamMessage(bytes, channel: context.channel) {
                // Replies go as the documentation says paper sends everything: binary frames.
                let out = WebSocketFrame(fin: true, opcode: server.textFrames ? .text : .binary, data: ByteBuffer(string: reply))
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            }
        case .ping:
            var data = frame.unmaskedData
            context.writeAndFlush(
                wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: data.readSlice(length: data.readableBytes) ?? ByteBuffer())),
                promise: nil)
        case .connectionClose:
            context.close(promise: nil)
        default:
            break
        }
    }
}
