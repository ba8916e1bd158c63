import ASTCore
import ASTWire
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// The bus shells' envelope codec: byte for byte the JSON of ``EnvelopeCodec`` (sorted keys,
/// no whitespace, unescaped slashes), written and parsed by hand for the messages of every round
/// trip (ping, pong, ack, probe) and handed to ``EnvelopeCodec`` for everything else.
///
/// Foundation's `JSONEncoder`/`JSONDecoder` cost about 5 and 7 µs per envelope, most of a bus
/// round trip's CPU once the thread hand-offs are gone. This codec takes its fast path only where
/// the result is certain to be identical: strings of printable ASCII with nothing to escape,
/// integers in plain decimal, keys in the canonical order and no unknown keys. Anything else
/// (an escape, non-ASCII text, whitespace, a float, an extra field, another message type, a
/// malformed payload) goes to ``EnvelopeCodec``, which then also names what is wrong.
enum HotEnvelopeCodec {
    // MARK: Encoding

    /// ``EnvelopeCodec/encode(_:)``'s bytes.
    static func encode(_ envelope: Envelope) -> [UInt8] {
        fastEncode(envelope) ?? EnvelopeCodec.encode(envelope)
    }

    /// The canonical bytes written by hand, or nil when the envelope needs the general encoder.
    static func fastEncode(_ envelope: Envelope) -> [UInt8]? {
        var writer = Writer(buffer: ByteBufferAllocator().buffer(capacity: 256))
        return writer.envelope(envelope) ? Array(writer.buffer.readableBytesView) : nil
    }

    /// The envelope as a whole frame: the 4-byte big-endian length, then ``encode(_:)``'s bytes,
    /// in one buffer. Throws when the payload is longer than `maximum`
    /// (``Framing/validate(length:maximum:)``).
    static func frame(_ envelope: Envelope, maximum: Int, allocator: ByteBufferAllocator) throws(FrameError) -> ByteBuffer {
        var writer = Writer(buffer: allocator.buffer(capacity: 256))
        writer.buffer.writeInteger(UInt32(0))
        guard writer.envelope(envelope) else {
            let payload = EnvelopeCodec.encode(envelope)
            try Framing.validate(length: UInt32(clamping: payload.count), maximum: maximum)
            var frame = allocator.buffer(capacity: Framing.headerSize + payload.count)
            frame.writeInteger(UInt32(payload.count))
            frame.writeBytes(payload)
            return frame
        }
        let length = writer.buffer.readableBytes - Framing.headerSize
        try Framing.validate(length: UInt32(clamping: length), maximum: maximum)
        writer.buffer.setInteger(UInt32(length), at: writer.buffer.readerIndex)
        return writer.buffer
    }

    private struct Writer {
        var buffer: ByteBuffer

