/// One problem found while loading the configuration, in words an operator can act on.
///
/// `description` is the line the operator sees, for instance
/// `config: bus.max_frame_bytes must be an integer (got "big") in AST_BUS__MAX_FRAME_BYTES`.
public struct ConfigIssue: Sendable, Hashable, CustomStringConvertible {
    /// The dotted key path the issue is about (`bus.max_frame_bytes`), or nil for a problem with a
    /// whole file (unreadable, not valid YAML).
    public let keyPath: String?
    /// What is wrong and where, without the `config: ` prefix.
    public let message: String

    /// Creates an issue; `message` excludes the `config: ` prefix.
    public init(keyPath: String?, message: String) {
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String { "config: " + message }
}

/// Every problem found in the layered configuration, reported together so that one start-up
/// attempt shows the operator all there is to fix. `description` has one line per issue.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    /// The issues in the order they were found: unreadable or malformed files first, then wrong,
    /// missing and unknown keys, then values out of range.
    public let issues: [ConfigIssue]

    /// Creates an error from at least one issue.
    public init(issues: [ConfigIssue]) {
        precondition(!issues.isEmpty, "a ConfigError needs at least one issue")
        self.issues = issues
    }

    public var description: String { issues.map(\.description).joined(separator: "\n") }
}
