import ASTProcesses
import Testing

/// The environment a child gets, built before fork: pure, no process needed.
@Suite struct ChildEnvironmentTests {
    @Test func managerVariablesOfTheParentAreReplacedByTheChildsOwn() throws {
        let request = SpawnRequest(
            executable: "/bin/true",
            environment: [
                "PATH": "/usr/bin", "NOTIFY_SOCKET": "/parent", "WATCHDOG_USEC": "5", "WATCHDOG_PID": "1",
                "LISTEN_FDS": "3", "LISTEN_PID": "1", "LISTEN_FDNAMES": "x:y:z", "HOME": "/root",
            ],
            listenFDs: [PassedDescriptor(fd: 7, name: "bus"), PassedDescriptor(fd: 9, name: "control")],
            notifySocket: "/run/ast/notify.sock", watchdog: .seconds(3))

        let environment = try ChildEnvironment(for: request)

        #expect(
            environment.entries == [
                "HOME=/root", "PATH=/usr/bin",
                "LISTEN_FDS=2", "LISTEN_FDNAMES=bus:control", "LISTEN_PID=0000000000",
                "NOTIFY_SOCKET=/run/ast/notify.sock",
                "WATCHDOG_USEC=3000000", "WATCHDOG_PID=0000000000",
            ])
        #expect(environment.pidEntries == [4, 7])
    }

    @Test func noSocketsAndNoWatchdogMeanNoListenOrWatchdogVariables() throws {
        let environment = try ChildEnvironment(
            for: SpawnRequest(
                executable: "/bin/true", environment: ["LISTEN_FDS": "1", "A": "b"]))
        #expect(environment.entries == ["A=b"])
        #expect(environment.pidEntries.isEmpty)
    }

    @Test(arguments: [Int32(1), 9, 10, 4_194_304, Int32.max])
    func pidEntriesReadAsTheChildsPid(pid: Int32) throws {
        let environment = try ChildEnvironment(
            for: SpawnRequest(
                executable: "/bin/true", listenFDs: [PassedDescriptor(fd: 0, name: "bus")], watchdog: .seconds(1)))
        let resolved = environment.resolved(pid: pid)
        #expect(resolved.contains("LISTEN_PID=\(pid)"))
        #expect(resolved.contains("WATCHDOG_PID=\(pid)"))
    }

    @Test func theRoomReservedForAPidFitsTheLargestPid() {
        #expect("LISTEN_PID=\(Int32.max)".utf8.count <= "LISTEN_PID=0000000000".utf8.count)
    }
}
