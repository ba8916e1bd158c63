import ASTAlpaca
import ASTCore
import ASTHTTPS
import ASTProcessKit
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// Paper or live trading at Alpaca: decided by configuration and checked against the base URL.
public enum AlpacaEnvironment: String, Sendable, Equatable {
    case paper, live
}

/// Why the Alpaca client refuses to start. The message never holds a key or secret.
public struct AlpacaSetupError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Where and how AST reaches Alpaca's Trading API and its `trade_updates` stream.
public struct AlpacaSettings: Sendable, Equatable {
    /// Alpaca's live host; paper trading uses `paper-api.alpaca.markets`.
    public static let liveBaseURL = "https://api.alpaca.markets"
    public static let paperBaseURL = "https://paper-api.alpaca.markets"

    public var baseURL: String
    public var environment: AlpacaEnvironment
    /// A PEM file of certificate authorities to trust instead of the system's (tests); nil: system roots.
    public var caFile: String?
    /// Longest wait for one REST answer, connecting included.
    public var requestTimeout: Duration

    public init(baseURL: String, environment: AlpacaEnvironment, caFile: String? = nil, requestTimeout: Duration = .seconds(10)) {
        self.baseURL = baseURL
        self.environment = environment
        self.caFile = caFile
        self.requestTimeout = requestTimeout
    }

    /// Checks the pairing of environment and host: LIVE only when `liveAllowed` (the operator
    /// configured live trading) and the base URL is Alpaca's live host; PAPER never on the live
    /// host. HTTPS only.
    public func validate(liveAllowed: Bool) throws(AlpacaSetupError) {
        guard let url = URL(string: baseURL), url.scheme == "https", let host = url.host, !host.isEmpty, url.path.isEmpty || url.path == "/"
        else { throw AlpacaSetupError("broker.alpaca.base_url must be https://host (got \(baseURL))") }
        let isLiveHost = host.lowercased() == "api.alpaca.markets"
        switch environment {
        case .paper:
            if isLiveHost {
                throw AlpacaSetupError("PAPER refused: \(baseURL) is Alpaca's live host; paper trading uses \(Self.paperBaseURL)")
            }
        case .live:
            guard liveAllowed else { throw AlpacaSetupError("LIVE refused: live trading is not configured (trading mode is not LIVE)") }
            guard isLiveHost else { throw AlpacaSetupError("LIVE refused: \(baseURL) is not Alpaca's live host \(Self.liveBaseURL)") }
        }
    }

    /// `wss://<host>/stream`.
    public var streamURL: String { "wss://" + baseURL.dropFirst("https://".count).trimmingSuffix("/") + "/stream" }
}

extension Substring {
    func trimmingSuffix(_ s: String) -> Substring { hasSuffix(s) ? dropLast(s.count) : self }
}

/// The key id and secret, read from credentials only (`$CREDENTIALS_DIRECTORY` or the secrets
/// file), never from configuration or environment variables, and never logged.
public struct AlpacaCredentials: Sendable {
    public let keyID: Secret
    public let secretKey: Secret

    public init(keyID: Secret, secretKey: Secret) {
        self.keyID = keyID
        self.secretKey = secretKey
    }

    /// `alpaca_key_id` and `alpaca_secret_key` from `store`.
    public static func from(_ store: SecretStore) throws(SecretError) -> AlpacaCredentials {
        AlpacaCredentials(keyID: try store.secret("alpaca_key_id"), secretKey: try store.secret("alpaca_secret_key"))
    }
}

/// What a REST call came to: an answer read by the core, or none (connection refused, dropped,
/// timed out): for a write, an unknown outcome.
public enum AlpacaCallResult: Sendable, Equatable {
    case answered(AlpacaAnswer)
    case noAnswer(String)
}

/// Where a bracket stands after ``AlpacaClient/place(_:lookUpFirst:)``.
public enum AlpacaPlacement: Sendable, Equatable {
    /// At Alpaca (with its legs when the nested read succeeded); `adopted`: found by its client
    /// order id rather than created by this call.
    case placed(AlpacaOrder, adopted: Bool)
    /// Definitely refused: nothing exists.
    case rejected(String)
    /// Not known: send nothing for it until a later lookup tells (the caller stays HALTED for it).
    case unknown(String)
}

/// The Trading API over HTTPS (async-http-client, full certificate verification, no redirects):
/// requests from the ASTAlpaca core, the credentials added as headers here and nowhere else, the
/// 200/min token bucket in front of every call and fed by every answer's rate-limit headers.
public final class AlpacaClient: Sendable {
    let settings: AlpacaSettings
    let credentials: AlpacaCredentials
    let clock: any WallClock
    let http: HTTPClient
    let limiter: Mutex<AlpacaRateLimiter>
    static let maximumAnswerBytes = 8 << 20

