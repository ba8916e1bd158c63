import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A real child process for integration tests: spawned with `posix_spawn` (only the three
/// standard descriptors are inherited), output captured in files, and killed with SIGKILL
/// when the object goes away, so that a failing test leaves nothing running.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    public let name: String
    public let stdoutPath: String
    public let stderrPath: String
    let status = Mutex<Int32?>(nil)

    /// - Parameters:
    ///   - environment: the complete environment of the child.
    ///   - outputDirectory: where `<name>.out` and `<name>.err` are written (appended to).
    ///   - passing: one descriptor of the caller's to hand over, and the number the child sees it as.
    public init(
        _ executable: String, _ arguments: [String] = [], environment: [String: String], name: String? = nil, outputDirectory: String,
        passing: (fd: Int32, as: Int32)? = nil
    ) throws {
        let base = name ?? (executable as NSString).lastPathComponent
        self.name = base
        stdoutPath = "\(outputDirectory)/\(base).out"
        stderrPath = "\(outputDirectory)/\(base).err"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let passing {
            // dup2 onto another number clears FD_CLOEXEC on the copy only.
            precondition(passing.fd != passing.as, "the passed descriptor must be moved to another number")
            posix_spawn_file_actions_adddup2(&actions, passing.fd, passing.as)
        }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Default signal dispositions and an empty mask, whatever the test runner set.
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attr, argv, envp)
        guard rc == 0 else { throw HarnessError("posix_spawn \(executable): \(String(cString: strerror(rc)))") }
        pid = child
    }

    deinit {
        if status.withLock({ $0 }) == nil {
            kill(pid, SIGKILL)
            var s: Int32 = 0
            waitpid(pid, &s, 0)
        }
    }

    public func signal(_ sig: Int32) {
        kill(pid, sig)
    }

    /// The raw wait status once the child has exited (and been reaped), else nil.
    public var exitStatus: Int32? {
        status.withLock { st in
            if st == nil {
                var s: Int32 = 0
                if waitpid(pid, &s, WNOHANG) == pid { st = s }
            }
            return st
        }
    }

    public var isRunning: Bool { exitStatus == nil }

    /// Waits for the child to exit; returns its wait status.
    @discardableResult
    public func waitForExit(timeout: Duration = .seconds(20)) async throws -> Int32 {
        try await eventually(timeout: timeout, every: .milliseconds(5), "\(name) (pid \(pid)) to exit") { exitStatus != nil }
        return exitStatus!
    }

    /// Exit code when the child exited normally, nil when a signal killed it.
    public static func exitCode(_ status: Int32) -> Int32? { (status & 0x7F) == 0 ? (status >> 8) & 0xFF : nil }
    /// The signal that killed the child, nil when it exited normally.
    public static func termSignal(_ status: Int32) -> Int32? { (status & 0x7F) != 0 && (status & 0x7F) != 0x7F ? status & 0x7F : nil }

    /// Everything the child wrote to stderr so far.
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }

    /// The last 2,000 characters the child wrote to stderr, for error messages.
    public var stderrTail: String { String(stderr.suffix(2_000)) }

    /// Stops the child without suspending (for `defer` blocks): SIGTERM, then SIGKILL after
    /// `graceSeconds`.
    public func stop(graceSeconds: Double) {
        guard isRunning else { return }
        signal(SIGTERM)
        let deadline = ContinuousClock.now + .milliseconds(Int64(graceSeconds * 1000))
        while isRunning, ContinuousClock.now < deadline { usleep(5_000) }
        if isRunning {
            signal(SIGKILL)
            while isRunning { usleep(1_000) }
        }
    }

    /// Stops the child: SIGTERM, then SIGKILL after `grace`.
    public func stop(grace: Duration = .seconds(5)) async {
        guard isRunning else { return }
        signal(SIGTERM)
        if (try? await waitForExit(timeout: grace)) == nil {
            signal(SIGKILL)
            _ = try? await waitForExit(timeout: .seconds(5))
        }
    }
}
