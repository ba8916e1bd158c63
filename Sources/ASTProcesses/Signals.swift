import Glibc

/// Sends signals to children and stops them with escalation (SIGTERM, then SIGKILL), as systemd
/// does with `TimeoutStopSec=`, and with SIGABRT first for a missed watchdog.
public enum Signals {
    /// Sends `signal` to `pid`. Refuses pids that would reach more than one process or this
    /// process itself (`kill(0)`, `kill(-1)` and negative pids signal groups or everything).
    public static func send(_ signal: ProcessSignal, to pid: Int32) throws(SignalError) {
        guard pid > 0 else { throw .refused(pid: pid, reason: "it is not a single process") }
        guard pid != getpid() else { throw .refused(pid: pid, reason: "it is the supervisor itself") }
        guard kill(pid, signal.rawValue) == 0 else {
            let code = errno
            if code == ESRCH { throw .noSuchProcess(pid: pid) }
            throw .failed(pid: pid, signal: signal, errno: code)
        }
    }

    /// Stops `pid`: sends `first` (SIGTERM, or SIGABRT for a missed watchdog), waits up to
    /// `gracePeriod` for the reaper to report its exit, then sends SIGKILL and waits up to
    /// `killWait` more.
    public static func stop(
        _ pid: Int32, reaper: Reaper, first: ProcessSignal = .terminate,
        gracePeriod: Duration, killWait: Duration = .seconds(5)
    ) async -> StopOutcome {
        guard pid > 0, pid != getpid() else { return .notRunning }
        let graceful = await reaper.waitForExit(of: pid, timeout: gracePeriod) {
            _ = try? send(first, to: pid)
        }
        switch graceful {
        case .exited(let exit): return .exited(exit)
        case .notRunning: return .notRunning
        case .timedOut: break
        }
        let forced = await reaper.waitForExit(of: pid, timeout: killWait) {
            _ = try? send(.kill, to: pid)
        }
        switch forced {
        case .exited(let exit): return .killed(exit)
        case .notRunning: return .notRunning
        case .timedOut: return .unkillable(pid: pid)
        }
    }
}

/// How `Signals.stop` ended.
public enum StopOutcome: Sendable, Equatable {
    /// The process exited within the grace period after the first signal.
    case exited(ProcessExit)
    /// It ignored the first signal and was reaped after SIGKILL (the exit may still show the
    /// first signal when it died just as SIGKILL was sent).
    case killed(ProcessExit)
    /// No such process: it had already been reaped.
    case notRunning
    /// Still not reaped after SIGKILL: stuck in the kernel (uninterruptible sleep, a hung NFS
    /// mount or device). Nothing more can be done from user space.
    case unkillable(pid: Int32)
}

/// Why a signal was not sent.
public enum SignalError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No process has this pid (it exited and was reaped).
    case noSuchProcess(pid: Int32)
    /// The pid would not name exactly one child (0, negative, or the supervisor itself).
    case refused(pid: Int32, reason: String)
    /// `kill` failed otherwise (EPERM: the process belongs to another user).
    case failed(pid: Int32, signal: ProcessSignal, errno: Int32)

    public var description: String {
        switch self {
        case .noSuchProcess(let pid):
            "signal: no process with pid \(pid); it has already exited"
        case .refused(let pid, let reason):
            "signal: refused to signal pid \(pid): \(reason)"
        case .failed(let pid, let signal, let code):
            "signal: sending \(signal) to pid \(pid) failed: \(errnoDescription(code))"
        }
    }
}
