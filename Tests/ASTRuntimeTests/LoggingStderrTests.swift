import ASTRuntime
import Glibc
import Logging
import Testing

/// A pipe whose read end collects what a handler wrote.
struct CapturePipe {
    let readEnd: Int32
    let writeEnd: Int32

    init() throws {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw POSIXFailure(call: "pipe") }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        readEnd = ends[0]
        writeEnd = ends[1]
    }

    /// Closes the write end and returns everything written to the pipe.
    func finish() -> String {
        close(writeEnd)
        var collected: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(readEnd, &chunk, chunk.count)
            if count <= 0 { break }
            collected += chunk[0..<count]
        }
        close(readEnd)
        return String(decoding: collected, as: UTF8.self)
    }
}

struct StderrLogFormatTests {
    /// 2026-03-02T14:30:00.123Z
    static let timestamp: Int64 = 1_772_461_800_123_000_000

    @Test
    func lineHasTimestampLevelLabelMessageAndMetadataSortedByKey() {
        let line = StderrLogFormat.line(
            timestamp: Self.timestamp, level: .warning, label: "ast.risk", message: "Order blocked",
            metadata: ["symbol": "AAPL", "reason": "TRADING_HALTED", "intent": "42"])
        #expect(line == "2026-03-02T14:30:00.123Z warning ast.risk: Order blocked intent=42 reason=TRADING_HALTED symbol=AAPL\n")
    }

    @Test
    func lineWithoutMetadataEndsAfterTheMessage() {
        let line = StderrLogFormat.line(timestamp: 0, level: .info, label: "astd", message: "ready", metadata: [:])
        #expect(line == "1970-01-01T00:00:00.000Z info astd: ready\n")
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (1_709_223_123_456_789_012, "2024-02-29T16:12:03.456Z"),
        (951_782_400_000_000_000, "2000-02-29T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (Int64.max, "2262-04-11T23:47:16.854Z"),
        (Int64.min, "1677-09-21T00:12:43.145Z"),
    ])
    func timestampsAreISO8601InUTCWithMilliseconds(nanoseconds: Int64, expected: String) {
        #expect(StderrLogFormat.iso8601(nanosecondsSinceEpoch: nanoseconds) == expected)
    }

    @Test
    func messageStaysOnOneLine() {
        let line = StderrLogFormat.line(
            timestamp: 0, level: .error, label: "ast.broker", message: "first\nsecond\r\tthird \\ \u{1B}[31m",
            metadata: [:])
        #expect(line == "1970-01-01T00:00:00.000Z error ast.broker: first\\nsecond\\r\\tthird \\\\ \\u{1b}[31m\n")
    }

    @Test
    func valuesThatWouldBeAmbiguousAreQuoted() {
        let line = StderrLogFormat.line(
            timestamp: 0, level: .info, label: "l", message: "m",
            metadata: ["text": "two words", "quote": "say \"hi\"", "assign": "a=b", "empty": "", "multi": "x\ny"])
        #expect(
            line == #"1970-01-01T00:00:00.000Z info l: m assign="a=b" empty="" multi="x\ny" quote="say \"hi\"" text="two words""# + "\n")
    }

    @Test
    func nestedMetadataIsFlattenedWithSortedKeys() {
        let line = StderrLogFormat.line(
            timestamp: 0, level: .debug, label: "l", message: "m",
            metadata: ["order": ["side": "buy", "legs": ["entry", "stop"], "id": .stringConvertible(7)]])
        #expect(
            line == #"1970-01-01T00:00:00.000Z debug l: m order="[\"id\": \"7\", \"legs\": [\"entry\", \"stop\"], \"side\": \"buy\"]""#
                + "\n")
    }
}

struct StderrLogHandlerTests {
    private struct Rejected: Error, CustomStringConvertible {
        var description: String { "broker said no" }
    }

    @Test
    func handlerWritesOneLineWithMergedMetadata() throws {
        let pipe = try CapturePipe()
        var handler = StderrLogHandler(
            label: "ast.risk", level: .info,
            metadataProvider: Logger.MetadataProvider { ["task": "gate"] },
            fileDescriptor: pipe.writeEnd, now: { StderrLogFormatTests.timestamp })
        handler[metadataKey: "process"] = "ast-risk"
        handler[metadataKey: "task"] = "overridden by the provider"
        let configured = handler
        var logger = Logger(label: "ast.risk") { _ in configured }
        logger.logLevel = .info
        logger.debug("not written: below the level")
        logger.notice("Safe Mode changed", metadata: ["to": "HALTED"])
        #expect(pipe.finish() == "2026-03-02T14:30:00.123Z notice ast.risk: Safe Mode changed process=ast-risk task=gate to=HALTED\n")
    }

    @Test
    func attachedErrorAppearsAsErrorMetadata() throws {
        let pipe = try CapturePipe()
        let handler = StderrLogHandler(label: "ast.broker", fileDescriptor: pipe.writeEnd, now: { 0 })
        handler.log(
            event: LogEvent(
                level: .error, message: "submit failed", error: Rejected(), metadata: nil, source: "ASTExecution",
                file: "f.swift", function: "submit()", line: 1))
        #expect(pipe.finish() == "1970-01-01T00:00:00.000Z error ast.broker: submit failed error=\"broker said no\"\n")
    }

    @Test
    func writingToAClosedPipeNeitherCrashesNorLeavesSIGPIPEPending() throws {
        let pipe = try CapturePipe()
        close(pipe.readEnd)
        defer { close(pipe.writeEnd) }
        let logger = Logger(label: "ast.notifier") { label in
            StderrLogHandler(label: label, fileDescriptor: pipe.writeEnd, now: { 0 })
        }
        logger.critical("nobody reads this")
        var pending = sigset_t()
        sigpending(&pending)
        #expect(sigismember(&pending, SIGPIPE) == 0)
    }

    @Test
    func writingToAClosedDescriptorIsIgnored() {
        let handler = StderrLogHandler(label: "l", fileDescriptor: -1, now: { 0 })
        handler.log(
            event: LogEvent(
                level: .info, message: "lost", metadata: nil, source: "s", file: "f", function: "g", line: 1))
    }
}
