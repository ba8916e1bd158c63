import ASTCore
import ASTJournal
import ASTWire
import Foundation

/// The journal entry types the bus writes besides the messages themselves.
public enum BusEvent: String, Sendable, CaseIterable {
    case connected = "bus.connected"
    case disconnected = "bus.disconnected"
    case protocolError = "bus.protocol_error"
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

    static func event(_ event: BusEvent, endpoint: String, peer: String?, code: String?, detail: String, at now: Timestamp) -> JournalRecord {
        let body = try! JSONEncoder().encode(EventBody(endpoint: endpoint, peer: peer, code: code, detail: detail))
        return JournalRecord(kind: .event, type: event.rawValue, timestamp: now, peer: peer, body: Array(body))
    }

    static func message(_ kind: EntryKind, _ envelope: Envelope, peer: String, raw: [UInt8]? = nil) -> JournalRecord {
        JournalRecord(kind: kind, type: envelope.type.rawValue, timestamp: envelope.timestamp, messageID: envelope.id,
                      correlationID: envelope.correlationID, peer: peer, body: raw ?? HotEnvelopeCodec.encode(envelope))
    }

    static func acked(_ id: String, peer: String, at now: Timestamp) -> JournalRecord {
        JournalRecord(kind: .acked, type: MessageType.ack.rawValue, timestamp: now, messageID: id, peer: peer, body: [])
    }
}
