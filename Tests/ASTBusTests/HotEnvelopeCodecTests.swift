import ASTCore
import ASTSupervision
import ASTWire
import NIOCore
import Testing

@testable import ASTBus

/// The hand-written codec must be indistinguishable from `EnvelopeCodec`: the same bytes out,
/// the same envelope or the same error back, whatever the input.
@Suite struct HotEnvelopeCodecTests {
    static let risk = ProcessIdentity(role: .risk, instance: "main")

    static let messages: [Message] = [
        .ping(Ping(nonce: 0)), .ping(Ping(nonce: 9)), .ping(Ping(nonce: .max)),
        .pong(Pong(nonce: 1_234_567_890)), .pong(Pong(nonce: .max)),
        .ack(Ack(id: "control@test>risk@main#17", duplicate: false)), .ack(Ack(id: "", duplicate: true)),
        .ack(Ack(id: "with \"quotes\"", duplicate: false)),
        .probe(Probe(counter: 0, text: "")), .probe(Probe(counter: -5, text: "plain text / with a slash")),
        .probe(Probe(counter: .min, text: "min")), .probe(Probe(counter: .max, text: "max ~!@#$%^&*()_+{}[]:;'<>,.?|`")),
        .probe(Probe(counter: 3, text: "ünïcødé")), .probe(Probe(counter: 4, text: "new\nline\ttab \\ backslash")),
        .probe(Probe(counter: 5, text: "\u{7F} delete and \u{1} control")),
        // Not on the fast path: the general codec's bytes, through the same entry points.
        .hello(Hello(role: .risk, instance: "main", pid: 42)),
        .statusRequest(StatusRequest()),
        .lifecycle(
            LifecycleEvent(
                kind: .exited, child: ProcessIdentity(role: .broker, instance: "paper"), pid: 42, reason: "killed",
                exitCode: nil, signal: 9, onCrash: .halt, restarts: 1, at: Timestamp(nanoseconds: 7))),
    ]

    static let envelopes: [Envelope] = messages.enumerated().flatMap { i, message in
        [
            Envelope(
                sender: risk, seq: UInt64(i), id: "risk@main/c1.\(i)", correlationID: nil,
                timestamp: Timestamp(nanoseconds: 1_763_700_000_123_456_789), message: message),
            Envelope(
                sender: ProcessIdentity(role: .control, instance: "bench-blocking"), seq: UInt64(Int64.max),
                id: "control@bench>risk@main?\(i)", correlationID: "intent-2024/01-\(i)",
                timestamp: Timestamp(nanoseconds: i % 2 == 0 ? -4_000_000_000_000_000_000 : -1), message: message),
        ]
    }

    @Test(arguments: envelopes)
    func encodesTheBytesOfEnvelopeCodec(envelope: Envelope) {
        #expect(HotEnvelopeCodec.encode(envelope) == EnvelopeCodec.encode(envelope))
    }

    @Test(arguments: envelopes)
    func decodesWhatEnvelopeCodecWritesToTheSameEnvelope(envelope: Envelope) throws {
        let bytes = EnvelopeCodec.encode(envelope)
        #expect(try HotEnvelopeCodec.decode(bytes) == envelope)
        #expect(try HotEnvelopeCodec.decode(ByteBuffer(bytes: bytes)) == envelope)
    }

    @Test func takesTheFastPathForCanonicalPingsPongsAcksAndProbes() {
        let hot = Self.envelopes.filter { [.ping, .pong, .ack, .probe].contains($0.type) }
        let plain = hot.filter { e in
            switch e.message {
            case .ack(let a): a.id.utf8.allSatisfy(HotEnvelopeCodec.isPlain)
            case .probe(let p): p.text.utf8.allSatisfy(HotEnvelopeCodec.isPlain)
            default: true
            }
        }
        #expect(plain.count >= 14)
        for envelope in plain {
            #expect(HotEnvelopeCodec.fastEncode(envelope) != nil, "\(envelope.message)")
            let decoded = EnvelopeCodec.encode(envelope).withUnsafeBytes { HotEnvelopeCodec.fastDecode($0) }
            #expect(decoded == envelope)
        }
    }

    /// Both codecs' answer to `bytes`: the envelope, or the error.
    static func agree(_ bytes: [UInt8]) -> Bool {
        let general = Result { () throws(EnvelopeError) in try EnvelopeCodec.decode(bytes) }
        let hot = Result { () throws(EnvelopeError) in try HotEnvelopeCodec.decode(bytes) }
        return general == hot
    }

    /// Every single-byte deletion, several substitutions and an inserted space at every position
    /// of each canonical payload: the codecs agree on all of them.
    @Test(arguments: envelopes.filter { [.ping, .pong, .ack, .probe].contains($0.type) })
    func agreesWithEnvelopeCodecOnEveryNearMissOfACanonicalPayload(envelope: Envelope) {
        let canonical = EnvelopeCodec.encode(envelope)
        var disagreements: [String] = []
        func check(_ bytes: [UInt8]) {
            if !Self.agree(bytes) { disagreements.append(String(decoding: bytes, as: UTF8.self)) }
        }
        for i in canonical.indices {
            var deleted = canonical
            deleted.remove(at: i)
            check(deleted)
            for replacement: UInt8 in [0x20, 0x22, 0x2D, 0x2E, 0x30, 0x31, 0x39, 0x5C, 0x65, 0x7B, 0x7D, 0xC3, 0xFF] {
                var replaced = canonical
                replaced[i] = replacement
                check(replaced)
            }
            var spaced = canonical
            spaced.insert(0x20, at: i)
            check(spaced)
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
    }

    static let edgeCases: [String] = [
        #"{"body":{"nonce":01},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":-0},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1.0},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1e2},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":18446744073709551616},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1,"extra":2},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"counter":1,"text":"a","more":true},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"probe","v":1}"#,
        #"{"body":{"text":"a","counter":1},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"probe","v":1}"#,
        #"{"body":{"counter":9223372036854775808,"text":"a"},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"probe","v":1}"#,
        #"{"body":{"counter":-9223372036854775809,"text":"a"},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"probe","v":1}"#,
        #"{"body":{"duplicate":1,"id":"a"},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ack","v":1}"#,
        #"{"body":{"nonce":1},"corr":null,"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"from":"risk\/main","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"\u0078","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"from":"risk","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"from":"Risk Gate","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"x","seq":9223372036854775808,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"x","seq":-1,"ts":5,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"x","seq":1,"ts":-9223372036854775808,"type":"ping","v":1}"#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":2}"#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"pong","v":1} "#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"launch.missiles","v":1}"#,
        #"{"body":{},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"status.request","v":1}"#,
        #"{"body":{"nonce":1},"from":"risk@main","id":"x","seq":1,"ts":5,"type":"ping","v":1,"w":0}"#,
        #"{"body":{"nonce":1},"from":"risk@main","from":"risk@other","id":"x","seq":1,"ts":5,"type":"ping","v":1}"#,
        #"{"v":1,"from":"risk@main","type":"ping","seq":1,"id":"x","ts":5,"body":{"nonce":1}}"#,
        "",
        "{",
        "not json",
    ]

    @Test(arguments: edgeCases)
    func agreesWithEnvelopeCodecOnEdgeCases(payload: String) {
        #expect(Self.agree(Array(payload.utf8)))
    }
}
