import ASTCore
import Foundation
import Testing

@testable import ASTWire

/// ``StrictJSON`` against Foundation's `JSONDecoder`: on every message of the catalog, on
/// random near misses of them and on edge cases, the fast path gives `JSONDecoder`'s value or
/// steps aside, and ``EnvelopeCodec`` gives the same envelope or the same refusal as before.
@Suite struct StrictJSONTests {
    static let envelopes: [Envelope] = EnvelopeTests.samples.enumerated().map { i, message in
        Envelope(
            sender: EnvelopeTests.risk, seq: UInt64(i), id: "risk@main/c1.\(i)", correlationID: i % 2 == 0 ? nil : "intent-\(i)",
            timestamp: Timestamp(nanoseconds: 1_763_700_000_123_456_789 - Int64(i)), message: message)
    }

    /// `JSONDecoder`'s answer: the envelope, or the error's description.
    static func reference(_ bytes: [UInt8]) -> Result<Envelope, EnvelopeError> {
        Result { () throws(EnvelopeError) in
            do {
                return try JSONDecoder().decode(Envelope.self, from: Data(bytes))
            } catch let e as EnvelopeError {
                throw e
            } catch {
                throw .malformed(EnvelopeCodec.explain(error))
            }
        }
    }

    /// Nil when the fast path and `JSONDecoder` agree on `bytes`, else what differs.
    static func disagreement(_ bytes: [UInt8]) -> String? {
        let expected = reference(bytes)
        let fast = StrictJSON.fastDecode(Envelope.self, from: bytes)
        if let fast, (try? expected.get()) != fast {
            return "fast path gave \(fast) where JSONDecoder gives \(expected): \(String(decoding: bytes, as: UTF8.self))"
        }
        let codec = Result { () throws(EnvelopeError) in try EnvelopeCodec.decode(bytes) }
        if codec != expected {
            return "EnvelopeCodec gave \(codec) where JSONDecoder gives \(expected): \(String(decoding: bytes, as: UTF8.self))"
        }
        return nil
    }

    @Test(arguments: envelopes)
    func decodesEveryCatalogMessageAsJSONDecoderDoes(envelope: Envelope) throws {
        let bytes = EnvelopeCodec.encode(envelope)
        #expect(Self.disagreement(bytes) == nil)
        #expect(try EnvelopeCodec.decode(bytes) == envelope)
    }

    @Test func takesTheFastPathForAlmostEveryCatalogMessage() {
        let slow = Self.envelopes.filter { StrictJSON.fastDecode(Envelope.self, from: EnvelopeCodec.encode($0)) == nil }
        // What steps aside: text with escapes (the probe's quotes and newline) and floating point.
        #expect(slow.count <= 3, "\(slow.map(\.type))")
        #expect(slow.contains { $0.type == .probe })
    }

