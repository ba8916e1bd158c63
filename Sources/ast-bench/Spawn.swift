import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process of the benchmark (a worker, or the raw echo child), started with
/// `posix_spawn`: stdin from /dev/null, stdout and stderr into files, and at most one extra
/// descriptor passed at a fixed number. Killed when the object goes away, so that a failed run
/// leaves nothing behind.
final class SpawnedProcess {
    let pid: pid_t
    let name: String
    let stderrPath: String
    private var reaped: Int32?

    /// - Parameter passing: a descriptor of ours to hand over, and the number the child sees it as.
    init(_ executable: String, _ arguments: [String], environment: [String: String], name: String,
         outputDirectory: String, passing: (fd: Int32, as: Int32)? = nil) throws {
        self.name = name
        stderrPath = "\(outputDirectory)/\(name).err"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "\(outputDirectory)/\(name).out", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let passing {
            // dup2 onto another number clears FD_CLOEXEC on the copy; our own descriptors stay close-on-exec.
            precondition(passing.fd != passing.as, "the passed descriptor must be moved to another number")
            posix_spawn_file_actions_adddup2(&actions, passing.fd, passing.as)
        }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
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
        guard rc == 0 else { throw BenchError("could not start \(executable): \(String(cString: strerror(rc)))") }
        pid = child
    }

    deinit {
        if reaped == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    var isRunning: Bool {
        if reaped != nil { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            reaped = status
            return false
        }
        return true
    }

    /// What the child wrote to stderr, for error messages.
    var stderrTail: String {
        let text = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        return String(text.suffix(2_000))
    }

    /// SIGTERM, then SIGKILL if the child has not exited within `graceSeconds`.
    func stop(graceSeconds: Double = 5) {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Monotonic.now() + UInt64(graceSeconds * 1e9)
        while isRunning, Monotonic.now() < deadline { usleep(5_000) }
        if isRunning {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            reaped = status
        }
    }
}

/// Where this run's files go: a fresh directory under /tmp (short, so that socket paths fit),
/// removed at the end.
final class ScratchDirectory: Sendable {
    let path: String

    init(base: String) throws {
        var template = Array("\(base)/ast-bench-XXXXXX".utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw BenchError("could not create a directory under \(base): \(String(cString: strerror(errno)))")
        }
        path = String(cString: p)
    }

    func callAsFunction(_ name: String) -> String { "\(path)/\(name)" }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Blocking reads and writes of exact byte counts on a descriptor.
enum BlockingIO {
    /// Writes all of `count` bytes; false if the descriptor failed or closed.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Bool {
        var done = 0
        while done < count {
            let n = write(fd, bytes + done, count - done)
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }

    /// Reads exactly `count` bytes; false at end of stream or on an error.
    static func readExactly(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Bool {
        var done = 0
        while done < count {
            let n = read(fd, buffer + done, count - done)
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }
}
