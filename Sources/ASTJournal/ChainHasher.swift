import CSHA256

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
/// One hasher reuses one scratch buffer and one SHA-256 context (CSHA256: no libcrypto); it is not thread-safe (the
/// journal's writer owns one under its lock, each verification makes its own). Everything up
/// to the body's length is copied into the scratch buffer with `memcpy`; the body, the only
/// field that may be large, goes to the digest straight from its own storage.
final class ChainHasher {
    static let zeroHash = [UInt8](repeating: 0, count: 32)

    private var scratch: UnsafeMutableRawPointer
    private var capacity: Int
    private var count = 0
    private let context: UnsafeMutablePointer<ast_sha256_ctx>

    init() {
        context = .allocate(capacity: 1)
        capacity = 1024
        scratch = .allocate(byteCount: capacity, alignment: 8)
    }

    deinit {
        scratch.deallocate()
        context.deallocate()
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
        count = 0
        prev.withUnsafeBytes { put($0) }
        putInteger(UInt64(bitPattern: seq))
        putInteger(UInt64(bitPattern: ts))
        putText(kind)
        putText(type)
        putText(messageID)
        putText(correlationID)
        putText(peer)
        reserve(9)
        putMarkerAndLength(body.count)
        return [UInt8](unsafeUninitializedCapacity: 32) { out, initialized in
            body.withUnsafeBytes { body in digest(body: body, into: out.baseAddress!) }
            initialized = 32
        }
    }

    // MARK: Hashing a row straight from SQLite's buffers (the chain check: nothing copied)

    /// Starts an entry's bytes: its previous hash, seq and time.
    func begin(prev: UnsafeRawBufferPointer, seq: Int64, ts: Int64) {
        count = 0
        put(prev)
        putInteger(UInt64(bitPattern: seq))
        putInteger(UInt64(bitPattern: ts))
    }

    /// Adds one text field (kind, type, msg_id, corr_id, peer, in that order): nil when NULL.
    func add(field: UnsafeRawBufferPointer?) {
        guard let field else {
            reserve(1)
            scratch.storeBytes(of: 0, toByteOffset: count, as: UInt8.self)
            count += 1
            return
        }
        putField(field)
    }

    /// Ends the entry with its body and writes its hash (32 bytes) to `out`.
    func finish(body: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>) {
        reserve(9)
        putMarkerAndLength(body.count)
        digest(body: body, into: out)
    }

    /// SHA-256 of the scratch bytes followed by the body, written to `out` (32 bytes).
    private func digest(body: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>) {
        ast_sha256_init(context)
        ast_sha256_update(context, scratch, count)
        if let base = body.baseAddress, !body.isEmpty { ast_sha256_update(context, base, body.count) }
        ast_sha256_final(context, out)
    }

    /// Makes room for `more` bytes after the `count` already written.
    private func reserve(_ more: Int) {
        guard count + more > capacity else { return }
        var grown = capacity * 2
        while grown < count + more { grown *= 2 }
        let bigger = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 8)
        bigger.copyMemory(from: scratch, byteCount: count)
        scratch.deallocate()
        scratch = bigger
        capacity = grown
    }

    private func put(_ bytes: UnsafeRawBufferPointer) {
        reserve(bytes.count)
        if let base = bytes.baseAddress { (scratch + count).copyMemory(from: base, byteCount: bytes.count) }
        count += bytes.count
    }

    private func putInteger(_ value: UInt64) {
        reserve(8)
        (scratch + count).storeBytes(of: value.bigEndian, as: UInt64.self)
        count += 8
    }

    /// The presence marker and the big-endian length of a field; room must be reserved.
    private func putMarkerAndLength(_ length: Int) {
        scratch.storeBytes(of: 1, toByteOffset: count, as: UInt8.self)
        (scratch + count + 1).storeBytes(of: UInt64(length).bigEndian, as: UInt64.self)
        count += 9
    }

    private func putText(_ text: String?) {
        guard let text else {
            reserve(1)
            scratch.storeBytes(of: 0, toByteOffset: count, as: UInt8.self)
            count += 1
            return
        }
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { putField(UnsafeRawBufferPointer($0)) }
        if done == nil {
            // A bridged or otherwise non-contiguous string: make it native once.
            var native = text
            native.withUTF8 { putField(UnsafeRawBufferPointer($0)) }
        }
    }

    private func putField(_ bytes: UnsafeRawBufferPointer) {
        reserve(9 + bytes.count)
        putMarkerAndLength(bytes.count)
        put(bytes)
    }
}
