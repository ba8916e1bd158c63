import Glibc

/// A system call of the process shell failed: which call, the errno, and what an operator should
/// check. Thrown when setting up the reaper or the notify socket; a running reaper or socket never
/// throws, it logs and counts instead.
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The call that failed, with its interesting argument: `bind(/run/ast/notify.sock)`.
    public let call: String
    /// The errno value.
    public let code: Int32
    /// What to check, in an operator's words.
    public let hint: String

    /// Creates an error for `call` with an errno value and a hint.
    public init(call: String, code: Int32, hint: String) {
        self.call = call
        self.code = code
        self.hint = hint
    }

    public var description: String {
        "\(call) failed: \(errnoDescription(code)); \(hint)"
    }
}

/// `No such file or directory (errno 2)`.
func errnoDescription(_ code: Int32) -> String {
    "\(String(cString: strerror(code))) (errno \(code))"
}
