import Glibc
import Logging
import Synchronization
import Testing

@testable import ASTProcessKit
@testable import ASTRuntime

/// journald's rule for a field name a client may send: 1 to 64 characters from `A-Z`, `0-9` and
/// `_`, not starting with a digit nor with `_` (those are trusted fields journald adds itself).
func isValidClientJournaldFieldName(_ name: String) -> Bool {
    let bytes = Array(name.utf8)
    guard (1...64).contains(bytes.count), let first = bytes.first else { return false }
    if first == UInt8(ascii: "_") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) { return false }
    return bytes.allSatisfy { byte in
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || byte == UInt8(ascii: "_")
    }
}

/// The fields as text, for readable expectations.
private func text(_ fields: [[UInt8]]) -> [String] {
    fields.map { String(decoding: $0, as: UTF8.self) }
}

struct JournaldEntryTests {
    private func fields(
        level: Logger.Level = .info, message: String = "m", metadata: Logger.Metadata = [:]
    ) -> [[UInt8]] {
        JournaldEntry.fields(
            level: level, message: message, label: "ast.risk.gate", processName: "ast-risk", metadata: metadata,
            file: "ASTRisk/Gate.swift", function: "evaluate(_:)", line: 88)
    }

    @Test(arguments: [
        (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func priorityFollowsSyslogSeverity(level: Logger.Level, priority: Int) {
        #expect(JournaldEntry.priority(for: level) == priority)
        #expect(text(fields(level: level))[1] == "PRIORITY=\(priority)")
    }

    @Test
    func entryHasStandardFieldsThenMetadataSortedByKey() {
        let entry = fields(level: .warning, message: "Order blocked", metadata: ["symbol": "AAPL", "reason": "TRADING_HALTED"])
        #expect(
            text(entry) == [
                "MESSAGE=Order blocked",
                "PRIORITY=4",
                "SYSLOG_IDENTIFIER=ast-risk",
                "CODE_FILE=ASTRisk/Gate.swift",
                "CODE_LINE=88",
                "CODE_FUNC=evaluate(_:)",
                "AST_LABEL=ast.risk.gate",
                "AST_REASON=TRADING_HALTED",
                "AST_SYMBOL=AAPL",
            ])
    }

    @Test(arguments: [
        ("symbol", "AST_SYMBOL"),
        ("request-id", "AST_REQUEST_ID"),
        ("orderId", "AST_ORDERID"),
        ("_SYSTEMD_UNIT", "AST__SYSTEMD_UNIT"),
        ("9lives", "AST_9LIVES"),
        ("prix €", "AST_PRIX__"),
        ("ä", "AST__"),
        ("", "AST_"),
    ])
    func metadataKeysBecomeUppercaseASTFields(key: String, field: String) {
        #expect(JournaldEntry.fieldName(forMetadataKey: key) == field)
        #expect(isValidClientJournaldFieldName(field))
    }

    @Test
    func longMetadataKeysAreCutToSixtyFourCharacters() {
        let name = JournaldEntry.fieldName(forMetadataKey: String(repeating: "k", count: 100))
        #expect(name == "AST_" + String(repeating: "K", count: 60))
        #expect(name.utf8.count == 64)
    }

    @Test
    func noFieldEverStartsWithAnUnderscoreOrBreaksJournaldNameRules() {
        let hostile: Logger.Metadata = [
            "_PID": "1", "_SYSTEMD_UNIT": "sshd.service", "__CURSOR": "x", "MESSAGE": "forged", "": "empty",
            "🙂": "emoji", "a=b": "c", "line\nbreak": "v", String(repeating: "x", count: 200): "long",
        ]
        let names = text(fields(metadata: hostile)).map { String($0.prefix { $0 != "=" }) }
        #expect(names.allSatisfy(isValidClientJournaldFieldName), "\(names)")
        #expect(names.filter { $0 == "MESSAGE" }.count == 1)
    }

    @Test
    func messageNewlinesAreKeptIntact() {
        let entry = fields(message: "reconciliation mismatch:\n  AAPL broker=100 local=90\n")
        #expect(entry[0] == Array("MESSAGE=reconciliation mismatch:\n  AAPL broker=100 local=90\n".utf8))
    }

    @Test
    func nestedMetadataIsFlattenedWithSortedKeys() {
        let entry = text(fields(metadata: ["order": ["side": "buy", "legs": ["entry", "stop"], "id": .stringConvertible(7)]]))
        #expect(entry.last == #"AST_ORDER=["id": "7", "legs": ["entry", "stop"], "side": "buy"]"#)
    }
}

struct JournaldLogHandlerTests {
    /// Records what the handler would have sent, and answers with `result`.
    private final class Transport: Sendable {
        let sent = Mutex<[[[UInt8]]]>([])
        let result: Int32

        init(result: Int32) { self.result = result }

        func send(_ fields: [[UInt8]]) -> Int32 {
            sent.withLock { $0.append(fields) }
            return result
        }
    }

    @Test
    func handlerSendsTheEntryWithMergedMetadata() throws {
        let transport = Transport(result: 0)
        let pipe = try CapturePipe()
        var handler = JournaldLogHandler(
            label: "ast.risk", processName: "ast-risk", level: .info,
            metadataProvider: Logger.MetadataProvider { ["task": "gate"] },
            fallbackFileDescriptor: pipe.writeEnd, send: transport.send)
        handler[metadataKey: "broker"] = "paper"
        let configured = handler
        let logger = Logger(label: "ast.risk") { _ in configured }
        logger.debug("not sent: below the level")
        logger.error("halted", metadata: ["reason": "BROKER_DOWN"])

        let sent = transport.sent.withLock { $0 }
        try #require(sent.count == 1)
        let entry = text(sent[0])
        #expect(entry[0] == "MESSAGE=halted")
        #expect(entry[1] == "PRIORITY=3")
        #expect(entry[2] == "SYSLOG_IDENTIFIER=ast-risk")
        #expect(entry[6] == "AST_LABEL=ast.risk")
        #expect(Array(entry[7...]) == ["AST_BROKER=paper", "AST_REASON=BROKER_DOWN", "AST_TASK=gate"])
        #expect(pipe.finish().isEmpty)
    }

    @Test
    func refusedEntryIsWrittenToStderrInstead() throws {
        let transport = Transport(result: -ENOENT)
        let pipe = try CapturePipe()
        let handler = JournaldLogHandler(
            label: "ast.notifier", processName: "ast-notifier", level: .info, metadataProvider: nil,
            fallbackFileDescriptor: pipe.writeEnd, send: transport.send)
        handler.log(
            event: LogEvent(
                level: .critical, message: "outbox stuck", metadata: ["alerts": "3"], source: "ASTNotify",
                file: "f.swift", function: "g()", line: 9))
        let written = pipe.finish()
        #expect(written.hasSuffix("Z critical ast.notifier: outbox stuck alerts=3\n"), "\(written)")
        #expect(written.split(separator: "\n").count == 1)
    }

    /// With journald listening the entry is accepted; without its socket (this test's usual
    /// machine) libsystemd drops the entry and still reports success. Either way: 0, no crash.
    @Test
    func realJournaldSendSucceedsOrIsSilentlyDroppedWithoutJournald() {
        let result = JournaldLogHandler.sendToJournal([
            Array("MESSAGE=ASTRuntimeTests: journald handler self-test\nsecond line".utf8),
            Array("PRIORITY=7".utf8),
            Array("SYSLOG_IDENTIFIER=ast-runtime-tests".utf8),
        ])
        #expect(result == 0)
    }

    @Test
    func emptyEntryIsRefusedWithoutCallingJournald() {
        #expect(JournaldLogHandler.sendToJournal([]) == -EINVAL)
    }
}
