import ASTCore
import Foundation
import Testing

@testable import ASTJournal

/// Checks the chain against SHA-256 implementations outside this module, from the encoding as
/// documented in ChainHasher.swift, so that the chain is right and not only self-consistent.
@Suite struct HashChainTests {
    private static func bigEndian(_ value: Int64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
    }

    private static func field(_ bytes: [UInt8]?) -> [UInt8] {
        guard let bytes else { return [0] }
        return [1] + bigEndian(Int64(bytes.count)) + bytes
    }

    private static func field(_ text: String?) -> [UInt8] {
        field(text.map { Array($0.utf8) })
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    @Test func entryHashesMatchSha256sumOfTheDocumentedEncoding() throws {
        try withTemporaryDirectory { dir in
            let first = JournalRecord(kind: .decision, type: "risk.approve", timestamp: Timestamp(nanoseconds: 42), body: [])
            let second = JournalRecord(
                kind: .received, type: "order.fill", timestamp: Timestamp(nanoseconds: -1), messageID: "m-1",
                correlationID: "intent-7", peer: "broker@paper", body: Array("{\"qty\":100}".utf8))
            let journal = try Journal(path: "\(dir)/j.sqlite", process: "test", logger: quietLogger)
            try journal.append([first, second], durability: .durable)
            let stored = try journal.entries(seq: 1...2)
            try journal.close()

            let canonical1 =
                [UInt8](repeating: 0, count: 32) + Self.bigEndian(1) + Self.bigEndian(42)
                + Self.field("decision") + Self.field("risk.approve") + [0, 0, 0] + Self.field([UInt8]())
            let canonical2 =
                stored[0].hash + Self.bigEndian(2) + Self.bigEndian(-1)
                + Self.field("received") + Self.field("order.fill") + Self.field("m-1") + Self.field("intent-7")
                + Self.field("broker@paper") + Self.field(Array("{\"qty\":100}".utf8))

            for (canonical, entry) in zip([canonical1, canonical2], stored) {
                let file = "\(dir)/canonical-\(entry.seq).bin"
                try Data(canonical).write(to: URL(fileURLWithPath: file))
                let digest = try run("sha256sum", [file]).split(separator: " ").first.map(String.init)
                #expect(digest == Self.hex(entry.hash), "entry \(entry.seq)")
            }
        }
    }

    private static let pythonChainCheck = """
        import hashlib, sqlite3, struct, sys
        db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
        def field(v):
            if v is None:
                return b"\\x00"
            b = v.encode("utf-8") if isinstance(v, str) else bytes(v)
            return b"\\x01" + struct.pack(">Q", len(b)) + b
        prev, n = bytes(32), 0
        for row in db.execute("SELECT seq, ts, kind, type, msg_id, corr_id, peer, body, prev_hash, hash FROM entries ORDER BY seq"):
            seq, ts, stored_prev, stored = row[0], row[1], row[8], row[9]
            assert seq == n + 1 and stored_prev == prev, f"chain breaks at {seq}"
            data = prev + struct.pack(">qq", seq, ts) + b"".join(field(v) for v in row[2:8])
            assert hashlib.sha256(data).digest() == stored, f"hash of {seq} differs"
            prev, n = stored, n + 1
        (head_seq, head_hash), = db.execute("SELECT seq, hash FROM head")
        assert head_seq == n and head_hash == prev, "head differs"
        print(n)
        """

    @Test(.enabled(if: isOnPath("python3"))) func pythonRecomputesTheWholeChain() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/j.sqlite"
            let journal = try Journal(path: path, process: "test", logger: quietLogger)
            try journal.append(
                (1...40).map { record($0, kind: EntryKind.allCases[$0 % 6], correlationID: $0 % 3 == 0 ? nil : "c-\($0)") },
                durability: .batched)
            try journal.append(
                JournalRecord(kind: .event, type: "ünïcode", timestamp: Timestamp(nanoseconds: 0), peer: "", body: []), durability: .durable
            )
            try journal.close()
            let script = "\(dir)/check.py"
            try Self.pythonChainCheck.write(toFile: script, atomically: true, encoding: .utf8)
            #expect(try run("python3", [script, path]).trimmingCharacters(in: .whitespacesAndNewlines) == "41")
        }
    }
}
