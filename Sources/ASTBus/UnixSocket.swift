#if canImport(Glibc)
    import Glibc
#endif

/// Why a Unix socket could not be set up.
public struct SocketError: Error, Sendable, Equatable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Int32

    public var description: String {
        "\(operation) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Raw Unix-socket operations the bus needs below NIO: binding a listening socket that a
/// parent can later hand to a restarted child, and reading a peer's kernel credentials.
public enum UnixSocket {
    /// Longest path that fits in `sockaddr_un.sun_path` (with its terminating NUL).
    public static let maximumPathLength = 107

    /// Creates, binds and listens on a stream socket at `path`. A stale socket file left by a
    /// dead process is replaced; a live one (something accepts connections) is an error.
    public static func listen(path: String, backlog: Int32 = 128, mode: mode_t = 0o660) throws(SocketError) -> Int32 {
        guard path.utf8.count <= maximumPathLength else { throw SocketError(operation: "bind", path: path, errno: ENAMETOOLONG) }
        if isLive(path: path) { throw SocketError(operation: "bind", path: path, errno: EADDRINUSE) }
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw SocketError(operation: "bind (not a socket)", path: path, errno: EEXIST) }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(operation: "socket", path: path, errno: errno) }
        var addr = address(path)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw SocketError(operation: "bind", path: path, errno: e)
        }
        chmod(path, mode)
        guard Glibc.listen(fd, backlog) == 0 else {
            let e = errno
            close(fd)
            throw SocketError(operation: "listen", path: path, errno: e)
        }
        return fd
    }

    /// Connects a blocking stream socket to `path` (for tests, benchmarks and simple tools).
    public static func connect(path: String) throws(SocketError) -> Int32 {
        try connect(path: path, flags: Int32(SOCK_CLOEXEC.rawValue))
    }

    /// Connects a non-blocking stream socket to `path`, as an event loop needs it: never waits,
    /// also when the listener's backlog is full (`EAGAIN`, to be retried later).
    public static func connectNonBlocking(path: String) throws(SocketError) -> Int32 {
        try connect(path: path, flags: Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
    }

    /// A stream socket with `flags` connected to `path`; a path longer than a socket address holds
    /// is refused (`ENAMETOOLONG`), never cut short to another path.
    static func connect(path: String, flags: Int32) throws(SocketError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | flags, 0)
        guard fd >= 0 else { throw SocketError(operation: "socket", path: path, errno: errno) }
        guard path.utf8.count <= maximumPathLength else {
            close(fd)
            throw SocketError(operation: "connect", path: path, errno: ENAMETOOLONG)
        }
        var addr = address(path)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw SocketError(operation: "connect", path: path, errno: e)
        }
        return fd
    }

    /// Whether a process accepts connections at `path` right now.
    ///
    /// Never waits: a listener that does not accept (a stopped or restarting process whose backlog
    /// is full of peers' connections) answers `EAGAIN` at once and is live. A blocking connect
    /// waited there for as long as the listener did not accept: `astctl drill` hung in a round
    /// (its reconcile step's check of the reconciler's socket) while the workers restarted.
    public static func isLive(path: String) -> Bool {
        do throws(SocketError) {
            close(try connectNonBlocking(path: path))
            return true
        } catch {
            return error.errno == EAGAIN
        }
    }

    /// The uid and pid of the process at the other end of a connected Unix socket.
    public static func peerCredentials(fd: Int32) -> (uid: UInt32, pid: Int32)? {
        var cred = PeerCredentials()
        var len = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 else { return nil }
        return (cred.uid, cred.pid)
    }

    static func address(_ path: String) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(maximumPathLength))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return addr
    }
}

/// Linux `struct ucred` (pid, uid, gid), which Glibc only exposes under `_GNU_SOURCE`.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
