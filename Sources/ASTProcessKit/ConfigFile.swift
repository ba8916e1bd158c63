#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads configuration and secrets files through one open file descriptor, so that what is
/// checked (type, owner, mode) is what is read.
enum ConfigFileSystem {
    /// What happened when a file was read.
    enum ReadOutcome {
        case bytes([UInt8], status: stat)
        /// The file (or a directory on its path) does not exist.
        case missing
        /// `O_NOFOLLOW` was asked for and the path is a symbolic link.
        case symbolicLink
        /// Exists but cannot be used; what follows the path in a message (`is a directory`,
        /// `cannot be read (Permission denied)`).
        case failed(String)
    }

    /// Reads the whole file at `path`; `check` sees its status before any byte is read and may
    /// refuse it by returning a reason.
    static func readFile(
        _ path: String, followSymbolicLinks: Bool = true,
        check: (stat) -> String? = { _ in nil }
    ) -> ReadOutcome {
        var flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK
        if !followSymbolicLinks { flags |= O_NOFOLLOW }
        let fd = open(path, flags)
        if fd < 0 {
            let error = errno
            switch error {
            case ENOENT, ENOTDIR: return .missing
            case ELOOP where !followSymbolicLinks: return .symbolicLink
            default: return .failed(cannotRead(errno: error))
            }
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { return .failed(cannotRead(errno: errno)) }
        if (status.st_mode & S_IFMT) == S_IFDIR { return .failed("is a directory") }
        if (status.st_mode & S_IFMT) != S_IFREG { return .failed("is not a regular file") }
        if let refusal = check(status) { return .failed(refusal) }
        // Refused before a byte is read; the loop below still stops at the limit for a file
        // that grows while it is read.
        if Int64(status.st_size) > Int64(maximumSize) {
            return .failed("is \(status.st_size) bytes, larger than the \(maximumSize) bytes a configuration or secrets file may have")
        }

        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failed(cannotRead(errno: errno))
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > maximumSize { return .failed("is larger than \(maximumSize) bytes") }
        }
        return .bytes(bytes, status: status)
    }

    /// No configuration or secrets file is anywhere near this large; refusing bigger ones keeps a
    /// wrong path (a device, a log) from being read whole.
    static let maximumSize = 1024 * 1024

    private static func cannotRead(errno error: Int32) -> String {
        "cannot be read (\(String(cString: strerror(error))))"
    }

    static var effectiveUID: UInt32 { UInt32(geteuid()) }
}
