import ASTHTTPS
import Synchronization
import Testing

/// The attempts loop shared by the Polygon and Alpaca market-data clients, driven by scripted
/// attempts and a sleep that records instead of waiting.
@Suite struct HTTPSRetryTests {
    struct GaveUp: Error, Equatable {
        var attempts: Int
        var last: String
    }

    enum Step {
        case done(Int)
        case retry(Duration?)
        case allowed
        case fail
    }

    struct Refused: Error {}

    /// Runs `steps` (one per attempt) and returns the result and the recorded sleeps.
    func run(_ steps: [Step], attempts: Int = 5, cancelSleep: Bool = false) async -> (Result<Int, GaveUp>, [Duration], [Int]) {
        let slept = Mutex<[Duration]>([])
        let retried = Mutex<[Int]>([])
        let policy = HTTPSRetryPolicy(maxAttempts: attempts, initialBackoff: .seconds(1), maxBackoff: .seconds(5))
        do {
            let v = try await HTTPSRetry.run(
                policy,
                sleep: { d in
                    if cancelSleep { throw CancellationError() }
                    slept.withLock { $0.append(d) }
                },
                gaveUp: { GaveUp(attempts: $0, last: $1) }, willRetry: { n, _, _ in retried.withLock { $0.append(n) } }
            ) { n throws(GaveUp) -> HTTPSAttempt<Int> in
                switch steps[n - 1] {
                case .done(let v): return .done(v)
                case .retry(let after): return .retry(after: after, reason: "r\(n)")
                case .allowed: return .retryWhenAllowed(reason: "limited \(n)")
                case .fail: throw GaveUp(attempts: -1, last: "refused")
                }
            }
            return (.success(v), slept.withLock { $0 }, retried.withLock { $0 })
        } catch {
            return (.failure(error), slept.withLock { $0 }, retried.withLock { $0 })
        }
    }

    @Test func theBackOffDoublesUpToItsMaximumAndAServersWaitIsCapped() async {
        let (r, slept, retried) = await run([.retry(nil), .retry(nil), .retry(.seconds(60)), .retry(nil), .done(7)])
        #expect(r == .success(7))
        // 1 s, 2 s, the server's 60 s capped at 5 s, then the back-off (doubled three times to 8 s) capped at 5 s.
        #expect(slept == [.seconds(1), .seconds(2), .seconds(5), .seconds(5)])
        #expect(retried == [1, 2, 3, 4])
    }

    @Test func aRateLimitedAttemptIsAskedAgainWithoutSleepingOrDoublingTheBackOff() async {
        let (r, slept, _) = await run([.allowed, .allowed, .retry(nil), .done(1)])
        #expect(r == .success(1))
        #expect(slept == [.seconds(1)])
    }

    @Test func runningOutOfAttemptsGivesUpWithTheLastReasonAndNeverSleepsAfterTheLast() async {
        let (r, slept, retried) = await run([.retry(nil), .retry(nil), .retry(nil)], attempts: 3)
        #expect(r == .failure(GaveUp(attempts: 3, last: "r3")))
        #expect(slept == [.seconds(1), .seconds(2)])
        #expect(retried == [1, 2])
    }

    @Test func aFailureTheAttemptThrowsIsNotRetried() async {
        let (r, slept, _) = await run([.fail, .done(1)])
        #expect(r == .failure(GaveUp(attempts: -1, last: "refused")))
        #expect(slept.isEmpty)
    }

    @Test func aCancelledSleepGivesUpAtThatAttempt() async {
        let (r, _, _) = await run([.retry(nil), .done(1)], cancelSleep: true)
        #expect(r == .failure(GaveUp(attempts: 1, last: "cancelled while waiting: r1")))
    }
}
