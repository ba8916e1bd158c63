import ASTCore

/// The rate-limit headers Alpaca sends on every Trading API answer (a forum answer, not the
/// reference: `X-Ratelimit-Limit`, `-Remaining`, `-Reset` in Unix seconds). Each is optional.
public struct AlpacaRateLimitHeaders: Sendable, Equatable {
    public var limit: Int64?
    public var remaining: Int64?
    /// When the window resets.
    public var reset: Timestamp?

    public init(limit: Int64? = nil, remaining: Int64? = nil, reset: Timestamp? = nil) {
        self.limit = limit
        self.remaining = remaining
        self.reset = reset
    }

    /// Reads the three headers from name/value pairs (names case-insensitive); a malformed or
    /// absurd value is ignored, as if absent.
    public init(headers: [(String, String)]) {
        func value(_ name: String) -> Int64? {
            guard let v = headers.first(where: { $0.0.lowercased() == name })?.1, v.utf8.count <= 20, let n = Int64(v), n >= 0 else {
                return nil
            }
            return n
        }
        limit = value("x-ratelimit-limit")
        remaining = value("x-ratelimit-remaining")
        reset = value("x-ratelimit-reset").flatMap { s -> Timestamp? in
            let (ns, o) = s.multipliedReportingOverflow(by: 1_000_000_000)
            return o ? nil : Timestamp(nanoseconds: ns)
        }
    }
}

/// Alpaca's request budget as a token bucket: `capacity` (200) requests a `window` (a minute),
/// refilled continuously, exact in integer arithmetic. A 429, or the server's own `Remaining: 0`,
/// blocks every request until the server's reset time (60 s when it names none), bounded so
/// that a wild header cannot stop trading for longer than `maximumBlock`.
public struct AlpacaRateLimiter: Sendable, Equatable {
    public let capacity: Int64
    public let window: Duration
    public let maximumBlock: Duration
    /// Tokens times the window in nanoseconds (so that refills are exact integers).
    private var scaledTokens: Int128
    private var last: Timestamp?
    public private(set) var blockedUntil: Timestamp?

    public init(capacity: Int64 = 200, window: Duration = .seconds(60), maximumBlock: Duration = .seconds(120)) {
        self.capacity = max(capacity, 1)
        self.window = window > .zero ? window : .seconds(60)
        self.maximumBlock = maximumBlock
        scaledTokens = Int128(self.capacity) * Int128(self.window.totalNanoseconds)
    }

    var windowNanos: Int128 { Int128(window.totalNanoseconds) }

    mutating func refill(_ now: Timestamp) {
        if let last, now > last {
            let elapsed = Int128(now.nanoseconds) - Int128(last.nanoseconds)
            scaledTokens = min(scaledTokens + elapsed * Int128(capacity), Int128(capacity) * windowNanos)
        }
        if last.map({ now > $0 }) ?? true { last = now }
    }

    /// Whole tokens free at `now`.
    public func available(_ now: Timestamp) -> Int64 {
        var copy = self
        copy.refill(now)
        if let b = copy.blockedUntil, now < b { return 0 }
        return Int64(copy.scaledTokens / copy.windowNanos)
    }

    /// When the next request may go: `now` if a token is free.
    public func nextSlot(_ now: Timestamp) -> Timestamp {
        var copy = self
        copy.refill(now)
        var at = now
        if let b = copy.blockedUntil, b > at { at = b }
        if copy.scaledTokens < copy.windowNanos {
            let missing = copy.windowNanos - copy.scaledTokens
            let wait = (missing + Int128(capacity) - 1) / Int128(capacity)
            let ready = now.advanced(by: .nanoseconds(Int64(clamping: wait)))
            if ready > at { at = ready }
        }
        return at
    }

    /// Spends a token if one is free at `now`.
    public mutating func take(_ now: Timestamp) -> Bool {
        refill(now)
        if let b = blockedUntil {
            if now < b { return false }
            blockedUntil = nil
        }
        guard scaledTokens >= windowNanos else { return false }
        scaledTokens -= windowNanos
        return true
    }

    /// Takes in what an answer said: its status and rate-limit headers.
    public mutating func observe(status: Int, headers: AlpacaRateLimitHeaders, now: Timestamp) {
        refill(now)
        let latest = now.advanced(by: maximumBlock)
        if status == 429 || headers.remaining == 0 {
            var until = headers.reset ?? now.advanced(by: .seconds(60))
            if until <= now { until = now.advanced(by: .seconds(1)) }
            if until > latest { until = latest }
            if blockedUntil.map({ until > $0 }) ?? true { blockedUntil = until }
            scaledTokens = 0
        } else if let remaining = headers.remaining {
            // The server counts every client of the account: never believe in more than it grants.
            let granted = Int128(min(remaining, capacity)) * windowNanos
            if granted < scaledTokens { scaledTokens = granted }
        }
    }
}

