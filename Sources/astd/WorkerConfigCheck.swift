import ASTProcessKit
import ASTProcesses
import ASTSupervision
import Dispatch
import FoundationEssentials
import Glibc
import Synchronization

/// The whole configuration file, checked before astd starts anything, by the code that uses it.
///
/// astd decodes only the tree's sections (``TreeConfig``) and links no trading domain; the
/// domains' sections (risk limits, the strategy pipeline and its plugins, market data, the paper
/// broker, the notifier) are validated by the worker executables, which link their domains. Each
/// distinct executable among the children is run once with `--check-config` (all at once, with
/// astd's stderr, so their reasons reach the same log). Exit 78 (`EX_CONFIG`, the AST processes'
/// "configuration refused") from any of them makes astd refuse with 78. An executable that is no
/// AST worker (a test's `/bin/sh`), or cannot run, answers otherwise: astd says so and goes on, as
/// before, and the child's own start decides; one that has not answered within ``timeLimit`` is
/// killed and counted the same way.
enum WorkerConfigCheck {
    /// The variables a check must not inherit: they belong to astd's own service manager.
    static let managerVariables = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"]
    /// How long one check may take (a worker loads the file in well under a second).
    static let timeLimit = 30.0

    /// Why astd must not start (one refusal per line), or nil; `note` gets every check that could
    /// not tell (not an AST worker, did not run, timed out).
    static func refusal(
        specs: [ChildSpec], environment: [String: String] = ProcessInfo.processInfo.environment, note: (String) -> Void
    ) async -> String? {
        var environment = environment
        for key in managerVariables { environment[key] = nil }
        var seen: Set<String> = []
        var started: [(name: String, pid: Int32, done: DispatchSemaphore, status: StatusBox)] = []
        var refusals: [String] = []
        for spec in specs where seen.insert(spec.executable).inserted {
            let name = spec.executable.split(separator: "/").last.map(String.init) ?? spec.executable
            do {
                let pid = try await Spawner().spawn(
                    executable: spec.executable, arguments: spec.arguments + ["--instance", spec.id.instance, "--check-config"],
                    environment: environment)
                // astd has not started its reaper yet: these are its only children, waited for on
                // a thread each, so that a check that hangs can be killed at the time limit.
                let done = DispatchSemaphore(value: 0)
                let status = StatusBox()
                let created = DetachedThread.start {
                    status.set(wait(pid))
                    done.signal()
                }
                guard created == 0 else {
                    // Nothing can wait for it within the time limit: the check is given up.
                    kill(pid, SIGKILL)
                    _ = wait(pid)
                    note("\(name) could not check the configuration: no thread to wait for it (\(String(cString: strerror(created))))")
                    continue
                }
                started.append((name, pid, done, status))
            } catch {
                note("\(name) could not check the configuration: \(error)")
            }
        }
        let deadline = DispatchTime.now() + timeLimit
        for check in started {
            if check.done.wait(timeout: deadline) == .timedOut {
                kill(check.pid, SIGKILL)
                check.done.wait()
                note("\(check.name) --check-config did not answer within \(Int(timeLimit)) s (killed)")
                continue
            }
            switch check.status.get() {
            case .exited(let code) where code == ProcessExitCode.success.rawValue:
                continue
            case .exited(let code) where code == ProcessExitCode.config.rawValue:
                refusals.append("\(check.name) refused the configuration (its reasons are above)")
            case .exited(let code):
                note("\(check.name) --check-config exited with \(code): not an AST worker, or it cannot check this file")
            case .signaled(let signal, _):
                note("\(check.name) --check-config was killed by signal \(signal)")
            case nil:
                note("\(check.name) --check-config could not be waited for")
            }
        }
        return refusals.isEmpty ? nil : refusals.joined(separator: "\n")
    }

    /// Blocks until `pid` ends.
    static func wait(_ pid: Int32) -> ProcessExit.Termination? {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return nil }
        }
        return ProcessExit(pid: pid, waitStatus: status)?.termination
    }
}

/// One check's outcome, handed from its waiting thread.
final class StatusBox: Sendable {
    private let value = Mutex<ProcessExit.Termination?>(nil)
    func set(_ v: ProcessExit.Termination?) { value.withLock { $0 = v } }
    func get() -> ProcessExit.Termination? { value.withLock { $0 } }
}
