import ASTAlpaca
import ASTCalendar
import ASTCore
import ASTHTTPS
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Where and how AST reaches Alpaca's market-data API (the same host for paper and live accounts).
public struct AlpacaMarketDataSettings: Sendable, Equatable {
    /// Alpaca's market-data host.
    public static let standardBaseURL = "https://data.alpaca.markets"

    public var baseURL: String
    public var feed: AlpacaDataFeed
    /// A PEM file of certificate authorities to trust instead of the system's (tests); nil: system roots.
    public var caFile: String?
    public var requestTimeout: Duration
    /// Attempts per page (the first included) through 429s, 5xx and transport errors.
    public var maxAttempts: Int
    /// The first back-off after a 5xx or no answer, doubled up to `maxBackoff` (a 429 waits
    /// what the rate limiter says instead).
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    /// Pages per query at most (a guard against a token loop).
    public var maxPages: Int
    /// Bars a page (Alpaca: at most 10,000).
    public var pageLimit: Int

    public init(
        baseURL: String = standardBaseURL, feed: AlpacaDataFeed = .iex, caFile: String? = nil, requestTimeout: Duration = .seconds(30),
        maxAttempts: Int = 5, initialBackoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(60), maxPages: Int = 1_000,
        pageLimit: Int = AlpacaMarketDataRequests.maxLimit
    ) {
        self.baseURL = baseURL
        self.feed = feed
        self.caFile = caFile
        self.requestTimeout = requestTimeout
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.maxPages = maxPages
        self.pageLimit = pageLimit
    }
}

/// Why Alpaca's bars could not be had. No text of it holds the key id or the secret (they
/// travel in headers only, and no header is ever echoed).
public enum AlpacaMarketDataError: Error, Sendable, Equatable, CustomStringConvertible {
    case setup(String)
    /// Alpaca refused the request (401/403: keys or plan; 400/404/422): not retried.
    case refused(status: Int, message: String)
    /// An answer that is not the documented bars JSON (or a bar that cannot be read).
    case malformed(String)
    /// 429s, 5xx or the network persisted through every attempt.
    case gaveUp(attempts: Int, last: String)
    case tooManyPages(Int)

    public var description: String {
        switch self {
        case .setup(let s): "alpaca market data: \(s)"
        case .refused(let status, let m): "alpaca market data refused the request (HTTP \(status)): \(m)"
        case .malformed(let s): "alpaca market data answered something that is not its bars JSON: \(s)"
        case .gaveUp(let a, let last): "alpaca market data: gave up after \(a) attempts; last: \(last)"
        case .tooManyPages(let n): "alpaca market data: more than \(n) pages; stopped"
        }
    }
}

/// Alpaca's historical daily bars over HTTPS (async-http-client, certificate verification, no
/// redirects): `GET /v2/stocks/bars` page by page (``AlpacaMarketDataRequests``), the key id and
/// secret as the `APCA-API-KEY-ID`/`APCA-API-SECRET-KEY` headers (the trading client's credentials),
/// and the trading client's rate limiting: the 200/min ``AlpacaRateLimiter`` in front of every
/// request, fed by each answer's rate-limit headers; a 429 blocks it until the reset the answer
/// names (its `Retry-After`, else `X-Ratelimit-Reset`, else 60 s) and the page is asked again. A failure after the
/// attempts fails the whole query: the caller stores nothing.
public final class AlpacaMarketDataClient: Sendable {
    public let settings: AlpacaMarketDataSettings
    let credentials: AlpacaCredentials
    let clock: any WallClock
    let sleep: @Sendable (Duration) async throws -> Void
    let http: HTTPClient
    let limiter: Mutex<AlpacaRateLimiter>
    static let maximumAnswerBytes = 4 << 20

    /// `sleep` waits for the rate limiter and between attempts (tests pass one that advances a test clock).
    public init(
        settings: AlpacaMarketDataSettings, credentials: AlpacaCredentials, clock: any WallClock,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) throws(AlpacaMarketDataError) {
        guard let url = URL(string: settings.baseURL), url.scheme == "https", let host = url.host, !host.isEmpty,
            url.path.isEmpty || url.path == "/", !settings.baseURL.hasSuffix("/")
        else { throw .setup("marketdata.alpaca.base_url must be https://host without a trailing / (got \(settings.baseURL))") }
        guard settings.maxAttempts >= 1, settings.maxPages >= 1 else { throw .setup("max_attempts and max_pages must be at least 1") }
        guard (1...AlpacaMarketDataRequests.maxLimit).contains(settings.pageLimit) else {
            throw .setup("page limit \(settings.pageLimit) is not in 1...\(AlpacaMarketDataRequests.maxLimit)")
        }
        let configuration: HTTPClient.Configuration
        do {
            configuration = try HTTPSClientSetup.http(
                caFile: settings.caFile, caFileKey: "marketdata.alpaca.ca_file", requestTimeout: settings.requestTimeout)
        } catch { throw .setup(error.description) }
        self.settings = settings
        self.credentials = credentials
        self.clock = clock
        self.sleep = sleep
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        limiter = Mutex(AlpacaRateLimiter())
    }

    /// Closes the connection pool; call once before the client goes away.
    public func shutdown() async { try? await http.shutdown() }

