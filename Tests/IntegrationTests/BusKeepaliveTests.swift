import ASTBus
import ASTCore
import ASTJournal
import ASTRuntime
import ASTTestKit
import ASTWire
import Foundation
import Logging
import Testing

/// The bus keepalive with every thread of Swift's cooperative pool held. It runs here, where
/// tests run one at a time, and not among the unit tests: holding the pool of the unit tests'
/// process for two seconds stalls every test running beside it.
@Suite(.serialized) struct BusKeepaliveTests {
    /// An endpoint that delivers nothing to anyone (the ping is answered by the bus itself).
    struct SilentInbox: BusInbox {
        func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message? { nil }
    }

    /// A loaded machine or a process busy with its own work delays the tasks of Swift's pool by
    /// seconds: the keepalive must not depend on them. Every thread of the pool is held for two
    /// idle timeouts; the client still pings (from its connection's event loop) and is kept.
    @Test(.timeLimit(.minutes(1)))
    func aClientWhoseTaskPoolIsBlockedStillPingsAndIsKept() async throws {
        let dir = try TemporaryDirectory(prefix: "bus-keepalive")
        defer { dir.remove() }
        let logger = Logger(label: "ast.bus.test") { _ in SwiftLogNoOpLogHandler() }
        let endpoint = ProcessIdentity(role: .risk, instance: "main")
        let settings = BusSettings(
            helloTimeout: .seconds(30), backoffInitial: .milliseconds(10), backoffMaximum: .milliseconds(50),
            idleTimeout: .seconds(1))
        let serverJournal = try Journal(path: dir("endpoint.sqlite"), process: endpoint.description, logger: logger)
        let server = try BusServer(
            identity: endpoint, policy: EndpointPolicy(name: endpoint.description, allowedUIDs: [], permissions: [.control: [.probe]]),
            settings: settings, journal: serverJournal, clock: SystemClock(), logger: logger, inbox: SilentInbox())
        let fd = try UnixSocket.listen(path: dir("endpoint.sock"))
        let serving = Task { try await server.run(listeningFD: fd) }
        let clientJournal = try Journal(path: dir("client.sqlite"), process: "control@test", logger: logger)
        let client = try BusClient(
            identity: ProcessIdentity(role: .control, instance: "test"), target: endpoint.description, path: dir("endpoint.sock"),
            expectedRole: .risk, settings: settings, journal: clientJournal, clock: SystemClock(), logger: logger)
        let connecting = Task { await client.run() }
        await client.waitUntilConnected()

        await withTaskGroup { group in
            for _ in 0..<ProcessInfo.processInfo.activeProcessorCount {
                group.addTask { usleep(2_000_000) }
            }
        }
        let reply = try await client.request(.ping(Ping(nonce: 1)), timeout: .seconds(20))

        connecting.cancel()
        await connecting.value
        serving.cancel()
        _ = await serving.result
        try serverJournal.flush()
        let entries = try serverJournal.entries(seq: 1...max(1, serverJournal.lastSeq))
        try serverJournal.close()
        try clientJournal.close()
        #expect(reply.type == .pong)
        #expect(entries.filter { $0.record.type == BusEvent.idleClosed.rawValue }.isEmpty, "the client was closed as idle")
        #expect(entries.filter { $0.record.type == BusEvent.connected.rawValue }.count == 1, "the client never had to reconnect")
    }
}
