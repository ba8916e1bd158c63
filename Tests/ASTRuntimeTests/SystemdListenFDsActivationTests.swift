import ASTRuntime
import Foundation
import Glibc
import Testing

/// Where `systemd-socket-activate` lives (systemd package): it plays the manager's part in these tests.
private let socketActivate = "/usr/bin/systemd-socket-activate"
/// Set only in the child process the activation test starts; tells the probe where to write.
private let probeReportVariable = "AST_TEST_LISTENFDS_PROBE_REPORT"

/// Runs `systemd-socket-activate -l <socket> --fdname=<name> [-E ...] -- <command>`, makes the one
/// connection that makes it exec `command`, and waits for `command` to exit. Returns its pid (which
/// is systemd-socket-activate's: it execs in place) and what it wrote to stdout and stderr.
/// The process is killed if it has not exited within 60 seconds, and on every failure path.
private func runUnderSocketActivation(
    socket socketPath: String, fdName: String, setting variables: [String: String] = [:],
    command: [String], output outputPath: String
) throws -> (pid: Int32, output: String) {
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    let outputHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    defer { try? outputHandle.close() }

    let process = Process()
    process.executableURL = URL(fileURLWithPath: socketActivate)
    process.arguments =
        ["-l", socketPath, "--fdname=\(fdName)"]
        + variables.sorted { $0.key < $1.key }.flatMap { ["-E", "\($0.key)=\($0.value)"] }
        + ["--"] + command
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = outputHandle
    process.standardError = outputHandle
    try process.run()
    var exited = false
    defer {
        if !exited {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    // Connect once the socket is listening: that is what makes systemd-socket-activate exec.
    let client = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard client >= 0 else { throw POSIXFailure(call: "socket") }
    defer { close(client) }
    let deadline = ContinuousClock.now + .seconds(60)
    while withUnixAddress(socketPath, { connect(client, $0, $1) }) != 0 {
        guard process.isRunning, ContinuousClock.now < deadline else {
            throw POSIXFailure(call: "connect(\(socketPath))")
        }
        usleep(10_000)
    }
    while process.isRunning {
        guard ContinuousClock.now < deadline else {
            throw POSIXFailure(call: "waiting for \(command[0]) to exit", code: ETIMEDOUT)
        }
        usleep(10_000)
    }
    process.waitUntilExit()
    exited = true
    let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    return (process.processIdentifier, output)
}

extension SystemdEnvironmentTests {
    /// The socket-activation contract every worker relies on, checked against systemd's own tool.
    @Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: socketActivate), "needs systemd-socket-activate"))
    struct ListenFDsActivationTests {
        @Test
        func socketActivationPassesOneNamedDescriptorForTheExecutedPID() throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let (pid, output) = try runUnderSocketActivation(
                socket: directory.path + "/bus.sock", fdName: "bus", command: ["/usr/bin/env"],
                output: directory.path + "/output")
            let lines = Set(output.split(separator: "\n").map(String.init))
            #expect(lines.contains("LISTEN_FDS=1"), "\(output)")
            #expect(lines.contains("LISTEN_FDNAMES=bus"), "\(output)")
            #expect(lines.contains("LISTEN_PID=\(pid)"), "\(output)")
        }

        @Test
        func workerTakesTheSocketSystemdSocketActivatePasses() throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let report = directory.path + "/report"
            let testBinary = try #require(try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            let (_, output) = try runUnderSocketActivation(
                socket: directory.path + "/bus.sock", fdName: "bus",
                setting: [probeReportVariable: report],
                command: [testBinary, "--testing-library", "swift-testing", "--filter", "ListenFDsActivationProbe"],
                output: directory.path + "/output")
            let written = try #require(try? String(contentsOfFile: report, encoding: .utf8), "no report; child said:\n\(output)")
            #expect(
                written == """
                    taken 3 bus
                    3 listening-unix-stream close-on-exec
                    LISTEN_FDS unset
                    LISTEN_PID unset
                    LISTEN_FDNAMES unset

                    """)
        }
    }
}

/// Runs only inside the child process of `workerTakesTheSocketSystemdSocketActivatePasses`, where
/// descriptor 3 really is the socket systemd-socket-activate passed: takes it as a worker does and
/// writes what it found to the report file.
@Suite(.enabled(if: environmentValue(probeReportVariable) != nil, "runs only under socket activation"))
struct ListenFDsActivationProbe {
    @Test
    func reportWhatTheWorkerTakes() throws {
        let report = try #require(environmentValue(probeReportVariable))
        var lines: [String] = []
        let taken = try ListenFDs.take()
        lines.append("taken " + taken.descriptors.map { "\($0.fd) \($0.name)" }.joined(separator: ", "))
        for descriptor in taken.descriptors {
            let listening = ListenFDs.isListeningUnixStreamSocket(descriptor.fd) ? "listening-unix-stream" : "other"
            let cloexec = fcntl(descriptor.fd, F_GETFD) & FD_CLOEXEC != 0 ? "close-on-exec" : "inherited-on-exec"
            lines.append("\(descriptor.fd) \(listening) \(cloexec)")
        }
        for name in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
            lines.append("\(name) \(environmentValue(name) == nil ? "unset" : "set")")
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: report, atomically: true, encoding: .utf8)
    }
}
