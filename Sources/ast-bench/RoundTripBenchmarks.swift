import ASTBus
import ASTCore
import ASTJournal
import ASTRuntime
import ASTWire
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Benchmark 2: round trips between two processes.
///
/// - bus: `BusClient.request(.ping)` from this process to a real `ast-risk` worker, which
///   answers `pong` (best effort, nothing journaled on either side).
/// - baseline: a raw socketpair to a child process (this executable re-run as
///   `raw-echo-child`) that echoes 4-byte messages; the same number of round trips.
/// - diagnostics: the same pings from a blocking client with no NIO (the worker's share of a
///   round trip), and acknowledged probes (`BusClient.send`, then wait for the ack: the sender's
///   and the receiver's durable journal commits) from both clients.
///
/// Repetitions of the three ping benchmarks are interleaved (and take turns at going first), so
/// that a burst of load on the shared machine hits all of them alike.
struct RoundTripBenchmarks {
    var repetitions: Int
    var roundTrips: Int
    var warmUpRoundTrips: Int
    var probeRoundTrips: Int
    var workerExecutable: String
    var benchExecutable: String
    var configDirectory: String
    var scratch: ScratchDirectory
    var logger: Logger

    static let worker = ProcessIdentity(role: .risk, instance: "main")

    struct Summary {
        var raw: LatencySummary
        var bus: LatencySummary
        var blocking: LatencySummary
        var probe: LatencySummary
        var blockingProbe: LatencySummary
        /// Medians over the repetitions of bus / raw (p50 and p99), each repetition's pair measured together.
        var busRatio: (p50: Double, p99: Double)
        var blockingRatio: (p50: Double, p99: Double)
    }

    /// Median over paired repetitions of `measured / baseline`, for p50 and p99.
    static func ratios(_ measured: [LatencySample], _ baseline: [LatencySample]) -> (p50: Double, p99: Double) {
        (Stats.median(zip(measured, baseline).map { $0.p50 / $1.p50 }), Stats.median(zip(measured, baseline).map { $0.p99 / $1.p99 }))
    }

    func run(progress: @escaping @Sendable (String) -> Void) async throws -> Summary {
        let echo = try RawEcho(executable: benchExecutable, scratch: scratch)
        defer { echo.stop() }
        let worker = try await startWorker()
        defer { worker.stop(graceSeconds: 5) }

        let journal = try Journal(path: scratch("client-journal.sqlite"), process: Fixtures.sender.description, logger: logger)
        defer { try? journal.close() }
        let client = try BusClient(
            identity: Fixtures.sender, target: Self.worker.description, path: socketPath,
            expectedRole: .risk, settings: BusSettings(), journal: journal, clock: SystemClock(), logger: logger)
        let connection = Task { await client.run() }
        let result: Result<Summary, any Error>
        do {
            try await waitUntil("BusClient to connect to \(Self.worker)", seconds: 20) { client.isConnected }
            let blocking = try BlockingBusClient(path: socketPath, identity: ProcessIdentity(role: .control, instance: "bench-blocking"))
            result = .success(try await measure(client: client, blocking: blocking, echo: echo, progress: progress))
        } catch {
            result = .failure(error)
        }
        // The client must stop before its journal closes.
        connection.cancel()
        await connection.value
        guard worker.isRunning else { throw BenchError("\(Self.worker) died during the benchmark: \(worker.stderrTail)") }
        return try result.get()
    }

