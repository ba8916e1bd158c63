import CCrypto

/// Computes the hash of a journal entry (format 1).
///
/// The hashed bytes are, in this order:
///
///     prev_hash   32 bytes (32 zero bytes for entry 1)
///     seq         8 bytes, big-endian two's complement
///     ts          8 bytes, big-endian two's complement (nanoseconds since the epoch)
///     kind, type, msg_id, corr_id, peer, body, each as
///                 0x00                                    when nil
///                 0x01, length (8 bytes, big-endian), bytes   otherwise (text as UTF-8)
///
/// and `hash = SHA-256(those bytes)`. Every variable-length field carries its length and every
/// optional field a presence marker, so no two different entries encode to the same bytes.
///
/// One hasher reuses one buffer and one digest context; it is not thread-safe (the journal's
/// writer owns one under its lock, each verification makes its own).
final class ChainHasher {
    static let zeroHash = [UInt8](repeating: 0, count: 32)

    private var buffer: [UInt8] = []
    private let digest: OpaquePointer
    private let context: OpaquePointer

    init() {
        guard let digest = EVP_MD_fetch(nil, "SHA256", nil), let context = EVP_MD_CTX_new() else {
            fatalError("libcrypto: SHA-256 is not available")
        }
        self.digest = digest
        self.context = context
        buffer.reserveCapacity(4096)
    }

    deinit {
        EVP_MD_CTX_free(context)
        EVP_MD_free(digest)
    }

    func hash(prev: [UInt8], seq: Int64, record: JournalRecord) -> [UInt8] {
        hash(
            prev: prev, seq: seq, ts: record.timestamp.nanoseconds, kind: record.kind.rawValue,
            type: record.type, messageID: record.messageID, correlationID: record.correlationID,
            peer: record.peer, body: record.body)
    }

    /// The hash of an entry given its stored columns (`kind` as text, so that a verifier can hash
    /// rows whose kind this build does not know).
    func hash(
        prev: [UInt8], seq: Int64, ts: Int64, kind: String, type: String,
        messageID: String?, correlationID: String?, peer: String?, body: [UInt8]
    ) -> [UInt8] {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: prev)
        appendInteger(seq)
        appendInteger(ts)
        appendField(kind.utf8)
        appendField(type.utf8)
        appendField(messageID?.utf8)
        appendField(correlationID?.utf8)
        appendField(peer?.utf8)
        appendField(body)
        return [UInt8](unsafeUninitializedCapacity: 32) { out, count in
            var length: UInt32 = 0
            let ok = buffer.withUnsafeBytes { bytes in
                EVP_DigestInit_ex(context, digest, nil) == 1
                    && EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1
                    && EVP_DigestFinal_ex(context, out.baseAddress, &length) == 1
            }
            precondition(ok && length == 32, "libcrypto: SHA-256 failed")
            count = 32
        }
    }

    private func appendInteger(_ value: Int64) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }

    private func appendField<Bytes: Collection<UInt8>>(_ bytes: Bytes?) {
        guard let bytes else {
            buffer.append(0)
            return
        }
        buffer.append(1)
        withUnsafeBytes(of: UInt64(bytes.count).bigEndian) { buffer.append(contentsOf: $0) }
        buffer.append(contentsOf: bytes)
    }
}
