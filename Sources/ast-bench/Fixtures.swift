import ASTCore
import ASTJournal
import ASTWire

/// The message every benchmark moves: an acknowledged probe with a correlation id whose JSON
/// envelope is 200 bytes long.
enum Fixtures {
    static let sender = ProcessIdentity(role: .control, instance: "bench")
    static let peer = "control@bench"
    static let correlationID = "intent-2024-01-02-AAPL-0001"
    static let timestamp = Timestamp(nanoseconds: 1_704_204_000_000_000_000)
    static let targetBytes = 200

    /// A probe envelope whose JSON is `targetBytes` long (or one byte over).
    static let probe: Envelope = {
        var text = "probe"
        while true {
            let env = probe(counter: 123_456, text: text)
            if EnvelopeCodec.encode(env).count >= targetBytes { return env }
            text += "."
        }
    }()

    static func probe(counter: Int64, text: String) -> Envelope {
        Envelope(
            sender: sender, seq: 42, id: "control@bench>risk@main#\(counter)", correlationID: correlationID,
            timestamp: timestamp, message: .probe(Probe(counter: counter, text: text)))
    }

    /// The probe's JSON payload.
    static let probeBytes: [UInt8] = EnvelopeCodec.encode(probe)

    /// The text of ``probe``, reused for probes sent over the bus so that they have the same size.
    static var probeText: String {
        guard case .probe(let p) = probe.message else { return "probe" }
        return p.text
    }

    /// Distinct message ids for journal rows (both the journal and raw SQLite bind these).
    static func messageIDs(_ count: Int) -> [String] {
        (0..<count).map { "control@bench>risk@main#\($0)" }
    }

    /// The journal record of a received probe: what a worker appends for every acknowledged message.
    static func record(id: String, at offset: Int) -> JournalRecord {
        JournalRecord(
            kind: .received, type: MessageType.probe.rawValue,
            timestamp: Timestamp(nanoseconds: timestamp.nanoseconds + Int64(offset)),
            messageID: id, correlationID: correlationID, peer: peer, body: probeBytes)
    }
}