    /// The daily bars of `symbols` from `from` through `to`, every page of every group of
    /// ``AlpacaMarketDataRequests/maxSymbols`` symbols, in Alpaca's order per symbol. A symbol
    /// without bars is absent from the result.
    public func dailyBars(
        _ symbols: [Symbol], from: LocalDate, to: LocalDate, adjustment: AlpacaBarAdjustment
    ) async throws(AlpacaMarketDataError) -> [Symbol: [Bar]] {
        var all: [Symbol: [Bar]] = [:]
        var unique: [Symbol] = []
        for s in symbols where !unique.contains(s) { unique.append(s) }
        var start = 0
        while start < unique.count {
            let group = Array(unique[start..<min(start + AlpacaMarketDataRequests.maxSymbols, unique.count)])
            start += group.count
            let query = AlpacaBarsQuery(
                symbols: group, from: from, to: to, adjustment: adjustment, feed: settings.feed, limit: settings.pageLimit)
            var token: String? = nil
            var pages = 0
            repeat {
                pages += 1
                guard pages <= settings.maxPages else { throw .tooManyPages(settings.maxPages) }
                let request: AlpacaRequest
                do {
                    request = try AlpacaMarketDataRequests.dailyBars(query, pageToken: token)
                } catch { throw .malformed(error.description) }
                let page = try await fetch(request, requested: Set(group))
                for (symbol, bars) in page.bars { all[symbol, default: []] += bars }
                token = page.nextPageToken
            } while token != nil
        }
        return all
    }

    /// One page, through the rate limiter, with retries (``HTTPSRetry``: a 429 is asked again
    /// when the limiter allows, a 5xx or no answer after the back-off).
    func fetch(_ request: AlpacaRequest, requested: Set<Symbol>) async throws(AlpacaMarketDataError) -> AlpacaBarPage {
        let policy = HTTPSRetryPolicy(
            maxAttempts: settings.maxAttempts, initialBackoff: settings.initialBackoff, maxBackoff: settings.maxBackoff)
        return try await HTTPSRetry.run(policy, sleep: sleep, gaveUp: { .gaveUp(attempts: $0, last: $1) }) {
            _ throws(AlpacaMarketDataError) -> HTTPSAttempt<AlpacaBarPage> in
            try await waitForToken()
            var r = HTTPClientRequest(url: settings.baseURL + request.path)
            r.method = .GET
            r.headers.add(name: "Accept", value: "application/json")
            credentials.keyID.withValue { r.headers.add(name: "APCA-API-KEY-ID", value: $0) }
            credentials.secretKey.withValue { r.headers.add(name: "APCA-API-SECRET-KEY", value: $0) }
            let response: HTTPClientResponse
            let body: ByteBuffer
            do {
                response = try await http.execute(r, timeout: .init(settings.requestTimeout))
                body = try await response.body.collect(upTo: Self.maximumAnswerBytes)
            } catch {
                return .retry(after: nil, reason: "no answer: \(AlpacaClient.describe(error))")
            }
            let now = clock.now()
            let status = Int(response.status.code)
            let pairs = response.headers.map { ($0.name, $0.value) }
            var headers = AlpacaRateLimitHeaders(headers: pairs)
            // A 429's Retry-After is the most precise word on when to ask again.
            if status == 429, let after = Self.retryAfter(pairs) {
                headers.reset = now.advanced(by: after)
            }
            limiter.withLock { $0.observe(status: status, headers: headers, now: now) }
            switch AlpacaAnswer.read(status: status, headers: headers, body: Array(body.readableBytesView), now: now) {
            case .ok(let json):
                do throws(AlpacaDecodeError) {
                    return .done(try AlpacaMarketDataRequests.decodePage(json, requested: requested))
                } catch { throw .malformed(error.reason) }
            case .malformed(let why): throw .malformed(why)
            case .rateLimited(let at): return .retryWhenAllowed(reason: "429 rate limited until \(at)")  // the limiter waits
            case .serverError(let status, let e): return .retry(after: nil, reason: "HTTP \(status): \(e)")
            case .unauthorized(let e): throw .refused(status: status, message: e.description)
            case .notFound(let e): throw .refused(status: status, message: e.description)
            case .refused(let status, let e): throw .refused(status: status, message: e.description)
            }
        }
    }

    /// Waits until the rate limiter grants a request (after a 429: until the reset it named).
    func waitForToken() async throws(AlpacaMarketDataError) {
        while true {
            let now = clock.now()
            let (took, next) = limiter.withLock { l in (l.take(now), l.nextSlot(now)) }
            if took { return }
            let wait = max(next.duration(since: now), .milliseconds(1))
            do { try await sleep(wait) } catch { throw .gaveUp(attempts: 0, last: "cancelled while rate limited") }
        }
    }

    /// `Retry-After` in whole seconds (at most 120), if present and readable.
    static func retryAfter(_ headers: [(String, String)]) -> Duration? {
        guard let v = headers.first(where: { $0.0.lowercased() == "retry-after" })?.1, v.utf8.count <= 6, let s = Int64(v), s >= 0
        else { return nil }
        return .seconds(min(s, 120))
    }
}
