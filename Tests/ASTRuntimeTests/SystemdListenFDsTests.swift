import ASTRuntime
import Glibc
import Testing

/// Pairing descriptors with names, without touching the process's descriptors.
struct ListenFDsPairingTests {
    @Test
    func descriptorsAreNumberedFromThreeInNameOrder() throws {
        let fds = try ListenFDs.pair(count: 3, names: ["bus", "control", "metrics"])
        #expect(
            fds.descriptors == [
                ListenFD(fd: 3, name: "bus"), ListenFD(fd: 4, name: "control"), ListenFD(fd: 5, name: "metrics"),
            ])
    }

    @Test
    func namesDefaultToUnknownWithoutListenFDNames() throws {
        let fds = try ListenFDs.pair(count: 2, names: nil)
        #expect(fds.descriptors.map(\.name) == ["unknown", "unknown"])
        #expect(fds.descriptors.map(\.fd) == [3, 4])
    }

    @Test(arguments: [0, 1, 3])
    func nameCountThatDiffersFromDescriptorCountIsAnError(nameCount: Int) {
        let names = Array(repeating: "bus", count: nameCount)
        #expect(throws: SystemdError.self) { try ListenFDs.pair(count: 2, names: names) }
    }

    @Test
    func negativeCountIsAnError() {
        #expect(throws: SystemdError.self) { try ListenFDs.pair(count: -1, names: nil) }
    }

    @Test
    func nothingPassedIsEmpty() throws {
        #expect(try ListenFDs.pair(count: 0, names: nil).descriptors.isEmpty)
    }

    @Test
    func firstNamedFindsTheFirstDescriptorWithThatName() throws {
        let fds = try ListenFDs.pair(count: 3, names: ["control", "bus", "bus"])
        #expect(fds.first(named: "bus") == ListenFD(fd: 4, name: "bus"))
        #expect(fds.first(named: "control")?.fd == 3)
        #expect(fds.first(named: "metrics") == nil)
    }

    @Test
    func errorTellsTheOperatorWhatToCheck() {
        let error = #expect(throws: SystemdError.self) { try ListenFDs.pair(count: 2, names: ["bus"]) }
        #expect(error?.code == EINVAL)
        #expect(error?.description.contains("LISTEN_FDNAMES holds 1 names for 2 descriptors") == true)
    }
}

/// Which descriptors count as a listening Unix stream socket.
struct ListeningSocketCheckTests {
    /// A Unix socket of `type` bound in `directory`, listening when asked.
    private func unixSocket(_ type: __socket_type, in directory: TemporaryDirectory, listening: Bool) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXFailure(call: "socket") }
        let path = directory.path + "/s\(fd)"
        guard withUnixAddress(path, { bind(fd, $0, $1) }) == 0 else {
            close(fd)
            throw POSIXFailure(call: "bind")
        }
        if listening && listen(fd, 16) != 0 {
            close(fd)
            throw POSIXFailure(call: "listen")
        }
        return fd
    }

    @Test
    func listeningUnixStreamSocketIsRecognised() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let fd = try unixSocket(SOCK_STREAM, in: directory, listening: true)
        defer { close(fd) }
        #expect(ListenFDs.isListeningUnixStreamSocket(fd))
    }

    @Test
    func boundButNotListeningStreamSocketIsNot() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let fd = try unixSocket(SOCK_STREAM, in: directory, listening: false)
        defer { close(fd) }
        #expect(!ListenFDs.isListeningUnixStreamSocket(fd))
    }

    @Test
    func datagramSocketIsNot() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let fd = try unixSocket(SOCK_DGRAM, in: directory, listening: false)
        defer { close(fd) }
        #expect(!ListenFDs.isListeningUnixStreamSocket(fd))
    }

    @Test
    func listeningTCPSocketIsNot() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(bound == 0 && listen(fd, 1) == 0)
        #expect(!ListenFDs.isListeningUnixStreamSocket(fd))
    }

    @Test
    func pipeAndClosedOrNegativeDescriptorsAreNot() throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        #expect(!ListenFDs.isListeningUnixStreamSocket(ends[0]))
        close(ends[0])
        close(ends[1])
        #expect(!ListenFDs.isListeningUnixStreamSocket(ends[0]))
        #expect(!ListenFDs.isListeningUnixStreamSocket(-1))
    }
}

extension SystemdEnvironmentTests {
    /// The cases of `ListenFDs.take()` that pass no descriptor, so they never touch descriptor 3 of
    /// the test process. Descriptors actually passed are covered by `ListenFDsActivationTests`.
    @Suite
    struct ListenFDsEnvironmentTests {
        @Test
        func nothingIsTakenWithoutListenPID() throws {
            try withEnvironment(["LISTEN_PID": nil, "LISTEN_FDS": "2", "LISTEN_FDNAMES": "bus:control"]) {
                let taken = try ListenFDs.take(unsetEnvironment: false)
                #expect(taken.descriptors.isEmpty)
            }
        }

        @Test
        func descriptorsForAnotherPIDAreNotTaken() throws {
            // LISTEN_* inherited from a parent that was socket-activated must not be taken by its child.
            try withEnvironment(["LISTEN_PID": String(getpid() + 1), "LISTEN_FDS": "1", "LISTEN_FDNAMES": "bus"]) {
                let taken = try ListenFDs.take(unsetEnvironment: false)
                #expect(taken.descriptors.isEmpty)
            }
        }

        @Test
        func takingUnsetsTheListenVariablesWhenAsked() throws {
            try withEnvironment(["LISTEN_PID": String(getpid() + 1), "LISTEN_FDS": "1", "LISTEN_FDNAMES": "bus"]) {
                _ = try ListenFDs.take(unsetEnvironment: true)
                #expect(environmentValue("LISTEN_PID") == nil)
                #expect(environmentValue("LISTEN_FDS") == nil)
                #expect(environmentValue("LISTEN_FDNAMES") == nil)
            }
        }

        @Test
        func malformedListenPIDIsAnError() {
            withEnvironment(["LISTEN_PID": "self", "LISTEN_FDS": "1", "LISTEN_FDNAMES": nil]) {
                #expect(throws: SystemdError.self) { try ListenFDs.take(unsetEnvironment: false) }
            }
        }
    }
}
