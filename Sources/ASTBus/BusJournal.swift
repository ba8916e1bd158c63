import ASTCore
import ASTJournal
import ASTWire
import FoundationEssentials

/// The journal entry types the bus writes besides the messages themselves.
public enum BusEvent: String, Sendable, CaseIterable {
    case connected = "bus.connected"
    case disconnected = "bus.disconnected"
    case protocolError = "bus.protocol_error"
    /// A well-formed message its receiver refused before journaling it (``BusInbox/validate(_:from:)``).
    case inputRefused = "bus.input_refused"
    /// Refusals past the refusal budget, counted over one window (``RefusalBudget``).
    case refusalSummary = "bus.refusal_summary"
    /// An established connection closed after sending nothing for the idle timeout.
    case idleClosed = "bus.idle_closed"
}

/// What the bus records in the process journal, in one place so that every reader
/// (replay, drills, tests) agrees on the format.
enum BusJournal {
    struct EventBody: Codable {
        var endpoint: String
        var peer: String?
        var code: String?
        var detail: String
    }

    static func event(_ event: BusEvent, endpoint: String, peer: String?, code: String?, detail: String, at now: Timestamp) -> JournalRecord
    {
        let body = try! JSONEncoder().encode(EventBody(endpoint: endpoint, peer: peer, code: code, detail: detail))
        return JournalRecord(kind: .event, type: event.rawValue, timestamp: now, peer: peer, body: Array(body))
    }

    static func message(_ kind: EntryKind, _ envelope: Envelope, peer: String, raw: [UInt8]? = nil) -> JournalRecord {
        JournalRecord(
            kind: kind, type: envelope.type.rawValue, timestamp: envelope.timestamp, messageID: envelope.id,
            correlationID: envelope.correlationID, peer: peer, body: raw ?? HotEnvelopeCodec.encode(envelope))
    }

    static func acked(_ id: String, peer: String, at now: Timestamp) -> JournalRecord {
        JournalRecord(kind: .acked, type: MessageType.ack.rawValue, timestamp: now, messageID: id, peer: peer, body: [])
    }
}

/// Finds what a crash left between the bus and a worker's logic.
public enum UnhandledMessages {
    /// Acknowledged messages of `types` that the bus journaled as received (and so will drop
    /// as duplicates when re-sent) but whose handling never reached the worker's own journal:
    /// no entry of type `handledType` carries the same message id. A crash between the bus's
    /// journal write and the worker's leaves exactly these; the worker handles them at start.
    /// Oldest first. Read from the checkpoint horizon on (``ASTJournal/Journal/checkpointHorizon(keeping:)``):
    /// a message received before it was handled by an earlier start, whose checkpoints followed.
    public static func find(in journal: Journal, types: Set<MessageType>, handledType: String) throws -> [Envelope] {
        let typeNames = Set(types.map(\.rawValue))
        var handled = Set<String>()
        var received: [(id: String, body: [UInt8])] = []
        try journal.scan(fromSeq: try journal.checkpointHorizon()) { entry in
            let r = entry.record
            guard r.kind == .received, let id = r.messageID else { return true }
            if r.type == handledType {
                handled.insert(id)
            } else if typeNames.contains(r.type) {
                received.append((id, r.body))
            }
            return true
        }
        return try received.filter { !handled.contains($0.id) }.map { try EnvelopeCodec.decode($0.body) }
    }
}
