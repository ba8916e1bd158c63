import ASTCore
import ASTJournal
import ASTTestKit
import ASTWire
import Foundation
import Testing

@testable import ASTBus

/// A client whose endpoint never completes the handshake (a listening socket nobody answers on,
/// as a hung process or one at its connection cap looks): giving up on it ends everything the
/// client started and closes its socket.
@Suite(.timeLimit(.minutes(1))) struct CancellationTests {
    /// Waits up to `timeoutMs` for `fd` to be readable (a connection to accept, bytes or EOF).
    static func readable(_ fd: Int32, timeoutMs: Int32 = 20_000) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, timeoutMs) == 1
    }

    @Test func waitUntilConnectedReturnsWhenItsTaskIsCancelled() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let listener = try UnixSocket.listen(path: dir("silent.sock"))
        defer { close(listener) }
        let peer = try TestClient(path: dir("silent.sock"), journalPath: dir("client.sqlite"))
        let waiter = Task { await peer.client.waitUntilConnected() }
        // The client's connection is queued on the listener, its hello unanswered.
        #expect(try await onOwnThread { Self.readable(listener) })
        waiter.cancel()
        await waiter.value
        #expect(!peer.client.isConnected)
        try await peer.stop()
    }

    @Test func withinGivesUpOnAHandshakeThatNeverCompletesAndTheClientsSocketIsClosed() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir("silent.sock")
        let listener = try UnixSocket.listen(path: path)
        defer { close(listener) }
        let journal = try Journal(path: dir("client.sqlite"), process: sender.description, logger: quietLogger)
        defer { try? journal.close() }
        let client = try BusClient(
            identity: sender, target: endpoint.description, path: path, expectedRole: .risk,
            settings: BusSettings(helloTimeout: .seconds(60), backoffInitial: .seconds(60), backoffMaximum: .seconds(60)),
            journal: journal, clock: TestClock(), logger: quietLogger)
        let accepted = Task {
            try await onOwnThread { () throws -> Int32 in
                guard Self.readable(listener) else { throw HarnessError("the client never connected") }
                return accept(listener, nil, nil)
            }
        }
        let reply = await within(.milliseconds(300)) {
            try await client.whileConnected { c in try await c.request(.ping(Ping(nonce: 1)), timeout: .seconds(60)) }
        }
        #expect(reply == nil)
        let fd = try await accepted.value
        #expect(fd >= 0)
        defer { close(fd) }
        // Everything the client wrote (its hello) and then end of stream: `within` returned only
        // once the connection it opened was closed.
        let closed = try await onOwnThread { () -> Bool in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while Self.readable(fd) {
                let n = read(fd, &buffer, buffer.count)
                if n == 0 { return true }
                if n < 0 { return false }
            }
            return false
        }
        #expect(closed)
        #expect(!client.isConnected)
    }
}
