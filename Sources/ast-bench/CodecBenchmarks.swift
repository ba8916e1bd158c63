import ASTWire
import NIOCore
import NIOEmbedded

#if canImport(Glibc)
    import Glibc
#endif

/// Benchmark 1: the frame codec and the envelope's JSON, in one thread, no I/O.
///
/// - framing: a payload goes out through `MessageToByteHandler(FrameEncoder)` and the framed
///   bytes come back in through `ByteToMessageHandler(FrameDecoder)` of an `EmbeddedChannel`
///   (the handlers every bus connection runs).
/// - envelope JSON: `EnvelopeCodec.encode` and `EnvelopeCodec.decode` of the probe.
/// - baseline: the same framing done by hand with `memcpy` (write the header, copy the payload
///   in, read the header, copy the payload out).
struct CodecBenchmarks {
    var repetitions: Int
    var minimumSeconds: Double

    struct Summary {
        var payloadBytes: Int
        var framing: Double
        var jsonEncode: Double
        var jsonDecode: Double
        var jsonRoundTrip: Double
        var memcpy: Double
        /// Medians over the repetitions of memcpy / framing and memcpy / JSON: how many times slower.
        var framingSlowdown: Double
        var jsonSlowdown: Double
    }

    func run(progress: (String) -> Void) throws -> Summary {
        let payload = Fixtures.probeBytes
        var framing: [Double] = [], encode: [Double] = [], decode: [Double] = [], both: [Double] = [], memcpy: [Double] = []
        // Warm-up: one short untimed pass of each.
        _ = try framingRate(payload, seconds: minimumSeconds / 4)
        _ = try jsonRoundTripRate(seconds: minimumSeconds / 4)
        _ = memcpyRate(payload, seconds: minimumSeconds / 4)
        for rep in 1...repetitions {
            memcpy.append(memcpyRate(payload, seconds: minimumSeconds))
            framing.append(try framingRate(payload, seconds: minimumSeconds))
            encode.append(jsonEncodeRate(seconds: minimumSeconds))
            decode.append(try jsonDecodeRate(seconds: minimumSeconds))
            both.append(try jsonRoundTripRate(seconds: minimumSeconds))
            progress(
                "codec \(rep)/\(repetitions): framing \(Format.rate(framing.last!))/s, json \(Format.rate(both.last!))/s, memcpy \(Format.rate(memcpy.last!))/s"
            )
        }
        return Summary(
            payloadBytes: payload.count, framing: Stats.median(framing), jsonEncode: Stats.median(encode),
            jsonDecode: Stats.median(decode), jsonRoundTrip: Stats.median(both), memcpy: Stats.median(memcpy),
            framingSlowdown: Stats.median(zip(memcpy, framing).map { $0 / $1 }),
            jsonSlowdown: Stats.median(zip(memcpy, both).map { $0 / $1 }))
    }

    /// Frames per second through the encoder and the decoder of an embedded pipeline.
    func framingRate(_ payload: [UInt8], seconds: Double) throws -> Double {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
        defer { _ = try? channel.finish() }
        let message = ByteBuffer(bytes: payload)
        return try throughput(batch: 1_000, minimumSeconds: seconds) { n in
            for _ in 0..<n {
                try channel.writeOutbound(message)
                guard let framed = try channel.readOutbound(as: ByteBuffer.self) else { throw BenchError("the encoder wrote nothing") }
                try channel.writeInbound(framed)
                guard let decoded = try channel.readInbound(as: ByteBuffer.self) else { throw BenchError("the decoder produced nothing") }
                blackHole(decoded)
            }
        }
    }

    func jsonEncodeRate(seconds: Double) -> Double {
        let envelope = Fixtures.probe
        return throughput(batch: 200, minimumSeconds: seconds) { n in
            for _ in 0..<n { blackHole(EnvelopeCodec.encode(envelope)) }
        }
    }

    func jsonDecodeRate(seconds: Double) throws -> Double {
        let bytes = Fixtures.probeBytes
        return try throughput(batch: 200, minimumSeconds: seconds) { n in
            for _ in 0..<n { blackHole(try EnvelopeCodec.decode(bytes)) }
        }
    }

    /// Messages per second through `EnvelopeCodec.encode` then `EnvelopeCodec.decode`.
    func jsonRoundTripRate(seconds: Double) throws -> Double {
        let envelope = Fixtures.probe
        return try throughput(batch: 200, minimumSeconds: seconds) { n in
            for _ in 0..<n {
                let decoded = try EnvelopeCodec.decode(EnvelopeCodec.encode(envelope))
                blackHole(decoded)
            }
        }
    }

    /// Frames per second of hand-written framing with `memcpy` into and out of a ring buffer.
    func memcpyRate(_ payload: [UInt8], seconds: Double) -> Double {
        let ringSize = 1 << 16
        let stride = (payload.count + Framing.headerSize + 63) & ~63
        let ring = UnsafeMutableRawPointer.allocate(byteCount: ringSize + stride, alignment: 64)
        let out = UnsafeMutableRawPointer.allocate(byteCount: payload.count, alignment: 64)
        defer {
            ring.deallocate()
            out.deallocate()
        }
        return payload.withUnsafeBytes { src in
            var offset = 0
            return throughput(batch: 10_000, minimumSeconds: seconds) { n in
                for _ in 0..<n {
                    var header = UInt32(src.count).bigEndian
                    Glibc.memcpy(ring + offset, &header, 4)
                    Glibc.memcpy(ring + offset + 4, src.baseAddress!, src.count)
                    var read: UInt32 = 0
                    Glibc.memcpy(&read, ring + offset, 4)
                    Glibc.memcpy(out, ring + offset + 4, Int(UInt32(bigEndian: read)))
                    blackHole(out)
                    offset = (offset + stride) & (ringSize - 1)
                }
            }
        }
    }
}
