// ast-web: the dashboard (M15). Read-only pages and a JSON API over what `astctl status` and
// `astctl broker state` show, live updates by Server-Sent Events, and halt/resume/reconcile for
// a holder of the `ast_web_token` credential. Under astd with `on_crash: none`: trading never
// waits for it, and a crash of it changes nothing but the page.
import ASTBus
import ASTCore
import ASTMessages
import ASTRuntime
import ASTWeb
import ASTWire
import Foundation

/// The worker's logic: nothing arrives on its bus socket but probes; its work is the HTTP server.
struct WebWorker: WorkerLogic {
    let server: WebServer
    let listener: WebListener
    let op: WebOperator
    let context: WorkerContext

    func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message? { nil }

    func run() async {
        do {
            let logger = context.logger
            try await server.run(listener: listener) { url in
                // `astctl status` and the dashboard's own tree show where it serves.
                _ = SystemdNotifier().status("serving \(url)")
                logger.notice("ast-web serving \(url)")
            }
        } catch {
            // Cannot serve (the port is taken): exit so that astd shows it; trading is not affected.
            context.logger.critical("ast-web cannot serve on \(context.config.web?.address ?? "") port: \(error)")
            exit(1)
        }
    }

    func stopped() async { await op.close() }
}

let definition = WorkerDefinition(role: Role("web"), permissions: WorkerDefinition.diagnosticPermissions) { context in
    let web = context.config.web ?? .standard
    // HTTPS as configured or not at all: an unreadable certificate stops ast-web here, named.
    let listener = try WebListener(web)
    let store = SecretStore.fromEnvironment(secretsFile: context.config.secretsFile)
    var token: String?
    do {
        token = try store.secret("ast_web_token").withValue { $0 }
    } catch {
        // Fail closed: no usable token, no actions (the pages stay readable).
        if (error as? SecretError)?.kind == .notConfigured {
            context.logger.notice("no ast_web_token credential: the dashboard is read-only")
        } else {
            context.logger.error("ast_web_token unusable, the dashboard is read-only: \(error)")
        }
    }
    let op = WebOperator(
        runtimeDir: context.config.runtimeDir, bus: BusSettings(context.config.bus), journal: context.journal, clock: context.systemClock,
        logger: context.logger)
    let server = WebServer(
        config: web, stateDir: context.config.stateDir,
        broker: ProcessIdentity(parsing: context.config.risk.broker) ?? ProcessIdentity(role: .broker, instance: "paper"),
        op: op, access: WebAccess(token: token), journal: context.journal, clock: context.systemClock, logger: context.logger)
    return WebWorker(server: server, listener: listener, op: op, context: context)
}
exit(await WorkerRuntime.main(definition))
