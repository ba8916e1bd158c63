import ASTBus
import ASTCore
import ASTJournal
import ASTTestKit
import ASTWire
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Real worker processes on real Unix sockets in a temporary directory.
@Suite(.serialized) struct BusIntegrationTests {
    static let risk = ProcessIdentity(role: .risk, instance: "main")

    @Test(.timeLimit(.minutes(2)))
    func acknowledgedMessagesArriveExactlyOnceAcrossAReceiverKill() async throws {
        let tree = try WorkerTree()
        var receiver = try await tree.start(Self.risk)
        let count = 400
        // The sender holds the second half of the stream until told: on a loaded machine the
        // whole stream once went by before the test could kill the receiver.
        let resume = tree.dir("resume-sender")
        let sender = try ChildProcess(
            try BuildProducts.executable("ast-testpeer"),
            [
                "send", "--socket", tree.socketPath(Self.risk), "--journal", tree.dir("testpeer.sqlite"),
                "--target", Self.risk.description, "--count", "\(count)", "--interval-ms", "10",
                "--pause-after", "\(count / 2)", "--resume-file", resume,
            ], environment: tree.environment(), name: "testpeer", outputDirectory: tree.dir.path)
        // Kill the receiver mid-stream, once some probes (but not all) have been journaled.
        try await eventually("some probes to be journaled") { Journal.verify(path: tree.journalPath(Self.risk)).entries > 30 }
        receiver.signal(SIGKILL)
        try await receiver.waitForExit()
        #expect(sender.isRunning, "the stream must still be going when the receiver dies: \(sender.stderr.suffix(2000))")
        try await Task.sleep(for: .milliseconds(100))
        receiver = try await tree.start(Self.risk, name: "risk-restarted")
        #expect(FileManager.default.createFile(atPath: resume, contents: nil))
        let status = try await sender.waitForExit(timeout: .seconds(60))
        #expect(ChildProcess.exitCode(status) == 0, "sender: \(sender.stderr)")
        await receiver.stop()

        // The receiver's journal proves exactly-once: every counter once, no id twice.
        let entries = try tree.entries(Self.risk)
        let probes = entries.filter { $0.record.kind == .received && $0.record.type == "probe" }
        let counters = try probes.map { entry -> Int64 in
            guard case .probe(let p) = try EnvelopeCodec.decode(entry.record.body).message else { throw HarnessError("not a probe") }
            return p.counter
        }
        #expect(counters.count == count)
        #expect(Set(counters) == Set(1...Int64(count)))
        #expect(Set(probes.compactMap(\.record.messageID)).count == count)
        #expect(entries.filter { $0.record.type == BusEvent.connected.rawValue }.count >= 2, "the sender reconnected after the kill")
        #expect(Journal.verify(path: tree.journalPath(Self.risk)).isClean)

        // The sender's journal: every sent probe acknowledged.
        let sent = try WorkerTree.entries(path: tree.dir("testpeer.sqlite"), process: "control@testpeer")
        let sentIDs = Set(sent.filter { $0.record.kind == .sent }.compactMap(\.record.messageID))
        let ackedIDs = Set(sent.filter { $0.record.kind == .acked }.compactMap(\.record.messageID))
        #expect(sentIDs.count == count && sentIDs == ackedIDs)
    }

