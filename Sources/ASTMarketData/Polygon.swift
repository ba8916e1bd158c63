import ASTCalendar
import ASTCore
import ASTHTTPS
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOSSL

/// A Polygon.io API key. Its text never prints: `description` is `<redacted>`.
public struct PolygonAPIKey: Sendable, CustomStringConvertible {
    private let value: String
    public init(_ value: String) { self.value = value }
    /// Uses the key's text (to build a request URL); keep what `body` returns out of logs.
    public func withValue<T>(_ body: (String) throws -> T) rethrows -> T { try body(value) }
    public var description: String { "<redacted>" }
}

/// Where and how the client reaches Polygon.
public struct PolygonSettings: Sendable, Equatable {
    /// `https://api.polygon.io` in production; `http://` is accepted only for loopback (tests).
    public var baseURL: String
    /// A PEM file of the certificate authorities to trust instead of the system's.
    public var caFile: String?
    public var requestTimeout: Duration
    /// Attempts per request (the first included) before giving up on 429, 5xx or transport errors.
    public var maxAttempts: Int
    /// The first back-off; doubled after each failure up to `maxBackoff`. A 429 with a
    /// `Retry-After` header waits what it says (capped by `maxBackoff`).
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    /// Pages followed per symbol at most (a guard against a `next_url` loop).
    public var maxPages: Int

    public init(
        baseURL: String = "https://api.polygon.io", caFile: String? = nil, requestTimeout: Duration = .seconds(30),
        maxAttempts: Int = 5, initialBackoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(60), maxPages: Int = 100
    ) {
        self.baseURL = baseURL
        self.caFile = caFile
        self.requestTimeout = requestTimeout
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.maxPages = maxPages
    }
}

/// Why Polygon data could not be had. No text of it holds the API key.
public enum PolygonError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The client could not be set up (bad base URL, unreadable CA file).
    case setup(String)
    /// Polygon refused the request (400, 401, 403, 404 or an `ERROR` status): not retried.
    case refused(status: Int, message: String)
    /// The answer is not the documented JSON.
    case malformed(String)
    /// Rate limits, server errors or the network persisted through every attempt.
    case gaveUp(attempts: Int, last: String)
    /// A `next_url` pointing away from the configured host: not followed (the key would go there).
    case foreignNextURL(String)
    /// More pages than `maxPages`.
    case tooManyPages(Int)

    public var description: String {
        switch self {
        case .setup(let s): "polygon: \(s)"
        case .refused(let status, let message): "polygon refused the request (HTTP \(status)): \(message)"
        case .malformed(let s): "polygon answered something that is not its aggregates JSON: \(s)"
        case .gaveUp(let attempts, let last): "polygon: gave up after \(attempts) attempts; last: \(last)"
        case .foreignNextURL(let u): "polygon: next_url \(u) is not on the configured host; not followed"
        case .tooManyPages(let n): "polygon: more than \(n) pages; stopped"
        }
    }
}

/// One page of aggregates.
public struct PolygonPage: Sendable, Equatable {
    public var bars: [SourcedBar]
    /// The next page's URL as Polygon gives it (without the key), if any.
    public var nextURL: String?
}

/// What one HTTP answer means. Pure.
public enum PolygonAnswer: Sendable, Equatable {
    case page(PolygonPage)
    /// Try again (429, 5xx): after `after` if the server said, otherwise after the back-off.
    case retry(after: Duration?, reason: String)
    case failure(PolygonError)

