import ASTCalendar
import ASTCore
import Synchronization

/// What market data publishes: a session's bars, the marks after it, or a stale-data warning.
public enum MarketDataUpdate: Sendable, Equatable {
    /// The bars of a session, in symbol order, published at `at` (the session's close).
    case bars(session: LocalDate, at: Timestamp, [Bar])
    /// The last close of every symbol, in symbol order.
    case marks(at: Timestamp, [Mark])
    /// A symbol's newest data is too old to act on: consumers do nothing for it.
    case stale(ValidationIssue)
}

/// Fans market data out to in-process subscribers (the process shell forwards them to the bus).
///
/// Each subscriber gets every update published after it subscribed, in publication order, on its
/// own `AsyncStream` (unbounded: a day is a few hundred bars, and a dropped bar would be worse
/// than memory held for a slow reader). ``finish()`` ends every stream.
public final class MarketDataPublisher: Sendable {
    private struct State {
        var next = 0
        var subscribers: [Int: AsyncStream<MarketDataUpdate>.Continuation] = [:]
        var finished = false
    }

    private let state = Mutex(State())

    public init() {}

    /// A stream of the updates published from now on.
    public func subscribe() -> AsyncStream<MarketDataUpdate> {
        let (stream, continuation) = AsyncStream<MarketDataUpdate>.makeStream(bufferingPolicy: .unbounded)
        let id: Int? = state.withLock { s in
            guard !s.finished else { return nil }
            defer { s.next += 1 }
            s.subscribers[s.next] = continuation
            return s.next
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) } }
        return stream
    }

    /// Publishes `update` to every subscriber.
    public func publish(_ update: MarketDataUpdate) {
        state.withLock { s in
            // By subscription order, so that every subscriber sees the same sequence.
            for id in s.subscribers.keys.sorted() { s.subscribers[id]?.yield(update) }
        }
    }

    /// Publishes a replayed session: its bars, then the marks.
    public func publish(_ step: ReplayStep) {
        publish(.bars(session: step.session.date, at: step.publishAt, step.bars))
        publish(.marks(at: step.publishAt, step.marks))
    }

    /// The number of current subscribers.
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Ends every stream; later subscribers get an empty one.
    public func finish() {
        let all = state.withLock { s in
            s.finished = true
            defer { s.subscribers = [:] }
            return s.subscribers.keys.sorted().compactMap { s.subscribers[$0] }
        }
        for c in all { c.finish() }
    }
}
