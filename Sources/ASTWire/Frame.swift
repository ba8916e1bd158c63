import NIOCore

/// Why a byte stream is not a valid sequence of frames. Any of these closes the connection.
public enum FrameError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The 4-byte header announced more than the configured maximum; rejected before any payload is read.
    case oversized(length: UInt32, maximum: Int)
    /// A header announced an empty payload, which no message can have.
    case empty
    /// The stream ended in the middle of a frame.
    case truncated(buffered: Int)

    public var description: String {
        switch self {
        case .oversized(let length, let maximum):
            "frame of \(length) bytes exceeds the maximum of \(maximum) bytes"
        case .empty:
            "frame with an empty payload"
        case .truncated(let buffered):
            "connection closed in the middle of a frame (\(buffered) bytes buffered)"
        }
    }
}

/// The framing rules shared by the decoder, the encoder and the blocking clients:
/// a 4-byte big-endian unsigned length followed by that many payload bytes.
public enum Framing {
    /// Default maximum payload size: 1 MiB.
    public static let defaultMaximum = 1 << 20
    public static let headerSize = 4

    /// Checks a length read from a header against `maximum`.
    public static func validate(length: UInt32, maximum: Int) throws(FrameError) {
        if length == 0 { throw .empty }
        if Int(length) > maximum { throw .oversized(length: length, maximum: maximum) }
    }

    /// Header plus payload as one byte array (for tests and blocking peers).
    public static func frame(_ payload: [UInt8]) -> [UInt8] {
        let n = UInt32(payload.count)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + payload
    }
}

/// Splits an inbound byte stream into frame payloads. An oversized or empty length is an
/// error the moment its header arrives: no payload byte of it is ever buffered.
public struct FrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = ByteBuffer

    public let maximumPayload: Int

    public init(maximumPayload: Int = Framing.defaultMaximum) {
        self.maximumPayload = maximumPayload
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return .needMoreData
        }
        try Framing.validate(length: length, maximum: maximumPayload)
        guard buffer.readableBytes >= Framing.headerSize + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: Framing.headerSize)
        let payload = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(Self.wrapInboundOut(payload))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 { throw FrameError.truncated(buffered: buffer.readableBytes) }
        return .needMoreData
    }
}

/// Prefixes each outbound payload with its 4-byte big-endian length.
public struct FrameEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = ByteBuffer

    public let maximumPayload: Int

    public init(maximumPayload: Int = Framing.defaultMaximum) {
        self.maximumPayload = maximumPayload
    }

    public func encode(data: ByteBuffer, out: inout ByteBuffer) throws {
        try Framing.validate(length: UInt32(clamping: data.readableBytes), maximum: maximumPayload)
        out.writeInteger(UInt32(data.readableBytes), endianness: .big)
        out.writeImmutableBuffer(data)
    }
}
