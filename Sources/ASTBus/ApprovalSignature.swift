import ASTCore
import ASTMessages
import CSHA256
import CSpawn
import FoundationEssentials
import Glibc

#if canImport(Glibc)
    import Glibc
#endif

/// The tree's approval key: 32 random bytes astd draws at start (getrandom) and hands only to
/// the risk gate and the brokers, through an inherited sealed memfd (`ASTD_APPROVAL_KEY_FD`);
/// never in the environment, never in a file. Risk signs every approval with it, a broker
/// takes only approvals whose signature verifies.
public struct ApprovalKey: Sendable {
    /// The environment variable naming the key's descriptor in risk and the brokers.
    public static let descriptorVariable = "ASTD_APPROVAL_KEY_FD"
    public static let length = 32
    let bytes: [UInt8]

    /// A key from its bytes (tests; astd uses ``random()``).
    public init(bytes: [UInt8]) throws {
        guard bytes.count == Self.length else { throw PeerTableError("approval key: \(bytes.count) bytes, expected \(Self.length)") }
        self.bytes = bytes
    }

    /// A fresh key from the kernel's random source.
    public static func random() throws -> ApprovalKey {
        var bytes = [UInt8](repeating: 0, count: length)
        let rc = bytes.withUnsafeMutableBytes { ast_random_bytes($0.baseAddress, length) }
        guard rc == 0 else { throw PeerTableError("approval key: getrandom: \(String(cString: strerror(-rc)))") }
        return try ApprovalKey(bytes: bytes)
    }

    /// A sealed memfd holding the key and a read-only descriptor of it for children; astd keeps
    /// both open for its whole run (the writable mapping is dropped at once).
    public func sealedDescriptor() throws -> Int32 {
        var map: UnsafeMutableRawPointer?
        let fd = bytes.withUnsafeBytes { ast_sealed_memfd("ast-approval-key", Self.length, $0.baseAddress, &map) }
        guard fd >= 0, let map else { throw PeerTableError("approval key: memfd: \(String(cString: strerror(-fd)))") }
        munmap(map, Self.length)
        let ro = ast_reopen_readonly(fd)
        close(fd)
        guard ro >= 0 else { throw PeerTableError("approval key: read-only descriptor: \(String(cString: strerror(-ro)))") }
        return ro
    }

    /// The key astd handed this process, nil when started without one. Reads it, closes the
    /// descriptor and removes the variable.
    public static func inherited() throws -> ApprovalKey? {
        guard let value = getenv(descriptorVariable).map({ String(cString: $0) }) else { return nil }
        unsetenv(descriptorVariable)
        guard let fd = Int32(value), fd > 2 else { throw PeerTableError("\(descriptorVariable)=\(value) is not a descriptor") }
        defer { close(fd) }
        guard ast_is_sealed_memfd(fd) == 1 else { throw PeerTableError("approval key: descriptor \(fd) is not a sealed memfd") }
        var bytes = [UInt8](repeating: 0, count: length)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, length, 0) }
        guard got == length else { throw PeerTableError("approval key: read \(got) of \(length) bytes") }
        return try ApprovalKey(bytes: bytes)
    }
}

/// HMAC-SHA256 signatures over approvals (RFC 2104 over CSHA256's SHA-256).
///
/// The signed bytes are `AST-APPROVAL-v1\n` followed by the approval's JSON with sorted keys and
/// without its signature: every field the broker acts on (approval and intent ids, symbol,
/// side, quantities, entry type and prices, stop and target, the risk state, the time).
public enum ApprovalSignature {
    static let domain = Array("AST-APPROVAL-v1\n".utf8)

    /// The bytes a signature covers; nil if the approval does not encode (then nothing signs or
    /// verifies it: fail closed).
    public static func canonicalBytes(_ approval: Approval) -> [UInt8]? {
        var unsigned = approval
        unsigned.signature = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let body = try? encoder.encode(unsigned) else { return nil }
        return domain + Array(body)
    }

    /// The lowercase hex signature of `approval` under `key`; empty (never valid) if the approval
    /// does not encode.
    public static func sign(_ approval: Approval, key: ApprovalKey) -> String {
        guard let message = canonicalBytes(approval) else { return "" }
        return hex(hmacSHA256(key: key.bytes, message: message))
    }

    /// `approval` with its signature set.
    public static func signed(_ approval: Approval, key: ApprovalKey) -> Approval {
        var a = approval
        a.signature = sign(approval, key: key)
        return a
    }

    /// Whether `approval` carries a valid signature under `key` (constant-time comparison).
    public static func verify(_ approval: Approval, key: ApprovalKey) -> Bool {
        guard let given = approval.signature, let givenBytes = unhex(given), let message = canonicalBytes(approval) else { return false }
        return constantTimeEqual(givenBytes, hmacSHA256(key: key.bytes, message: message))
    }

    /// HMAC-SHA256 (RFC 2104, block size 64).
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var k = key.count > 64 ? sha256(key) : key
        k += [UInt8](repeating: 0, count: 64 - k.count)
        let inner = sha256(k.map { $0 ^ 0x36 } + message)
        return sha256(k.map { $0 ^ 0x5c } + inner)
    }

    static func sha256(_ data: [UInt8]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { out, initialized in
            data.withUnsafeBytes { ast_sha256($0.baseAddress, $0.count, out.baseAddress) }
            initialized = 32
        }
    }

    /// Compares without an early exit, so the time taken says nothing about where bytes differ.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    static func hex(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }

    /// A signature's bytes: exactly 64 lower-case hex digits (an HMAC-SHA256).
    static func unhex(_ text: String) -> [UInt8]? { text.utf8.count == 64 ? Hex.decode(text) : nil }
}
