import ASTBus
import ASTCore
import ASTJournal
import ASTMessages
import ASTOperator
import ASTRuntime
import ASTWire
import Foundation
import Logging

/// ast-web's side of the operator path: one bus client per process it asks (as `control@web`,
/// journaling into ast-web's own journal), made on first use and kept, as ast-notifier's
/// Telegram commands do. Questions and commands are the ones `astctl` sends, so the risk gate
/// and the reconciler journal them the same way, with `control@web` as the caller.
public actor WebOperator {
    /// Who ast-web is on the bus when it asks or commands: the control role, like astctl.
    public static let caller = ProcessIdentity(role: .control, instance: "web")

    let runtimeDir: String
    let bus: BusSettings
    let journal: Journal
    let clock: any WallClock
    let logger: Logger
    var clients: [String: (client: BusClient, task: Task<Void, Never>)] = [:]
    /// The last status and broker account, reused for `reuseFor`: however many browsers and
    /// scrapers ask, the tree answers ast-web at most about once a second (a flood of requests
    /// to the dashboard never becomes a flood of questions to the risk gate or the broker).
    var lastStatus: (at: ContinuousClock.Instant, status: TreeStatus)?
    var lastBroker: (at: ContinuousClock.Instant, state: BrokerAccountState)?
    let reuseFor: Duration = .seconds(1)
    /// Counts operator actions: a status collected across one is not kept (it may predate it).
    var actions = 0

    public init(runtimeDir: String, bus: BusSettings, journal: Journal, clock: any WallClock, logger: Logger) {
        self.runtimeDir = runtimeDir
        self.bus = bus
        self.journal = journal
        self.clock = clock
        self.logger = logger
    }

    /// The client towards `target` at `path`, connected within 5 s, or an error.
    func client(to target: ProcessIdentity, path: String) async throws -> BusClient {
        guard UnixSocket.isLive(path: path) else { throw OperatorError("\(target) is not reachable") }
        let key = target.description
        let client: BusClient
        if let known = clients[key] {
            client = known.client
        } else {
            client = try BusClient(
                identity: Self.caller, target: target.description, path: path, expectedRole: target.role, settings: bus,
                journal: journal, clock: clock, logger: logger)
            clients[key] = (client, Task { await client.run() })
        }
        if !client.isConnected {
            let connected = await within(.seconds(5)) {
                await client.waitUntilConnected()
                return client.isConnected
            }
            guard connected == true else { throw OperatorError("\(target) did not answer the connection") }
        }
        return client
    }

    /// Asks `target` one question; the shape ``TreeStatusCollector`` takes.
    public func ask(_ target: ProcessIdentity, _ path: String, _ message: Message, _ timeout: Duration) async throws -> Envelope {
        let client = try await client(to: target, path: path)
        return try await client.request(message, timeout: timeout)
    }

    /// The `OperatorAsk` closure over this actor.
    public nonisolated var asker: OperatorAsk {
        { [self] target, path, message, timeout in try await self.ask(target, path, message, timeout) }
    }

    /// An action changes what the tree would say: the next status is asked anew.
    func changed() {
        actions += 1
        lastStatus = nil
    }

    /// Stops every client (at shutdown).
    public func close() {
        for (_, c) in clients { c.task.cancel() }
        clients = [:]
    }

    /// The whole status, as `astctl status --json` shows it.
    public func status() async throws -> TreeStatus {
        if let last = lastStatus, ContinuousClock.now - last.at < reuseFor { return last.status }
        let before = actions
        let status = try await TreeStatusCollector.collect(runtimeDir: runtimeDir, ask: asker)
        if actions == before { lastStatus = (ContinuousClock.now, status) }
        return status
    }

    /// The risk gate's Safe Mode, nil when it does not answer.
    public func safeMode() async -> RiskStatusReport? {
        await TreeStatusCollector.safeMode(runtimeDir: runtimeDir, ask: asker)
    }

    /// The risk gate's answer to `halt`/`resume`, as `astctl halt`/`astctl resume` send them.
    public func risk(_ command: RiskCommand) async throws -> RiskStatusReport {
        if command != .status { changed() }
        defer { if command != .status { changed() } }
        let risk = ProcessIdentity(role: .risk)
        let reply = try await ask(
            risk, WorkerRuntime.socketPath(identity: risk, runtimeDir: runtimeDir), .riskCommand(command), .seconds(10))
        guard case .riskStatus(let report) = reply.message else { throw OperatorError("ast-risk answered \(reply.type)") }
        return report
    }

    /// A reconciliation run now, as `astctl reconcile` asks for one; nil when none ran.
    public func reconcile(reason: String) async throws -> ReconciliationSummary? {
        changed()
        defer { changed() }
        let reconciler = ProcessIdentity(role: .reconciler)
        let path = WorkerRuntime.socketPath(identity: reconciler, runtimeDir: runtimeDir)
        let reply = try await ask(reconciler, path, .reconcileRequest(ReconcileRequest(run: true, reason: reason)), .seconds(20))
        switch reply.message {
        case .reconciliationReport(let summary): return summary
        case .commandResult: return nil
        default: throw OperatorError("ast-reconciler answered \(reply.type)")
        }
    }

    /// The broker's own account (positions, open orders, executions at or after `since`), as
    /// `astctl broker state` reads it; nil when the broker does not answer.
    public func brokerState(broker: ProcessIdentity, executionsSince since: Timestamp) async -> BrokerAccountState? {
        let everything = since == Timestamp(nanoseconds: 0)
        if everything, let last = lastBroker, ContinuousClock.now - last.at < reuseFor { return last.state }
        let path = WorkerRuntime.socketPath(identity: broker, runtimeDir: runtimeDir)
        guard let client = try? await client(to: broker, path: path) else { return nil }
        let answer = try? await BrokerPages.fetch(executionsSince: since, timeout: .seconds(10)) {
            try await client.request($0, timeout: $1)
        }
        if everything, let state = answer ?? nil { lastBroker = (ContinuousClock.now, state) }
        return answer ?? nil
    }
}