    /// Reads an answer to `GET /v2/aggs/ticker/{symbol}/range/1/day/...`: `status` `OK` or
    /// `DELAYED` with `results[]` of `t` (ms, the start of the day in New York), `o`, `h`, `l`,
    /// `c`, `v` (and `vw`, `n`, ignored), optionally `next_url`; or `{"status":"ERROR","error":"…"}`.
    public static func interpret(httpStatus: Int, retryAfter: String?, body: [UInt8], symbol: Symbol) -> PolygonAnswer {
        let json: JSONValue
        switch PolygonJSONAnswer.interpret(httpStatus: httpStatus, retryAfter: retryAfter, body: body) {
        case .json(let j): json = j
        case .retry(let after, let reason): return .retry(after: after, reason: reason)
        case .failure(let e): return .failure(e)
        }
        if let r = json["results"], r != .null, r.arrayValue == nil { return .failure(.malformed("\"results\" is not a list")) }
        var bars: [SourcedBar] = []
        for (i, r) in (json["results"]?.arrayValue ?? []).enumerated() {
            func field(_ k: String) throws(PolygonError) -> String {
                guard let n = r[k]?.numberText else { throw .malformed("results[\(i)] has no number \"\(k)\"") }
                return n
            }
            do {
                guard let ms = Int64(try field("t")), let ns = PolygonNumbers.nanoseconds(milliseconds: ms) else {
                    throw PolygonError.malformed("results[\(i)].t is not whole milliseconds")
                }
                var p: [Price] = []
                for k in ["o", "h", "l", "c"] {
                    guard let u = DecimalText.units(Substring(try field(k))) else {
                        throw PolygonError.malformed("results[\(i)].\(k) is not a price")
                    }
                    p.append(Price(units: u))
                }
                guard let vu = DecimalText.units(Substring(try field("v"))) else {
                    throw PolygonError.malformed("results[\(i)].v is not a volume")
                }
                let volume = PolygonNumbers.wholeShares(units: vu)
                let date = NewYorkTime.local(Timestamp(nanoseconds: ns)).date
                let start = NewYorkTime.timestamp(date, TradingCalendar.regularOpen)
                bars.append(
                    SourcedBar(
                        Bar(symbol: symbol, resolution: .day, start: start, open: p[0], high: p[1], low: p[2], close: p[3], volume: volume))
                )
            } catch let e as PolygonError {
                return .failure(e)
            } catch {
                return .failure(.malformed("\(error)"))
            }
        }
        return .page(PolygonPage(bars: bars, nextURL: json["next_url"]?.stringValue))
    }
}

/// Checked conversions of Polygon's numbers (outside values: a hostile or broken answer must be
/// refused, never trap).
enum PolygonNumbers {
    /// Polygon's `t` (milliseconds since the epoch) as nanoseconds; nil when it does not fit.
    static func nanoseconds(milliseconds ms: Int64) -> Int64? {
        let (ns, overflow) = ms.multipliedReportingOverflow(by: 1_000_000)
        return overflow ? nil : ns
    }

    /// A volume in fixed-point units (10⁻⁴) rounded half away from zero to whole shares, without
    /// the overflow that adding the half would risk near the type's bounds.
    static func wholeShares(units: Int64) -> Int64 {
        let (q, r) = units.quotientAndRemainder(dividingBy: 10_000)
        return r >= 5_000 ? q + 1 : r <= -5_000 ? q - 1 : q
    }
}

/// Keeps the API key out of every text that leaves the client.
public enum PolygonRedaction {
    /// `text` without the key's value and with every `apiKey=…` query value replaced.
    public static func redact(_ text: String, key: PolygonAPIKey) -> String {
        var out = key.withValue { v in v.isEmpty ? text : text.replacingOccurrences(of: v, with: "<redacted>") }
        var result = ""
        while let r = out.range(of: "apiKey=", options: .caseInsensitive) {
            result += out[..<r.upperBound]
            let rest = out[r.upperBound...]
            let end = rest.firstIndex { $0 == "&" || $0 == "\"" || $0 == "'" || $0.isWhitespace } ?? rest.endIndex
            if end > rest.startIndex { result += "<redacted>" }
            out = String(rest[end...])
        }
        return result + out
    }
}

/// Polygon's aggregates REST API over HTTP(S) (async-http-client): daily bars of a symbol for a
/// date range, following `next_url` pages, retrying 429 and 5xx with back-off.
///
/// Requests `GET {base}/v2/aggs/ticker/{T}/range/1/day/{from}/{to}?adjusted=false&sort=asc&limit=50000&apiKey=KEY`:
/// raw prices, because the store adjusts from its own corporate actions. Every error and log
/// line goes through ``PolygonRedaction`` first.
public final class PolygonClient: Sendable {
    let key: PolygonAPIKey
    public let settings: PolygonSettings
    let http: HTTPClient
    let logger: Logger
    let sleep: @Sendable (Duration) async throws -> Void
    let origin: String
    static let maximumAnswerBytes = 64 << 20

