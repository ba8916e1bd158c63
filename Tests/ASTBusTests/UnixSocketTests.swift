import ASTTestKit
import Foundation
import Synchronization
import Testing

@testable import ASTBus

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct UnixSocketTests {
    @Test func listenReplacesAStaleSocketButNotALiveOne() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir("x.sock")
        let first = try UnixSocket.listen(path: path)
        #expect(UnixSocket.isLive(path: path))
        #expect(throws: SocketError(operation: "bind", path: path, errno: EADDRINUSE)) { try UnixSocket.listen(path: path) }
        close(first)  // the file stays behind, as after a crash
        #expect(!UnixSocket.isLive(path: path))
        let second = try UnixSocket.listen(path: path)
        defer { close(second) }
        #expect(UnixSocket.isLive(path: path))
    }

    @Test func listenRefusesToReplaceARegularFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir("not-a-socket")
        #expect(FileManager.default.createFile(atPath: path, contents: Data("keep me".utf8)))
        #expect(throws: SocketError.self) { try UnixSocket.listen(path: path) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep me")
    }

    @Test func tooLongAPathIsRefused() {
        let path = "/tmp/" + String(repeating: "a", count: 120)
        #expect(throws: SocketError(operation: "bind", path: path, errno: ENAMETOOLONG)) { try UnixSocket.listen(path: path) }
        // Both connects refuse it too, rather than connect to the path cut short.
        #expect(throws: SocketError(operation: "connect", path: path, errno: ENAMETOOLONG)) { try UnixSocket.connect(path: path) }
        #expect(throws: SocketError(operation: "connect", path: path, errno: ENAMETOOLONG)) {
            try UnixSocket.connectNonBlocking(path: path)
        }
    }

    @Test func aNonBlockingConnectNeverWaitsForAFullBacklog() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir("full.sock")
        let listener = try UnixSocket.listen(path: path, backlog: 1)
        defer { close(listener) }
        // Nobody accepts: after a connection or two the backlog is full, and a blocking connect
        // would wait for the listener (as peers of a restarting worker do).
        var connected: [Int32] = []
        defer { connected.forEach { close($0) } }
        var refusal: SocketError?
        for _ in 0..<8 {
            do {
                connected.append(try UnixSocket.connectNonBlocking(path: path))
            } catch {
                refusal = error
                break
            }
        }
        #expect(refusal?.errno == EAGAIN)
        #expect(throws: SocketError(operation: "connect", path: dir("missing.sock"), errno: ENOENT)) {
            try UnixSocket.connectNonBlocking(path: dir("missing.sock"))
        }
    }

    @Test func peerCredentialsNameOurOwnUidAndPid() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let listener = try UnixSocket.listen(path: dir("c.sock"))
        defer { close(listener) }
        let client = try UnixSocket.connect(path: dir("c.sock"))
        defer { close(client) }
        let creds = try #require(UnixSocket.peerCredentials(fd: client))
        #expect(creds.uid == getuid() && creds.pid == getpid())
    }
}

@Suite struct UnixSocketBacklogTests {
    /// `astctl drill` hung in a round: its liveness check connected with a blocking socket to a
    /// listener whose backlog was full (a worker restarting over and over, its peers' connections
    /// queued), and waited for as long as nothing accepted. Run on a thread of its own with a
    /// bound, so that the old behaviour fails this test instead of hanging it.
    @Test func isLiveAnswersAtOnceForAListenerWhoseBacklogIsFull() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir("busy.sock")
        let listener = try UnixSocket.listen(path: path, backlog: 1)
        var queued: [Int32] = []
        defer { for fd in queued { close(fd) } }
        // Fill the backlog: non-blocking connects until the kernel answers EAGAIN.
        while queued.count < 64 {
            guard let fd = try? UnixSocket.connectNonBlocking(path: path) else { break }
            queued.append(fd)
        }
        #expect(throws: SocketError(operation: "connect", path: path, errno: EAGAIN)) { try UnixSocket.connectNonBlocking(path: path) }
        let answer = Mutex<Bool?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let live = UnixSocket.isLive(path: path)
            answer.withLock { $0 = live }
            done.signal()
        }
        let answered = done.wait(timeout: .now() + 10) == .success
        // Unblocks a connect still waiting (it then fails): the thread ends either way.
        close(listener)
        #expect(answered, "isLive still waiting after 10 s on a listener with a full backlog (\(queued.count) queued)")
        #expect(answer.withLock { $0 } == true, "a listener that does not accept is still live")
        if !answered { _ = done.wait(timeout: .now() + 10) }
    }
}
