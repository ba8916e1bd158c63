import ASTBus
import ASTCore
import ASTJournal
import ASTTestKit
import ASTWire
import Foundation
import Testing

/// The refusal budget as a pure state machine.
@Suite("Refusal budget: bounded journal and log per peer and code")
struct RefusalBudgetTests {
    let key = RefusalBudget.Key(uid: 1000, code: "MALFORMED_ENVELOPE")
    let t0 = Timestamp(nanoseconds: 1_000_000_000_000)

    @Test func theFirstRefusalsOfAWindowAreRecordedAndTheRestCountedOnce() {
        var budget = RefusalBudget(perWindow: 3, interval: .seconds(60))
        let decisions = (0..<10).map { budget.admit(key, now: t0.advanced(by: .milliseconds($0))) }
        #expect(decisions.prefix(3).allSatisfy { $0 == .record })
        #expect(decisions[3] == .suppress(firstInWindow: true))
        #expect(decisions.dropFirst(4).allSatisfy { $0 == .suppress(firstInWindow: false) })
        #expect(budget.closeWindow(key) == 7)
        // A new window records in full again.
        #expect(budget.admit(key, now: t0.advanced(by: .seconds(61))) == .record)
    }

    @Test func keysAreCountedApart() {
        var budget = RefusalBudget(perWindow: 1, interval: .seconds(60))
        let other = RefusalBudget.Key(uid: 1001, code: "MALFORMED_ENVELOPE")
        #expect(budget.admit(key, now: t0) == .record)
        #expect(budget.admit(other, now: t0) == .record)
        #expect(budget.admit(key, now: t0) == .suppress(firstInWindow: true))
        #expect(budget.closeWindow(other) == 0)
        #expect(budget.closeWindow(key) == 1)
    }

    @Test func aQuietWindowEndsByItselfAndRefills() {
        var budget = RefusalBudget(perWindow: 2, interval: .seconds(60))
        #expect(budget.admit(key, now: t0) == .record)
        #expect(budget.admit(key, now: t0) == .record)
        #expect(budget.admit(key, now: t0.advanced(by: .seconds(60))) == .record)
    }

    @Test func aMegabyteDetailIsCutAndStatesItsLength() {
        let detail = "type '" + String(repeating: "x", count: 1_048_576) + "' is not a message type"
        let cut = RefusalBudget.truncated(Refusal(code: .unknownMessageType, detail: detail))
        #expect(cut.detail.utf8.count < RefusalBudget.maximumDetailBytes + 64)
        #expect(cut.detail.contains("\(detail.utf8.count) bytes in all"))
        #expect(cut.code == .unknownMessageType)
        #expect(RefusalBudget.truncated("short") == "short")
    }

    @Test func controlCharactersInACutDetailCannotSplitTheLogLine() {
        let detail = "a\nb\r" + String(repeating: "é", count: 500)
        let cut = RefusalBudget.truncated(detail)
        #expect(!cut.contains("\n") && !cut.contains("\r"))
        #expect(cut.hasPrefix("a?b?é"))
    }
}

/// A hostile peer against a real endpoint: what its refusals, its connections and its silence cost.
@Suite("Bus endpoint: bounded cost per hostile peer", .serialized)
struct BoundedCostEndpointTests {
    /// An envelope whose `type` is `size` bytes long: refused before hello as an unknown type.
    static func hugeTypeFrame(size: Int) throws -> [UInt8] {
        let json = """
            {"v":1,"from":"control@test","type":"\(String(repeating: "t", count: size))","seq":1,"id":"x","ts":1,"body":{}}
            """
        return Framing.frame(Array(json.utf8))
    }

    @Test func refusalsOfHugeFieldsCostAFewHundredBytesAndStopAtTheBudget() async throws {
        let dir = try TemporaryDirectory(prefix: "bus-bounded")
        defer { dir.remove() }
        let server = try TestEndpoint(
            directory: dir,
            settings: BusSettings(
                helloTimeout: .seconds(15), refusalBudget: 5,
                refusalInterval: .seconds(3600)))
        let frame = try Self.hugeTypeFrame(size: 512 * 1024)
        let path = server.socketPath
        let refusedReplies = try await onOwnThread { () -> [String] in
            var details: [String] = []
            for _ in 0..<30 {
                let peer = try RawBusPeer(path: path)
                try peer.write(frame)
                if let reply = try peer.receive(), case .refused(let r) = reply.message { details.append(r.detail) }
                _ = try peer.isClosedByPeer()
            }
            return details
        }
        let entries = try await server.stop()
        let refusals = entries.filter { $0.record.type == BusEvent.protocolError.rawValue }
        #expect(refusedReplies.count == 30, "every peer is told why it was refused")
        #expect(refusedReplies.allSatisfy { $0.utf8.count < 400 }, "the reply does not echo the field")
        #expect(refusals.count == 5, "only the budget is journaled in full: \(refusals.count)")
        #expect(refusals.allSatisfy { $0.record.body.count < 1024 }, "each entry is a few hundred bytes")
        let total = entries.reduce(0) { $0 + $1.record.body.count }
        #expect(total < 16 * 1024, "30 refusals of 512 KiB fields cost \(total) bytes of journal")
    }