    func measure(
        client: BusClient, blocking: BlockingBusClient, echo: RawEcho,
        progress: @escaping @Sendable (String) -> Void
    ) async throws -> Summary {
        // Warm-up: connections established, code paged in, caches and allocator warm.
        let warm = warmUpRoundTrips
        progress("round trips: warm-up (\(warm) of each)")
        _ = try await onDedicatedThread { try echo.roundTrips(warm) }
        _ = try await busPings(client, count: warm)
        _ = try await onDedicatedThread { try Self.blockingPings(blocking, count: warm) }
        let warmProbes = max(probeRoundTrips / 10, 10)
        _ = try await busProbes(client, count: warmProbes)
        _ = try await onDedicatedThread { try Self.blockingProbes(blocking, count: warmProbes) }

        var raw: [LatencySample] = [], bus: [LatencySample] = [], direct: [LatencySample] = []
        for rep in 1...repetitions {
            let n = roundTrips
            // Each repetition starts with a different one of the three, so that none always runs first.
            for kind in 0..<3 {
                switch (kind + rep) % 3 {
                case 0: raw.append(try await onDedicatedThread { try echo.roundTrips(n) })
                case 1: bus.append(try await busPings(client, count: n))
                default: direct.append(try await onDedicatedThread { try Self.blockingPings(blocking, count: n) })
                }
            }
            progress(
                "round trips \(rep)/\(repetitions): raw p50 \(Format.duration(raw.last!.p50)), "
                    + "bus p50 \(Format.duration(bus.last!.p50)), blocking client p50 \(Format.duration(direct.last!.p50))")
        }
        var probes: [LatencySample] = [], directProbes: [LatencySample] = []
        for rep in 1...repetitions {
            let n = probeRoundTrips
            if rep % 2 == 0 { probes.append(try await busProbes(client, count: n)) }
            directProbes.append(try await onDedicatedThread { try Self.blockingProbes(blocking, count: n) })
            if rep % 2 == 1 { probes.append(try await busProbes(client, count: n)) }
            progress(
                "probes \(rep)/\(repetitions): BusClient p50 \(Format.duration(probes.last!.p50)), "
                    + "blocking client p50 \(Format.duration(directProbes.last!.p50))")
        }
        return Summary(
            raw: LatencySummary(raw), bus: LatencySummary(bus), blocking: LatencySummary(direct),
            probe: LatencySummary(probes), blockingProbe: LatencySummary(directProbes),
            busRatio: Self.ratios(bus, raw), blockingRatio: Self.ratios(direct, raw))
    }

    var socketPath: String { WorkerRuntime.socketPath(identity: Self.worker, runtimeDir: scratch("run")) }

    /// Starts `ast-risk` in the scratch tree and waits until its socket accepts connections.
    func startWorker() async throws -> SpawnedProcess {
        let environment = [
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "AST_CONFIG_DIR": configDirectory,
            "AST_ENV": "development",
            "AST_RUNTIME_DIR": scratch("run"),
            "AST_STATE_DIR": scratch("state"),
            // Production's level: the development default (debug) logs every probe.
            "AST_LOGGING__LEVEL": "info",
        ]
        let worker = try SpawnedProcess(
            workerExecutable, ["--instance", Self.worker.instance], environment: environment,
            name: Self.worker.description, outputDirectory: scratch.path)
        let path = socketPath
        try await waitUntil("\(Self.worker) to listen at \(path)", seconds: 20) {
            guard worker.isRunning else { throw BenchError("\(Self.worker) exited early: \(worker.stderrTail)") }
            return UnixSocket.isLive(path: path)
        }
        return worker
    }

    /// `count` pings through `BusClient.request`, each timed from the call to the pong.
    func busPings(_ client: BusClient, count: Int) async throws -> LatencySample {
        var times: [UInt64] = []
        times.reserveCapacity(count)
        let start = Monotonic.now()
        for i in 0..<count {
            let nonce = UInt64(i)
            let t0 = Monotonic.now()
            let reply = try await client.request(.ping(Ping(nonce: nonce)), timeout: .seconds(5))
            times.append(Monotonic.now() - t0)
            guard case .pong(let pong) = reply.message, pong.nonce == nonce else {
                throw BenchError("expected pong \(nonce), got \(reply.type): \(reply.message)")
            }
        }
        return LatencySample(nanoseconds: times, elapsed: Monotonic.now() - start)
    }

    /// `count` acknowledged probes through `BusClient.sendAndWaitForAck`, each timed from the
    /// call until it returns at the ack.
    func busProbes(_ client: BusClient, count: Int) async throws -> LatencySample {
        var times: [UInt64] = []
        times.reserveCapacity(count)
        let text = Fixtures.probeText
        let start = Monotonic.now()
        for i in 0..<count {
            let t0 = Monotonic.now()
            _ = try await client.sendAndWaitForAck(.probe(Probe(counter: Int64(i), text: text)), timeout: .seconds(10))
            times.append(Monotonic.now() - t0)
        }
        return LatencySample(nanoseconds: times, elapsed: Monotonic.now() - start)
    }

