import ASTCore
import ASTRuntime
import Foundation
import GRDBSQLite

#if canImport(Glibc)
    import Glibc
#endif

/// The manager's side of `sd_notify(3)` for the bench, exactly what systemd gives a `Type=notify`
/// service: an `AF_UNIX` datagram socket whose path goes into the process's `NOTIFY_SOCKET`.
///
/// A thread of its own waits on the socket (`poll(2)`) and stamps every datagram (``Monotonic``)
/// as soon as it arrives, so that a wait measured through it carries no polling delay. It also keeps the
/// socket drained: the kernel queues only `net.unix.max_dgram_qlen` datagrams (10 by default),
/// and a sender whose manager stops reading blocks in `sd_notify`.
final class NotifyListener: @unchecked Sendable {
    /// One datagram and when it arrived.
    struct Datagram {
        let at: UInt64
        let text: String

        /// Whether it carries `READY=1` (alone or with `STATUS=` in the same datagram).
        var isReady: Bool { text.split(separator: "\n").contains("READY=1") }
    }

    let path: String
    private let fd: Int32
    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var received: [Datagram] = []
    private var closed = false
    private let finished = DispatchSemaphore(value: 0)

    /// Binds a datagram socket at `path` and starts reading it; call ``stop()`` when done (the
    /// reading thread keeps the listener alive until then).
    init(path: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket(AF_UNIX, SOCK_DGRAM): \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw BenchError("notify socket path too long for a Unix socket: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw BenchError("bind(\(path)): \(message)")
        }
        let thread = Thread { [self] in readLoop() }
        thread.name = "notify-listener"
        thread.start()
    }

    private func readLoop() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 50)
            condition.lock()
            let stop = closed
            condition.unlock()
            if stop { break }
            guard ready > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            let at = Monotonic.now()
            guard n > 0 else { continue }
            let datagram = Datagram(at: at, text: String(decoding: buffer[0..<n], as: UTF8.self))
            condition.lock()
            received.append(datagram)
            condition.broadcast()
            condition.unlock()
        }
        finished.signal()
    }

    /// How many datagrams arrived so far: a mark to wait from.
    var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return received.count
    }

    /// Waits until `n` datagrams with `READY=1` have arrived after the first `mark` ones; returns
    /// when the `n`-th arrived. Throws when `alive` turns false or after `timeout` seconds, with
    /// what `log` returns (the end of the process's stderr) and the datagrams received.
    func waitForReady(
        _ n: Int, after mark: Int, timeout: Double, what: String, log: () -> String,
        alive: () -> Bool
    ) throws -> UInt64 {
        guard let at = try readyTime(n, after: mark, timeout: timeout, what: what, log: log, alive: alive) else {
            throw BenchError("\(what) sent no READY=1 within \(Int(timeout)) s; \(describe(after: mark, log: log))")
        }
        return at
    }

    /// Like ``waitForReady(_:after:timeout:what:log:alive:)``, but nil after `timeout` seconds
    /// while `alive` still holds: the caller decides what a missing READY=1 means.
    func readyTime(
        _ n: Int, after mark: Int, timeout: Double, what: String, log: () -> String,
        alive: () -> Bool
    ) throws -> UInt64? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            let ready = received[min(mark, received.count)...].filter(\.isReady)
            if ready.count >= n { return ready[ready.startIndex + n - 1].at }
            guard alive() else { throw BenchError("\(what) exited before READY=1; \(describeLocked(after: mark, log: log))") }
            guard Date() < deadline else { return nil }
            _ = condition.wait(until: min(deadline, Date(timeIntervalSinceNow: 0.05)))
        }
    }

    /// The notifications received after `mark` and what `log` returns, for an error message.
    func describe(after mark: Int, log: () -> String) -> String {
        condition.lock()
        defer { condition.unlock() }
        return describeLocked(after: mark, log: log)
    }

    private func describeLocked(after mark: Int, log: () -> String) -> String {
        let seen = received[min(mark, received.count)...].map { $0.text.replacingOccurrences(of: "\n", with: " ") }
        return "notifications received: \(seen); stderr:\n\(log())"
    }

    /// Stops the reader thread, closes and removes the socket.
    func stop() {
        condition.lock()
        let already = closed
        closed = true
        condition.unlock()
        guard !already else { return }
        finished.wait()
        close(fd)
        unlink(path)
    }
}

