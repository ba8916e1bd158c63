import CSystemd
import Glibc
import Synchronization

/// Reports this process's state to its service manager (systemd, or astd for a worker) through
/// `NOTIFY_SOCKET`, as `sd_notify(3)`. Without `NOTIFY_SOCKET` every call is a no-op, so the same
/// binary runs under systemd, under astd or by hand.
///
/// Unlike `sd_notify`, which opens a fresh datagram socket per call, every notifier of a process
/// shares one socket, opened when the first notifier is made (at start-up, while descriptors are
/// plenty): a process whose descriptors a flood of connections used up still sends its watchdog
/// pings. A send blocks while the manager's receive queue is full, as `sd_notify` does.
public struct SystemdNotifier: Sendable {
    /// Creates a notifier and opens the process's notify socket if `NOTIFY_SOCKET` is set. It
    /// reads `NOTIFY_SOCKET` at every call, never caches it.
    public init() {
        NotifySender.shared.prepare()
    }

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
        return NotifySender.shared.send(message)
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

/// The one datagram socket a process sends its notifications from. `NOTIFY_SOCKET` is read at
/// every send; the socket is reopened only if it could not be made before. Unix socket addresses
/// (a path, or `@name` for the abstract namespace) are sent to directly; any other kind
/// (`vsock:`) goes through `sd_notify`.
final class NotifySender: Sendable {
    static let shared = NotifySender()

    /// The open descriptor, or nil until one could be made.
    private let descriptor = Mutex<Int32?>(nil)

    /// The socket's descriptor, once opened.
    var openDescriptor: Int32? { descriptor.withLock { $0 } }

    /// Opens the socket now if a manager listens, so that it exists before descriptors run short.
    func prepare() {
        guard getenv("NOTIFY_SOCKET") != nil else { return }
        _ = descriptor.withLock { Self.open(&$0) }
    }

    func send(_ message: String) -> NotifyResult {
        guard let variable = getenv("NOTIFY_SOCKET") else { return .notUnderManager }
        let target = String(cString: variable)
        guard let resolved = Self.address(target) else {
            let returned = sd_notify(0, message)
            if returned > 0 { return .sent }
            if returned == 0 { return .notUnderManager }
            return .failed(errno: -returned)
        }
        let address = resolved.0
        let length = resolved.1
        return descriptor.withLock { fd -> NotifyResult in
            if let failure = Self.open(&fd) { return .failed(errno: failure) }
            guard let socket = fd else { return .failed(errno: EBADF) }
            while true {
                let sent = message.utf8CString.withUnsafeBytes { bytes in
                    withUnsafePointer(to: address) { pointer in
                        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            // Without the C string's NUL, as sd_notify sends it.
                            sendto(socket, bytes.baseAddress, bytes.count - 1, Int32(MSG_NOSIGNAL), $0, length)
                        }
                    }
                }
                if sent >= 0 { return .sent }
                if errno == EINTR { continue }
                return .failed(errno: errno)
            }
        }
    }

    /// Makes the socket if there is none; the errno when that fails.
    private static func open(_ fd: inout Int32?) -> Int32? {
        guard fd == nil else { return nil }
        let made = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard made >= 0 else { return errno }
        fd = made
        return nil
    }

    /// The Unix socket address `NOTIFY_SOCKET` names, or nil for another kind of address or one
    /// too long for `sockaddr_un` (left to `sd_notify`, which reports it).
    static func address(_ target: String) -> (sockaddr_un, socklen_t)? {
        var bytes = Array(target.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        guard abstract || bytes.first == UInt8(ascii: "/") else { return nil }
        if abstract { bytes[0] = 0 }
        var address = sockaddr_un()
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        // A path needs room for its NUL; an abstract name is counted by the length alone.
        guard bytes.count + (abstract ? 0 : 1) <= capacity, bytes.count > 1 else { return nil }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let offset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2
        let length = offset + bytes.count + (abstract ? 0 : 1)
        return (address, socklen_t(length))
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
