import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@testable import ASTWire

@Suite struct FrameDecoderTests {
    func framed(_ payload: String) -> ByteBuffer {
        ByteBuffer(bytes: Framing.frame(Array(payload.utf8)))
    }

    @Test func decodesFramesFedByteByByteAndInBatches() throws {
        let payloads = ["a", "hello world", String(repeating: "x", count: 300), "{\"v\":1}"]
        let pairs = payloads.map { (framed($0), [ByteBuffer(string: $0)]) }
        // The verifier feeds each input whole, byte by byte, and in random chunks, and
        // checks decodeLast and leftovers.
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder(maximumPayload: 1024) }
    }

    @Test func acceptsExactlyTheMaximumSize() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maximumPayload: 64)))
        let payload = String(repeating: "m", count: 64)
        try channel.writeInbound(framed(payload))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: payload))
        #expect(try channel.finish().isClean)
    }

    @Test func rejectsMaximumPlusOneAtTheHeaderBeforeAnyPayload() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maximumPayload: 64)))
        var header = ByteBuffer()
        header.writeInteger(UInt32(65), endianness: .big)
        // Only the 4 header bytes: the decoder must fail now, not wait for 65 payload bytes.
        #expect(throws: FrameError.oversized(length: 65, maximum: 64)) { try channel.writeInbound(header) }
    }

    @Test func rejectsAHugeLengthWithoutBuffering() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        var header = ByteBuffer()
        header.writeInteger(UInt32.max, endianness: .big)
        #expect(throws: FrameError.oversized(length: .max, maximum: Framing.defaultMaximum)) { try channel.writeInbound(header) }
    }

    @Test func rejectsLengthZero() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        #expect(throws: FrameError.empty) { try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 0])) }
    }

    @Test func reportsATruncatedFrameAtEndOfStream() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 10, 1, 2, 3]))
        #expect(throws: FrameError.truncated(buffered: 7)) { _ = try channel.finish() }
    }

    @Test func encoderPrefixesBigEndianLength() throws {
        let channel = EmbeddedChannel(handler: MessageToByteHandler(FrameEncoder()))
        try channel.writeOutbound(ByteBuffer(string: "abc"))
        let out = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(Array(out.readableBytesView) == [0, 0, 0, 3, 0x61, 0x62, 0x63])
    }

    @Test func encoderRefusesAnOversizedPayload() throws {
        let channel = EmbeddedChannel(handler: MessageToByteHandler(FrameEncoder(maximumPayload: 2)))
        #expect(throws: FrameError.oversized(length: 3, maximum: 2)) { try channel.writeOutbound(ByteBuffer(string: "abc")) }
    }
}
