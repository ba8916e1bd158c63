import ASTCore
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A fake of an outside service: Polygon.io's REST API (the endpoints AST uses), for tests only.
///
/// It is written from Polygon's public documentation, not from Polygon's code:
/// `GET /v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}` with `adjusted`,
/// `sort`, `limit` and `apiKey` query parameters (only the bars from `from` through `to`, dates or
/// millisecond timestamps); answers `{"ticker","queryCount","resultsCount",
/// "adjusted","results":[{"v","vw","o","c","h","l","t","n"}],"status":"OK","request_id","count"}`
/// with a `next_url` (which carries a `cursor` and no key, so the client must append its key)
/// when more results remain than the page size; a missing or wrong key is a 401 with
/// `{"status":"ERROR","request_id":"…","error":"…"}`.
/// `GET /v2/aggs/grouped/locale/us/market/stocks/{date}` (the whole market's daily bars of one
/// date, each result with its ticker in `T`; no pagination) answers from the same data.
/// `GET /v3/reference/tickers` (`market`, `active`, `limit`), `/v3/reference/splits`
/// (`execution_date.gte`/`.lte`: `ticker`, `execution_date`, `split_from`, `split_to`) and
/// `/v3/reference/dividends` (`ex_dividend_date.gte`/`.lte`: `ticker`, `ex_dividend_date`,
/// `cash_amount`, `currency`, `dividend_type`) page by `next_url` (a `cursor`, no key), as
/// documented. Also from the documentation:
/// indices aggregates, the same path with an indices ticker (`/v2/aggs/ticker/I:VIX/range/1/day/…`),
/// whose results have `o`, `h`, `l`, `c`, `t` and no volume (`v`, `vw`, `n` absent);
/// `GET /v3/reference/tickers/{ticker}` (ticker overview: `results` with `ticker`, `name`,
/// `market`, `primary_exchange`, `type`, `active`, `sic_code` (a string of digits, absent for
/// an ETF) and `sic_description`; an unknown ticker is a 404 with
/// `{"status":"NOT_FOUND","request_id","message"}`);
/// `GET /v2/snapshot/locale/us/markets/stocks/tickers` (full market snapshot, optional
/// `tickers=A,B`: `{"status":"OK","count","tickers":[{"ticker","day":{o,h,l,c,v,vw},
/// "lastTrade":{"p","s","t"(ns),"x"},"prevDay":{…},"todaysChange","todaysChangePerc","updated"(ns)}]}`).
/// Tests script misbehaviour per request, for all paths or for the paths that begin with a prefix
/// (``setFallback(_:forPathPrefix:)``): 429 (with or without `Retry-After`), 5xx, malformed
/// JSON, an `ERROR` status, a closed connection, or any body (``Behaviour/body(status:json:)``). Plain HTTP on loopback, or HTTPS with test certificates. It is no evidence of how
/// the real service behaves beyond what those documents say.
public final class FakePolygonServer: Sendable {
    /// How the fake answers one request.
    public enum Behaviour: Sendable, Equatable {
        /// As Polygon documents: checks the key, answers the page of results.
        case normal
        /// `429 Too Many Requests`, with a `Retry-After` header when `retryAfter` is set.
        case rateLimited(retryAfter: Int?)
        /// A 5xx with Polygon's error body.
        case serverError(status: Int)
        /// `200 OK` with a body that is not JSON.
        case malformedJSON
        /// `{"status":"ERROR","error":message}` with the given HTTP status.
        case errorStatus(http: Int, message: String)
        /// Closes the connection without answering.
        case closeConnection
        /// This status and JSON body, as given (a well-formed answer with a bad value in it).
        case body(status: Int, json: String)
    }

    /// One daily aggregate; numbers are written into the JSON exactly as given.
    public struct Aggregate: Sendable, Equatable {
        /// Milliseconds since the epoch: the start of the day in New York, as Polygon sends it.
        public var t: Int64
        public var o: String, h: String, l: String, c: String, v: String
        public init(t: Int64, o: String, h: String, l: String, c: String, v: String) {
            self.t = t
            self.o = o
            self.h = h
            self.l = l
            self.c = c
            self.v = v
        }
    }

    /// A ticker's reference data (`/v3/reference/tickers`, and its overview
    /// `/v3/reference/tickers/{ticker}` with `sic_code`, absent when nil).
    public struct Ticker: Sendable, Equatable {
        public var ticker: String, name: String, primaryExchange: String, type: String
        public var sicCode: String?, sicDescription: String?
        public init(
            ticker: String, name: String, primaryExchange: String = "XNYS", type: String = "CS", sicCode: String? = nil,
            sicDescription: String? = nil
        ) {
            self.ticker = ticker
            self.name = name
            self.primaryExchange = primaryExchange
            self.type = type
            self.sicCode = sicCode
            self.sicDescription = sicDescription
        }
    }

