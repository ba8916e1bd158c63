import CSystemd
import Glibc
import Logging

/// A swift-log handler that sends structured entries to journald through its native protocol
/// (`sd_journal_sendv`), for processes started by systemd. Fields are `JournaldEntry.fields(...)`.
///
/// When journald refuses an entry (it is not running, or its receive buffer is full and the send
/// fails), the entry is written to stderr as a `StderrLogFormat` line instead, which under systemd
/// also reaches the journal, unstructured. libsystemd itself reports success and drops the entry
/// when journald's socket does not exist; `ASTLogging.detectDestination()` picks stderr then.
public struct JournaldLogHandler: LogHandler {
    /// The logger's label, sent as `AST_LABEL`.
    public let label: String
    /// The process name, sent as `SYSLOG_IDENTIFIER`, for instance `ast-risk`.
    public let processName: String
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let fallbackFileDescriptor: Int32
    private let send: @Sendable ([[UInt8]]) -> Int32

    /// Creates a handler for one logger.
    public init(
        label: String,
        processName: String,
        level: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.init(
            label: label, processName: processName, level: level, metadataProvider: metadataProvider,
            fallbackFileDescriptor: STDERR_FILENO, send: JournaldLogHandler.sendToJournal)
    }

    /// Creates a handler whose transport is replaced, for tests of the fallback path.
    init(
        label: String,
        processName: String,
        level: Logger.Level,
        metadataProvider: Logger.MetadataProvider?,
        fallbackFileDescriptor: Int32,
        send: @escaping @Sendable ([[UInt8]]) -> Int32
    ) {
        self.label = label
        self.processName = processName
        self.logLevel = level
        self.metadataProvider = metadataProvider
        self.fallbackFileDescriptor = fallbackFileDescriptor
        self.send = send
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = LogMetadataRendering.merge(
            handler: metadata, provider: metadataProvider, call: event.metadata, error: event.error)
        let message = event.message.description
        let fields = JournaldEntry.fields(
            level: event.level, message: message, label: label, processName: processName,
            metadata: merged, file: event.file, function: event.function, line: event.line)
        if send(fields) < 0 {
            let line = StderrLogFormat.line(
                timestamp: StderrLogHandler.wallClockNanoseconds(), level: event.level, label: label,
                message: message, metadata: merged)
            LoggingOutput.write(Array(line.utf8), to: fallbackFileDescriptor)
        }
    }

    /// Sends one entry with `sd_journal_sendv`: 0 when sent (or dropped because journald's socket does
    /// not exist, as libsystemd does), a negative errno on failure.
    static func sendToJournal(_ fields: [[UInt8]]) -> Int32 {
        guard !fields.isEmpty else { return -EINVAL }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(fields.reduce(0) { $0 + $1.count })
        var spans: [(start: Int, count: Int)] = []
        spans.reserveCapacity(fields.count)
        for field in fields {
            spans.append((bytes.count, field.count))
            bytes.append(contentsOf: field)
        }
        return bytes.withUnsafeMutableBytes { buffer in
            var vectors = spans.map { span in
                iovec(iov_base: buffer.baseAddress! + span.start, iov_len: span.count)
            }
            return sd_journal_sendv(&vectors, Int32(vectors.count))
        }
    }
}

/// The journald fields of one log entry: the pure half of `JournaldLogHandler`.
public enum JournaldEntry {
    /// The prefix of every field that carries a metadata value.
    public static let metadataPrefix = "AST_"
    /// journald's limit on the length of a field name.
    public static let maximumFieldNameLength = 64

    /// `FIELD=value` byte arrays, in this order: `MESSAGE`, `PRIORITY`, `SYSLOG_IDENTIFIER`,
    /// `CODE_FILE`, `CODE_LINE`, `CODE_FUNC`, `AST_LABEL`, then one `AST_<KEY>` per metadata key,
    /// sorted by key. Values are bytes as they are, newlines included: `sd_journal_sendv` sends
    /// them length-prefixed.
    public static func fields(
        level: Logger.Level,
        message: String,
        label: String,
        processName: String,
        metadata: Logger.Metadata,
        file: String,
        function: String,
        line: UInt
    ) -> [[UInt8]] {
        var fields: [[UInt8]] = [
            field("MESSAGE", message),
            field("PRIORITY", String(priority(for: level))),
            field("SYSLOG_IDENTIFIER", processName),
            field("CODE_FILE", file),
            field("CODE_LINE", String(line)),
            field("CODE_FUNC", function),
            field("AST_LABEL", label),
        ]
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            fields.append(field(fieldName(forMetadataKey: key), LogMetadataRendering.flatten(value)))
        }
        return fields
    }

    /// The syslog priority of a swift-log level: trace and debug 7, info 6, notice 5, warning 4,
    /// error 3, critical 2.
    public static func priority(for level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// The journald field for a metadata key: `AST_` and the key upper-cased, with every character
    /// outside `A-Z`, `0-9` and `_` replaced by `_`, cut to 64 characters. It never starts with `_`
    /// (journald reserves those for trusted fields) nor with a digit. Distinct keys can map to the
    /// same field (`order-id`, `order_id`); journald then keeps both values.
    public static func fieldName(forMetadataKey key: String) -> String {
        var name = metadataPrefix
        for scalar in key.unicodeScalars {
            guard name.utf8.count < maximumFieldNameLength else { break }
            switch scalar {
            case "A"..."Z", "0"..."9", "_": name.unicodeScalars.append(scalar)
            case "a"..."z": name.unicodeScalars.append(Unicode.Scalar(scalar.value - 0x20)!)
            default: name.unicodeScalars.append("_")
            }
        }
        return name
    }

    private static func field(_ name: String, _ value: String) -> [UInt8] {
        Array(name.utf8) + [UInt8(ascii: "=")] + Array(value.utf8)
    }
}
