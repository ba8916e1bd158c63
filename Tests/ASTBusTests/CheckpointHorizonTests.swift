import ASTCore
import ASTJournal
import ASTTestKit
import ASTWire
import Foundation
import Testing

@testable import ASTBus

/// M11: the bus's dedupe set and the unhandled-message search read from the checkpoint horizon
/// (the second newest checkpoint whose chain verifies), not from entry 1: neither the set nor the
/// start-up grows with the journal's history.
@Suite struct CheckpointHorizonTests {
    func received(_ id: String, _ journal: Journal, type: MessageType = .probe) throws {
        try journal.append(
            JournalRecord(
                kind: .received, type: type.rawValue, timestamp: Timestamp(nanoseconds: 1), messageID: id, peer: "control@test", body: []),
            durability: .batched)
    }

    func checkpoint(_ journal: Journal) throws -> Int64 {
        try #require(
            try journal.appendCovering { last in
                JournalRecord(
                    kind: .state, type: EntryTypes.checkpoint, timestamp: Timestamp(nanoseconds: 1),
                    body: Array(#"{"covers":\#(last),"format":1,"process":"risk@main","state":{}}"#.utf8))
            })
    }

    @Test func theDedupeSetStartsAtTheSecondNewestCheckpoint() throws {
        let dir = try TemporaryDirectory(prefix: "bus-horizon")
        defer { dir.remove() }
        let journal = try Journal(path: "\(dir.path)/risk@main.sqlite", process: "risk@main", logger: quietLogger)
        defer { try? journal.close() }
        try received("old-1", journal)
        try received("old-2", journal)
        try journal.flush()
        #expect(try journal.checkpointHorizon() == 1, "no checkpoint: everything is read")
        #expect(try BusServer.restoreSeen(journal) == ["old-1", "old-2"])
        let first = try checkpoint(journal)
        try received("mid-1", journal)
        #expect(try journal.checkpointHorizon() == 1, "one checkpoint: a whole interval is not behind it yet")
        let second = try checkpoint(journal)
        try received("new-1", journal)
        try journal.flush()
        #expect(second > first)
        #expect(try journal.checkpointHorizon() == first)
        #expect(try BusServer.restoreSeen(journal) == ["mid-1", "new-1"], "ids before the horizon are in the checkpoints' state")
    }

    @Test func theUnhandledMessageSearchStartsAtTheHorizon() throws {
        let dir = try TemporaryDirectory(prefix: "bus-horizon")
        defer { dir.remove() }
        let journal = try Journal(path: "\(dir.path)/risk@main.sqlite", process: "risk@main", logger: quietLogger)
        defer { try? journal.close() }
        let env = Envelope(
            sender: ProcessIdentity(role: .control, instance: "test"), seq: 1, id: "x", correlationID: nil,
            timestamp: Timestamp(nanoseconds: 1), message: .probe(Probe(counter: 1, text: "p")))
        func receivedEnvelope(_ id: String) throws {
            var e = env
            e.id = id
            try journal.append(
                JournalRecord(
                    kind: .received, type: MessageType.probe.rawValue, timestamp: e.timestamp, messageID: id, peer: "control@test",
                    body: EnvelopeCodec.encode(e)), durability: .batched)
        }
        try receivedEnvelope("before")
        _ = try checkpoint(journal)
        _ = try checkpoint(journal)
        try receivedEnvelope("after")
        try journal.flush()
        let found = try UnhandledMessages.find(in: journal, types: [.probe], handledType: "risk.input")
        #expect(found.map(\.id) == ["after"])
    }
}
