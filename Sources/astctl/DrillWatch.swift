// The drill's own watchdog: every wait of a round is named and bounded (ASTDrill's DrillWaits),
// and a wait that overruns its bound ends the drill with the round, the wait and what it saw last.
import ASTDrill
import Foundation
import Synchronization

/// Watches the drill's waits from a thread of its own (not the Swift concurrency pool, which a
/// blocked system call can starve): a wait past its bound by ``grace`` ends the drill through
/// `giveUp`. (A drill hung at round 31 of 100 under load and printed nothing for minutes.)
final class DrillWatch: Sendable {
    /// How far past its own bound a wait may run before the drill gives up (a loaded machine).
    let grace: Duration
    let waits = Mutex(DrillWaits())
    let stopped = Atomic(false)
    let giveUp: @Sendable (String) -> Void

    init(grace: Duration = .seconds(30), giveUp: @escaping @Sendable (String) -> Void) {
        self.grace = grace
        self.giveUp = giveUp
    }

    func setRound(_ round: Int, of rounds: Int) { waits.withLock { $0.setRound(round, of: rounds) } }

    /// Runs `body` as the named wait, bounded by `limit` (+ ``grace``).
    func waiting<T>(_ what: String, limit: Duration, _ body: () async throws -> T) async rethrows -> T {
        waits.withLock { $0.begin(what, at: .now, limit: limit) }
        defer { waits.withLock { $0.end() } }
        return try await body()
    }

    /// Notes what the innermost wait saw last.
    func saw(_ seen: String) { waits.withLock { $0.saw(seen) } }

    /// Starts the watching thread.
    func start() {
        Thread.detachNewThread { [self] in
            while !stopped.load(ordering: .relaxed) {
                Thread.sleep(forTimeInterval: 1)
                if let message = waits.withLock({ $0.overrun(at: .now, grace: grace) }) {
                    giveUp(message)
                    return
                }
            }
        }
    }

    func stop() { stopped.store(true, ordering: .relaxed) }
}
