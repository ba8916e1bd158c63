import ASTBus
import ASTCore
import ASTProcessKit
import ASTWire
import CoreMetrics
import Synchronization

extension WorkerContext {
    /// A bus client from this worker to `target`'s socket under the runtime directory, expecting
    /// `target`'s role, with the configured bus settings, journaling into this worker's journal
    /// and timing with the system clock: how every worker reaches its peers. `keepsRepliesToSent`
    /// hands replies to acknowledged messages out on ``BusClient/repliesToSent`` (risk's client to the
    /// broker, which must hear of a refused order).
    public func busClient(to target: ProcessIdentity, keepsRepliesToSent: Bool = false) throws -> BusClient {
        let client = try BusClient(
            identity: identity, target: target.description,
            path: WorkerRuntime.socketPath(identity: target, runtimeDir: config.runtimeDir),
            expectedRole: target.role, settings: BusSettings(config.bus), journal: journal, clock: systemClock, logger: logger,
            keepsRepliesToSent: keepsRepliesToSent)
        BusLinks.process.register(client)
        return client
    }

    /// ``busClient(to:)`` when `target` is one of the supervisor's configured children, else nil
    /// (an optional peer such as the notifier).
    public func busClientIfConfigured(to target: ProcessIdentity) throws -> BusClient? {
        config.supervisor.children.contains { $0.name == target.description } ? try busClient(to: target) : nil
    }
}

/// Every bus client this process made through ``WorkerContext/busClient(to:keepsRepliesToSent:)``:
/// what the runtime answers `astctl status` with (``BusStatusReport``), for every worker alike.
public final class BusLinks: Sendable {
    /// This process's clients.
    public static let process = BusLinks()
    let clients = Mutex<[BusClient]>([])

    func register(_ client: BusClient) { clients.withLock { $0.append(client) } }

    /// Exports `ast_bus_unacknowledged_messages{target}` for every link at each metrics snapshot.
    func exportUnacknowledged() {
        ProcessMetrics.addCollector { [self] in
            for link in report.links {
                Gauge(label: "ast_bus_unacknowledged_messages", dimensions: [("target", link.target)]).record(link.unacknowledged)
            }
        }
    }

    /// Every link, sorted by target.
    public var report: BusStatusReport {
        BusStatusReport(links: clients.withLock { $0 }.map(\.link).sorted { $0.target < $1.target })
    }
}

/// Answers `bus.status.request` (from astctl on the control role) for the worker, and hands
/// everything else to the worker's own inbox.
struct BusStatusInbox: BusInbox {
    let inner: any BusInbox

    func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message? {
        if case .busStatusRequest = envelope.message { return .busStatus(BusLinks.process.report) }
        return await inner.receive(envelope, from: peer)
    }

    func validate(_ envelope: Envelope, from peer: PeerInfo) -> InputRefusal? {
        if case .busStatusRequest = envelope.message { return nil }
        return inner.validate(envelope, from: peer)
    }
}