    /// Seeded random damage to every catalog message (bytes replaced, deleted, inserted,
    /// truncated): never a value `JSONDecoder` would not give, and the same refusal.
    @Test(arguments: envelopes)
    func agreesWithJSONDecoderOnRandomNearMisses(envelope: Envelope) {
        let canonical = EnvelopeCodec.encode(envelope)
        var random = SplitMix64(seed: UInt64(truncatingIfNeeded: canonical.count) &* 0x9E37)
        let alphabet = Array(#"{}[]:,"\-+.0123456789eEtrufalsn x"#.utf8) + [0x00, 0x09, 0x0A, 0xC3, 0xA9, 0xFF]
        var disagreements: [String] = []
        for _ in 0..<60 {
            var bytes = canonical
            for _ in 0..<(1 + Int(random.next() % 3)) {
                guard !bytes.isEmpty else { break }
                let at = Int(random.next() % UInt64(bytes.count))
                let byte = alphabet[Int(random.next() % UInt64(alphabet.count))]
                switch random.next() % 4 {
                case 0: bytes[at] = byte
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(byte, at: at)
                default: bytes.removeSubrange(at...)
                }
            }
            if let d = Self.disagreement(bytes) { disagreements.append(d) }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(3))")
    }

    static let edgeCases: [String] = [
        #"{"body":{"nonce":1},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #" { "body" : { "nonce" : 1 } , "from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1 } "#,
        #"{"body":{"nonce":01},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":-0},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":-1},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1.0},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1e2},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1.},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":18446744073709551615},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":18446744073709551616},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"x","seq":1,"ts":-9223372036854775808,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"x","seq":1,"ts":-9223372036854775809,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":2}"#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"x","seq":-1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"corr":null,"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"corr":5,"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"\u0078","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"from":"risk\/main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"é","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"from":"risk@main","from":"risk@other","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1,"nonce":2},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1,"w":[1,{"a":null}]}"#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"launch.missiles","v":1}"#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}x"#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1,}"#,
        #"{"body":{"nonce":true},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":null},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":[],"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"status.request","v":1}"#,
        #"[{"body":{"nonce":1}}]"#,
        "\"ping\"", "1", "null", "", "{", "[", "{}", "not json",
        String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
        #"{"body":"# + String(repeating: #"{"a":"#, count: 70) + "1" + String(repeating: "}", count: 71),
    ]

    @Test(arguments: edgeCases)
    func agreesWithJSONDecoderOnEdgeCases(payload: String) {
        #expect(Self.disagreement(Array(payload.utf8)) == nil)
    }

    @Test func agreesOnInvalidUTF8InsideAString() {
        let bytes = Array(#"{"body":{"nonce":1},"from":"risk@main","id":"?","seq":1,"ts":5,"type":"ping","v":1}"#.utf8)
        for bad: [UInt8] in [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xC0, 0xAF]] {
            let at = bytes.firstIndex(of: UInt8(ascii: "?"))!
            var damaged = bytes
            damaged.replaceSubrange(at...at, with: bad)
            #expect(Self.disagreement(damaged) == nil)
            #expect(StrictJSON.fastDecode(Envelope.self, from: damaged) == nil)
        }
    }

    /// A type that recovers from an error inside its `init(from:)` must still get
    /// `JSONDecoder`'s value: the fast path's refusal of a float must not become the type's `0`.
    struct Recovering: Decodable, Equatable {
        var x: Double
        enum CodingKeys: String, CodingKey { case x }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            x = (try? c.decode(Double.self, forKey: .x)) ?? 0
        }
    }

    @Test func aTypeThatCatchesTheFastPathsRefusalStillGetsJSONDecodersValue() throws {
        let bytes = Array(#"{"x":1.5}"#.utf8)
        #expect(StrictJSON.fastDecode(Recovering.self, from: bytes) == nil)
        #expect(try StrictJSON.decode(Recovering.self, from: bytes).x == 1.5)
    }

    struct Numbers: Codable, Equatable {
        var i8: Int8
        var u16: UInt16
        var i: Int
        var list: [Int32]
        var map: [String: UInt8]
        var maybe: Int?
        var flag: Bool?
    }

    @Test(arguments: [
        #"{"i8":-128,"u16":65535,"i":9223372036854775807,"list":[1,-2,2147483647],"map":{"a":255,"b":0},"maybe":null}"#,
        #"{"i8":127,"u16":0,"i":-9223372036854775808,"list":[],"map":{},"flag":false}"#,
        #"{"i8":128,"u16":0,"i":0,"list":[],"map":{}}"#,
        #"{"i8":0,"u16":-1,"i":0,"list":[],"map":{}}"#,
        #"{"i8":0,"u16":65536,"i":0,"list":[2147483648],"map":{}}"#,
        #"{"i8":0,"u16":0,"i":0,"list":[null],"map":{"a":256}}"#,
        #"{"i8":0,"u16":0,"i":0,"list":[1],"map":{"a":1,"a":2}}"#,
        #"{"i8":0,"u16":0,"i":0,"list":[1],"map":{"a":1},"maybe":"1"}"#,
        #"{"i8":0,"u16":0,"i":0,"list":[1],"map":{"a":1},"flag":1}"#,
        #"{"u16":0,"i":0,"list":[1],"map":{"a":1}}"#,
    ])
    func integersAndContainersDecodeAsJSONDecoderDecodesThem(payload: String) {
        let bytes = Array(payload.utf8)
        let expected = try? JSONDecoder().decode(Numbers.self, from: Data(bytes))
        let fast = StrictJSON.fastDecode(Numbers.self, from: bytes)
        #expect(fast == nil || fast == expected)
        #expect((try? StrictJSON.decode(Numbers.self, from: bytes)) == expected)
    }
}