/// What one Trading API answer means, from its status first and its body second.
public enum AlpacaAnswer: Sendable, Equatable {
    /// 2xx with its parsed body (`.null` for 204).
    case ok(AlpacaJSON)
    /// 404.
    case notFound(AlpacaAPIError)
    /// 401/403 on credentials: a wrong key, or a paper key on the live host.
    case unauthorized(AlpacaAPIError)
    /// 429: slowed down until `retryAt`.
    case rateLimited(retryAt: Timestamp)
    /// 5xx: the server failed; the outcome of a write is unknown.
    case serverError(status: Int, AlpacaAPIError)
    /// Another 4xx: refused (403 buying power, 422 validation, 400).
    case refused(status: Int, AlpacaAPIError)
    /// 2xx whose body could not be read.
    case malformed(String)

    /// Reads `status` and `body` (for 429, the reset header; 60 s without one).
    public static func read(status: Int, headers: AlpacaRateLimitHeaders, body: [UInt8], now: Timestamp) -> AlpacaAnswer {
        switch status {
        case 200...299:
            if status == 204 || body.isEmpty { return .ok(.null) }
            do {
                return .ok(try AlpacaJSONParser.parse(body))
            } catch {
                return .malformed(error.description)
            }
        case 401: return .unauthorized(AlpacaAPIError.decode(body))
        case 404: return .notFound(AlpacaAPIError.decode(body))
        case 429:
            var at = headers.reset ?? now.advanced(by: .seconds(60))
            if at <= now { at = now.advanced(by: .seconds(1)) }
            return .rateLimited(retryAt: min(at, now.advanced(by: .seconds(120))))
        case 403:
            let e = AlpacaAPIError.decode(body)
            let m = e.message.lowercased()
            // A 403 is also the documented "buying power or shares is not sufficient".
            if m.contains("forbidden") || m.contains("access key") || m.contains("unauthorized") || m.contains("api key") {
                return .unauthorized(e)
            }
            return .refused(status: status, e)
        case 500...599: return .serverError(status: status, AlpacaAPIError.decode(body))
        default: return .refused(status: status, AlpacaAPIError.decode(body))
        }
    }
}

/// The outcome of `POST /v2/orders` for a bracket, as AST's write-ahead protocol needs it.
public enum AlpacaSubmitOutcome: Sendable, Equatable {
    /// Alpaca took it: the order (fetch it with `nested=true` for the leg ids).
    case accepted(AlpacaOrder)
    /// Refused as a duplicate `client_order_id`: the order is already there. Confirm by lookup.
    case alreadyThere(AlpacaAPIError)
    /// A definite refusal: the order does not exist (403, 422 other than a duplicate, 400).
    case rejected(status: Int, AlpacaAPIError)
    /// Unknown: a 5xx, a 429, an unreadable answer, or no answer (the shell's transport error).
    /// Look the client order id up before anything is sent again; never blind-retry.
    case unknown(String)

    /// Classifies one answer to the bracket POST.
    public static func read(_ answer: AlpacaAnswer) -> AlpacaSubmitOutcome {
        switch answer {
        case .ok(let json):
            do {
                return .accepted(try AlpacaOrder.decode(json))
            } catch {
                return .unknown("the answer to the order could not be read: \(error.reason)")
            }
        case .notFound(let e): return .rejected(status: 404, e)
        case .refused(let status, let e):
            if (status == 422 || status == 409 || status == 400) && e.isDuplicateClientOrderID { return .alreadyThere(e) }
            return .rejected(status: status, e)
        case .unauthorized(let e): return .rejected(status: 401, e)
        case .rateLimited: return .unknown("rate limited (429): the order may or may not exist")
        case .serverError(let status, let e): return .unknown("server error \(status): \(e)")
        case .malformed(let why): return .unknown(why)
        }
    }
}

/// The outcome of a lookup by client order id (`GET /v2/orders:by_client_order_id`).
public enum AlpacaLookupOutcome: Sendable, Equatable {
    case found(AlpacaOrder)
    /// 404: the order is not at Alpaca (a re-send with the same id is safe: a duplicate is refused).
    case absent
    /// Anything else: try again later; send nothing meanwhile.
    case unknown(String)

    public static func read(_ answer: AlpacaAnswer) -> AlpacaLookupOutcome {
        switch answer {
        case .ok(let json):
            do {
                return .found(try AlpacaOrder.decode(json))
            } catch {
                return .unknown(error.reason)
            }
        case .notFound: return .absent
        case .rateLimited: return .unknown("rate limited")
        case .unauthorized(let e): return .unknown("unauthorized: \(e)")
        case .serverError(let s, let e): return .unknown("server error \(s): \(e)")
        case .refused(let s, let e): return .unknown("refused \(s): \(e)")
        case .malformed(let why): return .unknown(why)
        }
    }
}