    /// One ticker of the full market snapshot; numbers are written into the JSON as given.
    public struct SnapshotTicker: Sendable, Equatable {
        public var ticker: String
        /// The last trade's price and SIP timestamp (ns); nil: no `lastTrade` object.
        public var lastTrade: (p: String, t: Int64)?
        /// The day's close so far and `updated` (ns).
        public var dayClose: String, updated: Int64
        public init(ticker: String, lastTrade: (p: String, t: Int64)?, dayClose: String, updated: Int64) {
            self.ticker = ticker
            self.lastTrade = lastTrade
            self.dayClose = dayClose
            self.updated = updated
        }
        public static func == (a: Self, b: Self) -> Bool {
            a.ticker == b.ticker && a.lastTrade?.p == b.lastTrade?.p && a.lastTrade?.t == b.lastTrade?.t && a.dayClose == b.dayClose
                && a.updated == b.updated
        }
    }

    /// A split (`/v3/reference/splits`): `splitTo` new shares for every `splitFrom` old ones.
    public struct Split: Sendable, Equatable {
        public var ticker: String, executionDate: String, splitFrom: String, splitTo: String
        public init(ticker: String, executionDate: String, splitFrom: String, splitTo: String) {
            self.ticker = ticker
            self.executionDate = executionDate
            self.splitFrom = splitFrom
            self.splitTo = splitTo
        }
    }

    /// A cash dividend (`/v3/reference/dividends`).
    public struct Dividend: Sendable, Equatable {
        public var ticker: String, exDividendDate: String, cashAmount: String, currency: String
        public init(ticker: String, exDividendDate: String, cashAmount: String, currency: String = "USD") {
            self.ticker = ticker
            self.exDividendDate = exDividendDate
            self.cashAmount = cashAmount
            self.currency = currency
        }
    }

    struct State {
        var script: [Behaviour] = []
        var fallback: Behaviour = .normal
        var requests: [String] = []
        var data: [String: [Aggregate]] = [:]
        var tickers: [Ticker] = []
        var splits: [Split] = []
        var dividends: [Dividend] = []
        var snapshot: [SnapshotTicker] = []
        /// Per path prefix, how requests are answered (before the script and the fallback).
        var pathBehaviours: [(prefix: String, behaviour: Behaviour)] = []
        /// Grouped-daily answers by date, built from `data` when first asked (nil: stale).
        var byDate: [String: [String]]?
    }

    let apiKey: String
    var data: [String: [Aggregate]] { state.withLock { $0.data } }
    let pageSize: Int
    let state = Mutex(State())
    let channel: any Channel
    let tls: Bool
    /// The port it listens on (127.0.0.1).
    public let port: Int
    /// `http(s)://127.0.0.1:<port>`, for the client's base URL.
    public var baseURL: String { "\(tls ? "https" : "http")://127.0.0.1:\(port)" }