    @Test(.timeLimit(.minutes(1)))
    func misbehavingClientsAreDisconnectedWithAReasonWhileOthersCarryOn() async throws {
        let tree = try WorkerTree()
        let receiver = try await tree.start(Self.risk)
        defer { receiver.signal(SIGKILL) }
        let path = tree.socketPath(Self.risk)

        let good = try RawBusPeer(path: path, identity: ProcessIdentity(role: .control, instance: "good"))
        try good.hello()
        #expect(try good.receive()?.type == .welcome)
        func goodPeerStillServed(_ n: Int64) throws {
            let sent = try good.send(.probe(Probe(counter: n, text: "still here")))
            #expect(try good.receive()?.message == .ack(Ack(id: sent.id, duplicate: false)))
        }
        try goodPeerStillServed(1)

        func refusal(_ peer: RawBusPeer) throws -> RefusalCode? {
            guard case .refused(let r)? = try peer.receive()?.message else { return nil }
            #expect(try peer.isClosedByPeer(), "connection closed after the refusal")
            return r.code
        }

        let garbage = try RawBusPeer(path: path)
        try garbage.write(Framing.frame(Array("this is not json".utf8)))
        #expect(try refusal(garbage) == .malformedEnvelope)
        try goodPeerStillServed(2)

        let oversized = try RawBusPeer(path: path)
        try oversized.write([0x00, 0x10, 0x00, 0x01])  // 1 MiB + 1, header only
        #expect(try refusal(oversized) == .oversizedFrame)
        try goodPeerStillServed(3)

        let wrongVersion = try RawBusPeer(path: path)
        try wrongVersion.hello(version: 2)
        #expect(try refusal(wrongVersion) == .unsupportedVersion)

        let wrongRole = try RawBusPeer(path: path, identity: ProcessIdentity(role: .notifier, instance: "main"))
        try wrongRole.hello()
        #expect(try refusal(wrongRole) == .roleNotAllowed)

        let zeroLength = try RawBusPeer(path: path)
        try zeroLength.write([0, 0, 0, 0])
        #expect(try refusal(zeroLength) == .malformedFrame)
        try goodPeerStillServed(4)

        // Every refusal is logged and journaled with its reason.
        await receiver.stop()
        let errors = try tree.entries(Self.risk).filter { $0.record.type == BusEvent.protocolError.rawValue }
        let codes = errors.map { String(decoding: $0.record.body, as: UTF8.self) }
        for code in ["MALFORMED_ENVELOPE", "OVERSIZED_FRAME", "UNSUPPORTED_PROTOCOL_VERSION", "ROLE_NOT_ALLOWED", "MALFORMED_FRAME"] {
            #expect(codes.contains { $0.contains(code) }, "journal has \(code)")
            #expect(receiver.stderr.contains(code), "log has \(code)")
        }
        #expect(try tree.entries(Self.risk).filter { $0.record.kind == .received && $0.record.type == "probe" }.count == 4)
    }

    @Test(.timeLimit(.minutes(1)))
    func workerServesTheSocketThatSystemdSocketActivatePasses() async throws {
        let activate = "/usr/bin/systemd-socket-activate"
        try #require(FileManager.default.isExecutableFile(atPath: activate), "systemd-socket-activate comes with the systemd package")
        let tree = try WorkerTree()
        let socket = tree.dir("activated.sock")
        let env = tree.environment()
        var args = ["-l", socket, "--fdname=risk@main"]
        for key in env.keys.sorted() { args += ["-E", "\(key)=\(env[key]!)"] }
        args.append(try BuildProducts.executable("ast-risk"))
        let child = try ChildProcess(activate, args, environment: env, name: "activate", outputDirectory: tree.dir.path)
        defer { child.signal(SIGKILL) }
        try await eventually("systemd-socket-activate to listen") { UnixSocket.isLive(path: socket) }

        // systemd-socket-activate execs the worker on the first connection, in place.
        let peer = try RawBusPeer(path: socket)
        try peer.hello()
        let welcome = try #require(try peer.receive(timeoutMs: 10_000))
        guard case .welcome(let w) = welcome.message else {
            Issue.record("expected welcome, got \(welcome.type)")
            return
        }
        #expect(w.role == .risk && w.pid == child.pid)
        let sent = try peer.send(.probe(Probe(counter: 1, text: "activated")))
        #expect(try peer.receive()?.message == .ack(Ack(id: sent.id, duplicate: false)))
        #expect(!FileManager.default.fileExists(atPath: tree.socketPath(Self.risk)), "the worker bound no socket of its own")
        await child.stop()
        #expect(child.stderr.contains("passed by the service manager as 'risk@main'"))
    }
}