    @Test func suppressedRefusalsAreSummarisedWhenTheWindowEnds() async throws {
        let dir = try TemporaryDirectory(prefix: "bus-bounded")
        defer { dir.remove() }
        let server = try TestEndpoint(
            directory: dir,
            settings: BusSettings(
                helloTimeout: .seconds(15), refusalBudget: 2,
                refusalInterval: .milliseconds(300)))
        let frame = try Self.hugeTypeFrame(size: 1000)
        let path = server.socketPath
        try await onOwnThread {
            for _ in 0..<12 {
                let peer = try RawBusPeer(path: path)
                try peer.write(frame)
                _ = try peer.isClosedByPeer()
            }
        }
        // The summary comes when the window ends; wait for it (no timing asserted).
        var summaries: [JournalEntry] = []
        for _ in 0..<200 where summaries.isEmpty {
            try await Task.sleep(for: .milliseconds(50))
            try server.journal.flush()
            let all = try server.journal.entries(seq: 1...max(1, server.journal.lastSeq))
            summaries = all.filter { $0.record.type == BusEvent.refusalSummary.rawValue }
        }
        _ = try await server.stop()
        let counted = summaries.map { String(decoding: $0.record.body, as: UTF8.self) }
        #expect(summaries.count >= 1, "no summary was journaled")
        #expect(counted.contains { $0.contains("more refusals") }, "\(counted)")
    }

    @Test func connectionsOverTheCapAreClosedAtOnceAndTheRestServed() async throws {
        let dir = try TemporaryDirectory(prefix: "bus-bounded")
        defer { dir.remove() }
        let server = try TestEndpoint(directory: dir, settings: BusSettings(helloTimeout: .seconds(30), maxConnections: 8))
        let path = server.socketPath
        let (closedAtOnce, served) = try await onOwnThread { () -> (Int, Bool) in
            var kept: [RawBusPeer] = []
            for _ in 0..<8 {
                let peer = try RawBusPeer(path: path)
                try peer.hello()
                guard case .welcome = try peer.receive()?.message else { throw HarnessError("no welcome") }
                kept.append(peer)
            }
            var closed = 0
            for _ in 0..<20 {
                let extra = try RawBusPeer(path: path)
                // Closed without a word: end of stream, no refusal frame.
                if try extra.receive(timeoutMs: 20_000) == nil { closed += 1 }
            }
            // The connections within the cap still work.
            _ = try kept[0].send(.ping(Ping(nonce: 7)))
            let pong = try kept[0].receive()
            kept.removeAll()
            return (closed, pong.map { if case .pong = $0.message { true } else { false } } ?? false)
        }
        let entries = try await server.stop()
        #expect(closedAtOnce == 20)
        #expect(served)
        let capEntries = entries.filter {
            $0.record.type == BusEvent.protocolError.rawValue
                && String(decoding: $0.record.body, as: UTF8.self).contains("connection_limit")
        }
        #expect(capEntries.count >= 1 && capEntries.count <= BusSettings().refusalBudget)
    }

    /// An endpoint that closes a peer idle for one second, and a client connected to it.
    static func connectedWithAOneSecondIdleTimeout(in dir: TemporaryDirectory) async throws -> (TestEndpoint, TestClient) {
        let settings = BusSettings(
            helloTimeout: .seconds(30), backoffInitial: .milliseconds(10), backoffMaximum: .milliseconds(50),
            idleTimeout: .seconds(1))
        let server = try TestEndpoint(directory: dir, settings: settings)
        let client = try TestClient(path: server.socketPath, journalPath: dir("client.sqlite"), settings: settings)
        await client.client.waitUntilConnected()
        return (server, client)
    }

    @Test func anIdlePeerIsClosedAfterTheIdleTimeoutButAPingingClientStays() async throws {
        let dir = try TemporaryDirectory(prefix: "bus-bounded")
        defer { dir.remove() }
        let (server, client) = try await Self.connectedWithAOneSecondIdleTimeout(in: dir)
        let path = server.socketPath
        let idleClosed = try await onOwnThread { () -> Bool in
            let peer = try RawBusPeer(path: path)
            try peer.hello()
            guard case .welcome = try peer.receive()?.message else { throw HarnessError("no welcome") }
            // Silent from here on: the endpoint must close it (end of stream), not wait forever.
            return try peer.receive(timeoutMs: 60_000) == nil
        }
        // By now the client lived through at least one idle timeout; it pinged and was kept.
        try await Task.sleep(for: .seconds(2))
        let reply = try await client.client.request(.ping(Ping(nonce: 1)), timeout: .seconds(20))
        let entries = try await server.stop()
        try await client.stop()
        #expect(idleClosed)
        #expect(reply.type == .pong)
        #expect(entries.filter { $0.record.type == BusEvent.idleClosed.rawValue }.count == 1, "only the silent peer was closed")
        #expect(entries.filter { $0.record.type == BusEvent.connected.rawValue }.count == 2, "the client never had to reconnect")
    }
}
