// astd: the supervisor of the AST tree. It holds every worker's listening socket (received
// from systemd by name, or bound itself), spawns the workers with LISTEN_FDS, NOTIFY_SOCKET and
// WATCHDOG_USEC, restarts them under the configured policy, kills hung ones, reports lifecycle
// events to the risk gate and the notifier, and answers `astctl status` on the control socket.
// Under systemd it is Type=notify with a watchdog; `astd --foreground` runs the same way
// without systemd.
import ASTBus
import ASTCore
import ASTJournal
import ASTProcessKit
import ASTProcesses
import ASTSupervision
import ASTWire
import Dispatch
import Glibc
import Logging

func fail(_ message: String, code: ProcessExitCode) -> Never {
    StandardError.write("astd: \(message)\n")
    SystemdNotifier().status("failed: \(oneLine(message))")
    exit(code.rawValue)
}

/// `text` with every line feed made a space, for a one-line systemd STATUS=.
func oneLine(_ text: String) -> String {
    String(decoding: text.utf8.map { $0 == UInt8(ascii: "\n") ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
}

var arguments = CommandLine.arguments.dropFirst()
while let arg = arguments.popFirst() {
    switch arg {
    case "--foreground":
        break  // astd never daemonizes; the flag documents the intent of running without systemd
    case "--help", "-h":
        print(
            """
            usage: astd [--foreground]
              Supervises the AST worker processes listed under `supervisor.children` in etc/ast.yaml.
              Under systemd (ast.service) it takes its sockets from ast.socket; with --foreground it
              binds them itself under runtime_dir. Configuration: $AST_CONFIG_DIR (default ./etc).
            """)
        exit(0)
    default:
        fail("unknown argument '\(arg)' (usage: astd [--foreground])", code: .usage)
    }
}

// Other processes of the same uid may not open /proc/<astd>/fd (the peer table's writable
// descriptor, the approval key) or ptrace astd.
if let problem = ProcessHardening.disableDumping() { fail(problem, code: .failure) }

// astd reads the tree's part of the file itself; the workers check the whole file (their own
// domains' sections included) before anything is started (WorkerConfigCheck).
let config: TreeConfig
do {
    config = try ConfigLoader.fromEnvironment().load(TreeConfig.self)
} catch {
    fail("\(error)", code: .config)
}
if let refusal = StartupChecks.refusal(config) { fail(refusal, code: .config) }
if let refusal = await WorkerConfigCheck.refusal(
    specs: Astd.childSpecs(config), note: { StandardError.write("astd: \($0)\n") })
{
    fail(refusal, code: .config)
}
ASTLogging.bootstrap(processName: "astd", level: config.logging.level)
let logger = Logger(label: "ast.supervisor")
let identity = ProcessIdentity(role: .supervisor, instance: "main")
// Metrics (restarts per child, journal, bus) in <runtime_dir>/metrics/astd.prom for ast-web (README, "Metrics").
ProcessMetrics.bootstrap(process: "astd")
ProcessMetrics.watchJournalSize(path: StatePaths.journal(identity: identity, stateDir: config.stateDir))
Task { await ProcessMetrics.writeSnapshots(runtimeDir: config.runtimeDir) }
let clock = SystemClock()
let notifier = SystemdNotifier()

let exitCode: Int32 = await {
    do {
        return try await Astd(config: config, identity: identity, clock: clock, notifier: notifier, logger: logger).run()
    } catch {
        logger.critical("astd stopped: \(error)")
        notifier.status("failed: \(oneLine(String(describing: error)))")
        return ProcessExitCode.failure.rawValue
    }
}()
exit(exitCode)
