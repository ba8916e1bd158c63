import ASTCore
import ASTTWS
import Logging

/// Runs a ``TWSHistoryDownload`` over its own API connection: connects, waits for the API to
/// start, sends what the download asks (paced by it and by the connection's 50-a-second pacer),
/// feeds it every message and error, and closes the connection at the end, whatever the outcome.
/// It never reconnects: a lost connection fails the download. Read-only: it sends only the
/// download's historical requests (after the handshake's startApi).
public enum TWSHistoryClient {
    enum Event: Sendable {
        case output(TWSClientOutput)
        case tick
    }

    /// The series, or the first failure.
    public static func run(
        host: String, port: Int, settings: TWSConnectionSettings, download: TWSHistoryDownload, clock: any WallClock, logger: Logger,
        startTimeout: Duration = .seconds(20)
    ) async -> Result<[TWSHistorySeries], TWSHistoryFailure> {
        let client = TWSClient(host: host, port: port, settings: settings, clock: clock, logger: logger)
        let (events, sink) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
        let reader = Task {
            for await o in client.outputs { sink.yield(.output(o)) }
            sink.finish()
        }
        // One timer, armed for the next deadline: the API start's, then each one the download
        // returns (`.wait(until:)`: pacing, a request's timeout). No fixed-interval polling.
        var timer: Task<Void, Never>? = nil
        func arm(_ at: Timestamp) {
            timer?.cancel()
            let wait = at.duration(since: clock.now())
            timer = Task {
                // A cancelled sleep was re-armed (or the run ended): no tick.
                guard (try? await Task.sleep(for: max(wait, .zero))) != nil else { return }
                sink.yield(.tick)
            }
        }
        defer {
            timer?.cancel()
            reader.cancel()
        }
        await client.start()
        var machine = download
        var started = false
        let startDeadline = clock.now().advanced(by: startTimeout)
        arm(startDeadline)

        func step() async -> Result<[TWSHistorySeries], TWSHistoryFailure>? {
            while true {
                switch machine.next(now: clock.now()) {
                case .send(let request): await client.send(request)
                case .wait(let until):
                    arm(until)
                    return nil
                case .finished(let series): return .success(series)
                case .failed(let failure): return .failure(failure)
                }
            }
        }

        var outcome: Result<[TWSHistorySeries], TWSHistoryFailure> = .failure(.disconnected("the connection's output ended"))
        loop: for await event in events {
            switch event {
            case .output(.event(.started)):
                started = true
            case .output(.event(.disconnected(let reason, _))):
                guard started else {
                    outcome = .failure(.disconnected("could not start the API session: \(reason)"))
                    break loop
                }
                machine.disconnected(reason.description)
            case .output(.event(.error(let e, _))):
                if started { machine.error(e) }
            case .output(.event(.refused(_, let why))):
                outcome = .failure(.unencodable(why))
                break loop
            case .output(.message(let m)):
                if started { machine.receive(m) }
            case .output(.event(.plannedDisconnect)):
                break
            case .tick:
                if !started, clock.now() >= startDeadline {
                    outcome = .failure(.disconnected("no API session within \(startTimeout.components.seconds) s"))
                    break loop
                }
            }
            if started, let done = await step() {
                outcome = done
                break loop
            }
        }
        await client.stop()
        return outcome
    }
}
