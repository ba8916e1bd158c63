import Glibc
import Logging

/// A swift-log handler that writes one line per entry to stderr (or another descriptor): for
/// development, CI, and any process not started by systemd. The line is `StderrLogFormat.line(...)`.
public struct StderrLogHandler: LogHandler {
    /// The logger's label, printed on every line.
    public let label: String
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let fileDescriptor: Int32
    private let now: @Sendable () -> Int64

    /// Creates a handler. `now` returns the wall-clock time in nanoseconds since the epoch (UTC);
    /// tests pass a fixed one.
    public init(
        label: String,
        level: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = nil,
        fileDescriptor: Int32 = STDERR_FILENO,
        now: @escaping @Sendable () -> Int64 = StderrLogHandler.wallClockNanoseconds
    ) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
        self.fileDescriptor = fileDescriptor
        self.now = now
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = LogMetadataRendering.merge(
            handler: metadata, provider: metadataProvider, call: event.metadata, error: event.error)
        let line = StderrLogFormat.line(
            timestamp: now(), level: event.level, label: label,
            message: event.message.description, metadata: merged)
        LoggingOutput.write(Array(line.utf8), to: fileDescriptor)
    }

    /// The real-time clock in nanoseconds since the epoch.
    public static func wallClockNanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}

/// The stderr line format: the pure half of `StderrLogHandler`.
///
/// `2026-03-02T14:30:00.123Z warning ast.risk: Order blocked reason=TRADING_HALTED symbol=AAPL`
///
/// The timestamp is ISO 8601 in UTC with milliseconds; metadata follows as `key=value`, sorted by
/// key. Control characters and backslashes in the message are escaped so that one entry is always
/// one line; a key or value that is empty or holds a space, `"`, `=` or an escaped character is
/// quoted.
public enum StderrLogFormat {
    /// One complete line, ending in a newline.
    public static func line(
        timestamp: Int64, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata
    ) -> String {
        var line = "\(iso8601(nanosecondsSinceEpoch: timestamp)) \(level.rawValue) \(label): \(escaped(message))"
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " \(quotedIfNeeded(key))=\(quotedIfNeeded(LogMetadataRendering.flatten(value)))"
        }
        line += "\n"
        return line
    }

    /// `1970-01-01T00:00:00.000Z` for 0: UTC, milliseconds, truncated towards the past.
    public static func iso8601(nanosecondsSinceEpoch nanoseconds: Int64) -> String {
        let perSecond: Int64 = 1_000_000_000
        var seconds = nanoseconds / perSecond
        var fraction = nanoseconds % perSecond
        if fraction < 0 {
            seconds -= 1
            fraction += perSecond
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            days -= 1
            secondOfDay += 86_400
        }
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        return "\(padded(year, 4))-\(padded(month, 2))-\(padded(day, 2))"
            + "T\(padded(secondOfDay / 3600, 2)):\(padded(secondOfDay / 60 % 60, 2)):\(padded(secondOfDay % 60, 2))"
            + ".\(padded(fraction / 1_000_000, 3))Z"
    }

    /// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    private static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = daysSinceEpoch + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func padded(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// Escapes backslashes and control characters so that the text stays on one line.
    static func escaped(_ text: String, quote: Bool = false) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\"" where quote: result += "\\\""
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                result += "\\u{\(String(scalar.value, radix: 16))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func quotedIfNeeded(_ text: String) -> String {
        let needsQuotes =
            text.isEmpty
            || text.unicodeScalars.contains { scalar in
                scalar == " " || scalar == "\"" || scalar == "=" || scalar == "\\"
                    || scalar.value < 0x20 || scalar.value == 0x7F
            }
        return needsQuotes ? "\"\(escaped(text, quote: true))\"" : text
    }
}