    static func blockingPings(_ client: BlockingBusClient, count: Int) throws -> LatencySample {
        var times: [UInt64] = []
        times.reserveCapacity(count)
        let start = Monotonic.now()
        for i in 0..<count {
            let t0 = Monotonic.now()
            try client.ping(UInt64(i))
            times.append(Monotonic.now() - t0)
        }
        return LatencySample(nanoseconds: times, elapsed: Monotonic.now() - start)
    }

    static func blockingProbes(_ client: BlockingBusClient, count: Int) throws -> LatencySample {
        var times: [UInt64] = []
        times.reserveCapacity(count)
        let text = Fixtures.probeText
        let start = Monotonic.now()
        for _ in 0..<count {
            let counter = nextProbeCounter()
            let t0 = Monotonic.now()
            try client.probe(counter, text: text)
            times.append(Monotonic.now() - t0)
        }
        return LatencySample(nanoseconds: times, elapsed: Monotonic.now() - start)
    }

    /// Probe ids must never repeat (the worker acknowledges a repeated id without journaling it).
    static let probeCounter = Atomic<Int64>(0)
    static func nextProbeCounter() -> Int64 {
        probeCounter.add(1, ordering: .relaxed).newValue
    }
}

/// Polls `condition` every 10 ms until it holds or `seconds` pass.
func waitUntil(_ what: String, seconds: Double, _ condition: () throws -> Bool) async throws {
    let deadline = Monotonic.now() + UInt64(seconds * 1e9)
    while try !condition() {
        guard Monotonic.now() < deadline else { throw BenchError("timed out after \(Int(seconds)) s waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// The baseline of benchmark 2: a child process at the other end of a socketpair echoes
/// 4-byte messages; this side writes one and reads the echo, blocking, as fast as it can.
final class RawEcho: Sendable {
    let fd: Int32
    private let child: ChildHandle

    /// The child process, owned by the echo (killed with it).
    final class ChildHandle: @unchecked Sendable {
        let process: SpawnedProcess
        init(_ process: SpawnedProcess) { self.process = process }
    }

    init(executable: String, scratch: ScratchDirectory) throws {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw BenchError("socketpair: \(String(cString: strerror(errno)))")
        }
        let childNumber: Int32 = fds[1] == 3 ? 4 : 3
        defer { close(fds[1]) }
        do {
            let process = try SpawnedProcess(
                executable, ["raw-echo-child", "--fd", "\(childNumber)"], environment: [:],
                name: "raw-echo-child", outputDirectory: scratch.path, passing: (fds[1], childNumber))
            child = ChildHandle(process)
        } catch {
            close(fds[0])
            throw error
        }
        fd = fds[0]
    }

    /// `count` timed round trips of 4 bytes each.
    func roundTrips(_ count: Int) throws -> LatencySample {
        var times: [UInt64] = []
        times.reserveCapacity(count)
        var message: UInt32 = 0
        var echo: UInt32 = 0
        let start = Monotonic.now()
        for i in 0..<count {
            message = UInt32(truncatingIfNeeded: i)
            let t0 = Monotonic.now()
            guard BlockingIO.writeAll(fd, &message, 4), BlockingIO.readExactly(fd, &echo, 4) else {
                throw BenchError("the raw echo child went away: \(child.process.stderrTail)")
            }
            times.append(Monotonic.now() - t0)
            guard echo == message else { throw BenchError("the raw echo child answered \(echo) to \(message)") }
        }
        return LatencySample(nanoseconds: times, elapsed: Monotonic.now() - start)
    }

    /// Closes our end (the child exits at end of stream) and reaps the child.
    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        child.process.stop(graceSeconds: 2)
    }
}

/// The child side of the raw baseline: echoes 4-byte messages on `fd` until end of stream.
enum RawEchoLoop {
    static func run(fd: Int32) -> Int32 {
        var message: UInt32 = 0
        while BlockingIO.readExactly(fd, &message, 4) {
            guard BlockingIO.writeAll(fd, &message, 4) else { return 1 }
        }
        return 0
    }
}