        /// Writes the canonical JSON; false when the envelope needs the general encoder.
        mutating func envelope(_ e: Envelope) -> Bool {
            raw(#"{"body":{"#)
            switch e.message {
            case .ping(let p):
                raw(#""nonce":"#)
                unsigned(p.nonce)
            case .pong(let p):
                raw(#""nonce":"#)
                unsigned(p.nonce)
            case .ack(let a):
                raw(#""duplicate":"#)
                raw(a.duplicate ? "true" : "false")
                raw(#","id":"#)
                guard string(a.id) else { return false }
            case .probe(let p):
                raw(#""counter":"#)
                signed(p.counter)
                raw(#","text":"#)
                guard string(p.text) else { return false }
            default:
                return false
            }
            raw("}")
            if let correlation = e.correlationID {
                raw(#","corr":"#)
                guard string(correlation) else { return false }
            }
            // `role@instance`, written in parts rather than through `description`.
            raw(#","from":""#)
            guard plain(e.sender.role.rawValue) else { return false }
            raw("@")
            guard plain(e.sender.instance) else { return false }
            raw(#"","id":"#)
            guard string(e.id) else { return false }
            raw(#","seq":"#)
            unsigned(e.seq)
            raw(#","ts":"#)
            signed(e.timestamp.nanoseconds)
            raw(#","type":"#)
            guard string(e.type.rawValue) else { return false }
            raw(#","v":"#)
            signed(Int64(e.version))
            raw("}")
            return true
        }

        mutating func raw(_ s: StaticString) {
            buffer.writeStaticString(s)
        }

        /// A quoted string; false if it holds anything but printable ASCII without `"` and `\`.
        mutating func string(_ s: String) -> Bool {
            raw("\"")
            guard plain(s) else { return false }
            raw("\"")
            return true
        }

        /// The string's bytes unquoted; false (and nothing written) unless they are all plain.
        mutating func plain(_ s: String) -> Bool {
            let written: Bool? = s.utf8.withContiguousStorageIfAvailable { utf8 in
                guard utf8.allSatisfy(HotEnvelopeCodec.isPlain) else { return false }
                buffer.writeBytes(UnsafeRawBufferPointer(utf8))
                return true
            }
            return written ?? false
        }

        mutating func unsigned(_ value: UInt64) {
            var digits:
                (
                    UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                    UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
                ) =
                    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &digits) { digits in
                var v = value
                var i = digits.count
                repeat {
                    i -= 1
                    digits[i] = 0x30 + UInt8(v % 10)
                    v /= 10
                } while v > 0
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: digits[i...]))
            }
        }

        mutating func signed(_ value: Int64) {
            if value < 0 { raw("-") }
            unsigned(value.magnitude)
        }
    }

    /// Printable ASCII that JSON writes as itself (with slashes unescaped).
    static func isPlain(_ byte: UInt8) -> Bool {
        byte >= 0x20 && byte < 0x7F && byte != 0x22 && byte != 0x5C
    }

    // MARK: Decoding

    /// ``EnvelopeCodec/decode(_:)``'s result for the same bytes.
    static func decode(_ buffer: some ByteBufferLike) throws(EnvelopeError) -> Envelope {
        if let fast = buffer.withBytes(fastDecode) { return fast }
        return try buffer.withBytes { bytes throws(EnvelopeError) in try EnvelopeCodec.decode(bytes) }
    }

    /// The envelope read by hand, or nil when the bytes need the general decoder.
    static func fastDecode(_ bytes: UnsafeRawBufferPointer) -> Envelope? {
        var reader = Reader(bytes)
        return reader.envelope()
    }

    /// One scalar field of a message body.
    private enum Scalar {
        case string(String)
        case integer(negative: Bool, magnitude: UInt64)
        case bool(Bool)

        var uint64: UInt64? {
            if case .integer(false, let m) = self { return m }
            return nil
        }

        var int64: Int64? {
            guard case .integer(let negative, let m) = self else { return nil }
            if negative { return m <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- m) : nil }
            return m <= UInt64(Int64.max) ? Int64(m) : nil
        }
    }

    /// A strict reader of the canonical form; any deviation returns nil.
    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var at = 0

        init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        mutating func envelope() -> Envelope? {
            guard literal(#"{"body":{"#) else { return nil }
            // The body comes before "type": read its fields, interpret them once the type is known.
            var body: [(key: String, value: Scalar)] = []
            if !literal("}") {
                repeat {
                    guard let key = string(), literal(":"), let value = scalar(), body.count < 2 else { return nil }
                    body.append((key, value))
                } while literal(",")
                guard literal("}") else { return nil }
            }
            var correlationID: String?
            if literal(#","corr":"#) {
                guard let c = string() else { return nil }
                correlationID = c
            }
            guard literal(#","from":"#), let from = string(), let sender = ProcessIdentity(parsing: from),
                literal(#","id":"#), let id = string(),
                literal(#","seq":"#), let seq = integer(), !seq.negative, seq.magnitude <= UInt64(Int64.max),
                literal(#","ts":"#), let ts = integer().flatMap({ Scalar.integer(negative: $0.negative, magnitude: $0.magnitude).int64 }),
                literal(#","type":"#), let type = string(),
                literal(#","v":"#), let version = integer(), !version.negative, version.magnitude == UInt64(Envelope.protocolVersion),
                literal("}"), at == bytes.count,
                let message = Self.message(type, body)
            else { return nil }
            return Envelope(
                sender: sender, seq: seq.magnitude, id: id, correlationID: correlationID,
                timestamp: Timestamp(nanoseconds: ts), message: message)
        }

        static func message(_ type: String, _ body: [(key: String, value: Scalar)]) -> Message? {
            switch (type, body.count) {
            case ("ping", 1):
                guard body[0].key == "nonce", let nonce = body[0].value.uint64 else { return nil }
                return .ping(Ping(nonce: nonce))
            case ("pong", 1):
                guard body[0].key == "nonce", let nonce = body[0].value.uint64 else { return nil }
                return .pong(Pong(nonce: nonce))
            case ("ack", 2):
                guard body[0].key == "duplicate", case .bool(let duplicate) = body[0].value,
                    body[1].key == "id", case .string(let id) = body[1].value
                else { return nil }
                return .ack(Ack(id: id, duplicate: duplicate))
            case ("probe", 2):
                guard body[0].key == "counter", let counter = body[0].value.int64,
                    body[1].key == "text", case .string(let text) = body[1].value
                else { return nil }
                return .probe(Probe(counter: counter, text: text))
            default:
                return nil
            }
        }

        mutating func literal(_ s: StaticString) -> Bool {
            let n = s.utf8CodeUnitCount
            guard bytes.count - at >= n, memcmp(bytes.baseAddress! + at, s.utf8Start, n) == 0 else { return false }
            at += n
            return true
        }

        /// A quoted string of plain bytes (no escapes).
        mutating func string() -> String? {
            guard at < bytes.count, bytes[at] == 0x22 else { return nil }
            let start = at + 1
            var end = start
            while end < bytes.count, HotEnvelopeCodec.isPlain(bytes[end]) { end += 1 }
            guard end < bytes.count, bytes[end] == 0x22 else { return nil }
            at = end + 1
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        }

        /// An integer in plain decimal: an optional minus, no leading zeros, no fraction or exponent.
        mutating func integer() -> (negative: Bool, magnitude: UInt64)? {
            var i = at
            let negative = i < bytes.count && bytes[i] == 0x2D
            if negative { i += 1 }
            let first = i
            var value: UInt64 = 0
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(bytes[i] - 0x30))
                guard !o1, !o2 else { return nil }
                value = sum
                i += 1
            }
            let count = i - first
            guard count > 0, count == 1 || bytes[first] != 0x30, !(negative && value == 0) else { return nil }
            // A fraction or an exponent makes it a float: not ours.
            if i < bytes.count, bytes[i] == 0x2E || bytes[i] == 0x65 || bytes[i] == 0x45 { return nil }
            at = i
            return (negative, value)
        }

        mutating func scalar() -> Scalar? {
            guard at < bytes.count else { return nil }
            switch bytes[at] {
            case 0x22: return string().map(Scalar.string)
            case 0x74: return literal("true") ? .bool(true) : nil
            case 0x66: return literal("false") ? .bool(false) : nil
            default: return integer().map { Scalar.integer(negative: $0.negative, magnitude: $0.magnitude) }
            }
        }
    }
}

/// Contiguous bytes the codec can read in place: a frame's `ByteBuffer` or a journal body.
protocol ByteBufferLike {
    func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R
}

extension Array: ByteBufferLike where Element == UInt8 {
    func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = withUnsafeBytes { bytes in
            do throws(E) { return .success(try body(bytes)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}

extension ByteBuffer: ByteBufferLike {
    func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = withUnsafeReadableBytes { bytes in
            do throws(E) { return .success(try body(bytes)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
