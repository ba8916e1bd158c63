import ASTBus
import ASTCore
import ASTRuntime
import ASTWire
import Foundation
import GRDBSQLite
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The execution path as real processes, started by hand in a scratch directory: `ast-broker
/// --instance paper` and `ast-reconciler` from the release build, with the repository's
/// `etc/ast.yaml` plus an `ast.test.yaml` overlay (`AST_ENV=test`, log level `info` as in
/// production), their own runtime and state directories. The risk gate and the strategy, which
/// the two send acknowledged messages to (connection reports, portfolio snapshots), are
/// ``AckingEndpoint`` stand-ins in this process: they acknowledge at once and journal nothing,
/// so that the measurement is the broker and the reconciler, not ast-risk.
final class ExecutionTree: @unchecked Sendable {
    static let overlay = """
        logging:
          level: info

        """

    let directory: String
    let environment: [String: String]
    let standIns: [AckingEndpoint]
    private(set) var broker: SpawnedProcess?
    private(set) var reconciler: SpawnedProcess?

    static let brokerIdentity = ProcessIdentity(role: .broker, instance: "paper")
    static let reconcilerIdentity = ProcessIdentity(role: .reconciler, instance: "main")

    var brokerSocket: String { WorkerRuntime.socketPath(identity: Self.brokerIdentity, runtimeDir: directory + "/run") }
    var reconcilerSocket: String { WorkerRuntime.socketPath(identity: Self.reconcilerIdentity, runtimeDir: directory + "/run") }
    var brokerJournal: String { directory + "/state/journal/broker@paper.sqlite" }
    var reconcilerJournal: String { directory + "/state/journal/reconciler@main.sqlite" }

    /// Prepares `directory` (configuration, stand-ins listening); ``start(binDirectory:)`` starts the processes.
    init(configDirectory: String, directory: String) throws {
        self.directory = directory
        let fm = FileManager.default
        for sub in ["etc", "run", "state"] { try fm.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true) }
        try fm.copyItem(atPath: configDirectory + "/ast.yaml", toPath: directory + "/etc/ast.yaml")
        try Self.overlay.write(toFile: directory + "/etc/ast.test.yaml", atomically: true, encoding: .utf8)
        environment = [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "AST_CONFIG_DIR": directory + "/etc", "AST_ENV": "test",
            "AST_RUNTIME_DIR": directory + "/run", "AST_STATE_DIR": directory + "/state",
        ]
        standIns = try [ProcessIdentity(role: .risk, instance: "main"), ProcessIdentity(role: .strategy, instance: "main")].map {
            try AckingEndpoint(path: WorkerRuntime.socketPath(identity: $0, runtimeDir: directory + "/run"), identity: $0)
        }
    }

    /// Starts the broker, then the reconciler (which asks the broker for its starting cash),
    /// and waits until both accept connections.
    func start(binDirectory: String) throws {
        broker = try spawn(binDirectory + "/ast-broker", identity: Self.brokerIdentity, socket: brokerSocket)
        reconciler = try spawn(binDirectory + "/ast-reconciler", identity: Self.reconcilerIdentity, socket: reconcilerSocket)
    }

    private func spawn(_ executable: String, identity: ProcessIdentity, socket: String) throws -> SpawnedProcess {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw BenchError("\(executable) does not exist: run `swift build -c release` first (scripts/bench does) or pass --bin-dir")
        }
        let p = try SpawnedProcess(
            executable, ["--instance", identity.instance], environment: environment, name: identity.description,
            outputDirectory: directory)
        let deadline = Monotonic.now() + 20_000_000_000
        while !UnixSocket.isLive(path: socket) {
            guard p.isRunning else { throw BenchError("\(identity) exited at start: \(p.stderrTail)") }
            guard Monotonic.now() < deadline else { throw BenchError("\(identity) did not listen at \(socket) within 20 s") }
            usleep(5_000)
        }
        return p
    }

    /// Throws if a process died.
    func checkAlive() throws {
        for p in [broker, reconciler].compactMap({ $0 }) where !p.isRunning {
            throw BenchError("\(p.name) exited during the benchmark: \(p.stderrTail)")
        }
    }

    /// SIGTERM to both (reconciler first), then the stand-ins close.
    func stop() {
        reconciler?.stop(graceSeconds: 5)
        broker?.stop(graceSeconds: 5)
        standIns.forEach { $0.stop() }
    }
}

/// A stand-in bus endpoint: welcomes every connection as `identity` and acknowledges every
/// message at once, without decoding its body or journaling it. Blocking sockets, one thread
/// per connection.
final class AckingEndpoint: @unchecked Sendable {
    let identity: ProcessIdentity
    let path: String
    private let listenFD: Int32
    private let connections = Mutex<[Int32]>([])
    private let stopped = Atomic<Bool>(false)
    /// Messages acknowledged so far.
    let acknowledged = Atomic<Int>(0)

    init(path: String, identity: ProcessIdentity) throws {
        self.identity = identity
        self.path = path
        listenFD = try UnixSocket.listen(path: path)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        shutdown(listenFD, Int32(SHUT_RDWR))
        connections.withLock { for fd in $0 { shutdown(fd, Int32(SHUT_RDWR)) } }
    }

    private func acceptLoop() {
        while !stopped.load(ordering: .relaxed) {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                break
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            connections.withLock { $0.append(fd) }
            let thread = Thread { [self] in serve(fd) }
            thread.stackSize = 1 << 20
            thread.start()
        }
        close(listenFD)
    }

