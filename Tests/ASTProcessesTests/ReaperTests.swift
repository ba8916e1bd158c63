import ASTProcesses
import ASTTestKit
import Foundation
import Glibc
import Synchronization
import Testing

// A `Reaper` changes its whole process for good: it becomes a child subreaper, owns SIGCHLD and
// reaps with waitpid(-1), which would steal the exit statuses of children that other suites'
// tests start concurrently in this test process. So every test that starts a reaper runs its
// body in an exit test: a fresh child process of the test runner, where the reaper can do
// exactly what it does in astd. Children spawned there also carry PR_SET_PDEATHSIG, so none
// outlives that process even when a test fails half-way.

@Suite struct ReaperTests {
    @Test func reportsExitCodesAndKillingSignals() async {
        await #expect(processExitsWith: .success) { try await ReaperScenarios.exitCodesAndSignals() }
    }

    @Test func reapsOrphanedGrandchildrenAsSubreaper() async {
        await #expect(processExitsWith: .success) { try await ReaperScenarios.orphanedGrandchild() }
    }

    @Test func reapsChildrenThatEndedBeforeItStarted() async {
        await #expect(processExitsWith: .success) { try await ReaperScenarios.endedBeforeStart() }
    }

    @Test func aSecondReaperInTheSameProcessIsRefused() async {
        await #expect(processExitsWith: .success) { try ReaperScenarios.secondReaper() }
    }

    @Test func waitingForAnAlreadyReapedPidReturnsNotRunning() async {
        await #expect(processExitsWith: .success) { try await ReaperScenarios.waitAfterReaping() }
    }
}

@Suite struct SignalsTests {
    @Test func stopEndsAChildThatHonoursSIGTERM() async {
        await #expect(processExitsWith: .success) { try await ReaperScenarios.stopHonoured() }
    }

    @Test func stopKillsAChildThatIgnoresSIGTERM() async {
        await #expect(processExitsWith: .success) { try await ReaperScenarios.stopEscalates() }
    }

    @Test func stopForAMissedWatchdogStartsWithSIGABRT() async {
        await #expect(processExitsWith: .success) { try await ReaperScenarios.stopWithAbort() }
    }

    @Test func stopOfAProcessAlreadyGoneReportsNotRunning() async {
        await #expect(processExitsWith: .success) { try await ReaperScenarios.stopGone() }
    }

    @Test(arguments: [Int32(0), -1, -2])
    func signalsThatWouldReachMoreThanOneProcessAreRefused(pid: Int32) {
        #expect(throws: SignalError.refused(pid: pid, reason: "it is not a single process")) {
            try Signals.send(.kill, to: pid)
        }
    }

    @Test func theSupervisorNeverSignalsItself() {
        #expect(throws: SignalError.refused(pid: getpid(), reason: "it is the supervisor itself")) {
            try Signals.send(.terminate, to: getpid())
        }
    }
}

/// Collects a reaper's exits as they arrive (the stream has one consumer: this).
final class ExitLog: Sendable {
    private let seen = Mutex<[Int32: ProcessExit]>([:])

    init(_ reaper: Reaper) {
        Task { [self] in
            for await exit in reaper.exits { seen.withLock { $0[exit.pid] = exit } }
        }
    }

    func exit(of pid: Int32, timeout: Duration = .seconds(20)) async throws -> ProcessExit {
        var found: ProcessExit?
        try await eventually(timeout: timeout, every: .milliseconds(5), "the exit of pid \(pid)") {
            found = seen.withLock { $0[pid] }
            return found != nil
        }
        return found!
    }
}

/// Bodies of the exit tests above; each runs in its own process.
enum ReaperScenarios {
    static func exitCodesAndSignals() async throws {
        let reaper = try Reaper.start(logger: testLogger)
        let log = ExitLog(reaper)
        let spawner = Spawner()
        let zero = try await spawner.spawn(executable: shell, arguments: ["-c", "exit 0"], environment: minimalPath)
        let three = try await spawner.spawn(executable: shell, arguments: ["-c", "exit 3"], environment: minimalPath)
        let killed = try await spawner.spawn(executable: "/bin/sleep", arguments: ["30"], environment: minimalPath)
        defer { kill(killed, SIGKILL) }
        try Signals.send(.kill, to: killed)

        #expect(try await log.exit(of: zero) == ProcessExit(pid: zero, termination: .exited(code: 0)))
        #expect(try await log.exit(of: three) == ProcessExit(pid: three, termination: .exited(code: 3)))
        #expect(try await log.exit(of: killed) == ProcessExit(pid: killed, termination: .signaled(signal: SIGKILL, coreDumped: false)))
        #expect(try await log.exit(of: three).description == "pid \(three) exited with code 3")
        #expect(try await log.exit(of: killed).description == "pid \(killed) was killed by SIGKILL")
    }

