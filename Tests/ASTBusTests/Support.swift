import ASTCore
import ASTJournal
import ASTTestKit
import ASTWire
import Foundation
import Logging
import NIOPosix
import Synchronization

@testable import ASTBus

/// The real-time clock, for shells under test.
struct TestClock: WallClock {
    func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(nanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
    }
}

/// Silent, unless `AST_TEST_BUS_LOG=1`: then every level goes to stderr, to find out why a
/// connection closed in a failing run.
let quietLogger: Logger = {
    guard ProcessInfo.processInfo.environment["AST_TEST_BUS_LOG"] == "1" else {
        return Logger(label: "ast.bus.test") { _ in SwiftLogNoOpLogHandler() }
    }
    var logger = Logger(label: "ast.bus.test") { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = .trace
    return logger
}()

let endpoint = ProcessIdentity(role: .risk, instance: "main")
let sender = ProcessIdentity(role: .control, instance: "test")

/// Who may send what to the endpoint under test.
let testPolicy = EndpointPolicy(name: endpoint.description, allowedUIDs: [], permissions: [.control: [.probe, .statusRequest]])

/// An inbox that records what it receives, answers status requests, and can be told to take
/// its time or to stay silent.
final class RecordingInbox: BusInbox {
    struct Delivery: Sendable {
        var envelope: Envelope
        /// Whether the inbox ran on an event loop thread (it must not).
        var onEventLoop: Bool
    }

    let received = Mutex<[Delivery]>([])
    let delay: Duration
    let answersStatus: Bool
    /// When set, every delivery waits until the gate opens (a reader that is stuck, whatever the
    /// machine's load).
    let gate: Gate?

    init(delay: Duration = .zero, answersStatus: Bool = true, gate: Gate? = nil) {
        self.delay = delay
        self.answersStatus = answersStatus
        self.gate = gate
    }

    var envelopes: [Envelope] { received.withLock { $0.map(\.envelope) } }

    func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message? {
        let onLoop = MultiThreadedEventLoopGroup.currentEventLoop != nil
        received.withLock { $0.append(Delivery(envelope: envelope, onEventLoop: onLoop)) }
        if let gate { await gate.wait() }
        if delay > .zero { try? await Task.sleep(for: delay) }
        guard answersStatus, case .statusRequest = envelope.message else { return nil }
        let now = TestClock().now()
        return .statusReply(TreeStatus(state: "ok", supervisorPID: getpid(), startedAt: now, now: now, summary: "test", children: []))
    }
}

/// A gate that holds every waiter until it is opened once.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if s.open { return true }
                s.waiters.append(c)
                return false
            }
            if resumeNow { c.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }
}

/// A bus endpoint served in this process on a socket in a temporary directory, with its own
/// journal. ``stop()`` cancels it and closes its journal.
final class TestEndpoint: Sendable {
    let directory: TemporaryDirectory
    let socketPath: String
    let journalPath: String
    let journal: Journal
    let server: BusServer
    let inbox: RecordingInbox
    private let task: Task<Void, any Error>

    /// A generous hello timeout by default: a loaded CI machine may take seconds to schedule a client.
    init(
        directory: TemporaryDirectory, inbox: RecordingInbox = RecordingInbox(),
        settings: BusSettings = BusSettings(helloTimeout: .seconds(15))
    ) throws {
        self.directory = directory
        self.inbox = inbox
        socketPath = directory("endpoint.sock")
        journalPath = directory("endpoint.sqlite")
        journal = try Journal(path: journalPath, process: endpoint.description, logger: quietLogger)
        server = try BusServer(
            identity: endpoint, policy: testPolicy, settings: settings, journal: journal,
            clock: TestClock(), logger: quietLogger, inbox: inbox)
        let fd = try UnixSocket.listen(path: socketPath)
        task = Task { [server] in try await server.run(listeningFD: fd) }
    }

    /// Stops serving and closes the journal; returns what it journaled.
    @discardableResult
    func stop() async throws -> [JournalEntry] {
        task.cancel()
        _ = await task.result
        try journal.flush()
        let entries = try journal.entries(seq: 1...max(1, journal.lastSeq))
        try journal.close()
        return entries
    }
}

/// A client of the endpoint at `path`, running until ``stop()``.
final class TestClient: Sendable {
    let journal: Journal
    let client: BusClient
    private let task: Task<Void, Never>

    init(
        path: String, journalPath: String,
        settings: BusSettings = BusSettings(backoffInitial: .milliseconds(10), backoffMaximum: .milliseconds(50))
    ) throws {
        journal = try Journal(path: journalPath, process: sender.description, logger: quietLogger)
        client = try BusClient(
            identity: sender, target: endpoint.description, path: path, expectedRole: .risk,
            settings: settings, journal: journal, clock: TestClock(), logger: quietLogger)
        task = Task { [client] in await client.run() }
    }

    /// Stops the client and closes its journal; returns what it journaled.
    @discardableResult
    func stop() async throws -> [JournalEntry] {
        task.cancel()
        await task.value
        try journal.flush()
        let entries = try journal.entries(seq: 1...max(1, journal.lastSeq))
        try journal.close()
        return entries
    }
}

/// Runs blocking socket work (a ``RawBusPeer``) on a thread of its own: blocking Swift's
/// cooperative pool, which has one thread per core, would starve the endpoint under test.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        Thread { c.resume(with: Result { try body() }) }.start()
    }
}