    private func serve(_ fd: Int32) {
        defer {
            connections.withLock { $0.removeAll { $0 == fd } }
            close(fd)
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var seq: UInt64 = 0
        let clock = SystemClock()
        func send(_ message: Message, correlationID: String?) -> Bool {
            seq += 1
            let env = Envelope(
                sender: identity, seq: seq, id: "\(identity)/s\(seq)", correlationID: correlationID, timestamp: clock.now(),
                message: message)
            let frame = Framing.frame(EnvelopeCodec.encode(env))
            return frame.withUnsafeBytes { BlockingIO.writeAll(fd, $0.baseAddress!, $0.count) }
        }
        var first = true
        while true {
            var header: UInt32 = 0
            guard BlockingIO.readExactly(fd, &header, 4) else { return }
            let length = Int(UInt32(bigEndian: header))
            guard length > 0 else { return }
            if length > buffer.count { buffer = [UInt8](repeating: 0, count: length) }
            guard buffer.withUnsafeMutableBytes({ BlockingIO.readExactly(fd, $0.baseAddress!, length) }) else { return }
            if first {
                first = false
                guard let hello = try? EnvelopeCodec.decode(buffer[0..<length]) else { return }
                let welcome = Welcome(role: identity.role, instance: identity.instance, pid: getpid(), maxFrameBytes: 1 << 20)
                guard send(.welcome(welcome), correlationID: hello.id) else { return }
                continue
            }
            guard let id = Self.messageID(buffer[0..<length]) ?? (try? EnvelopeCodec.decode(buffer[0..<length]))?.id else { return }
            guard send(.ack(Ack(id: id, duplicate: false)), correlationID: nil) else { return }
            acknowledged.add(1, ordering: .relaxed)
        }
    }

    /// The envelope's `id` without decoding the body: envelopes are encoded with sorted keys
    /// (`body`, `corr`, `from`, `id`, `seq`, `ts`, `type`, `v`), so the last `"id":"` is the
    /// envelope's own.
    static func messageID(_ bytes: ArraySlice<UInt8>) -> String? {
        let needle = Array(#""id":""#.utf8)
        var i = bytes.endIndex - needle.count
        while i >= bytes.startIndex {
            if bytes[i] == needle[0], bytes[i..<(i + needle.count)].elementsEqual(needle) {
                let start = i + needle.count
                guard let end = bytes[start...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
                return String(decoding: bytes[start..<end], as: UTF8.self)
            }
            i -= 1
        }
        return nil
    }
}

/// Read-only queries on a worker's journal beside the running writer (SQLite WAL: each query
/// sees the latest commit).
final class JournalQueries {
    private var db: OpaquePointer?
    let path: String

    init(path: String) throws {
        self.path = path
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else {
            throw BenchError("cannot open \(path) read-only: \(String(cString: sqlite3_errmsg(db)))")
        }
        sqlite3_busy_timeout(db, 1_000)
    }

    deinit { sqlite3_close(db) }

    /// Runs `sql` with integer `arguments`, calling `row` for each result row.
    func query(_ sql: String, _ arguments: [Int64] = [], row: (OpaquePointer) throws -> Void) throws {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw BenchError("cannot query \(path): \(String(cString: sqlite3_errmsg(db)))")
        }
        defer { sqlite3_finalize(statement) }
        for (i, a) in arguments.enumerated() { sqlite3_bind_int64(statement, Int32(i + 1), a) }
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE || rc == SQLITE_BUSY { return }
            guard rc == SQLITE_ROW else { throw BenchError("cannot read \(path): \(String(cString: sqlite3_errmsg(db)))") }
            try row(statement)
        }
    }

    /// The journal's last sequence number now.
    func lastSeq() throws -> Int64 {
        var seq: Int64 = 0
        try query("SELECT COALESCE(MAX(seq), 0) FROM entries") { seq = sqlite3_column_int64($0, 0) }
        return seq
    }

    /// How many entries after `seq` satisfy the SQL condition `condition` (a constant of this file).
    func count(_ condition: String, after seq: Int64 = 0) throws -> Int {
        var n = 0
        try query("SELECT COUNT(*) FROM entries WHERE seq > ? AND \(condition)", [seq]) { n = Int(sqlite3_column_int64($0, 0)) }
        return n
    }

    /// The reconciler's inputs that carry a fill report, after `seq`: their sequence numbers and
    /// timestamps (the reconciler's clock when it handled them).
    func fillInputs(after seq: Int64) throws -> [(seq: Int64, ts: Int64)] {
        var out: [(Int64, Int64)] = []
        try query(
            "SELECT seq, ts FROM entries WHERE seq > ? AND type = 'reconciler.input' AND instr(body, CAST('{\"fill\":' AS BLOB)) > 0 ORDER BY seq",
            [seq]
        ) { out.append((sqlite3_column_int64($0, 0), sqlite3_column_int64($0, 1))) }
        return out
    }

    /// Entries after `seq` by kind and type: count and body bytes.
    func breakdown(after seq: Int64) throws -> [(kind: String, type: String, count: Int, bytes: Int)] {
        var out: [(String, String, Int, Int)] = []
        try query(
            "SELECT kind, type, COUNT(*), COALESCE(SUM(length(body)), 0) FROM entries WHERE seq > ? GROUP BY kind, type ORDER BY kind, type",
            [seq]
        ) {
            out.append(
                (
                    String(cString: sqlite3_column_text($0, 0)), String(cString: sqlite3_column_text($0, 1)),
                    Int(sqlite3_column_int64($0, 2)), Int(sqlite3_column_int64($0, 3))
                ))
        }
        return out
    }
}