/// One lifecycle event as astd journals it (the JSON body of a `lifecycle` entry in
/// `supervisor@main.sqlite`); only the fields the benchmarks read.
struct JournaledLifecycleEvent: Decodable {
    /// `spawned`, `ready`, `exited`, `restarted`, `stopped`, `watchdog_timeout`, `gave_up`.
    var kind: String
    var child: String?
    var pid: Int32?
    /// astd's wall clock (`CLOCK_REALTIME`) when it handled the event, in nanoseconds.
    var at: Int64
}

/// Reads astd's lifecycle events from its journal while astd writes it. The journal is SQLite in
/// WAL mode, so this reader never blocks astd's writes, and the timestamps are astd's own (taken
/// when it handled the exit, the spawn or the READY), so a reader's polling interval does not
/// enter them.
final class LifecycleJournalReader {
    let path: String
    /// Entries stamped earlier than this (a previous run's, in a reused journal) are skipped.
    let since: Int64
    private var db: OpaquePointer?
    private var statement: OpaquePointer?
    private var lastSeq: Int64 = 0
    private let decoder = JSONDecoder()

    init(path: String, since: Int64) {
        self.path = path
        self.since = since
    }

    deinit { close() }

    /// Closes the database (reopened by the next `poll`).
    func close() {
        sqlite3_finalize(statement)
        sqlite3_close_v2(db)
        statement = nil
        db = nil
    }

    /// The lifecycle events journaled since the previous call, in journal order. Empty while the
    /// journal does not exist yet or astd is still creating its tables.
    func poll() throws -> [JournaledLifecycleEvent] {
        guard let statement = try prepared() else { return [] }
        defer { sqlite3_reset(statement) }
        sqlite3_bind_int64(statement, 1, lastSeq)
        sqlite3_bind_int64(statement, 2, since)
        var events: [JournaledLifecycleEvent] = []
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            // Busy or locked for a moment (a checkpoint): the rest comes with the next poll.
            if rc == SQLITE_BUSY || rc == SQLITE_LOCKED { break }
            guard rc == SQLITE_ROW else { throw BenchError("reading \(path): \(String(cString: sqlite3_errmsg(db)))") }
            lastSeq = sqlite3_column_int64(statement, 0)
            let count = Int(sqlite3_column_bytes(statement, 1))
            let body = count > 0 ? Data(bytes: sqlite3_column_blob(statement, 1), count: count) : Data()
            events.append(try decoder.decode(JournaledLifecycleEvent.self, from: body))
        }
        return events
    }

    private func prepared() throws -> OpaquePointer? {
        if let statement { return statement }
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        var handle: OpaquePointer?
        // Read-write without CREATE: a WAL reader needs the shared-memory index; only SELECTs run.
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK, let handle else {
            sqlite3_close_v2(handle)
            return nil
        }
        // No busy handler: a reader that finds the WAL busy for a moment (astd checkpointing)
        // returns at once and tries again at the next poll, instead of sleeping in SQLite.
        sqlite3_busy_timeout(handle, 0)
        var s: OpaquePointer?
        // kind 'event': astd's own record of the event. The same events also appear as kind 'sent'
        // (the envelopes astd's bus clients journal before sending them to risk and notifier).
        let sql = "SELECT seq, body FROM entries WHERE seq > ?1 AND kind = 'event' AND type = 'lifecycle' AND ts >= ?2 ORDER BY seq"
        guard sqlite3_prepare_v2(handle, sql, -1, &s, nil) == SQLITE_OK, let s else {
            // astd has not created its tables yet.
            sqlite3_close_v2(handle)
            return nil
        }
        db = handle
        statement = s
        return s
    }
}

