import ASTCore
@_exported import ASTMessages
import FoundationEssentials

/// Why a frame payload is not a valid envelope.
public enum EnvelopeError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)
    case unsupportedVersion(Int)
    case unknownType(String)
    case invalidBody(type: String, detail: String)

    public var description: String {
        switch self {
        case .malformed(let d): "malformed envelope: \(d)"
        case .unsupportedVersion(let v): "unsupported protocol version \(v) (this side speaks \(Envelope.protocolVersion))"
        case .unknownType(let t): "unknown message type '\(t)'"
        case .invalidBody(let t, let d): "invalid body for message type '\(t)': \(d)"
        }
    }

    /// The refusal code a receiver sends before closing.
    public var refusalCode: RefusalCode {
        switch self {
        case .malformed, .invalidBody: .malformedEnvelope
        case .unsupportedVersion: .unsupportedVersion
        case .unknownType: .unknownMessageType
        }
    }
}

/// One message on the bus: who sent it, in what order, what it answers, and the body.
///
/// JSON on the wire: `{"v":1,"from":"risk@main","type":"probe","seq":3,"id":"risk@main/o12",
/// "corr":"...","ts":1700000000000000000,"body":{...}}`.
public struct Envelope: Sendable, Equatable, Codable {
    /// The protocol version this build speaks.
    public static let protocolVersion = MessageCatalog.protocolVersion

    public var version: Int
    public var sender: ProcessIdentity
    /// Per-connection, per-direction sequence number, starting at 1. Zero only in a journaled
    /// outbox copy that has not been given a connection yet; on the wire it is a sequence error.
    public var seq: UInt64
    /// Unique message id; receivers deduplicate acknowledged messages on it.
    public var id: String
    /// Links a message to what caused it (an intent id, a request's id).
    public var correlationID: String?
    public var timestamp: Timestamp
    public var message: Message

    public var type: MessageType { message.type }

    public init(
        sender: ProcessIdentity, seq: UInt64, id: String, correlationID: String? = nil, timestamp: Timestamp, message: Message,
        version: Int = Envelope.protocolVersion
    ) {
        self.version = version
        self.sender = sender
        self.seq = seq
        self.id = id
        self.correlationID = correlationID
        self.timestamp = timestamp
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case version = "v", sender = "from", type, seq, id, correlationID = "corr", timestamp = "ts", body
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(Int.self, forKey: .version)
        guard version == Envelope.protocolVersion else { throw EnvelopeError.unsupportedVersion(version) }
        let from = try c.decode(String.self, forKey: .sender)
        guard let identity = ProcessIdentity(parsing: from) else {
            throw EnvelopeError.malformed("sender '\(from)' is not role@instance")
        }
        sender = identity
        let type = MessageType(rawValue: try c.decode(String.self, forKey: .type))
        guard MessageCatalog.delivery(of: type) != nil else { throw EnvelopeError.unknownType(type.rawValue) }
        let rawSeq = try c.decode(Int64.self, forKey: .seq)
        guard rawSeq >= 0 else { throw EnvelopeError.malformed("seq must be a non-negative integer (got \(rawSeq))") }
        seq = UInt64(rawSeq)
        id = try c.decode(String.self, forKey: .id)
        correlationID = try c.decodeIfPresent(String.self, forKey: .correlationID)
        timestamp = try c.decode(Timestamp.self, forKey: .timestamp)
        do {
            guard let body = try MessageCatalog.decodeBody(type, from: c, key: .body) else {
                throw EnvelopeError.unknownType(type.rawValue)
            }
            message = body
        } catch let e as EnvelopeError {
            throw e
        } catch {
            throw EnvelopeError.invalidBody(type: type.rawValue, detail: EnvelopeCodec.explain(error))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(sender.description, forKey: .sender)
        try c.encode(type.rawValue, forKey: .type)
        try c.encode(seq, forKey: .seq)
        try c.encode(id, forKey: .id)
        try c.encodeIfPresent(correlationID, forKey: .correlationID)
        try c.encode(timestamp, forKey: .timestamp)
        try MessageCatalog.encodeBody(message, into: &c, key: .body)
    }
}

/// Encodes envelopes to JSON payloads and decodes them back, mapping every failure to an
/// ``EnvelopeError`` that names what is wrong.
public enum EnvelopeCodec {
    public static func encode(_ envelope: Envelope) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every field is a plain value: encoding cannot fail.
        return Array(try! encoder.encode(envelope))
    }

    public static func decode(_ bytes: some Collection<UInt8>) throws(EnvelopeError) -> Envelope {
        let bytes = Array(bytes)
        // The same envelope, or the same refusal: anything the strict reader is not sure of,
        // every refusal included, is decoded again by `JSONDecoder`.
        if let fast = StrictJSON.fastDecode(Envelope.self, from: bytes) { return fast }
        do {
            return try JSONDecoder().decode(Envelope.self, from: Data(bytes))
        } catch let e as EnvelopeError {
            throw e
        } catch {
            throw .malformed(explain(error))
        }
    }

    /// A one-line explanation of a decoding error, naming the field.
    static func explain(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        func path(_ c: DecodingError.Context) -> String {
            let p = c.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "" : " at '\(p)'"
        }
        switch e {
        case .keyNotFound(let k, let c): return "missing field '\(k.stringValue)'\(path(c))"
        case .typeMismatch(let t, let c): return "expected \(t)\(path(c))"
        case .valueNotFound(let t, let c): return "null where \(t) is required\(path(c))"
        case .dataCorrupted(let c): return c.codingPath.isEmpty ? "not valid JSON" : "invalid value\(path(c))"
        @unknown default: return "\(e)"
        }
    }
}
