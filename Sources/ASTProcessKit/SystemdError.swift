import Glibc

/// A libsystemd call returned a negative errno: which call, the error, and what the operator should check.
public struct SystemdError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The libsystemd function that failed, for instance `sd_listen_fds_with_names`.
    public let function: String
    /// The positive errno value (libsystemd returns it negated).
    public let code: Int32
    /// What to check, in an operator's words.
    public let hint: String

    /// Creates an error from the negative return value of a libsystemd call.
    public init(function: String, returned: Int32, hint: String) {
        self.function = function
        self.code = returned < 0 ? -returned : returned
        self.hint = hint
    }

    public var description: String {
        "\(function) failed: \(String(cString: strerror(code))) (errno \(code)); \(hint)"
    }
}
