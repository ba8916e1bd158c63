import ASTProcesses
import ASTTestKit
import Foundation
import Glibc
import Logging
import Synchronization

let shell = "/bin/sh"
/// The system interpreter, not a pyenv shim (a shell script that would add a process and fds).
let python = "/usr/bin/python3"
let minimalPath = ["PATH": "/usr/bin:/bin"]

let testLogger = Logger(label: "ast.processes.tests")

/// Children a test started without a `Reaper`: each is SIGKILLed and reaped with `waitpid(pid)`
/// when the test ends, pass or fail (`defer { children.killAll() }`). Only these pids are waited
/// for, so concurrent tests' children are left alone.
final class Children: Sendable {
    private let pids = Mutex<Set<Int32>>([])

    func track(_ pid: Int32) {
        pids.withLock { _ = $0.insert(pid) }
    }

    /// Waits (polling) for `pid` to exit and reaps it.
    func reap(_ pid: Int32, timeout: Duration = .seconds(20)) async throws -> ProcessExit {
        let deadline = ContinuousClock.now + timeout
        while true {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid, let exit = ProcessExit(pid: pid, waitStatus: status) {
                pids.withLock { _ = $0.remove(pid) }
                return exit
            }
            if reaped < 0 { throw HarnessError("waitpid(\(pid)): \(String(cString: strerror(errno)))") }
            guard ContinuousClock.now < deadline else { throw HarnessError("pid \(pid) did not exit within \(timeout)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Whether `pid` is still running (not exited, or exited but not reaped yet: checks once).
    func isRunning(_ pid: Int32) -> Bool {
        var status: Int32 = 0
        let reaped = waitpid(pid, &status, WNOHANG)
        if reaped == pid { pids.withLock { _ = $0.remove(pid) } }
        return reaped == 0
    }

    func killAll() {
        for pid in pids.withLock({ $0 }) {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        pids.withLock { $0.removeAll() }
    }
}

/// A listening `AF_UNIX` stream socket at `path` (close-on-exec, as astd's are).
func listeningSocket(at path: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
    guard withAddress(path, { bind(fd, $0, $1) }) == 0, listen(fd, 16) == 0 else {
        let message = String(cString: strerror(errno))
        close(fd)
        throw HarnessError("bind/listen \(path): \(message)")
    }
    return fd
}

/// Connects to `path` and returns the first bytes the peer sends (up to 10 s).
func connectAndRead(_ path: String) throws -> String {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    guard withAddress(path, { connect(fd, $0, $1) }) == 0 else {
        throw HarnessError("connect \(path): \(String(cString: strerror(errno)))")
    }
    var buffer = [UInt8](repeating: 0, count: 256)
    let count = recv(fd, &buffer, buffer.count, 0)
    guard count >= 0 else { throw HarnessError("recv: \(String(cString: strerror(errno)))") }
    return String(decoding: buffer.prefix(count), as: UTF8.self)
}

/// Sends one datagram to the `AF_UNIX` datagram socket at `path` from this process.
func sendDatagram(_ bytes: [UInt8], to path: String) throws {
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let sent = withAddress(path) { address, length in
        sendto(fd, bytes, bytes.count, 0, address, length)
    }
    guard sent == bytes.count else { throw HarnessError("sendto \(path): \(String(cString: strerror(errno)))") }
}

func withAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path), "socket path too long: \(path)")
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
}

/// The contents of a file a child wrote, once it is non-empty (the child may still be writing
/// when the caller first looks).
func contents(of path: String, timeout: Duration = .seconds(20)) async throws -> String {
    var text = ""
    try await eventually(timeout: timeout, every: .milliseconds(10), "\(path) to be written") {
        text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return !text.isEmpty
    }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// The first element of `stream` matching `predicate`, or nil after `timeout`.
func first<Element: Sendable>(
    of stream: AsyncStream<Element>, within timeout: Duration,
    where predicate: @escaping @Sendable (Element) -> Bool
) async -> Element? {
    await withTaskGroup(of: Element?.self) { group in
        group.addTask {
            for await element in stream where predicate(element) { return element }
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let found = await group.next() ?? nil
        group.cancelAll()
        return found
    }
}
