/// One `sd_notify` datagram from a child, attributed to the pid the kernel vouched for
/// (`SCM_CREDENTIALS`), with its `KEY=VALUE` assignments in the order they were sent.
public struct NotifyMessage: Sendable, Equatable, CustomStringConvertible {
    /// The sender's pid: the kernel's word, not the sender's.
    public let pid: Int32
    /// The assignments, in order; keys are upper-case ASCII, digits and `_`. Keys the manager
    /// does not know (`MAINPID=`, `X_CUSTOM=`) are kept as sent.
    public let fields: [(key: String, value: String)]

    /// Creates a message.
    public init(pid: Int32, fields: [(key: String, value: String)]) {
        self.pid = pid
        self.fields = fields
    }

    /// The value of the first assignment to `key` (as systemd reads it), or nil.
    public func value(of key: String) -> String? {
        fields.first { $0.key == key }?.value
    }

    /// `READY=1`: start-up finished.
    public var isReady: Bool { value(of: "READY") == "1" }
    /// `STOPPING=1`: the process is going down.
    public var isStopping: Bool { value(of: "STOPPING") == "1" }
    /// `RELOADING=1`: the process is reloading its configuration.
    public var isReloading: Bool { value(of: "RELOADING") == "1" }
    /// `WATCHDOG=1`: a keep-alive.
    public var isWatchdogPing: Bool { value(of: "WATCHDOG") == "1" }
    /// `WATCHDOG=trigger`: the process asks to be treated as if its watchdog had expired.
    public var isWatchdogTrigger: Bool { value(of: "WATCHDOG") == "trigger" }
    /// `STATUS=`: a one-line, human-readable state.
    public var status: String? { value(of: "STATUS") }
    /// `ERRNO=`: the process failed with this errno; nil when absent or not a number.
    public var errno: Int32? { value(of: "ERRNO").flatMap { Int32($0) }.flatMap { $0 >= 0 ? $0 : nil } }

    public var description: String {
        "pid \(pid): " + fields.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    public static func == (a: NotifyMessage, b: NotifyMessage) -> Bool {
        a.pid == b.pid && a.fields.count == b.fields.count
            && zip(a.fields, b.fields).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    /// Parses a datagram's payload: `KEY=VALUE` lines separated by `\n`, empty lines ignored
    /// (`sd_notify` senders often end with a newline). The whole datagram is refused when any
    /// part is malformed, so that garbage never half-applies.
    public static func parse(_ payload: some Collection<UInt8>) -> Result<[(key: String, value: String)], NotifyParseError> {
        guard !payload.isEmpty else { return .failure(.empty) }
        guard !payload.contains(0) else { return .failure(.containsNUL) }
        guard let text = String(validating: payload, as: UTF8.self) else { return .failure(.notUTF8) }
        var fields: [(key: String, value: String)] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            guard let equals = line.firstIndex(of: "=") else {
                return .failure(.notAnAssignment(line: index + 1))
            }
            let key = line[..<equals]
            guard !key.isEmpty, key.utf8.allSatisfy(isKeyByte) else {
                return .failure(.invalidKey(line: index + 1))
            }
            fields.append((String(key), String(line[line.index(after: equals)...])))
        }
        guard !fields.isEmpty else { return .failure(.empty) }
        return .success(fields)
    }

    private static func isKeyByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || byte == UInt8(ascii: "_")
    }
}

/// Why a notify datagram was ignored.
public enum NotifyParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No assignment at all.
    case empty
    /// A NUL byte (systemd refuses these too).
    case containsNUL
    /// Not valid UTF-8.
    case notUTF8
    /// A non-empty line (numbered from 1) without `=`.
    case notAnAssignment(line: Int)
    /// A line whose key is empty or not `A-Z`, `0-9`, `_`.
    case invalidKey(line: Int)
    /// Larger than `NotifySocket.maximumDatagramSize`.
    case oversized(bytes: Int)
    /// No sender credentials, so it cannot be attributed to a child.
    case unattributed

    public var description: String {
        switch self {
        case .empty: "empty notification"
        case .containsNUL: "notification contains a NUL byte"
        case .notUTF8: "notification is not valid UTF-8"
        case .notAnAssignment(let line): "line \(line) is not a KEY=VALUE assignment"
        case .invalidKey(let line): "line \(line) has a key that is not A-Z, 0-9 and _"
        case .oversized(let bytes): "notification of \(bytes) bytes exceeds \(NotifySocket.maximumDatagramSize)"
        case .unattributed: "notification carries no sender credentials"
        }
    }
}
