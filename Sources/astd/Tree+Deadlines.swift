import ASTCore
import Synchronization

extension Tree {
    /// The earliest moment at which ``tick()`` has work: a scheduled restart or retry, a SIGKILL
    /// escalation, a child's start-up or watchdog deadline, or astd's own watchdog ping to systemd. Nil when
    /// nothing is due until an event arrives (an exit, a notification, a signal).
    func nextDeadline() -> Timestamp? {
        var earliest = core.nextDeadline
        func consider(_ t: Timestamp) { earliest = min(earliest ?? t, t) }
        killDeadlines.values.forEach(consider)
        for child in core.children {
            guard case .running(let pid, let since) = child.state, let spec = specs[child.id] else { continue }
            let r = runtime[child.id, default: Runtime()]
            guard r.watchdogMissedFor != pid,
                let hang = spec.hangDeadline(since: since, readySince: child.readySince, lastPing: r.lastPing)
            else { continue }
            // `tick` acts once the time is strictly past the deadline.
            consider(hang.at.advanced(by: .nanoseconds(1)))
        }
        if let w = ownWatchdog, gaveUpReason == nil {
            consider(lastOwnPing.map { $0.advanced(by: w.pingInterval) } ?? clock.now())
        }
        return earliest
    }
}

/// Wakes astd's loop: at the next deadline, or as soon as an event has been handled, whichever
/// comes first. A kick while the loop is busy is kept, so no event waits for a deadline.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// An event was handled: the loop looks again now.
    func kick() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns at `deadline` (never, when nil) or at the first kick, whichever comes first.
    func wait(until deadline: Timestamp?, clock: any WallClock) async {
        let sleeper = deadline.map { deadline in
            Task {
                // A deadline already past still waits a millisecond: a guard against a busy loop
                // should a deadline ever stay in the past after a tick.
                let delay = max(1_000_000, deadline.nanoseconds - clock.now().nanoseconds)
                do { try await Task.sleep(for: .nanoseconds(delay)) } catch { return }
                self.kick()
            }
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if s.pending {
                    s.pending = false
                    return true
                }
                s.waiter = c
                return false
            }
            if resumeNow { c.resume() }
        }
        sleeper?.cancel()
    }
}