    static func orphanedGrandchild() async throws {
        let directory = try TemporaryDirectory(prefix: "ast-reaper")
        defer { directory.remove() }
        let reaper = try Reaper.start(logger: testLogger)
        #expect(reaper.isSubreaper)
        let log = ExitLog(reaper)

        // The shell leaves its background sleep behind: re-parented to us, not to PID 1.
        let parent = try await Spawner().spawn(
            executable: shell, arguments: ["-c", #"sleep 0.3 & echo $! > "$OUT"; exit 0"#],
            environment: minimalPath.merging(["OUT": directory("grandchild")]) { $1 })
        defer { kill(parent, SIGKILL) }
        #expect(try await log.exit(of: parent).isSuccess)
        let grandchild = try #require(Int32(try await contents(of: directory("grandchild"))))
        defer { kill(grandchild, SIGKILL) }

        #expect(try await log.exit(of: grandchild) == ProcessExit(pid: grandchild, termination: .exited(code: 0)))
    }

    static func endedBeforeStart() async throws {
        let early = try await Spawner().spawn(executable: shell, arguments: ["-c", "exit 5"], environment: minimalPath)
        defer { kill(early, SIGKILL) }
        // Let it become a zombie whose SIGCHLD nobody handled.
        try await Task.sleep(for: .milliseconds(200))

        let reaper = try Reaper.start(logger: testLogger)
        let log = ExitLog(reaper)
        #expect(try await log.exit(of: early) == ProcessExit(pid: early, termination: .exited(code: 5)))
    }

    static func secondReaper() throws {
        _ = try Reaper.start(subreaper: false, logger: testLogger)
        #expect(throws: SystemCallError.self) { _ = try Reaper.start(logger: testLogger) }
    }

    static func waitAfterReaping() async throws {
        let reaper = try Reaper.start(logger: testLogger)
        let log = ExitLog(reaper)
        let pid = try await Spawner().spawn(executable: shell, arguments: ["-c", "exit 0"], environment: minimalPath)
        _ = try await log.exit(of: pid)
        #expect(await reaper.waitForExit(of: pid, timeout: .seconds(5)) == .notRunning)
    }

    static func stopHonoured() async throws {
        let reaper = try Reaper.start(logger: testLogger)
        let pid = try await Spawner().spawn(executable: "/bin/sleep", arguments: ["30"], environment: minimalPath)
        defer { kill(pid, SIGKILL) }

        let outcome = await Signals.stop(pid, reaper: reaper, gracePeriod: .seconds(10))

        #expect(outcome == .exited(ProcessExit(pid: pid, termination: .signaled(signal: SIGTERM, coreDumped: false))))
    }

    static func stopEscalates() async throws {
        let directory = try TemporaryDirectory(prefix: "ast-reaper")
        defer { directory.remove() }
        let reaper = try Reaper.start(logger: testLogger)
        // SIG_IGN survives exec: the sleep ignores SIGTERM. READY is written once the trap is set.
        let pid = try await Spawner().spawn(
            executable: shell, arguments: ["-c", #"trap "" TERM; echo ready > "$OUT"; exec sleep 30"#],
            environment: minimalPath.merging(["OUT": directory("ready")]) { $1 })
        defer { kill(pid, SIGKILL) }
        _ = try await contents(of: directory("ready"))

        let started = ContinuousClock.now
        let outcome = await Signals.stop(pid, reaper: reaper, gracePeriod: .milliseconds(300))

        #expect(outcome == .killed(ProcessExit(pid: pid, termination: .signaled(signal: SIGKILL, coreDumped: false))))
        #expect(ContinuousClock.now - started >= .milliseconds(300))
    }

    static func stopWithAbort() async throws {
        // No core file from the aborted sleep in the working directory.
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)
        let reaper = try Reaper.start(logger: testLogger)
        let pid = try await Spawner().spawn(executable: "/bin/sleep", arguments: ["30"], environment: minimalPath)
        defer { kill(pid, SIGKILL) }

        let outcome = await Signals.stop(pid, reaper: reaper, first: .abort, gracePeriod: .seconds(10))

        #expect(outcome == .exited(ProcessExit(pid: pid, termination: .signaled(signal: SIGABRT, coreDumped: false))))
    }

    static func stopGone() async throws {
        let reaper = try Reaper.start(logger: testLogger)
        let log = ExitLog(reaper)
        let pid = try await Spawner().spawn(executable: shell, arguments: ["-c", "exit 0"], environment: minimalPath)
        _ = try await log.exit(of: pid)

        #expect(await Signals.stop(pid, reaper: reaper, gracePeriod: .seconds(1)) == .notRunning)
        #expect(throws: SignalError.noSuchProcess(pid: pid)) { try Signals.send(.terminate, to: pid) }
    }
}