    /// `sleep` waits between attempts (tests pass one that records the delays and returns).
    public init(
        apiKey: PolygonAPIKey, settings: PolygonSettings, logger: Logger,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) throws(PolygonError) {
        guard let url = URL(string: settings.baseURL), let scheme = url.scheme, let host = url.host else {
            throw .setup("market_data.polygon.base_url is not a URL (got \(settings.baseURL))")
        }
        let loopback = ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host)
        guard scheme == "https" || (scheme == "http" && loopback) else {
            throw .setup("market_data.polygon.base_url must be https:// (http:// only on loopback) (got \(settings.baseURL))")
        }
        guard settings.maxAttempts >= 1 else { throw .setup("market_data.polygon.max_attempts must be at least 1") }
        let configuration: HTTPClient.Configuration
        do {
            configuration = try HTTPSClientSetup.http(
                caFile: settings.caFile, caFileKey: "market_data.polygon.ca_file", requestTimeout: settings.requestTimeout)
        } catch { throw .setup(error.description) }
        self.key = apiKey
        self.settings = settings
        self.logger = logger
        self.sleep = sleep
        self.origin = "\(scheme)://\(host)\(url.port.map { ":\($0)" } ?? "")"
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes the connection pool; call once before the client goes away.
    public func shutdown() async {
        try? await http.shutdown()
    }

    /// `text` with the key removed.
    public func redact(_ text: String) -> String { PolygonRedaction.redact(text, key: key) }

    /// The raw daily bars of `symbol` from `from` through `to`, every page, in Polygon's order.
    public func dailyBars(_ symbol: Symbol, from: LocalDate, to: LocalDate) async throws(PolygonError) -> [SourcedBar] {
        var url: String? =
            "\(settings.baseURL)/v2/aggs/ticker/\(symbol.rawValue)/range/1/day/\(from)/\(to)?adjusted=false&sort=asc&limit=50000"
        var bars: [SourcedBar] = []
        var pages = 0
        while let next = url {
            pages += 1
            guard pages <= settings.maxPages else { throw .tooManyPages(settings.maxPages) }
            let page = try await fetchPage(next, symbol: symbol)
            bars += page.bars
            if let n = page.nextURL, !n.isEmpty {
                guard n.hasPrefix(origin + "/") else { throw .foreignNextURL(redact(n)) }
                url = n
            } else {
                url = nil
            }
        }
        logger.info("polygon bars fetched", metadata: ["symbol": "\(symbol)", "bars": "\(bars.count)", "pages": "\(pages)"])
        return bars
    }

    /// One page, with retries: 429 and 5xx and transport errors are retried up to `maxAttempts`.
    func fetchPage(_ url: String, symbol: Symbol) async throws(PolygonError) -> PolygonPage {
        try await get(url, subject: ("symbol", "\(symbol)")) { status, retryAfter, body in
            switch PolygonAnswer.interpret(httpStatus: status, retryAfter: retryAfter, body: body, symbol: symbol) {
            case .page(let p): .done(p)
            case .retry(let after, let reason): .retry(after: after, reason: reason)
            case .failure(let e): .failure(e)
            }
        }
    }

    /// What one HTTP answer means to ``get(_:subject:interpret:)``: the value, a retry, or a failure.
    enum Attempt<Value> {
        case done(Value)
        case retry(after: Duration?, reason: String)
        case failure(PolygonError)
    }

