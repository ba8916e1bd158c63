import Glibc

/// A reaped process: its pid and how it ended.
public struct ProcessExit: Sendable, Equatable, CustomStringConvertible {
    /// How a process ended.
    public enum Termination: Sendable, Equatable {
        /// It called `exit(code)` (or returned from `main`).
        case exited(code: Int32)
        /// A signal killed it; `coreDumped` when the kernel wrote a core file.
        case signaled(signal: Int32, coreDumped: Bool)
    }

    /// The pid the process had (free for reuse from now on).
    public let pid: Int32
    /// How it ended.
    public let termination: Termination

    /// Creates an exit record.
    public init(pid: Int32, termination: Termination) {
        self.pid = pid
        self.termination = termination
    }

    /// Decodes a `waitpid` status (`WIFEXITED`, `WIFSIGNALED` ...). Nil for a stopped or
    /// continued child, which has not ended.
    public init?(pid: Int32, waitStatus status: Int32) {
        let low = status & 0x7F
        if low == 0 {
            self.init(pid: pid, termination: .exited(code: (status >> 8) & 0xFF))
        } else if low != 0x7F {
            self.init(pid: pid, termination: .signaled(signal: low, coreDumped: status & 0x80 != 0))
        } else {
            return nil
        }
    }

    /// Whether it exited with code 0.
    public var isSuccess: Bool { termination == .exited(code: 0) }

    /// `pid 4242 exited with code 3`, `pid 4242 was killed by SIGKILL`.
    public var description: String {
        switch termination {
        case .exited(let code):
            "pid \(pid) exited with code \(code)"
        case .signaled(let signal, let coreDumped):
            "pid \(pid) was killed by \(ProcessSignal(rawValue: signal).name)\(coreDumped ? " (core dumped)" : "")"
        }
    }
}

/// A signal to send to a child, with its conventional name.
public struct ProcessSignal: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The signal number.
    public let rawValue: Int32

    /// Wraps a signal number.
    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// SIGTERM: please stop (a worker drains and exits).
    public static let terminate = ProcessSignal(rawValue: SIGTERM)
    /// SIGABRT: a missed watchdog; the worker dumps core where enabled, as systemd does.
    public static let abort = ProcessSignal(rawValue: SIGABRT)
    /// SIGKILL: cannot be caught; the last resort.
    public static let kill = ProcessSignal(rawValue: SIGKILL)

    /// `SIGTERM`, or `signal 42` for one without a conventional name.
    public var name: String {
        switch rawValue {
        case SIGHUP: "SIGHUP"
        case SIGINT: "SIGINT"
        case SIGQUIT: "SIGQUIT"
        case SIGILL: "SIGILL"
        case SIGTRAP: "SIGTRAP"
        case SIGABRT: "SIGABRT"
        case SIGBUS: "SIGBUS"
        case SIGFPE: "SIGFPE"
        case SIGKILL: "SIGKILL"
        case SIGUSR1: "SIGUSR1"
        case SIGSEGV: "SIGSEGV"
        case SIGUSR2: "SIGUSR2"
        case SIGPIPE: "SIGPIPE"
        case SIGALRM: "SIGALRM"
        case SIGTERM: "SIGTERM"
        case SIGCHLD: "SIGCHLD"
        case SIGCONT: "SIGCONT"
        case SIGSTOP: "SIGSTOP"
        case SIGTSTP: "SIGTSTP"
        case SIGXCPU: "SIGXCPU"
        case SIGXFSZ: "SIGXFSZ"
        case SIGSYS: "SIGSYS"
        default: "signal \(rawValue)"
        }
    }

    public var description: String { name }
}
