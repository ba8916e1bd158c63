import CSystemd

import Glibc

/// Reports this process's state to its service manager (systemd, or astd for a worker) through
/// `NOTIFY_SOCKET`, as `sd_notify(3)`. Without `NOTIFY_SOCKET` every call is a no-op, so the same
/// binary runs under systemd, under astd or by hand.
///
/// `sd_notify` opens a fresh datagram socket per call and blocks while the manager's receive queue
/// is full: a manager that stops reading stalls the caller.
public struct SystemdNotifier: Sendable {
    /// Creates a notifier; it reads `NOTIFY_SOCKET` at every call, never caches it.
    public init() {}

    /// Whether `NOTIFY_SOCKET` is set, that is whether a manager listens for this process's state.
    public var isUnderManager: Bool {
        getenv("NOTIFY_SOCKET") != nil
    }

    /// Start-up finished: the process serves. Sends `READY=1`, and `STATUS=` when given.
    @discardableResult
    public func ready(status: String? = nil) -> NotifyResult {
        send([("READY", "1")] + Self.optionalStatus(status))
    }

    /// A one-line, human-readable state (`STATUS=`), shown by `systemctl status` and `astctl status`.
    @discardableResult
    public func status(_ text: String) -> NotifyResult {
        send([("STATUS", text)])
    }

    /// Keep-alive for the manager's watchdog (`WATCHDOG=1`); send every `WatchdogSettings.pingInterval`.
    @discardableResult
    public func watchdog() -> NotifyResult {
        send([("WATCHDOG", "1")])
    }

    /// The process is about to go down (`STOPPING=1`), with an optional `STATUS=`.
    @discardableResult
    public func stopping(status: String? = nil) -> NotifyResult {
        send([("STOPPING", "1")] + Self.optionalStatus(status))
    }

    /// The process failed with this (positive) errno value (`ERRNO=`).
    @discardableResult
    public func errno(_ code: Int32) -> NotifyResult {
        send([("ERRNO", String(code))])
    }

    /// The process began reloading its configuration (`RELOADING=1`); send `ready()` when done.
    @discardableResult
    public func reloading() -> NotifyResult {
        send([("RELOADING", "1")])
    }

    /// Sends the assignments, in order, as one datagram. Nothing is sent when any assignment is
    /// malformed (see `message(for:)`).
    @discardableResult
    public func send(_ assignments: [(String, String)]) -> NotifyResult {
        let message: String
        switch Self.message(for: assignments) {
        case .success(let built): message = built
        case .failure(let refusal): return .refused(refusal)
        }
        let returned = sd_notify(0, message)
        if returned > 0 { return .sent }
        if returned == 0 { return .notUnderManager }
        return .failed(errno: -returned)
    }

    /// Builds the `KEY=VALUE\nKEY=VALUE` state string `sd_notify` takes, or says why it refuses to.
    ///
    /// Keys are upper-case ASCII letters, digits and `_` (systemd's own keys, and `X_...` for custom
    /// ones). A value must not contain a newline, which would start another assignment (so `STATUS`
    /// text could forge `READY=1`), nor NUL, which would cut the C string short.
    public static func message(for assignments: [(String, String)]) -> Result<String, NotifyRefusal> {
        guard !assignments.isEmpty else { return .failure(.noAssignments) }
        var lines: [String] = []
        lines.reserveCapacity(assignments.count)
        for (key, value) in assignments {
            guard !key.isEmpty, key.utf8.allSatisfy(Self.isKeyByte) else {
                return .failure(.invalidKey(key))
            }
            if value.utf8.contains(UInt8(ascii: "\n")) { return .failure(.newlineInValue(key: key)) }
            if value.utf8.contains(0) { return .failure(.nulInValue(key: key)) }
            lines.append("\(key)=\(value)")
        }
        return .success(lines.joined(separator: "\n"))
    }

    private static func isKeyByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || byte == UInt8(ascii: "_")
    }

    private static func optionalStatus(_ status: String?) -> [(String, String)] {
        status.map { [("STATUS", $0)] } ?? []
    }
}

/// What became of one notification to the service manager. Never a crash: the caller decides
/// whether a failure matters (for the watchdog it does; for a status line it rarely does).
public enum NotifyResult: Sendable, Equatable {
    /// The manager's socket accepted the datagram.
    case sent
    /// `NOTIFY_SOCKET` is unset: no manager listens, nothing was sent.
    case notUnderManager
    /// Nothing was sent because an assignment was malformed.
    case refused(NotifyRefusal)
    /// `sd_notify` failed with this errno (for instance `ENOENT` when the socket path does not exist,
    /// `ECONNREFUSED` when nobody listens on it, `EINVAL` for a malformed `NOTIFY_SOCKET`).
    case failed(errno: Int32)

    /// Whether the manager received the message.
    public var wasSent: Bool { self == .sent }
}

/// Why `SystemdNotifier` refused to send a message.
public enum NotifyRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// An empty list of assignments.
    case noAssignments
    /// A key that is empty or not made of `A-Z`, `0-9` and `_`.
    case invalidKey(String)
    /// A value with a newline, which would inject another assignment.
    case newlineInValue(key: String)
    /// A value with a NUL byte, which would truncate the message.
    case nulInValue(key: String)

    public var description: String {
        switch self {
        case .noAssignments:
            "sd_notify: refused an empty message"
        case .invalidKey(let key):
            "sd_notify: refused key \(key.debugDescription): keys are A-Z, 0-9 and _"
        case .newlineInValue(let key):
            "sd_notify: refused \(key): its value contains a newline, which would start another assignment"
        case .nulInValue(let key):
            "sd_notify: refused \(key): its value contains a NUL byte"
        }
    }
}
