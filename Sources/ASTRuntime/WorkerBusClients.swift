import ASTBus
import ASTCore

extension WorkerContext {
    /// A bus client from this worker to `target`'s socket under the runtime directory, expecting
    /// `target`'s role, with the configured bus settings, journaling into this worker's journal
    /// and timing with the system clock: how every worker reaches its peers. `keepsRepliesToSent`
    /// hands replies to acknowledged messages out on ``BusClient/repliesToSent`` (risk's client to the
    /// broker, which must hear of a refused order).
    public func busClient(to target: ProcessIdentity, keepsRepliesToSent: Bool = false) throws -> BusClient {
        try BusClient(
            identity: identity, target: target.description,
            path: WorkerRuntime.socketPath(identity: target, runtimeDir: config.runtimeDir),
            expectedRole: target.role, settings: BusSettings(config.bus), journal: journal, clock: systemClock, logger: logger,
            keepsRepliesToSent: keepsRepliesToSent)
    }

    /// ``busClient(to:)`` when `target` is one of the supervisor's configured children, else nil
    /// (an optional peer such as the notifier).
    public func busClientIfConfigured(to target: ProcessIdentity) throws -> BusClient? {
        config.supervisor.children.contains { $0.name == target.description } ? try busClient(to: target) : nil
    }
}
