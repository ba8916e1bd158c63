import ASTCore
import ASTJournal
import ASTTestKit
import ASTWire
import Foundation
import Testing

@testable import ASTBus

/// `BusServer` and `BusClient` in one process, over a real Unix socket.
@Suite(.timeLimit(.minutes(1))) struct BusTests {
    @Test func pingsFromManyTasksAtOnceEachGetTheirOwnPong() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try TestEndpoint(directory: dir)
        let peer = try TestClient(path: server.socketPath, journalPath: dir("client.sqlite"))
        await peer.client.waitUntilConnected()

        // Sequence numbers are given under the client's lock and the wire must carry them in
        // that order: a single swap would make the endpoint refuse the connection.
        try await withThrowingTaskGroup { group in
            for task in 0..<8 {
                group.addTask {
                    for i in 0..<200 {
                        let nonce = UInt64(task * 1000 + i)
                        let reply = try await peer.client.request(.ping(Ping(nonce: nonce)), timeout: .seconds(10))
                        #expect(reply.message == .pong(Pong(nonce: nonce)))
                    }
                }
            }
            group.addTask {
                for i in 0..<50 { try peer.client.send(.probe(Probe(counter: Int64(i), text: "between pings"))) }
            }
            try await group.waitForAll()
        }
        try await eventually("every probe acknowledged") { peer.client.pendingCount == 0 }
        #expect(peer.client.isConnected)

        try await peer.stop()
        let entries = try await server.stop()
        #expect(!entries.contains { $0.record.type == BusEvent.protocolError.rawValue })
        #expect(entries.filter { $0.record.type == BusEvent.connected.rawValue }.count == 1)
        #expect(entries.filter { $0.record.kind == .received && $0.record.type == "probe" }.count == 50)
    }

    @Test func sendAndWaitForAckReturnsOnceTheAckIsJournaled() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try TestEndpoint(directory: dir)
        let peer = try TestClient(path: server.socketPath, journalPath: dir("client.sqlite"))

        let id = try await peer.client.sendAndWaitForAck(.probe(Probe(counter: 1, text: "hello")))
        #expect(peer.client.pendingCount == 0)
        try peer.journal.flush()
        let acked = try peer.journal.entries(seq: 1...peer.journal.lastSeq).filter { $0.record.kind == .acked }
        #expect(acked.map(\.record.messageID) == [id])
        // The receiver journaled it durably before acknowledging it.
        let received = try server.journal.entries(seq: 1...server.journal.lastSeq).filter { $0.record.kind == .received }
        #expect(received.map(\.record.messageID) == [id])
        #expect(server.inbox.envelopes.map(\.id) == [id])

        try await peer.stop()
        try await server.stop()
    }

    @Test func whenTheSocketIsFullWritesQueueBehindItInSequenceOrder() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // An inbox held shut until every probe was sent: the endpoint stops reading once 64 frames
        // wait behind it, so the socket fills whatever the machine's load (a 20 ms delay per
        // message let a slow sender on a loaded machine never fill it).
        let gate = Gate()
        let server = try TestEndpoint(directory: dir, inbox: RecordingInbox(gate: gate))
        // The slow inbox takes longer than the default ack timeout for all 120 probes: re-sends
        // would still be on their way when the client stops (and be cut mid-frame, which the
        // endpoint rightly reports). This test is about order, so no re-sends here.
        let peer = try TestClient(
            path: server.socketPath, journalPath: dir("client.sqlite"),
            settings: BusSettings(ackTimeout: .seconds(120), backoffInitial: .milliseconds(10), backoffMaximum: .milliseconds(50)))
        await peer.client.waitUntilConnected()
        // Far more than the waiting frames and the socket buffers hold: the sending thread's
        // direct writes run into EAGAIN and the event loop takes over.
        let text = String(repeating: "x", count: 64 << 10)
        var ids: [String] = []
        for i in 0..<120 { ids.append(try peer.client.send(.probe(Probe(counter: Int64(i), text: text)))) }
        gate.open()
        // Pings in between must queue behind the probes too.
        let reply = try await peer.client.request(.ping(Ping(nonce: 1)), timeout: .seconds(30))
        #expect(reply.message == .pong(Pong(nonce: 1)))
        for id in ids { try await peer.client.waitForAck(id: id) }
        #expect(peer.client.state.withLock { $0.deferredWrites } > 0, "the socket buffer never filled: the test proves nothing")
        #expect(server.inbox.envelopes.map(\.id) == ids)
        try await peer.stop()
        let entries = try await server.stop()
        let errors = entries.filter { $0.record.type == BusEvent.protocolError.rawValue }.map {
            String(decoding: $0.record.body, as: UTF8.self)
        }
        #expect(errors.isEmpty, "\(errors)")
        #expect(entries.filter { $0.record.type == BusEvent.connected.rawValue }.count == 1)
    }

    @Test func inboxRunsOffTheEventLoops() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try TestEndpoint(directory: dir)
        let peer = try TestClient(path: server.socketPath, journalPath: dir("client.sqlite"))
        _ = try await peer.client.sendAndWaitForAck(.probe(Probe(counter: 1, text: "where am I")))
        await peer.client.waitUntilConnected()
        _ = try await peer.client.request(.statusRequest(StatusRequest()), timeout: .seconds(10))
        let deliveries = server.inbox.received.withLock { $0 }
        #expect(deliveries.count == 2)
        #expect(deliveries.allSatisfy { !$0.onEventLoop })
        try await peer.stop()
        try await server.stop()
    }

    @Test func waitForAckEndsWhenItsTaskIsCancelledAndTheMessageStaysPending() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // Nothing listens: the message can only wait in the outbox.
        let peer = try TestClient(path: dir("nobody.sock"), journalPath: dir("client.sqlite"))
        let id = try peer.client.send(.probe(Probe(counter: 1, text: "nobody home")))
        let waiter = Task { try await peer.client.waitForAck(id: id) }
        try await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(peer.client.pendingCount == 1)
        await #expect(throws: BusClientError.timedOut("the acknowledgement of \(id)")) {
            try await peer.client.waitForAck(id: id, timeout: .milliseconds(50))
        }
        #expect(peer.client.pendingCount == 1)
        // An id that is not pending is acknowledged already (or unknown): no wait.
        try await peer.client.waitForAck(id: "not-pending")
        try await peer.stop()
    }

    @Test func theOutboxIsRestoredFromTheJournalAndDeliveredOnce() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let socketPath = dir("endpoint.sock")
        let first = try TestClient(path: socketPath, journalPath: dir("client.sqlite"))
        let ids = try (1...3).map { try first.client.send(.probe(Probe(counter: Int64($0), text: "before the endpoint"))) }
        try await first.stop()

        let server = try TestEndpoint(directory: dir)
        let second = try TestClient(path: server.socketPath, journalPath: dir("client.sqlite"))
        #expect(second.client.pendingCount == 3)
        for id in ids { try await second.client.waitForAck(id: id) }
        // A new message continues the restored counter: ids never repeat.
        let next = try await second.client.sendAndWaitForAck(.probe(Probe(counter: 4, text: "after")))
        #expect(!ids.contains(next))
        #expect(server.inbox.envelopes.map(\.id) == ids + [next])
        try await second.stop()
        try await server.stop()
    }

    @Test func aRequestWithoutAnAnswerTimesOut() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try TestEndpoint(directory: dir, inbox: RecordingInbox(answersStatus: false))
        let peer = try TestClient(path: server.socketPath, journalPath: dir("client.sqlite"))
        await peer.client.waitUntilConnected()
        await #expect(throws: BusClientError.timedOut("a reply from \(endpoint)")) {
            try await peer.client.request(.statusRequest(StatusRequest()), timeout: .milliseconds(100))
        }
        // A short timeout behind a long one is not held up by it.
        let longDone = Shared(false)
        // Taken before the long request is made: its 5 s deadline is counted from later still, so
        // it cannot time out within 4 s of this, however late a loaded machine runs the tasks.
        let start = ContinuousClock.now
        let long = Task {
            defer { longDone.set(true) }
            return try await peer.client.request(.statusRequest(StatusRequest()), timeout: .seconds(5))
        }
        try await Task.sleep(for: .milliseconds(20))
        await #expect(throws: BusClientError.timedOut("a reply from \(endpoint)")) {
            try await peer.client.request(.statusRequest(StatusRequest()), timeout: .milliseconds(100))
        }
        // The short one timed out while the long one was still waiting: not held up by it.
        #expect(!longDone.get())
        await #expect(throws: BusClientError.timedOut("a reply from \(endpoint)")) { try await long.value }
        #expect(ContinuousClock.now - start > .milliseconds(4000))
        // The connection is still good.
        let reply = try await peer.client.request(.ping(Ping(nonce: 7)), timeout: .seconds(10))
        #expect(reply.message == .pong(Pong(nonce: 7)))
        try await peer.stop()
        try await server.stop()
    }

    @Test func aRequestWithoutAConnectionFailsAtOnce() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let peer = try TestClient(path: dir("nobody.sock"), journalPath: dir("client.sqlite"))
        await #expect(throws: BusClientError.notConnected(endpoint.description)) {
            try await peer.client.request(.ping(Ping(nonce: 1)), timeout: .seconds(10))
        }
        try await peer.stop()
    }

    @Test func answersLeaveInTheOrderOfWhatTheyAnswer() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // The inbox takes its time: the ping behind the probe must wait for the probe's ack.
        let server = try TestEndpoint(directory: dir, inbox: RecordingInbox(delay: .milliseconds(100)))
        let (answers, sent) = try await onOwnThread { () throws -> ([Envelope], [Envelope]) in
            let raw = try RawBusPeer(path: server.socketPath, identity: sender)
            try raw.hello()
            guard try raw.receive()?.type == .welcome else { throw HarnessError("no welcome") }
            let sent = [
                try raw.send(.probe(Probe(counter: 1, text: "slow")), id: "control@test>probe#1"),
                try raw.send(.statusRequest(StatusRequest())),
                try raw.send(.ping(Ping(nonce: 9))),
            ]
            return (try (0..<3).map { _ in try raw.receive() ?? { throw HarnessError("closed") }() }, sent)
        }
        #expect(answers.map(\.type) == [.ack, .statusReply, .pong])
        #expect(answers.map(\.correlationID) == sent.map(\.id))
        #expect(answers.map(\.seq) == [2, 3, 4])

        let entries = try await server.stop()
        let kinds = entries.map { "\($0.record.kind.rawValue) \($0.record.type)" }
        #expect(
            kinds == ["event bus.connected", "received probe", "received status.request", "sent status.reply", "event bus.disconnected"])
    }

    @Test func aResentMessageIsAcknowledgedAgainButDeliveredOnce() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try TestEndpoint(directory: dir)
        let id = "control@test>risk@main#1"
        let acks = try await onOwnThread { () throws -> [Message?] in
            try (0..<2).map { _ in
                let raw = try RawBusPeer(path: server.socketPath, identity: sender)
                try raw.hello()
                guard try raw.receive()?.type == .welcome else { throw HarnessError("no welcome") }
                try raw.send(.probe(Probe(counter: 1, text: "again")), id: id)
                return try raw.receive()?.message
            }
        }
        #expect(acks == [.ack(Ack(id: id, duplicate: false)), .ack(Ack(id: id, duplicate: true))])
        #expect(server.inbox.envelopes.map(\.id) == [id])
        let entries = try await server.stop()
        #expect(entries.filter { $0.record.kind == .received }.count == 1)
    }

    @Test func aSilentPeerIsRefusedAfterTheHelloTimeout() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try TestEndpoint(directory: dir, settings: BusSettings(helloTimeout: .milliseconds(100)))
        let (answer, closed) = try await onOwnThread { () throws -> (Message?, Bool) in
            let silent = try RawBusPeer(path: server.socketPath)
            return (try silent.receive()?.message, try silent.isClosedByPeer())
        }
        #expect(answer == .refused(Refusal(code: .helloTimeout, detail: "no hello within the hello timeout")))
        #expect(closed)
        let entries = try await server.stop()
        let errors = entries.filter { $0.record.type == BusEvent.protocolError.rawValue }
        #expect(errors.count == 1)
        let body = String(decoding: errors.first?.record.body ?? [], as: UTF8.self)
        #expect(body.contains("HELLO_TIMEOUT"))
    }

    @Test func aRefusedPeerIsNotDeliveredWhatItSentAfterTheViolation() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try TestEndpoint(directory: dir)
        let (answer, closed) = try await onOwnThread { () throws -> (Message?, Bool) in
            let raw = try RawBusPeer(path: server.socketPath, identity: sender)
            try raw.hello()
            guard try raw.receive()?.type == .welcome else { throw HarnessError("no welcome") }
            // A sequence gap, then a probe in one write: the probe must never reach the inbox.
            var frames: [UInt8] = []
            for (seq, counter) in [(5, 1), (6, 2)] {
                let env = Envelope(
                    sender: sender, seq: UInt64(seq), id: "gap-\(counter)", timestamp: Timestamp(nanoseconds: 1),
                    message: .probe(Probe(counter: Int64(counter), text: "after a gap")))
                frames += Framing.frame(EnvelopeCodec.encode(env))
            }
            try raw.write(frames)
            return (try raw.receive()?.message, try raw.isClosedByPeer())
        }
        #expect(answer == .refused(Refusal(code: .sequenceError, detail: "expected seq 2, got 5")))
        #expect(closed)
        #expect(server.inbox.envelopes.isEmpty)
        try await server.stop()
    }
}
