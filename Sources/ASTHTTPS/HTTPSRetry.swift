/// How an HTTPS data client asks again after a 429, a 5xx or no answer: at most `maxAttempts`
/// attempts (the first included), waiting a back-off that starts at `initialBackoff` and doubles
/// up to `maxBackoff` (a wait the server names is capped by `maxBackoff` too).
public struct HTTPSRetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var initialBackoff: Duration
    public var maxBackoff: Duration

    public init(maxAttempts: Int, initialBackoff: Duration, maxBackoff: Duration) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }
}

/// What one attempt of ``HTTPSRetry/run(_:sleep:gaveUp:willRetry:attempt:)`` came to. A failure
/// that must not be retried is thrown by the attempt instead.
public enum HTTPSAttempt<Value> {
    case done(Value)
    /// Ask again after `after` (the server's word, e.g. `Retry-After`), or after the policy's
    /// back-off when nil.
    case retry(after: Duration?, reason: String)
    /// Ask again without sleeping here: a rate limiter in front of each attempt does the waiting.
    case retryWhenAllowed(reason: String)
}

/// The attempts loop the Polygon and Alpaca market-data clients share: one place decides how
/// many attempts, how long between them, and what a give-up says.
public enum HTTPSRetry {
    /// Runs `attempt` (numbered from 1) until it is done or throws, at most `policy.maxAttempts`
    /// times. Between attempts it calls `willRetry` and sleeps; a cancelled sleep and running out
    /// of attempts both throw `gaveUp(attempts, last reason)`.
    public static func run<Value, Failure: Error>(
        _ policy: HTTPSRetryPolicy, sleep: (Duration) async throws -> Void,
        gaveUp: (_ attempts: Int, _ last: String) -> Failure,
        willRetry: (_ attempt: Int, _ reason: String, _ wait: Duration?) -> Void = { _, _, _ in },
        attempt: (_ number: Int) async throws(Failure) -> HTTPSAttempt<Value>
    ) async throws(Failure) -> Value {
        var backoff = policy.initialBackoff
        var last = ""
        let attempts = max(policy.maxAttempts, 1)
        for number in 1...attempts {
            let wait: Duration?
            switch try await attempt(number) {
            case .done(let value): return value
            case .retry(let after, let reason): (last, wait) = (reason, min(after ?? backoff, policy.maxBackoff))
            case .retryWhenAllowed(let reason): (last, wait) = (reason, nil)
            }
            guard number < attempts else { break }
            willRetry(number, last, wait)
            if let wait {
                do { try await sleep(wait) } catch { throw gaveUp(number, "cancelled while waiting: \(last)") }
                backoff = min(backoff * 2, policy.maxBackoff)
            }
        }
        throw gaveUp(attempts, last)
    }
}
