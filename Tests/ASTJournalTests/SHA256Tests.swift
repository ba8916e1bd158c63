import CCrypto
import CSHA256
import Testing

/// CSHA256 (the journal's, the approval signatures' and the bundles' SHA-256) gives FIPS 180-4's
/// digests and the same bytes as libcrypto, in both of its forms (SHA extensions and portable C).
@Suite(.serialized)
struct SHA256Tests {
    private static func ours(_ bytes: [UInt8], pieces: [Int] = []) -> [UInt8] {
        var context = ast_sha256_ctx()
        ast_sha256_init(&context)
        var offset = 0
        for piece in pieces where offset < bytes.count {
            let take = min(piece, bytes.count - offset)
            bytes.withUnsafeBytes { ast_sha256_update(&context, $0.baseAddress! + offset, take) }
            offset += take
        }
        bytes.withUnsafeBytes { ast_sha256_update(&context, $0.baseAddress.map { $0 + offset }, bytes.count - offset) }
        var out = [UInt8](repeating: 0, count: 32)
        ast_sha256_final(&context, &out)
        return out
    }

    private static func libcrypto(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBytes { EVP_Digest($0.baseAddress, $0.count, &out, &length, EVP_sha256(), nil) }
        #expect(ok == 1 && length == 32)
        return out
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    @Test(arguments: [false, true])
    func givesTheFIPSTestVectorsDigests(portable: Bool) {
        ast_sha256_force_portable(portable ? 1 : 0)
        defer { ast_sha256_force_portable(0) }
        #expect(Self.hex(Self.ours([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Self.hex(Self.ours(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            Self.hex(Self.ours(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            Self.hex(Self.ours([UInt8](repeating: 0x61, count: 1_000_000), pieces: [1, 63, 64, 65, 1000]))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test(arguments: [false, true])
    func givesLibcryptosDigestForEveryLengthAndSplit(portable: Bool) {
        ast_sha256_force_portable(portable ? 1 : 0)
        defer { ast_sha256_force_portable(0) }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        var mismatches = 0
        for length in 0..<600 {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: next()) }
            let pieces = (0..<4).map { _ in Int(next() % 130) }
            let expected = Self.libcrypto(bytes)
            if Self.ours(bytes) != expected { mismatches += 1 }
            if Self.ours(bytes, pieces: pieces) != expected { mismatches += 1 }
            var oneShot = [UInt8](repeating: 0, count: 32)
            bytes.withUnsafeBytes { ast_sha256($0.baseAddress, $0.count, &oneShot) }
            if oneShot != expected { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }
}
