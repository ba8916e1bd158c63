import Glibc
import Testing

/// Tests that change process-wide environment variables (`NOTIFY_SOCKET`, `LISTEN_*`,
/// `WATCHDOG_*`, `JOURNAL_STREAM`) or spawn processes that must not see those changes. They live in
/// suites nested in this one, which runs them one at a time.
@Suite(.serialized)
struct SystemdEnvironmentTests {}

/// Sets (a value) or unsets (nil) environment variables for the duration of `body`, then restores
/// what was there before, also when `body` throws.
@discardableResult
func withEnvironment<Result>(
    _ changes: [String: String?], _ body: () throws -> Result
) rethrows -> Result {
    let saved = changes.keys.map { name in (name, getenv(name).map { String(cString: $0) }) }
    for (name, value) in changes {
        if let value { setenv(name, value, 1) } else { unsetenv(name) }
    }
    defer {
        for (name, value) in saved {
            if let value { setenv(name, value, 1) } else { unsetenv(name) }
        }
    }
    return try body()
}

/// The current value of an environment variable.
func environmentValue(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}

/// A fresh private directory under /tmp, removed with everything in it by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/ast-systemd-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw POSIXFailure(call: "mkdtemp") }
        path = String(cString: created)
    }

    func remove() {
        guard let directory = opendir(path) else { return }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { unlink("\(path)/\(name)") }
        }
        closedir(directory)
        rmdir(path)
    }
}

/// A failed POSIX call in test set-up, with its errno.
struct POSIXFailure: Error, CustomStringConvertible {
    let call: String
    let code: Int32

    init(call: String, code: Int32 = errno) {
        self.call = call
        self.code = code
    }

    var description: String { "\(call) failed: \(String(cString: strerror(code)))" }
}

/// Fills a `sockaddr_un` with a filesystem path and calls `body` with it.
func withUnixAddress<Result>(
    _ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Result
) -> Result {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path), "socket path too long: \(path)")
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
        buffer.copyBytes(from: bytes)
        buffer[bytes.count] = 0
    }
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
}
