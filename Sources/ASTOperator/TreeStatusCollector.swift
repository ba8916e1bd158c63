import ASTBus
import ASTCore
import ASTMessages
import ASTRuntime
import ASTWire

/// How an operator's tool asks one process of the tree a question: `astctl` opens a short-lived
/// bus client per question, ast-web keeps one per process. Throws when the process does not answer.
public typealias OperatorAsk =
    @Sendable (_ target: ProcessIdentity, _ path: String, _ message: Message, _ timeout: Duration) async throws -> Envelope

/// Why the tree's status could not be collected, in words for the operator.
public struct OperatorError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The status `astctl status` shows (and ast-web's dashboard): astd's tree, then the risk gate's
/// Safe Mode, the reconciler's last run, each ready process's bus links and the notifier's outbox.
/// One collector for both, so that the page and the command line cannot disagree.
public enum TreeStatusCollector {
    /// astd's control socket.
    public static func supervisorPath(runtimeDir: String) -> String { "\(runtimeDir)/control.sock" }

    /// Asks astd for the tree, then each ready process for its part. Throws only when astd does
    /// not answer with a status; a process that does not answer leaves its part absent.
    public static func collect(runtimeDir: String, ask: @escaping OperatorAsk) async throws -> TreeStatus {
        let reply = try await ask(
            ProcessIdentity(role: .supervisor), supervisorPath(runtimeDir: runtimeDir), .statusRequest(StatusRequest()), .seconds(5))
        guard case .statusReply(var status) = reply.message else {
            throw OperatorError("astd answered \(reply.type) instead of a status")
        }
        // Only processes astd reports ready are asked: the socket of one that is down (given up on,
        // restarting) stays open in astd, and a question there would wait in its backlog.
        let ready = Set(status.children.filter { $0.ready && $0.pid != nil }.map(\.name))
        let risk = ProcessIdentity(role: .risk)
        if ready.contains(risk.description) {
            status.safeMode = await safeMode(runtimeDir: runtimeDir, ask: ask)
        }
        let reconciler = ProcessIdentity(role: .reconciler)
        if ready.contains(reconciler.description) {
            status.reconciliation = await lastReconciliation(runtimeDir: runtimeDir, reason: "astctl status", ask: ask)
        }
        // Bus links first: a notifier that hangs makes its own question wait for the timeout.
        for i in status.children.indices where ready.contains(status.children[i].name) {
            guard let id = ProcessIdentity(parsing: status.children[i].name) else { continue }
            status.children[i].bus = await busStatus(of: id, runtimeDir: runtimeDir, ask: ask)
        }
        if ready.contains(ProcessIdentity(role: .notifier).description) {
            status.notifier = await notifierStatus(runtimeDir: runtimeDir, ask: ask)
        }
        return status
    }

    /// The risk gate's Safe Mode, or nil when it does not answer.
    public static func safeMode(runtimeDir: String, ask: @escaping OperatorAsk) async -> RiskStatusReport? {
        let risk = ProcessIdentity(role: .risk)
        let path = WorkerRuntime.socketPath(identity: risk, runtimeDir: runtimeDir)
        guard UnixSocket.isLive(path: path) else { return nil }
        guard case .riskStatus(let report)? = try? await ask(risk, path, .riskCommand(.status), .seconds(10)).message else { return nil }
        return report
    }

    /// The reconciler's last run (without starting one), or nil when it has none or does not answer.
    public static func lastReconciliation(runtimeDir: String, reason: String, ask: @escaping OperatorAsk) async -> ReconciliationSummary? {
        let reconciler = ProcessIdentity(role: .reconciler)
        let path = WorkerRuntime.socketPath(identity: reconciler, runtimeDir: runtimeDir)
        guard UnixSocket.isLive(path: path) else { return nil }
        let reply = try? await ask(reconciler, path, .reconcileRequest(ReconcileRequest(run: false, reason: reason)), .seconds(20))
        guard case .reconciliationReport(let summary)? = reply?.message else { return nil }
        return summary
    }

    /// ast-notifier's outbox, or nil when it does not answer.
    public static func notifierStatus(runtimeDir: String, ask: @escaping OperatorAsk) async -> NotifierStatusReport? {
        let notifier = ProcessIdentity(role: .notifier)
        let path = WorkerRuntime.socketPath(identity: notifier, runtimeDir: runtimeDir)
        guard UnixSocket.isLive(path: path) else { return nil }
        let reply = try? await ask(notifier, path, .notifierStatusRequest(NotifierStatusRequest()), .seconds(5))
        guard case .notifierStatus(let report)? = reply?.message else { return nil }
        return report
    }

    /// A worker's outgoing bus links, or nil when it does not answer or answers beyond bounds (a
    /// peer's report is shown, never trusted: too many links, a target that is no process name).
    public static func busStatus(of target: ProcessIdentity, runtimeDir: String, ask: @escaping OperatorAsk) async -> BusStatusReport? {
        let path = WorkerRuntime.socketPath(identity: target, runtimeDir: runtimeDir)
        guard UnixSocket.isLive(path: path) else { return nil }
        // Bounded as a whole, connecting included: a socket at its connection cap (a flood) or a
        // hung process costs status three seconds, never a wait for a connection that never comes.
        let reply = await within(.seconds(3)) { try await ask(target, path, .busStatusRequest(BusStatusRequest()), .seconds(3)) }
        guard case .busStatus(let report)? = reply?.message, report.links.count <= BusStatusReport.maxLinks,
            report.links.allSatisfy({ ProcessIdentity(parsing: $0.target) != nil && $0.unacknowledged >= 0 })
        else { return nil }
        return report
    }
}
