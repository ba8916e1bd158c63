import ASTTestKit
import Foundation
import Glibc
import Synchronization
import Testing

@testable import ASTProcesses

/// Real children through the real spawn path. No `Reaper` runs in this process (it would take
/// other suites' children): every child is reaped by pid, and killed when a test ends.
@Suite struct SpawnerTests {
    @Test func childSeesItsOwnPidAndItsNamedDescriptors() async throws {
        let directory = try TemporaryDirectory(prefix: "ast-spawn")
        defer { directory.remove() }
        let children = Children()
        defer { children.killAll() }
        let bus = try listeningSocket(at: directory("bus.sock"))
        defer { close(bus) }
        let control = try listeningSocket(at: directory("control.sock"))
        defer { close(control) }

        let pid = try await Spawner().spawn(
            executable: shell, arguments: ["-c", #"echo "$LISTEN_PID $$ $LISTEN_FDS $LISTEN_FDNAMES" > "$OUT""#],
            environment: minimalPath.merging(["OUT": directory("out")]) { $1 },
            listenFDs: [(fd: bus, name: "bus"), (fd: control, name: "control")])
        children.track(pid)

        #expect(try await children.reap(pid).isSuccess)
        #expect(try await contents(of: directory("out")) == "\(pid) \(pid) 2 bus:control")
    }

    @Test func childAcceptsConnectionsOnDescriptor3() async throws {
        let directory = try TemporaryDirectory(prefix: "ast-spawn")
        defer { directory.remove() }
        let children = Children()
        defer { children.killAll() }
        let bus = try listeningSocket(at: directory("bus.sock"))
        defer { close(bus) }
        let script = """
            import os, socket
            listener = socket.socket(fileno=3)
            with open(os.environ["OUT"], "w") as out:
                out.write(str(listener.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)))
            connection, _ = listener.accept()
            connection.sendall(b"accepted by the child")
            connection.close()
            """

        let pid = try await Spawner().spawn(
            executable: python, arguments: ["-c", script],
            environment: minimalPath.merging(["OUT": directory("out")]) { $1 },
            listenFDs: [(fd: bus, name: "bus")])
        children.track(pid)

        // The parent's socket was listening all along: a peer can connect at any time.
        #expect(try connectAndRead(directory("bus.sock")) == "accepted by the child")
        #expect(try await contents(of: directory("out")) == "1")
        #expect(try await children.reap(pid).isSuccess)
    }

    @Test func parentsManagerVariablesNeverReachTheChild() async throws {
        let directory = try TemporaryDirectory(prefix: "ast-spawn")
        defer { directory.remove() }
        let children = Children()
        defer { children.killAll() }
        let inherited = minimalPath.merging([
            "NOTIFY_SOCKET": "/parent/notify.sock", "WATCHDOG_USEC": "1", "WATCHDOG_PID": "1",
            "LISTEN_FDS": "7", "LISTEN_PID": "1", "LISTEN_FDNAMES": "parent", "KEPT": "kept",
        ]) { $1 }

        let bare = try await Spawner().spawn(
            executable: shell, arguments: ["-c", #"env > "$OUT""#],
            environment: inherited.merging(["OUT": directory("bare")]) { $1 })
        children.track(bare)
        let managed = try await Spawner().spawn(
            executable: shell, arguments: ["-c", #"env > "$OUT""#],
            environment: inherited.merging(["OUT": directory("managed")]) { $1 },
            notifySocket: "/child/notify.sock", watchdog: .milliseconds(1500))
        children.track(managed)
        #expect(try await children.reap(bare).isSuccess)
        #expect(try await children.reap(managed).isSuccess)

        let bareEnvironment = try await environment(in: directory("bare"))
        #expect(bareEnvironment["KEPT"] == "kept")
        for key in ChildEnvironment.managedKeys {
            #expect(bareEnvironment[key] == nil, "\(key) leaked into the child")
        }
        let managedEnvironment = try await environment(in: directory("managed"))
        #expect(managedEnvironment["NOTIFY_SOCKET"] == "/child/notify.sock")
        #expect(managedEnvironment["WATCHDOG_USEC"] == "1500000")
        #expect(managedEnvironment["WATCHDOG_PID"] == "\(managed)")
        #expect(managedEnvironment["LISTEN_FDS"] == nil)
        #expect(managedEnvironment["LISTEN_PID"] == nil)
        #expect(managedEnvironment["LISTEN_FDNAMES"] == nil)
    }

    @Test func onlyStandardAndPassedDescriptorsReachTheChild() async throws {
        let directory = try TemporaryDirectory(prefix: "ast-spawn")
        defer { directory.remove() }
        let children = Children()
        defer { children.killAll() }
        let bus = try listeningSocket(at: directory("bus.sock"))
        defer { close(bus) }
        // Deliberately without O_CLOEXEC: the spawn path must close these itself.
        let leaky = open("/dev/null", O_RDONLY)
        defer { close(leaky) }
        var leakyPipe: [Int32] = [-1, -1]
        #expect(pipe(&leakyPipe) == 0)
        defer { leakyPipe.forEach { close($0) } }

        let pid = try await Spawner().spawn(
            executable: shell, arguments: ["-c", #"ls -l /proc/self/fd > "$OUT""#],
            environment: minimalPath.merging(["OUT": directory("fds")]) { $1 },
            listenFDs: [(fd: bus, name: "bus")])
        children.track(pid)
        #expect(try await children.reap(pid).isSuccess)

        // `ls -l` lines end in "<fd> -> <target>".
        var targets: [Int: String] = [:]
        for line in try await contents(of: directory("fds")).split(separator: "\n") {
            let words = line.split(separator: " ")
            guard let arrow = words.firstIndex(of: "->"), arrow > 0, let fd = Int(words[arrow - 1]) else { continue }
            targets[fd] = words[(arrow + 1)...].joined(separator: " ")
        }
        #expect(targets[3]?.hasPrefix("socket:") == true)
        let unexpected = targets.filter { fd, target in fd > 3 && !target.hasPrefix("/proc/") }
        #expect(unexpected.isEmpty, "descriptors leaked into the child: \(unexpected)")
        // Besides 0-3, at most the directory ls itself is reading.
        #expect(targets.keys.filter { $0 > 3 }.count <= 1)
    }

    /// Passed descriptors whose numbers lie inside the target range 3, 4, ... (in reverse order,
    /// one twice) still arrive in order: a naive dup2 loop would overwrite one with another.
    @Test func descriptorsInsideTheTargetRangeArriveInOrder() async throws {
        let directory = try TemporaryDirectory(prefix: "ast-spawn")
        defer { directory.remove() }
        let children = Children()
        defer { children.killAll() }
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        for _ in 0..<4 {
            var pair: [Int32] = [-1, -1]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0)
            sockets += pair
        }
        var passed = Array(sockets.reversed()) + [sockets[0]]
        // Enough entries that every passed descriptor's own number is one of the targets.
        let highest = Int(sockets.max()!)
        try #require(highest - 2 <= SpawnRequest.maximumListenFDs, "this process has too many descriptors open")
        while passed.count < highest - 2 { passed.append(sockets[passed.count % sockets.count]) }

        let pid = try await Spawner().spawn(
            executable: shell, arguments: ["-c", #"ls -l /proc/self/fd > "$OUT""#],
            environment: minimalPath.merging(["OUT": directory("fds")]) { $1 },
            listenFDs: passed.enumerated().map { (fd: $1, name: "s\($0)") })
        children.track(pid)
        #expect(try await children.reap(pid).isSuccess)

        var targets: [Int: String] = [:]
        for line in try await contents(of: directory("fds")).split(separator: "\n") {
            let words = line.split(separator: " ")
            guard let arrow = words.firstIndex(of: "->"), arrow > 0, let fd = Int(words[arrow - 1]) else { continue }
            targets[fd] = words[(arrow + 1)...].joined(separator: " ")
        }
        for (index, fd) in passed.enumerated() {
            var status = stat()
            #expect(fstat(fd, &status) == 0)
            #expect(targets[3 + index] == "socket:[\(status.st_ino)]", "descriptor \(3 + index)")
        }
    }

    @Test func aChildCanLeadItsOwnProcessGroup() async throws {
        let directory = try TemporaryDirectory(prefix: "ast-spawn")
        defer { directory.remove() }
        let children = Children()
        defer { children.killAll() }
        // Field 5 of /proc/<pid>/stat is the process group; `cut` runs in the shell's group.
        let script = #"cut -d" " -f5 /proc/self/stat > "$OUT""#

        let leader = try await Spawner().spawn(
            executable: shell, arguments: ["-c", script],
            environment: minimalPath.merging(["OUT": directory("leader")]) { $1 }, newProcessGroup: true)
        children.track(leader)
        let member = try await Spawner().spawn(
            executable: shell, arguments: ["-c", script],
            environment: minimalPath.merging(["OUT": directory("member")]) { $1 })
        children.track(member)
        #expect(try await children.reap(leader).isSuccess)
        #expect(try await children.reap(member).isSuccess)

        #expect(try await contents(of: directory("leader")) == "\(leader)")
        #expect(try await contents(of: directory("member")) == "\(getpgrp())")
    }

    @Test(arguments: [
        ("/nonexistent/ast-worker", ENOENT),
        ("not-executable", EACCES),
    ])
    func execFailureThrowsTheErrnoAndLeavesNoZombie(executable: String, expected: Int32) async throws {
        let directory = try TemporaryDirectory(prefix: "ast-spawn")
        defer { directory.remove() }
        var path = executable
        if !executable.hasPrefix("/") {
            path = directory(executable)
            #expect(
                FileManager.default.createFile(atPath: path, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o644]))
        }

        await #expect(throws: SpawnError.execFailed(executable: path, errno: expected)) {
            _ = try await Spawner().spawn(executable: path, environment: [:])
        }

        // The same path, one level down, to learn the pid of the child that could not exec.
        let prepared = try PreparedSpawn(SpawnRequest(executable: path))
        let outcome = try await SpawnThread.shared.get().perform { prepared.launch() }
        guard case .failed(_, let code, let failedPID) = outcome else {
            Issue.record("expected a failed launch, got \(outcome)")
            return
        }
        #expect(code == expected)
        #expect(failedPID > 0)
        // Not even a zombie: ast_spawn reaped it before returning.
        #expect(kill(failedPID, 0) == -1 && errno == ESRCH)
    }

    @Test func requestsThatCannotBePassedAreRefusedBeforeFork() async throws {
        // A number no test has open (a just-closed one could be reused by a parallel test).
        let closedFD: Int32 = 999_999
        let cases: [(SpawnRequest, SpawnError)] = [
            (SpawnRequest(executable: "sh"), .invalidExecutable("sh")),
            (SpawnRequest(executable: shell, arguments: ["a\0b"]), .invalidArgument("a\0b")),
            (
                SpawnRequest(executable: shell, environment: ["A=B": "1"]),
                .invalidEnvironment(key: "A=B", reason: "a variable name must be non-empty, without '=' or NUL")
            ),
            (
                SpawnRequest(executable: shell, listenFDs: [PassedDescriptor(fd: 0, name: "a:b")]),
                .invalidDescriptorName("a:b", reason: "':' separates names in LISTEN_FDNAMES")
            ),
            (
                SpawnRequest(executable: shell, listenFDs: [PassedDescriptor(fd: 0, name: "")]),
                .invalidDescriptorName("", reason: "a descriptor name must not be empty")
            ),
            (
                SpawnRequest(executable: shell, listenFDs: [PassedDescriptor(fd: closedFD, name: "bus")]),
                .descriptorNotOpen(fd: closedFD, name: "bus")
            ),
            (SpawnRequest(executable: shell, watchdog: .zero), .invalidWatchdog(.zero)),
        ]
        for (request, expected) in cases {
            await #expect(throws: expected) { _ = try await Spawner().spawn(request) }
        }
    }

    @Test func childHasParentDeathSignalSIGKILL() async throws {
        let directory = try TemporaryDirectory(prefix: "ast-spawn")
        defer { directory.remove() }
        let children = Children()
        defer { children.killAll() }
        let script = """
            import ctypes, os
            libc = ctypes.CDLL(None, use_errno=True)
            signal = ctypes.c_int(-1)
            PR_GET_PDEATHSIG = 2
            if libc.prctl(PR_GET_PDEATHSIG, ctypes.byref(signal), 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl")
            with open(os.environ["OUT"], "w") as out:
                out.write(str(signal.value))
            """

        let pid = try await Spawner().spawn(
            executable: python, arguments: ["-c", script],
            environment: minimalPath.merging(["OUT": directory("out")]) { $1 })
        children.track(pid)

        #expect(try await children.reap(pid).isSuccess)
        #expect(try await contents(of: directory("out")) == "\(SIGKILL)")
    }

    /// The reason `SpawnThread` exists: PR_SET_PDEATHSIG follows the forking thread. A child
    /// forked on a thread that then exits is killed at once, although its parent process lives.
    @Test func childForkedOnAShortLivedThreadDiesWithThatThread() async throws {
        let children = Children()
        defer { children.killAll() }
        let request = SpawnRequest(executable: "/bin/sleep", arguments: ["30"])

        let outcome = Shared<LaunchOutcome?>(nil)
        let thread = Thread { outcome.set(try? Spawner.launchOnCurrentThread(request)) }
        thread.start()
        try await eventually("the short-lived thread to finish") { thread.isFinished }
        guard case .launched(let pid)? = outcome.get() else {
            Issue.record("launch failed: \(String(describing: outcome.get()))")
            return
        }
        children.track(pid)

        let exit = try await children.reap(pid, timeout: .seconds(10))
        #expect(exit.termination == .signaled(signal: SIGKILL, coreDumped: false))
    }

    /// The same request through `Spawner`, asked for from a thread that then exits: the fork
    /// happened on the spawn thread, so the child lives on. The calling thread runs the request's
    /// task itself (a task executor confined to it), so the test does not wait for a thread of the
    /// shared pool, which the rest of the suite keeps busy on a loaded machine (it once waited 30 s).
    @Test func childSpawnedThroughTheSpawnThreadOutlivesTheCallingThread() async throws {
        let children = Children()
        defer { children.killAll() }
        // Longer than any wait of this test for a thread of the shared pool (it once waited 35 s):
        // the child must still be there because nothing killed it, not because it had time left.
        let request = SpawnRequest(executable: "/bin/sleep", arguments: ["3600"])

        let spawned = Shared<Result<Int32, SpawnError>?>(nil)
        let thread = Thread {
            let executor = CallingThreadExecutor()
            Task(executorPreference: executor) {
                let result: Result<Int32, SpawnError>
                do throws(SpawnError) { result = .success(try await Spawner().spawn(request)) } catch { result = .failure(error) }
                spawned.set(result)
                executor.finish()
            }
            executor.runUntilFinished()
        }
        thread.start()
        try await eventually(timeout: .seconds(120), "the calling thread to finish") { thread.isFinished }
        let pid = try #require(try spawned.get()?.get())
        children.track(pid)

        try await Task.sleep(for: .milliseconds(300))
        #expect(children.isRunning(pid))
    }

    private func environment(in path: String) async throws -> [String: String] {
        var variables: [String: String] = [:]
        for line in try await contents(of: path).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            variables[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return variables
    }
}

/// Runs the jobs of tasks that prefer it on the one thread that calls `runUntilFinished`.
final class CallingThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let jobs = Mutex<(queue: [UnownedJob], finished: Bool)>(([], false))
    private let wakeup = DispatchSemaphore(value: 0)

    func enqueue(_ job: UnownedJob) {
        jobs.withLock { $0.queue.append(job) }
        wakeup.signal()
    }

    /// Ends `runUntilFinished` once the jobs queued so far have run.
    func finish() {
        jobs.withLock { $0.finished = true }
        wakeup.signal()
    }

    func runUntilFinished() {
        while true {
            wakeup.wait()
            let (job, finished) = jobs.withLock { state -> (UnownedJob?, Bool) in
                state.queue.isEmpty ? (nil, state.finished) : (state.queue.removeFirst(), false)
            }
            if let job { job.runSynchronously(on: asUnownedTaskExecutor()) } else if finished { return }
        }
    }
}
