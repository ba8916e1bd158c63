import ASTCore
import Foundation
import GRDB
import Logging
import Synchronization

@testable import ASTJournal

/// Runs `body` with a fresh directory that is removed afterwards, also when `body` throws.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ast-journal-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try body(directory.path)
}

func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ast-journal-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory.path)
}

let quietLogger = Logger(label: "ast.journal.test") { _ in SwiftLogNoOpLogHandler() }

let t0: Int64 = 1_750_000_000_000_000_000

/// A record whose fields are derived from `n`, so tests can tell records apart.
func record(_ n: Int, kind: EntryKind = .received, correlationID: String? = nil, peer: String? = nil) -> JournalRecord {
    JournalRecord(
        kind: kind, type: "test.message", timestamp: Timestamp(nanoseconds: t0 + Int64(n) * 1_000_000_000),
        messageID: "m-\(n)", correlationID: correlationID, peer: peer, body: Array("{\"n\":\(n)}".utf8))
}

/// A closed journal at `dir/name.sqlite` holding `count` batched entries.
func makeJournal(in dir: String, count: Int, name: String = "j") throws -> String {
    let path = "\(dir)/\(name).sqlite"
    let journal = try Journal(path: path, process: "test", logger: quietLogger)
    try journal.append((1...count).map { record($0) }, durability: .batched)
    try journal.close()
    return path
}

/// A journal of 1,000 entries, checkpointed into the database file, closed, and then cut to half
/// its size, as a full disk or a bad copy might leave it.
func makeByteTruncatedJournal(in dir: String) throws -> String {
    let path = "\(dir)/cut.sqlite"
    let journal = try Journal(path: path, process: "test", logger: quietLogger)
    for n in 1...1000 {
        var r = record(n)
        r.body = [UInt8](repeating: 0x41, count: 300)
        try journal.append(r, durability: .batched)
    }
    try journal.close()
    let queue = try DatabaseQueue(path: path)
    try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    try queue.close()

    let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try handle.truncate(atOffset: UInt64(size / 2))
    try handle.close()
    return path
}

/// Changes the file behind the journal's back, as an operator's mistake or a disk might.
func tamper(_ path: String, _ sql: String) throws {
    let queue = try DatabaseQueue(path: path)
    try queue.write { db in try db.execute(sql: sql) }
    try queue.close()
}

/// Runs an executable found on PATH and returns its standard output.
func run(_ tool: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool] + arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "\(tool) exited with \(process.terminationStatus)"])
    }
    return String(decoding: data, as: UTF8.self)
}

func isOnPath(_ tool: String) -> Bool {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
}

/// Keeps every log event, for tests that check what the journal logs.
final class LogRecorder: Sendable {
    private let events = Mutex<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])

    var logger: Logger {
        Logger(label: "ast.journal.test") { _ in Handler(recorder: self) }
    }

    var all: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] {
        events.withLock { $0 }
    }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            recorder.events.withLock { $0.append((event.level, event.message.description, merged)) }
        }
    }
}
