import ASTCore
import ASTJournal
import ASTTestKit
import Foundation
import GRDB
import Logging
import Testing

/// `astctl journal rotate` on a real journal file: three rotations leave a chain that verifies and
/// reads whole; a damaged journal is never rotated (its damage would move out of sight).
@Suite struct JournalRotateCommandTests {
    func astctl(_ arguments: [String], in dir: TemporaryDirectory) async throws -> (code: Int32?, out: String, err: String) {
        let child = try ChildProcess(
            try BuildProducts.executable("astctl"), arguments, environment: ["PATH": "/usr/bin:/bin"],
            name: "astctl-\(UInt32.random(in: 0...UInt32.max))", outputDirectory: dir.path)
        defer { child.stop(graceSeconds: 1) }
        let status = try await child.waitForExit(timeout: .seconds(60))
        return (ChildProcess.exitCode(status), child.stdout, child.stderr)
    }

    func journal(in dir: String, entries: Int) throws -> String {
        let path = "\(dir)/broker@paper.sqlite"
        let journal = try Journal(path: path, process: "broker@paper", logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try journal.append(
            (1...entries).map {
                JournalRecord(
                    kind: .event, type: "test.entry", timestamp: Timestamp(nanoseconds: Int64($0)), body: Array("{\"n\":\($0)}".utf8))
            }, durability: .durable)
        try journal.close()
        return path
    }

    @Test func rotatingThreeTimesKeepsOneVerifiableChain() async throws {
        let dir = try TemporaryDirectory(prefix: "journal-rotate")
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: "\(dir.path)/journal", withIntermediateDirectories: true)
        let path = try journal(in: "\(dir.path)/journal", entries: 30)
        for upTo in [8, 17, 25] {
            let r = try await astctl(
                ["journal", "rotate", "--directory", "\(dir.path)/journal", "--process", "broker@paper", "--up-to", "\(upTo)"], in: dir)
            #expect(r.code == 0 && r.out.contains("archived"), "\(r.out)\(r.err)")
        }
        #expect(JournalSegments.all(forLive: path).map(\.last) == [8, 17, 25])
        #expect(Journal.verify(path: path) == JournalVerification(path: path, entries: 30, lastSeq: 30, damage: nil))
        #expect(try Journal.readEntries(path: path).map(\.seq) == Array(1...30))
        let verify = try await astctl(["journal", "verify", "--directory", "\(dir.path)/journal"], in: dir)
        #expect(verify.code == 0 && verify.out.contains("clean, 30 entries"), "\(verify.out)\(verify.err)")
    }

    @Test func aDamagedJournalIsNotRotated() async throws {
        let dir = try TemporaryDirectory(prefix: "journal-rotate")
        defer { dir.remove() }
        let path = try journal(in: dir.path, entries: 10)
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in try db.execute(sql: "UPDATE entries SET body = X'7B7D' WHERE seq = 4") }
        try queue.close()
        let r = try await astctl(["journal", "rotate", "--directory", dir.path, "--process", "broker@paper"], in: dir)
        #expect(r.code == 1 && r.err.contains("not rotating a damaged journal"), "\(r.out)\(r.err)")
        #expect(JournalSegments.all(forLive: path).isEmpty)
    }
}
