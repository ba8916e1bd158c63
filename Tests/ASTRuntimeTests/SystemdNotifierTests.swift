import ASTRuntime
import Glibc
import Testing

/// The manager side of `NOTIFY_SOCKET` for tests: a datagram socket bound in a temporary directory,
/// with `SO_PASSCRED` on so that every datagram carries its sender's pid, as astd's will.
final class NotifyReceiver {
    let directory: TemporaryDirectory
    let path: String
    let fd: Int32

    /// One received datagram and the pid the kernel attached to it.
    struct Datagram {
        let payload: String
        let senderPID: pid_t?
    }

    init() throws {
        directory = try TemporaryDirectory()
        path = directory.path + "/notify"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXFailure(call: "socket") }
        var on: Int32 = 1
        guard setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw POSIXFailure(call: "setsockopt(SO_PASSCRED)")
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            throw POSIXFailure(call: "setsockopt(SO_RCVTIMEO)")
        }
        let bound = withUnixAddress(path) { bind(fd, $0, $1) }
        guard bound == 0 else { throw POSIXFailure(call: "bind(\(path))") }
    }

    deinit {
        close(fd)
        directory.remove()
    }

    /// The next datagram this process sent. Datagrams from other processes (a child spawned by a
    /// concurrent test that inherited `NOTIFY_SOCKET`) are skipped.
    func receive() throws -> Datagram {
        while true {
            let datagram = try receiveAny()
            if datagram.senderPID == getpid() { return datagram }
        }
    }

    /// Whether no datagram from this process is waiting.
    func isDrained() throws -> Bool {
        while true {
            var byte: UInt8 = 0
            let peeked = recv(fd, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
            if peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return true }
            if try receiveAny().senderPID == getpid() { return false }
        }
    }

    private func receiveAny() throws -> Datagram {
        let control = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 8)
        defer { control.deallocate() }
        var buffer = [UInt8](repeating: 0, count: 4096)
        return try buffer.withUnsafeMutableBytes { payload in
            var vector = iovec(iov_base: payload.baseAddress, iov_len: payload.count)
            return try withUnsafeMutablePointer(to: &vector) { vectorPointer in
                var header = msghdr()
                header.msg_iov = vectorPointer
                header.msg_iovlen = 1
                header.msg_control = control
                header.msg_controllen = 256
                let received = recvmsg(fd, &header, 0)
                guard received >= 0 else { throw POSIXFailure(call: "recvmsg") }
                let text = String(decoding: payload.prefix(received), as: UTF8.self)
                return Datagram(payload: text, senderPID: Self.credentialsPID(control, length: Int(header.msg_controllen)))
            }
        }
    }

    /// `SCM_CREDENTIALS` from <bits/socket.h>; Swift's Glibc module leaves it out (it is `_GNU_SOURCE`).
    private static let scmCredentials: Int32 = 2

    /// The pid in an `SCM_CREDENTIALS` control message (`struct cmsghdr` then `struct ucred`).
    private static func credentialsPID(_ control: UnsafeMutableRawPointer, length: Int) -> pid_t? {
        let headerSize = MemoryLayout<cmsghdr>.size
        var offset = 0
        while offset + headerSize <= length {
            let header = control.load(fromByteOffset: offset, as: cmsghdr.self)
            if header.cmsg_level == SOL_SOCKET && header.cmsg_type == scmCredentials {
                return control.load(fromByteOffset: offset + headerSize, as: pid_t.self)
            }
            let step = (Int(header.cmsg_len) + 7) & ~7
            guard step > 0 else { return nil }
            offset += step
        }
        return nil
    }
}

extension SystemdEnvironmentTests {
    @Suite
    struct SystemdNotifierTests {
        let notifier = SystemdNotifier()

        /// Sends through `send` with `NOTIFY_SOCKET` pointing at a fresh receiver; returns the result and
        /// the payload the receiver got.
        private func exchange(_ send: (SystemdNotifier) -> NotifyResult) throws -> (NotifyResult, String) {
            let receiver = try NotifyReceiver()
            return try withEnvironment(["NOTIFY_SOCKET": receiver.path]) {
                let result = send(notifier)
                return (result, try receiver.receive().payload)
            }
        }

        @Test
        func readySendsReadyAndStatusInOneDatagram() throws {
            let (result, payload) = try exchange { $0.ready(status: "serving") }
            #expect(result == .sent)
            #expect(payload == "READY=1\nSTATUS=serving")
        }

        @Test
        func readyWithoutStatusSendsOnlyReady() throws {
            let (result, payload) = try exchange { $0.ready() }
            #expect(result == .sent)
            #expect(payload == "READY=1")
        }

        @Test
        func statusSendsOneStatusLine() throws {
            let (result, payload) = try exchange { $0.status("replaying journal: 40% done") }
            #expect(result == .sent)
            #expect(payload == "STATUS=replaying journal: 40% done")
        }