/// Memory figures of a process from `/proc/<pid>/status`, in bytes (the kernel reports KiB).
struct ProcessMemory {
    /// Resident set size now.
    var rss: Int
    /// The highest resident set size so far ("high water mark").
    var hwm: Int
    /// Of `rss`: anonymous pages (heap, stacks), pages of mapped files (the executable and shared
    /// libraries, shared with every other process that maps them), shared memory.
    var anonymous: Int
    var file: Int
    var shmem: Int

    /// From `/proc/<pid>/smaps_rollup`: the proportional set size (each shared page divided by
    /// the number of processes mapping it) and the private pages (what the process alone
    /// costs: its memory would be freed if it exited).
    var pss: Int
    var privateBytes: Int

    /// Reads `/proc/<pid>/status` and `/proc/<pid>/smaps_rollup`; throws when the process is gone.
    init(pid: pid_t) throws {
        let status = try Self.fields(of: "/proc/\(pid)/status")
        let rollup = try Self.fields(of: "/proc/\(pid)/smaps_rollup")
        guard let rss = status["VmRSS"], let hwm = status["VmHWM"] else { throw BenchError("/proc/\(pid)/status has no VmRSS or VmHWM") }
        self.rss = rss
        self.hwm = hwm
        anonymous = status["RssAnon"] ?? 0
        file = status["RssFile"] ?? 0
        shmem = status["RssShmem"] ?? 0
        pss = rollup["Pss"] ?? 0
        privateBytes = (rollup["Private_Clean"] ?? 0) + (rollup["Private_Dirty"] ?? 0)
    }

    /// The `Name:   123 kB` lines of a /proc file, in bytes.
    static func fields(of path: String) throws -> [String: Int] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw BenchError("cannot read \(path): the process is gone")
        }
        var fields: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            guard value.hasSuffix(" kB"), let kib = Int(value.dropLast(3).trimmingCharacters(in: .whitespaces)) else { continue }
            fields[String(parts[0])] = kib * 1024
        }
        return fields
    }

    /// Bytes as `12.3 MB` (10^6 bytes, the unit of the target).
    static func format(_ bytes: Int) -> String { "\(Format.significant(Double(bytes) / 1e6)) MB" }
}

/// A directory holding one tree's configuration (the repository's `etc/ast.yaml` plus an
/// `ast.test.yaml` overlay, as the integration tests do), runtime directory (sockets) and state
/// directory (journals), and the environment every process of the tree runs with.
struct TreeDirectory {
    let path: String

    /// Creates the directory and writes the configuration.
    init(path: String, configDirectory: String, overlay: String) throws {
        self.path = path
        let fm = FileManager.default
        try fm.createDirectory(atPath: path + "/etc", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: path + "/run", withIntermediateDirectories: true)
        try? fm.removeItem(atPath: path + "/etc/ast.yaml")
        try fm.copyItem(atPath: configDirectory + "/ast.yaml", toPath: path + "/etc/ast.yaml")
        try overlay.write(toFile: path + "/etc/ast.test.yaml", atomically: true, encoding: .utf8)
    }

    /// The environment of astd or of a worker started directly: this tree's configuration and
    /// directories, and `notifySocket` as its service manager.
    func environment(notifySocket: String) -> [String: String] {
        [
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "AST_CONFIG_DIR": path + "/etc",
            "AST_ENV": "test",
            "AST_RUNTIME_DIR": path + "/run",
            "AST_STATE_DIR": path + "/state",
            "NOTIFY_SOCKET": notifySocket,
        ]
    }

    /// astd's journal, where its lifecycle events are.
    var supervisorJournal: String {
        WorkerRuntime.journalPath(identity: ProcessIdentity(role: .supervisor, instance: "main"), stateDir: path + "/state")
    }
}

/// Blocks until `pid` (a child of this process) has exited, without reaping it (`waitid` with
/// `WNOWAIT`), so that ``SpawnedProcess`` still reaps it. Returns at once if it already has.
func waitForExitWithoutReaping(_ pid: pid_t) throws {
    var info = siginfo_t()
    while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
        guard errno == EINTR else { throw BenchError("waitid(\(pid)): \(String(cString: strerror(errno)))") }
    }
}
