import ASTProcesses
import ASTTestKit
import Foundation
import Glibc
import Testing

/// The manager side of sd_notify on a real socket, with real senders.
@Suite struct NotifySocketTests {
    /// libsystemd's own `sd_notify`, called by a child (python3 through ctypes): the message is
    /// attributed to the child's pid by the kernel.
    @Test func sdNotifyFromAChildIsAttributedToItsPid() async throws {
        let directory = try TemporaryDirectory(prefix: "ast-notify")
        defer { directory.remove() }
        let children = Children()
        defer { children.killAll() }
        let notify = try NotifySocket(path: directory("notify.sock"), logger: testLogger)
        defer { notify.close() }
        let script = """
            import ctypes
            libsystemd = ctypes.CDLL("libsystemd.so.0")
            if libsystemd.sd_notify(0, b"READY=1\\nSTATUS=serving from python") <= 0:
                raise SystemExit(1)
            """

        let pid = try await Spawner().spawn(
            executable: python, arguments: ["-c", script], environment: minimalPath,
            notifySocket: notify.path)
        children.track(pid)

        let message = try #require(await first(of: notify.messages, within: .seconds(20)) { $0.pid == pid })
        #expect(message.isReady)
        #expect(message.status == "serving from python")
        #expect(try await children.reap(pid).isSuccess)
    }

    /// `systemd-notify` waits (`BARRIER=1`, with a pipe descriptor) until the manager has closed
    /// the descriptor it passed; otherwise its barrier times out after 5 s and it exits with a
    /// failure ("Failed to invoke barrier"). A successful exit shows the socket closes passed
    /// descriptors.
    @Test func systemdNotifyBarrierCompletesBecausePassedDescriptorsAreClosed() async throws {
        let directory = try TemporaryDirectory(prefix: "ast-notify")
        defer { directory.remove() }
        let children = Children()
        defer { children.killAll() }
        let notify = try NotifySocket(path: directory("notify.sock"), logger: testLogger)
        defer { notify.close() }

        let pid = try await Spawner().spawn(
            executable: "/usr/bin/systemd-notify", arguments: ["READY=1", "STATUS=via systemd-notify"],
            environment: minimalPath, notifySocket: notify.path)
        children.track(pid)

        let message = try #require(await first(of: notify.messages, within: .seconds(20)) { $0.isReady })
        #expect(message.status == "via systemd-notify")
        // systemd-notify sends READY with its parent's credentials when it may (as root; this test
        // process), else with its own: either way the kernel's pid, never 0.
        #expect(message.pid == getpid() || message.pid == pid)
        #expect(try await children.reap(pid).isSuccess)
    }

    @Test func malformedOversizedDatagramsAreCountedAndIgnored() async throws {
        let directory = try TemporaryDirectory(prefix: "ast-notify")
        defer { directory.remove() }
        let notify = try NotifySocket(path: directory("notify.sock"), logger: testLogger)
        defer { notify.close() }

        try sendDatagram([0xFF, 0x00, 0x13, 0x37], to: notify.path)
        try sendDatagram(Array("no assignment here".utf8), to: notify.path)
        try sendDatagram(Array(("STATUS=" + String(repeating: "x", count: 5000)).utf8), to: notify.path)
        try sendDatagram(Array(("STATUS=" + String(repeating: "y", count: 4089)).utf8), to: notify.path)
        try sendDatagram(Array("READY=1".utf8), to: notify.path)

        let ready = try #require(await first(of: notify.messages, within: .seconds(20)) { $0.isReady })
        #expect(ready.pid == getpid())
        let statistics = notify.statistics
        #expect(statistics.malformed == 2)
        #expect(statistics.oversized == 1)
        #expect(statistics.unattributed == 0)
        // The 4096-byte datagram, exactly at the limit, was delivered before READY.
        #expect(statistics.delivered == 2)
    }

    @Test func aStaleSocketIsReplacedButOtherFilesAreNot() throws {
        let directory = try TemporaryDirectory(prefix: "ast-notify")
        defer { directory.remove() }
        let first = try NotifySocket(path: directory("notify.sock"), logger: testLogger)
        // A crashed supervisor leaves its socket file behind; the next one binds anyway.
        let second = try NotifySocket(path: directory("notify.sock"), logger: testLogger)
        second.close()
        first.close()

        #expect(FileManager.default.createFile(atPath: directory("plain"), contents: Data()))
        #expect(throws: SystemCallError.self) {
            _ = try NotifySocket(path: directory("plain"), logger: testLogger)
        }
        #expect(FileManager.default.fileExists(atPath: directory("plain")))
    }
}