        @Test
        func watchdogSendsKeepAlive() throws {
            let (result, payload) = try exchange { $0.watchdog() }
            #expect(result == .sent)
            #expect(payload == "WATCHDOG=1")
        }

        @Test
        func stoppingSendsStoppingAndStatus() throws {
            let (result, payload) = try exchange { $0.stopping(status: "draining connections") }
            #expect(result == .sent)
            #expect(payload == "STOPPING=1\nSTATUS=draining connections")
        }

        @Test
        func errnoSendsTheErrorNumber() throws {
            let (result, payload) = try exchange { $0.errno(ENOENT) }
            #expect(result == .sent)
            #expect(payload == "ERRNO=2")
        }

        @Test
        func reloadingSendsReloading() throws {
            let (result, payload) = try exchange { $0.reloading() }
            #expect(result == .sent)
            #expect(payload == "RELOADING=1")
        }

        @Test
        func sendKeepsTheOrderOfAssignments() throws {
            let (result, payload) = try exchange { $0.send([("X_AST_ROLE", "risk"), ("STATUS", "a=b"), ("READY", "1")]) }
            #expect(result == .sent)
            #expect(payload == "X_AST_ROLE=risk\nSTATUS=a=b\nREADY=1")
        }

        @Test
        func datagramsCarryTheSenderPIDInTheirCredentials() throws {
            let receiver = try NotifyReceiver()
            try withEnvironment(["NOTIFY_SOCKET": receiver.path]) {
                #expect(notifier.watchdog() == .sent)
                let datagram = try receiver.receive()
                #expect(datagram.payload == "WATCHDOG=1")
                #expect(datagram.senderPID == getpid())
            }
        }

        @Test
        func newlineInStatusIsRefusedAndNothingIsSent() throws {
            let receiver = try NotifyReceiver()
            try withEnvironment(["NOTIFY_SOCKET": receiver.path]) {
                let result = notifier.status("all good\nREADY=1")
                #expect(result == .refused(.newlineInValue(key: "STATUS")))
                #expect(!result.wasSent)
                let drained = try receiver.isDrained()
                #expect(drained)
            }
        }

        @Test
        func unsetNotifySocketIsANoOp() {
            withEnvironment(["NOTIFY_SOCKET": nil]) {
                #expect(!notifier.isUnderManager)
                #expect(notifier.ready(status: "serving") == .notUnderManager)
                #expect(notifier.watchdog() == .notUnderManager)
                #expect(notifier.stopping() == .notUnderManager)
            }
        }

        @Test
        func missingSocketFileIsReportedAsAFailure() throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            withEnvironment(["NOTIFY_SOCKET": directory.path + "/absent"]) {
                #expect(notifier.isUnderManager)
                #expect(notifier.watchdog() == .failed(errno: ENOENT))
            }
        }

        @Test
        func relativeNotifySocketPathIsReportedAsAFailure() {
            withEnvironment(["NOTIFY_SOCKET": "relative/notify"]) {
                #expect(notifier.ready() == .failed(errno: EINVAL))
            }
        }
    }
}

/// Building the state string, without a socket.
struct NotifyMessageTests {
    @Test
    func assignmentsAreJoinedWithNewlines() {
        let message = SystemdNotifier.message(for: [("READY", "1"), ("STATUS", "serving"), ("MAINPID", "4711")])
        #expect(message == .success("READY=1\nSTATUS=serving\nMAINPID=4711"))
    }

    @Test
    func valuesMayHoldEqualsSignsSpacesAndUnicode() {
        let message = SystemdNotifier.message(for: [("STATUS", "ratio=0.5 — ok")])
        #expect(message == .success("STATUS=ratio=0.5 — ok"))
    }

    @Test(arguments: ["", "ready", "A=B", "A B", "STATUS\n", "ÄRGER"])
    func keysOutsideUppercaseDigitsAndUnderscoreAreRefused(key: String) {
        #expect(SystemdNotifier.message(for: [(key, "1")]) == .failure(.invalidKey(key)))
    }

    @Test(arguments: ["\n", "ok\nREADY=1", "trailing\n", "\r\n"])
    func newlinesInValuesAreRefused(value: String) {
        let message = SystemdNotifier.message(for: [("READY", "1"), ("STATUS", value)])
        #expect(message == .failure(.newlineInValue(key: "STATUS")))
    }

    @Test
    func nulInValueIsRefused() {
        #expect(SystemdNotifier.message(for: [("STATUS", "cut\u{0}here")]) == .failure(.nulInValue(key: "STATUS")))
    }

    @Test
    func emptyMessageIsRefused() {
        #expect(SystemdNotifier.message(for: []) == .failure(.noAssignments))
    }

    @Test
    func refusalsSayWhatWasWrong() {
        #expect(NotifyRefusal.newlineInValue(key: "STATUS").description.contains("newline"))
    }
}