    /// Starts listening on 127.0.0.1 serving `data` (ticker → aggregates in date order), at most
    /// `pageSize` results per page, to requests with `apiKey`. With `certificate` and `key`
    /// (PEM files) it speaks HTTPS.
    public init(apiKey: String, data: [String: [Aggregate]], pageSize: Int = 50_000, certificate: String? = nil, key: String? = nil)
        async throws
    {
        self.apiKey = apiKey
        state.withLock { $0.data = data }
        self.pageSize = pageSize
        var context: NIOSSLContext?
        if let certificate, let key {
            let chain = try NIOSSLCertificate.fromPEMFile(certificate)
            context = try NIOSSLContext(
                configuration: .makeServerConfiguration(
                    certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
                ))
        }
        tls = context != nil
        let box = Mutex<FakePolygonServer?>(nil)
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [context] channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let server = box.withLock({ $0 }) else { throw HarnessError("fake Polygon not ready") }
                    if let context { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(FakePolygonHandler(server: server))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.port = channel.localAddress?.port ?? 0
        box.withLock { $0 = self }
    }

    /// Stops listening.
    public func stop() async {
        try? await channel.close()
    }

    /// The next requests are answered, in order, as `behaviours` say; then as the fallback.
    public func script(_ behaviours: [Behaviour]) { state.withLock { $0.script += behaviours } }
    /// How requests are answered once the script is used up (``Behaviour/normal`` at first).
    public func setFallback(_ behaviour: Behaviour) { state.withLock { $0.fallback = behaviour } }
    /// Adds (or replaces) aggregates: a new session's bars appear as they would after a close.
    public func addAggregates(_ more: [String: [Aggregate]]) {
        state.withLock { s in
            s.byDate = nil
            for (k, v) in more {
                s.data[k, default: []].removeAll { a in v.contains { $0.t == a.t } }
                s.data[k, default: []] += v
            }
        }
    }
    /// The reference data the `/v3/reference/*` endpoints answer from.
    public func setReference(tickers: [Ticker], splits: [Split] = [], dividends: [Dividend] = []) {
        state.withLock { s in
            s.tickers = tickers
            s.splits = splits
            s.dividends = dividends
        }
    }
    /// The full market snapshot's tickers.
    public func setSnapshot(_ tickers: [SnapshotTicker]) { state.withLock { $0.snapshot = tickers } }
    /// Requests whose path begins with `prefix` are answered as `behaviour` says (nil: no longer),
    /// whatever the script and the fallback say; e.g. `/v2/aggs/ticker/I:VIX` for the indices.
    public func setFallback(_ behaviour: Behaviour?, forPathPrefix prefix: String) {
        state.withLock { s in
            s.pathBehaviours.removeAll { $0.prefix == prefix }
            if let behaviour { s.pathBehaviours.append((prefix, behaviour)) }
        }
    }
    /// The request URIs received so far (path and query, key included), in order.
    public var requests: [String] { state.withLock { $0.requests } }

    func next(uri: String) -> Behaviour {
        state.withLock { s in
            s.requests.append(uri)
            let path = String(uri.split(separator: "?", maxSplits: 1).first ?? "")
            if let p = s.pathBehaviours.first(where: { path.hasPrefix($0.prefix) }) { return p.behaviour }
            return s.script.isEmpty ? s.fallback : s.script.removeFirst()
        }
    }

    static func error(_ status: Int, _ message: String) -> (Int, String) {
        (status, #"{"status":"ERROR","request_id":"fake-\#(status)","error":\#(quote(message))}"#)
    }

    /// The documented answer to `uri`.
    func answer(uri: String) -> (Int, String) {
        let parts = uri.split(separator: "?", maxSplits: 1)
        let path = parts.first.map(String.init) ?? uri
        var query: [String: String] = [:]
        if parts.count == 2 {
            for item in parts[1].split(separator: "&") {
                let kv = item.split(separator: "=", maxSplits: 1)
                query[String(kv[0])] = kv.count == 2 ? String(kv[1]) : ""
            }
        }
        guard let key = query["apiKey"] else { return Self.error(401, "API Key was not provided") }
        guard key == apiKey else { return Self.error(401, "Unknown API Key") }
        let p = path.split(separator: "/")
        if p.count == 8, p[0] == "v2", p[1] == "aggs", p[2] == "grouped", p[3] == "locale", p[4] == "us", p[5] == "market", p[6] == "stocks"
        {
            return grouped(date: String(p[7]), adjusted: query["adjusted"] != "false")
        }
        if p.count == 3, p[0] == "v3", p[1] == "reference" {
            return reference(String(p[2]), query: query)
        }
        if p.count == 4, p[0] == "v3", p[1] == "reference", p[2] == "tickers" {
            return overview(String(p[3]))
        }
        if p.count == 7, p[0] == "v2", p[1] == "snapshot", p[2] == "locale", p[3] == "us", p[4] == "markets", p[5] == "stocks",
            p[6] == "tickers"
        {
            return snapshot(tickers: query["tickers"].map { Set($0.split(separator: ",").map(String.init)) })
        }
        guard p.count == 9, p[0] == "v2", p[1] == "aggs", p[2] == "ticker", p[4] == "range", p[5] == "1", p[6] == "day" else {
            return Self.error(404, "Not Found")
        }
        let ticker = String(p[3])
        // Only the bars from `from` through `to` (dates YYYY-MM-DD, or millisecond timestamps),
        // as documented.
        let all = (data[ticker] ?? []).filter { a in
            Self.within(a.t, from: String(p[7]), through: String(p[8]))
        }
        let offset = query["cursor"].flatMap(Int.init) ?? 0
        let limit = min(pageSize, query["limit"].flatMap(Int.init) ?? 5_000)
        let page = Array(all.dropFirst(offset).prefix(limit))
        // An index (I:…) has no volume: no v, vw, n.
        let results = page.map { a in
            ticker.hasPrefix("I:")
                ? #"{"o":\#(a.o),"c":\#(a.c),"h":\#(a.h),"l":\#(a.l),"t":\#(a.t)}"#
                : #"{"v":\#(a.v),"vw":\#(a.c),"o":\#(a.o),"c":\#(a.c),"h":\#(a.h),"l":\#(a.l),"t":\#(a.t),"n":1}"#
        }.joined(separator: ",")
        var body =
            #"{"ticker":\#(Self.quote(ticker)),"queryCount":\#(page.count),"resultsCount":\#(page.count),"adjusted":\#(query["adjusted"] != "false"),"#
        if !page.isEmpty { body += #""results":[\#(results)],"# }
        body += #""status":"OK","request_id":"fake-ok","count":\#(page.count)"#
        if offset + page.count < all.count {
            body += #","next_url":"\#(baseURL)/v2/aggs/ticker/\#(ticker)/range/1/day/\#(p[7])/\#(p[8])?cursor=\#(offset + page.count)""#
        }
        return (200, body + "}")
    }

    /// The grouped daily answer for `date` (YYYY-MM-DD): every ticker's aggregate of that date.
    func grouped(date: String, adjusted: Bool) -> (Int, String) {
        // Stocks only (indices are not in the grouped bars); indexed by date once per data change.
        let results: [String] = state.withLock { s in
            if s.byDate == nil {
                var byDate: [String: [String]] = [:]
                for ticker in s.data.keys.sorted() where !ticker.hasPrefix("I:") {
                    for a in s.data[ticker] ?? [] {
                        byDate[Self.newYorkDate(ms: a.t), default: []].append(
                            #"{"T":\#(Self.quote(ticker)),"v":\#(a.v),"vw":\#(a.c),"o":\#(a.o),"c":\#(a.c),"h":\#(a.h),"l":\#(a.l),"t":\#(a.t),"n":1}"#
                        )
                    }
                }
                s.byDate = byDate
            }
            return s.byDate?[date] ?? []
        }
        var body =
            #"{"adjusted":\#(adjusted),"queryCount":\#(results.count),"request_id":"fake-grouped","resultsCount":\#(results.count),"status":"OK""#
        if !results.isEmpty { body += #","results":[\#(results.joined(separator: ","))]"# }
        return (200, body + "}")
    }

    /// `/v3/reference/{tickers,splits,dividends}`: filtered as the query says, paged by cursor.
    func reference(_ what: String, query: [String: String]) -> (Int, String) {
        let s = state.withLock { $0 }
        func within(_ date: String, _ field: String) -> Bool {
            (query["\(field).gte"].map { date >= $0 } ?? true) && (query["\(field).lte"].map { date <= $0 } ?? true)
        }
        let items: [String]
        switch what {
        case "tickers":
            items = s.tickers.map { t in
                #"{"active":true,"currency_name":"usd","locale":"us","market":"stocks","name":\#(Self.quote(t.name)),"primary_exchange":\#(Self.quote(t.primaryExchange)),"ticker":\#(Self.quote(t.ticker)),"type":\#(Self.quote(t.type))}"#
            }
        case "splits":
            items = s.splits.filter { within($0.executionDate, "execution_date") }.map { x in
                #"{"execution_date":\#(Self.quote(x.executionDate)),"id":"fake","split_from":\#(x.splitFrom),"split_to":\#(x.splitTo),"ticker":\#(Self.quote(x.ticker))}"#
            }
        case "dividends":
            items = s.dividends.filter { within($0.exDividendDate, "ex_dividend_date") }.map { d in
                #"{"cash_amount":\#(d.cashAmount),"currency":\#(Self.quote(d.currency)),"dividend_type":"CD","ex_dividend_date":\#(Self.quote(d.exDividendDate)),"frequency":4,"ticker":\#(Self.quote(d.ticker))}"#
            }
        default:
            return Self.error(404, "Not Found")
        }
        let offset = query["cursor"].flatMap(Int.init) ?? 0
        let limit = max(1, min(pageSize, query["limit"].flatMap(Int.init) ?? 10))
        let page = Array(items.dropFirst(offset).prefix(limit))
        var body = #"{"request_id":"fake-ref","results":[\#(page.joined(separator: ","))],"status":"OK""#
        if offset + page.count < items.count {
            var next = query.filter { $0.key != "apiKey" && $0.key != "cursor" }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            next.append("cursor=\(offset + page.count)")
            body += #","next_url":"\#(baseURL)/v3/reference/\#(what)?\#(next.joined(separator: "&"))""#
        }
        return (200, body + "}")
    }

    /// The ticker overview of `ticker`, or Polygon's 404 for a ticker it does not know.
    func overview(_ ticker: String) -> (Int, String) {
        guard let t = state.withLock({ s in s.tickers.first { $0.ticker == ticker } }) else {
            return (404, #"{"status":"NOT_FOUND","request_id":"fake-404","message":"Ticker not found."}"#)
        }
        var fields = [
            #""active":true"#, #""currency_name":"usd""#, #""locale":"us""#, #""market":"stocks""#, #""name":\#(Self.quote(t.name))"#,
            #""primary_exchange":\#(Self.quote(t.primaryExchange))"#, #""ticker":\#(Self.quote(t.ticker))"#,
            #""type":\#(Self.quote(t.type))"#,
        ]
        if let code = t.sicCode { fields.append(#""sic_code":\#(Self.quote(code))"#) }
        if let d = t.sicDescription { fields.append(#""sic_description":\#(Self.quote(d))"#) }
        return (200, #"{"request_id":"fake-overview","results":{\#(fields.joined(separator: ","))},"status":"OK"}"#)
    }

    /// The full market snapshot (only `tickers` when given).
    func snapshot(tickers: Set<String>?) -> (Int, String) {
        let all = state.withLock { $0.snapshot }.filter { tickers?.contains($0.ticker) ?? true }
        let items = all.map { t in
            var o = #"{"day":{"c":\#(t.dayClose),"h":\#(t.dayClose),"l":\#(t.dayClose),"o":\#(t.dayClose),"v":1000,"vw":\#(t.dayClose)},"#
            if let trade = t.lastTrade { o += #""lastTrade":{"p":\#(trade.p),"s":100,"t":\#(trade.t),"x":4},"# }
            o += #""prevDay":{"c":\#(t.dayClose),"h":\#(t.dayClose),"l":\#(t.dayClose),"o":\#(t.dayClose),"v":1000,"vw":\#(t.dayClose)},"#
            return o + #""ticker":\#(Self.quote(t.ticker)),"todaysChange":0,"todaysChangePerc":0,"updated":\#(t.updated)}"#
        }
        return (200, #"{"count":\#(items.count),"status":"OK","tickers":[\#(items.joined(separator: ","))]}"#)
    }

    /// Whether the aggregate starting at `t` (ms) lies in the requested window: `from` and `to`
    /// are dates (compared with `t`'s New York date) or millisecond timestamps.
    static func within(_ t: Int64, from: String, through to: String) -> Bool {
        if let lo = Int64(from), let hi = Int64(to) { return lo <= t && t <= hi }
        let date = newYorkDate(ms: t)
        return from <= date && date <= to
    }

    /// The New York date of a millisecond timestamp (midnight New York, as Polygon's `t`).
    static func newYorkDate(ms: Int64) -> String {
        // Midnight New York is 04:00 or 05:00 UTC: noon UTC of the same day is safely inside it.
        let date = Date(timeIntervalSince1970: TimeInterval(ms / 1000) + 12 * 3600)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
    }

    static func quote(_ s: String) -> String {
        String(decoding: try! JSONEncoder().encode(s), as: UTF8.self)
    }
}

/// One connection of the fake Polygon: collects a request, answers as the server's script says.
final class FakePolygonHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let server: FakePolygonServer
    var head: HTTPRequestHead?

    init(server: FakePolygonServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let head else { return }
            switch server.next(uri: head.uri) {
            case .normal:
                let (status, json) = server.answer(uri: head.uri)
                write(status, json, context: context)
            case .rateLimited(let retryAfter):
                write(
                    429,
                    #"{"status":"ERROR","request_id":"fake-429","error":"You've exceeded the maximum requests per minute, please wait or upgrade your subscription to continue."}"#,
                    retryAfter: retryAfter, context: context)
            case .serverError(let status):
                write(status, #"{"status":"ERROR","request_id":"fake-5xx","error":"Internal Server Error"}"#, context: context)
            case .malformedJSON:
                write(200, #"{"ticker":"X","results":[{"o":1.0,"#, context: context)
            case .errorStatus(let http, let message):
                let (s, j) = FakePolygonServer.error(http, message)
                write(s, j, context: context)
            case .closeConnection:
                context.close(promise: nil)
            case .body(let status, let json):
                write(status, json, context: context)
            }
        }
    }

    func write(_ status: Int, _ json: String, retryAfter: Int? = nil, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(json.utf8.count))
        if let retryAfter { headers.add(name: "Retry-After", value: String(retryAfter)) }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers))),
            promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: json)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