    /// One GET with the API key, retried on what `interpret` calls retryable (429, 5xx, transport
    /// errors) as ``HTTPSRetry`` does (`maxAttempts`, doubling back-off or the server's
    /// Retry-After); errors are redacted of the key before they are logged or thrown. `subject`
    /// names the request in the log.
    func get<Value>(
        _ url: String, subject: (key: String, value: String),
        interpret: (_ status: Int, _ retryAfter: String?, _ body: [UInt8]) -> Attempt<Value>
    ) async throws(PolygonError) -> Value {
        let policy = HTTPSRetryPolicy(
            maxAttempts: settings.maxAttempts, initialBackoff: settings.initialBackoff, maxBackoff: settings.maxBackoff)
        do {
            return try await HTTPSRetry.run(
                policy, sleep: sleep, gaveUp: { PolygonError.gaveUp(attempts: $0, last: $1) },
                willRetry: { attempt, reason, wait in
                    logger.warning(
                        "polygon request will be retried",
                        metadata: [
                            subject.key: "\(subject.value)", "attempt": "\(attempt)", "reason": "\(reason)",
                            "wait": "\(wait.map { "\($0)" } ?? "none")",
                        ])
                }
            ) { _ throws(PolygonError) -> HTTPSAttempt<Value> in
                let answer: Attempt<Value>
                var request = HTTPClientRequest(url: key.withValue { "\(url)\(url.contains("?") ? "&" : "?")apiKey=\($0)" })
                request.method = .GET
                request.headers.add(name: "Accept", value: "application/json")
                do {
                    let response = try await http.execute(request, timeout: .init(settings.requestTimeout))
                    let body = try await response.body.collect(upTo: Self.maximumAnswerBytes)
                    answer = interpret(
                        Int(response.status.code), response.headers.first(name: "Retry-After"), Array(body.readableBytesView))
                } catch {
                    answer = .retry(after: nil, reason: "cannot reach Polygon: \(error)")
                }
                switch answer {
                case .done(let value): return .done(value)
                case .retry(let after, let reason): return .retry(after: after, reason: redact(reason))
                case .failure(let e):
                    let redacted = Self.redacted(e, key)
                    logger.error("polygon request failed", metadata: [subject.key: "\(subject.value)", "error": "\(redacted)"])
                    throw redacted
                }
            }
        } catch {
            if case .gaveUp = error {
                logger.error("polygon request gave up", metadata: [subject.key: "\(subject.value)", "error": "\(error)"])
            }
            throw error
        }
    }

    static func redacted(_ e: PolygonError, _ key: PolygonAPIKey) -> PolygonError {
        let r = { (s: String) in PolygonRedaction.redact(s, key: key) }
        return switch e {
        case .setup(let s): .setup(r(s))
        case .refused(let status, let m): .refused(status: status, message: r(m))
        case .malformed(let s): .malformed(r(s))
        case .gaveUp(let a, let l): .gaveUp(attempts: a, last: r(l))
        case .foreignNextURL(let u): .foreignNextURL(r(u))
        case .tooManyPages(let n): .tooManyPages(n)
        }
    }
}

extension MarketDataIngest {
    /// Fetches the daily bars of `symbols` for `[from, to]` from Polygon, validates them, and
    /// stores them in one transaction. Any failure of the source (after its retries) stores
    /// nothing: the store keeps its last good data and the error says why.
    @discardableResult
    public static func ingestPolygon(
        client: PolygonClient, symbols: [Symbol], from: LocalDate, to: LocalDate, into store: BarStore, mode: IngestMode = .strict,
        policy: ValidationPolicy = .standard, calendar: TradingCalendar = .nyse, logger: Logger
    ) async throws(IngestError) -> IngestReport {
        var inputs: [(source: String, symbol: Symbol, bars: [SourcedBar], parseIssues: [ValidationIssue])] = []
        for symbol in symbols {
            do {
                inputs.append(("polygon:\(symbol)", symbol, try await client.dailyBars(symbol, from: from, to: to), []))
            } catch {
                logger.error("polygon ingest abandoned, nothing stored", metadata: ["symbol": "\(symbol)", "error": "\(error)"])
                throw .source(error)
            }
        }
        return try commit(inputs, into: store, mode: mode, policy: policy, calendar: calendar, extra: StoreBatch(), logger: logger)
    }
}