    public init(settings: AlpacaSettings, credentials: AlpacaCredentials, clock: any WallClock, liveAllowed: Bool) throws(AlpacaSetupError)
    {
        try settings.validate(liveAllowed: liveAllowed)
        self.settings = settings
        self.credentials = credentials
        self.clock = clock
        let configuration: HTTPClient.Configuration
        do {
            // A redirect must never re-send a POST: the setup follows none.
            configuration = try HTTPSClientSetup.http(
                caFile: settings.caFile, caFileKey: "broker.alpaca.ca_file", requestTimeout: settings.requestTimeout)
        } catch { throw AlpacaSetupError(error.description) }
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        limiter = Mutex(AlpacaRateLimiter())
    }

    /// Closes the connection pool; call once before the client goes away.
    public func shutdown() async { try? await http.shutdown() }

    /// When the rate limiter lets the next request go.
    public var nextSlot: Timestamp { limiter.withLock { $0.nextSlot(clock.now()) } }

    /// Sends one request once. Waits for a token when one comes within the request timeout;
    /// otherwise answers `rateLimited` locally without sending.
    public func send(_ request: AlpacaRequest) async -> AlpacaCallResult {
        while true {
            let now = clock.now()
            let (took, next) = limiter.withLock { l in (l.take(now), l.nextSlot(now)) }
            if took { break }
            let wait = next.duration(since: now)
            if wait > settings.requestTimeout { return .answered(.rateLimited(retryAt: next)) }
            try? await Task.sleep(for: wait)
            if Task.isCancelled { return .noAnswer("cancelled") }
        }
        var r = HTTPClientRequest(url: settings.baseURL + request.path)
        r.method = HTTPMethod(rawValue: request.method.rawValue)
        credentials.keyID.withValue { r.headers.add(name: "APCA-API-KEY-ID", value: $0) }
        credentials.secretKey.withValue { r.headers.add(name: "APCA-API-SECRET-KEY", value: $0) }
        if let body = request.body {
            r.headers.add(name: "Content-Type", value: "application/json")
            r.body = .bytes(ByteBuffer(string: body))
        }
        do {
            let response = try await http.execute(r, timeout: .init(settings.requestTimeout))
            let body = try await response.body.collect(upTo: Self.maximumAnswerBytes)
            let headers = AlpacaRateLimitHeaders(headers: response.headers.map { ($0.name, $0.value) })
            let now = clock.now()
            let status = Int(response.status.code)
            limiter.withLock { $0.observe(status: status, headers: headers, now: now) }
            return .answered(AlpacaAnswer.read(status: status, headers: headers, body: Array(body.readableBytesView), now: now))
        } catch {
            return .noAnswer("no answer from Alpaca to \(request): \(Self.describe(error))")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? NIOSSLError { return "TLS: \(e)" }
        if let e = error as? HTTPClientError { return "\(e)" }
        return String(String(describing: error).prefix(200))
    }

    /// A read: the decoded value, or why not.
    func read<T>(_ request: AlpacaRequest, _ decode: (AlpacaJSON) throws(AlpacaDecodeError) -> T) async -> Result<T, AlpacaSetupError> {
        switch await send(request) {
        case .noAnswer(let why): return .failure(AlpacaSetupError(why))
        case .answered(.ok(let json)):
            do {
                return .success(try decode(json))
            } catch {
                return .failure(AlpacaSetupError(error.description))
            }
        case .answered(let other): return .failure(AlpacaSetupError("\(request): \(other)"))
        }
    }

    public func account() async -> Result<AlpacaAccount, AlpacaSetupError> { await read(AlpacaRequests.account(), AlpacaAccount.decode) }
    public func positions() async -> Result<[AlpacaPosition], AlpacaSetupError> {
        await read(AlpacaRequests.positions(), AlpacaPosition.decodeList)
    }

    public func order(id: String) async -> Result<AlpacaOrder, AlpacaSetupError> {
        do {
            return await read(try AlpacaRequests.order(id: id)) { json throws(AlpacaDecodeError) in try AlpacaOrder.decode(json) }
        } catch {
            return .failure(AlpacaSetupError(error.description))
        }
    }

    public func listOrders(_ query: AlpacaOrderQuery) async -> Result<[AlpacaOrder], AlpacaSetupError> {
        do {
            return await read(try AlpacaRequests.listOrders(query), AlpacaOrder.decodeList)
        } catch {
            return .failure(AlpacaSetupError(error.description))
        }
    }

    /// Every order submitted since `since` (minus a margin), with its legs, paged and
    /// de-duplicated (``AlpacaOrderPager``); a listing that cannot be complete is a failure.
    public func ordersSince(_ since: Timestamp?, pageSize: Int = AlpacaRequests.maxListLimit) async -> Result<
        [AlpacaOrder], AlpacaSetupError
    > {
        var pager = AlpacaOrderPager(since: since, pageSize: pageSize)
        while let request = pager.nextRequest() {
            switch await read(request, AlpacaOrder.decodeList) {
            case .failure(let e): return .failure(e)
            case .success(let page): pager.received(page)
            }
        }
        guard pager.isComplete else {
            return .failure(AlpacaSetupError("the order listing since \(since.map(\.description) ?? "the start") cannot be completed"))
        }
        return .success(pager.orders)
    }

    /// Every FILL activity after `after`, following `page_token` (at most `maxPages` pages).
    public func fillActivities(after: Timestamp?, maxPages: Int = 50) async -> Result<[AlpacaFillActivity], AlpacaSetupError> {
        var all: [AlpacaFillActivity] = []
        var token: String? = nil
        for _ in 0..<maxPages {
            let request: AlpacaRequest
            do {
                request = try AlpacaRequests.fillActivities(after: after, pageToken: token)
            } catch {
                return .failure(AlpacaSetupError(error.description))
            }
            switch await read(request, AlpacaFillActivity.decodeList) {
            case .failure(let e): return .failure(e)
            case .success(let page):
                all += page
                guard page.count == AlpacaRequests.maxActivityPageSize, let last = page.last else { return .success(all) }
                token = last.id
            }
        }
        return .failure(AlpacaSetupError("more than \(maxPages) pages of fills"))
    }

    /// `DELETE /v2/orders/{id}`: true when Alpaca accepted the cancel request (204).
    public func cancel(id: String) async -> Result<Bool, AlpacaSetupError> {
        do {
            switch await send(try AlpacaRequests.cancel(id: id)) {
            case .answered(.ok): return .success(true)
            case .answered(.refused(422, _)), .answered(.notFound): return .success(false)
            case .answered(let other): return .failure(AlpacaSetupError("cancel \(id): \(other)"))
            case .noAnswer(let why): return .failure(AlpacaSetupError(why))
            }
        } catch {
            return .failure(AlpacaSetupError(error.description))
        }
    }

    /// The order AST named `clientOrderID`, absent, or unknown.
    public func lookup(_ clientOrderID: ClientOrderID) async -> AlpacaLookupOutcome {
        do {
            switch await send(try AlpacaRequests.order(clientOrderID: clientOrderID)) {
            case .answered(let a): return AlpacaLookupOutcome.read(a)
            case .noAnswer(let why): return .unknown(why)
            }
        } catch {
            return .unknown(error.description)
        }
    }

    /// Places a bracket at most once (AST's write-ahead protocol, the caller having journaled the
    /// intent and its client order id first): optionally look the id up first (after a restart);
    /// POST; an unknown outcome or a duplicate refusal is settled by the lookup, never by a blind
    /// retry; a lookup that finds nothing after an unknown POST allows one re-send with the same id
    /// (a duplicate would be refused). A found order that does not match the intent is unknown.
    public func place(_ bracket: BracketOrder, lookUpFirst: Bool = false) async -> AlpacaPlacement {
        let id = bracket.entry.clientOrderID
        if lookUpFirst {
            switch await lookup(id) {
            case .found(let o): return await adopt(o, bracket)
            case .unknown(let why): return .unknown("lookup before sending: \(why)")
            case .absent: break
            }
        }
        let request: AlpacaRequest
        do {
            request = try AlpacaRequests.submitBracket(bracket)
        } catch {
            return .rejected(error.description)
        }
        for attempt in 0..<2 {
            let outcome: AlpacaSubmitOutcome
            switch await send(request) {
            case .answered(.rateLimited(let at)): return .unknown("rate limited until \(at): look \(id) up before sending again")
            case .answered(let a): outcome = AlpacaSubmitOutcome.read(a)
            case .noAnswer(let why): outcome = .unknown(why)
            }
            switch outcome {
            case .accepted(let o): return .placed(await nested(o), adopted: false)
            case .rejected(let status, let e): return .rejected("\(status) \(e)")
            case .alreadyThere, .unknown:
                switch await lookup(id) {
                case .found(let o): return await adopt(o, bracket)
                case .unknown(let why): return .unknown("after \(outcome): lookup failed: \(why)")
                case .absent:
                    if case .alreadyThere = outcome { return .unknown("refused as a duplicate but not found by \(id)") }
                    if attempt == 1 { return .unknown("sent twice without an answer, and \(id) is not at Alpaca") }
                }
            }
        }
        return .unknown("unreachable")
    }

    func nested(_ o: AlpacaOrder) async -> AlpacaOrder {
        if case .success(let full) = await order(id: o.id) { return full }
        return o
    }

    func adopt(_ found: AlpacaOrder, _ bracket: BracketOrder) async -> AlpacaPlacement {
        let e = bracket.entry
        guard found.clientOrderID == e.clientOrderID.rawValue, found.symbol == e.symbol, found.side == e.side,
            found.quantity == e.quantity, found.limitPrice == e.limitPrice
        else { return .unknown("order \(found.id) found under \(e.clientOrderID) does not match the intent: HALT and reconcile") }
        return .placed(await nested(found), adopted: true)
    }
}
