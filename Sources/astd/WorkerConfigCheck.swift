import ASTProcessKit
import ASTProcesses
import ASTSupervision
import Foundation

/// The whole configuration file, checked before astd starts anything, by the code that uses it.
///
/// astd decodes only the tree's sections (``TreeConfig``) and links no trading domain; the
/// domains' sections (risk limits, the strategy pipeline and its plugins, market data, the paper
/// broker, the notifier) are validated by the worker executables, which link their domains. Each
/// distinct executable among the children is run once with `--check-config` (all at once, with
/// astd's stderr, so their reasons reach the same log), and astd starts only when every one of them
/// accepted the file. A check that cannot run, or ends in any other way than exit 0, is a refusal:
/// an executable that cannot check the file is not one astd may start.
enum WorkerConfigCheck {
    /// The variables a check must not inherit: they belong to astd's own service manager.
    static let managerVariables = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"]

    /// Why astd must not start (every refusal, one per line), or nil when every worker accepted
    /// the configuration.
    static func refusal(specs: [ChildSpec], environment: [String: String] = ProcessInfo.processInfo.environment) async -> String? {
        var environment = environment
        for key in managerVariables { environment[key] = nil }
        var seen: Set<String> = []
        var started: [(executable: String, pid: Int32)] = []
        var refusals: [String] = []
        for spec in specs where seen.insert(spec.executable).inserted {
            do {
                let pid = try await Spawner().spawn(
                    executable: spec.executable, arguments: spec.arguments + ["--instance", spec.id.instance, "--check-config"],
                    environment: environment)
                started.append((spec.executable, pid))
            } catch {
                refusals.append("cannot check the configuration with \(spec.executable): \(error)")
            }
        }
        for (executable, pid) in started {
            let name = executable.split(separator: "/").last.map(String.init) ?? executable
            switch wait(pid) {
            case .exited(let code) where code == ProcessExitCode.success.rawValue:
                continue
            case .exited(let code) where code == ProcessExitCode.config.rawValue:
                refusals.append("\(name) refused the configuration (its reasons are above)")
            case .exited(let code):
                refusals.append("\(name) --check-config exited with \(code) (it cannot check this configuration)")
            case .signaled(let signal, _):
                refusals.append("\(name) --check-config was killed by \(signal)")
            case nil:
                refusals.append("\(name) --check-config could not be waited for (errno \(errno))")
            }
        }
        return refusals.isEmpty ? nil : refusals.joined(separator: "\n")
    }

    /// Blocks until `pid` ends (astd has not started its reaper yet: these are its only children).
    static func wait(_ pid: Int32) -> ProcessExit.Termination? {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return nil }
        }
        return ProcessExit(pid: pid, waitStatus: status)?.termination
    }
}
