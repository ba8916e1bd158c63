import CSpawn
import Dispatch
import Glibc
import Logging
import Synchronization

/// The manager side of `sd_notify(3)`: an `AF_UNIX` datagram socket every child gets as its
/// `NOTIFY_SOCKET`. `SO_PASSCRED` makes the kernel attach each sender's pid, so one socket serves
/// every child and no child can speak for another.
///
/// Bad input from a child never stops the socket: oversized datagrams (over 4096 bytes, like
/// systemd's `NOTIFY_BUFFER_MAX`), malformed ones and ones without credentials are dropped and
/// counted in `statistics`. Descriptors a sender passes along (`sd_notify_barrier`, `FDSTORE=1`)
/// are closed at once, which also completes the sender's barrier.
public final class NotifySocket: Sendable {
    /// The largest datagram accepted, as systemd's manager (`NOTIFY_BUFFER_MAX`, `PIPE_BUF`).
    public static let maximumDatagramSize = 4096
    /// How many parsed messages wait for the consumer before the oldest are dropped.
    public static let defaultBufferLimit = 4096

    /// The socket's path: the value for the children's `NOTIFY_SOCKET`.
    public let path: String
    /// Every well-formed, attributed notification, in arrival order. One consumer.
    public let messages: AsyncStream<NotifyMessage>

    private let continuation: AsyncStream<NotifyMessage>.Continuation
    private let fd: Int32
    private let counters = Mutex(NotifyStatistics())
    private let queue = DispatchQueue(label: "ast.notify")
    private nonisolated(unsafe) let source: any DispatchSourceRead
    private let logger: Logger

    /// Binds a datagram socket at `path` (replacing a stale socket left there by a previous run;
    /// any other kind of file is an error) and starts reading it.
    ///
    /// - Parameter bufferLimit: parsed messages kept for a slow consumer; beyond it the newest
    ///   are kept and the dropped ones counted.
    public init(path: String, logger: Logger, bufferLimit: Int = NotifySocket.defaultBufferLimit) throws(SystemCallError) {
        self.path = path
        self.logger = logger
        (messages, continuation) = AsyncStream.makeStream(of: NotifyMessage.self, bufferingPolicy: .bufferingNewest(bufferLimit))
        fd = try Self.bind(path: path)
        source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        // Weak: dropping the last reference closes the socket (deinit cancels the source).
        source.setEventHandler { [weak self] in self?.receiveAvailable() }
        source.setCancelHandler { [fd, continuation] in
            Glibc.close(fd)
            unlink(path)
            continuation.finish()
        }
        source.activate()
    }

    deinit {
        source.cancel()
    }

    /// Stops reading, closes and removes the socket, and finishes `messages`.
    public func close() {
        source.cancel()
    }

    /// What has been received so far.
    public var statistics: NotifyStatistics {
        counters.withLock { $0 }
    }

    private static func bind(path: String) throws(SystemCallError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < capacity, !bytes.contains(0) else {
            throw SystemCallError(
                call: "bind(\(path))", code: ENAMETOOLONG,
                hint: "a Unix socket path is at most \(capacity - 1) bytes; use a shorter runtime directory")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        var status = stat()
        if lstat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFSOCK else {
                throw SystemCallError(
                    call: "bind(\(path))", code: EEXIST,
                    hint: "a file that is not a socket is in the way; remove it or choose another runtime directory")
            }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else {
            throw SystemCallError(
                call: "socket(AF_UNIX, SOCK_DGRAM)", code: errno, hint: "check the descriptor limit (ulimit -n, LimitNOFILE=)")
        }
        var on: Int32 = 1
        guard setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw SystemCallError(call: "setsockopt(SO_PASSCRED)", code: code, hint: "the kernel refused sender credentials")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            let code = errno
            Glibc.close(fd)
            throw SystemCallError(
                call: "bind(\(path))", code: code,
                hint: "check that the runtime directory exists and is writable by the supervisor's user")
        }
        return fd
    }

    /// Runs on `queue` whenever the socket is readable: takes up to a batch of datagrams, so
    /// that a flooding child cannot monopolise the queue (the source fires again for the rest).
    private func receiveAvailable() {
        var buffer = [UInt8](repeating: 0, count: Self.maximumDatagramSize)
        for _ in 0..<256 {
            var datagram = ast_notify_datagram()
            let returned = buffer.withUnsafeMutableBytes {
                ast_notify_recv(fd, $0.baseAddress, $0.count, &datagram)
            }
            if returned == 0 { return }
            if returned < 0 {
                logger.error(
                    "recvmsg on the notify socket failed",
                    metadata: [
                        "path": "\(path)", "error": "\(errnoDescription(-returned))",
                    ])
                return
            }
            handle(datagram, payload: buffer.prefix(min(datagram.length, buffer.count)))
        }
    }

    private func handle(_ datagram: ast_notify_datagram, payload: ArraySlice<UInt8>) {
        let parsed: Result<[(key: String, value: String)], NotifyParseError>
        if datagram.length > Self.maximumDatagramSize {
            parsed = .failure(.oversized(bytes: datagram.length))
        } else if datagram.pid <= 0 {
            parsed = .failure(.unattributed)
        } else {
            parsed = NotifyMessage.parse(payload)
        }
        switch parsed {
        case .success(let fields):
            // Counted first, so that a consumer holding the message sees it counted.
            counters.withLock { $0.delivered += 1 }
            if case .dropped = continuation.yield(NotifyMessage(pid: datagram.pid, fields: fields)) {
                counters.withLock { $0.droppedByConsumerBuffer += 1 }
            }
        case .failure(let error):
            let rejected = counters.withLock { counters in
                counters.record(error)
                return counters.rejected
            }
            // Throttled: the 1st, 2nd, 4th, 8th ... rejection is logged, so a looping child
            // cannot flood the journal; the counters hold the full story.
            if rejected & (rejected - 1) == 0 {
                logger.warning(
                    "ignored a notification",
                    metadata: [
                        "pid": "\(datagram.pid)", "reason": "\(error)", "rejected_total": "\(rejected)",
                    ])
            }
        }
    }
}

/// Counters of a `NotifySocket`, for `astctl status` and tests.
public struct NotifyStatistics: Sendable, Equatable {
    /// Messages handed to `messages`.
    public var delivered = 0
    /// Datagrams that were not `KEY=VALUE` lines of UTF-8 text.
    public var malformed = 0
    /// Datagrams over `NotifySocket.maximumDatagramSize`.
    public var oversized = 0
    /// Datagrams without sender credentials.
    public var unattributed = 0
    /// Delivered messages the consumer fell too far behind to receive.
    public var droppedByConsumerBuffer = 0

    /// Every datagram that was ignored.
    public var rejected: Int { malformed + oversized + unattributed }

    /// Creates zeroed counters.
    public init() {}

    mutating func record(_ error: NotifyParseError) {
        switch error {
        case .oversized: oversized += 1
        case .unattributed: unattributed += 1
        case .empty, .containsNUL, .notUTF8, .notAnAssignment, .invalidKey: malformed += 1
        }
    }
}
