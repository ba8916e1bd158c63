import ASTCore

/// How soon an appended entry must be on disk.
///
/// `durable` is for the order path (an approved order before it reaches the broker, a fill before
/// it is acknowledged): the call returns only after an fsync'ed commit. `batched` is for
/// everything else: the entry is buffered and committed with the next group commit.
public enum Durability: String, Sendable {
    case durable, batched
}

/// What kind of fact an entry records.
public enum EntryKind: String, Sendable, Codable, CaseIterable {
    case received, sent, acked, decision, state, event
}

/// What a caller appends: one fact, before it gets a sequence number and a place in the chain.
public struct JournalRecord: Sendable, Equatable {
    public var kind: EntryKind
    /// The message or decision type, for instance `order.approved`.
    public var type: String
    public var timestamp: Timestamp
    public var messageID: String?
    public var correlationID: String?
    /// The other end of a message (`broker@paper`), nil for internal facts.
    public var peer: String?
    /// The payload, usually JSON.
    public var body: [UInt8]

    public init(
        kind: EntryKind,
        type: String,
        timestamp: Timestamp,
        messageID: String? = nil,
        correlationID: String? = nil,
        peer: String? = nil,
        body: [UInt8]
    ) {
        self.kind = kind
        self.type = type
        self.timestamp = timestamp
        self.messageID = messageID
        self.correlationID = correlationID
        self.peer = peer
        self.body = body
    }
}

/// A stored entry: a record with its sequence number and its link in the hash chain.
///
/// `hash` is SHA-256 over `prevHash` and the canonical encoding of the entry described in
/// `ChainHasher.swift`; `prevHash` is the previous entry's `hash` (32 zero bytes for entry 1).
public struct JournalEntry: Sendable, Equatable {
    public var seq: Int64
    public var record: JournalRecord
    public var prevHash: [UInt8]
    public var hash: [UInt8]

    public init(seq: Int64, record: JournalRecord, prevHash: [UInt8], hash: [UInt8]) {
        self.seq = seq
        self.record = record
        self.prevHash = prevHash
        self.hash = hash
    }
}
