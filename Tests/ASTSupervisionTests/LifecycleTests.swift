import ASTCore
import ASTSupervision
import Testing

@Suite struct StartAndStatusTests {
    @Test func startLaunchesEveryChildInStartOrderOnce() throws {
        var rig = try Rig(["marketdata", "risk", "broker@paper"])
        #expect(rig.sup.children.map(\.state) == [.stopped(nil), .stopped(nil), .stopped(nil)])
        #expect(rig.start() == [.start(id("marketdata")), .start(id("risk")), .start(id("broker@paper"))])
        #expect(rig.sup.children.map(\.state) == [.starting, .starting, .starting])
        #expect(rig.start() == [])
    }

    @Test func spawnedAndReadyAreReportedOnceWithThePid() throws {
        var rig = try Rig(["risk"])
        _ = rig.start()
        #expect(rig.spawn("risk") == [rig.event(.spawned, "risk", pid: 1001)])
        #expect(rig.state("risk") == .running(pid: 1001, since: t0))
        #expect(rig.status("risk").readySince == nil)
        rig.advance(.milliseconds(50))
        #expect(rig.ready("risk") == [rig.event(.ready, "risk", pid: 1001)])
        #expect(rig.status("risk").readySince == t0.advanced(by: .milliseconds(50)))
        rig.advance(.milliseconds(50))
        #expect(rig.ready("risk") == [])
        #expect(rig.status("risk").readySince == t0.advanced(by: .milliseconds(50)))
    }

    @Test func allPermanentReadyWaitsForEveryPermanentChildOnly() throws {
        var rig = try Rig([child("risk"), child("report", .temporary), child("broker@paper")])
        #expect(!rig.sup.allPermanentReady)
        rig.spawnStarted(rig.start())
        #expect(!rig.sup.allPermanentReady)
        _ = rig.ready("risk")
        #expect(!rig.sup.allPermanentReady)
        _ = rig.ready("broker@paper")
        #expect(rig.sup.allPermanentReady)
        _ = rig.exit("risk")
        #expect(!rig.sup.allPermanentReady)
    }

    @Test func inputsAboutUnknownPidsAreIgnored() throws {
        var rig = try Rig(["risk"])
        rig.boot()
        #expect(rig.sup.exited(pid: 4242, reason: .exited(code: 1), now: rig.now) == [])
        #expect(rig.sup.ready(pid: 4242, now: rig.now) == [])
        #expect(rig.sup.watchdogMissed(pid: 4242, now: rig.now) == [])
        #expect(rig.sup.spawned(id("nobody"), pid: 4243, now: rig.now) == [])
        #expect(rig.sup.spawnFailed(id("nobody"), error: "x", now: rig.now) == [])
        #expect(rig.state("risk") == .running(pid: 1001, since: t0))
    }

    @Test func aSpawnNobodyAskedForIsStoppedAndNotTracked() throws {
        var rig = try Rig(["risk"])
        rig.boot()
        #expect(rig.sup.spawned(id("risk"), pid: 5000, now: rig.now) == [.stop(id("risk"), pid: 5000)])
        #expect(rig.sup.spawned(id("risk"), pid: 1001, now: rig.now) == [], "a repeated report of the same spawn")
        #expect(rig.state("risk") == .running(pid: 1001, since: t0))
        #expect(rig.sup.exited(pid: 5000, reason: .signaled(signal: 15), now: rig.now) == [])
        #expect(rig.sup.spawnFailed(id("risk"), error: "late", now: rig.now) == [])
    }
}

@Suite struct RestartTypeTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var restart: RestartType
        var exit: ExitReason
        /// `nil` when the child is restarted; otherwise the state it stays in.
        var staysDown: ChildState?
        var testDescription: String { "\(restart) \(exit)" }
    }

    static let cases: [Case] = [
        Case(restart: .permanent, exit: .exited(code: 0), staysDown: nil),
        Case(restart: .permanent, exit: .exited(code: 1), staysDown: nil),
        Case(restart: .permanent, exit: .signaled(signal: 9), staysDown: nil),
        Case(restart: .transient, exit: .exited(code: 0), staysDown: .stopped(.exited(code: 0))),
        Case(restart: .transient, exit: .exited(code: 3), staysDown: nil),
        Case(restart: .transient, exit: .signaled(signal: 11), staysDown: nil),
        Case(restart: .temporary, exit: .exited(code: 0), staysDown: .stopped(.exited(code: 0))),
        Case(restart: .temporary, exit: .exited(code: 1), staysDown: .failed(.exited(code: 1))),
        Case(restart: .temporary, exit: .signaled(signal: 9), staysDown: .failed(.signaled(signal: 9))),
    ]

    @Test(arguments: cases)
    func restartDependsOnTheRestartTypeAndTheExit(_ c: Case) throws {
        var rig = try Rig([child("job", c.restart)])
        rig.boot()
        rig.advance(.seconds(1))
        let actions = rig.exit("job", c.exit)
        let due = rig.now.advanced(by: .milliseconds(100))
        if let staysDown = c.staysDown {
            #expect(actions.scheduled == [])
            #expect(rig.state("job") == staysDown)
            rig.advance(.seconds(60))
            #expect(rig.tick() == [])
            #expect(rig.state("job") == staysDown)
        } else {
            #expect(actions.scheduled == [.restartScheduled(id("job"), at: due, attempt: 1)])
            #expect(rig.state("job") == .waitingToRestart(until: due))
            rig.advance(.milliseconds(100))
            #expect(
                rig.tick() == [
                    rig.event(.restarted, "job", reason: "job@main \(c.exit)", restarts: 1), .start(id("job")),
                ])
            #expect(rig.state("job") == .starting)
        }
        #expect(rig.status("job").lastExit == c.exit)
        #expect(rig.status("job").lastExitAt == due.advanced(by: .milliseconds(-100)))
    }

    @Test(arguments: [
        (RestartType.permanent, ExitReason.exited(code: 0), true),
        (.permanent, .exited(code: 2), true),
        (.transient, .exited(code: 0), false),
        (.transient, .exited(code: 2), true),
        (.temporary, .exited(code: 0), false),
        (.temporary, .signaled(signal: 9), true),
    ])
    func crashImpactIsReportedWhenAChildIsDownUnexpectedly(_ restart: RestartType, _ exit: ExitReason, _ impact: Bool) throws {
        var rig = try Rig([child("broker@paper", restart, onCrash: .reduce)])
        rig.boot()
        let pid = rig.pid("broker@paper")
        var code: Int32?, signal: Int32?
        if case .exited(let c) = exit { code = c }
        if case .signaled(let s) = exit { signal = s }
        #expect(
            rig.exit("broker@paper", exit).first
                == rig.event(
                    .exited, "broker@paper", pid: pid, reason: exit.description, exitCode: code, signal: signal,
                    onCrash: impact ? .reduce : nil))
    }

    @Test func aFailedSpawnIsAnAbnormalExit() throws {
        var rig = try Rig([child("broker@paper", .transient), child("report", .temporary)])
        _ = rig.start()
        #expect(
            rig.sup.spawnFailed(id("broker@paper"), error: "No such file or directory", now: rig.now) == [
                rig.event(.exited, "broker@paper", reason: "could not be spawned: No such file or directory", onCrash: .halt),
                .restartScheduled(id("broker@paper"), at: rig.now.advanced(by: .milliseconds(100)), attempt: 1),
            ])
        _ = rig.sup.spawnFailed(id("report"), error: "EACCES", now: rig.now)
        #expect(rig.state("report") == .failed(.spawnFailed(error: "EACCES")))
    }
}

@Suite struct BackoffTests {
    @Test func backoffDoublesForEachConsecutiveCrashUpToTheMaximum() throws {
        var rig = try Rig(["risk"], SupervisorPolicy(intensity: 100, restartBackoff: .milliseconds(100), restartBackoffMax: .seconds(1)))
        rig.boot()
        var delays: [Duration] = []
        for attempt in 1...7 {
            rig.advance(.seconds(1))
            let actions = rig.exit("risk")
            guard case .restartScheduled(_, let at, let n)? = actions.scheduled.first else {
                Issue.record("no restart scheduled: \(actions)")
                return
            }
            #expect(n == attempt)
            delays.append(at.duration(since: rig.now))
            rig.now = at
            rig.spawnStarted(rig.tick())
        }
        #expect(delays == [100, 200, 400, 800, 1000, 1000, 1000].map { .milliseconds($0) })
    }

    @Test(arguments: [
        (Duration.seconds(30), 1, Duration.milliseconds(100)),
        (.seconds(30) - .nanoseconds(1), 4, .milliseconds(800)),
    ])
    func backoffStartsOverOnceTheChildStayedUpForThePeriod(uptime: Duration, attempt: Int, delay: Duration) throws {
        var rig = try Rig(["risk"], SupervisorPolicy(intensity: 10))
        rig.boot()
        for _ in 1...3 {
            rig.advance(.seconds(1))
            _ = rig.exit("risk")
            rig.advance(.seconds(1))
            rig.spawnStarted(rig.tick())
        }
        rig.advance(uptime)
        #expect(rig.exit("risk").scheduled == [.restartScheduled(id("risk"), at: rig.now.advanced(by: delay), attempt: attempt)])
    }

    @Test func restartHappensAtItsDueTimeAndNotBefore() throws {
        var rig = try Rig(["risk"])
        rig.boot()
        _ = rig.exit("risk")
        rig.advance(.milliseconds(100) - .nanoseconds(1))
        #expect(rig.tick() == [])
        rig.advance(.nanoseconds(1))
        #expect(rig.tick().starts == [id("risk")])
        #expect(rig.tick() == [])
    }

    @Test func anyLaterInputPerformsRestartsThatAreDue() throws {
        var rig = try Rig(["risk", "broker@paper"])
        let started = rig.start()
        rig.spawnStarted(started)
        _ = rig.ready("risk")
        _ = rig.exit("risk")
        rig.advance(.milliseconds(150))
        #expect(
            rig.ready("broker@paper") == [
                rig.event(.ready, "broker@paper", pid: 1002),
                rig.event(.restarted, "risk", reason: "risk@main exited with code 1", restarts: 1),
                .start(id("risk")),
            ])
    }

    @Test func zeroBackoffRestartsInTheSameStep() throws {
        var rig = try Rig(["risk"], SupervisorPolicy(restartBackoff: .zero, restartBackoffMax: .zero))
        rig.boot()
        #expect(
            rig.exit("risk", .signaled(signal: 9)) == [
                rig.event(.exited, "risk", pid: 1001, reason: "killed by signal 9 (SIGKILL)", signal: 9, onCrash: .halt),
                .restartScheduled(id("risk"), at: rig.now, attempt: 1),
                rig.event(.restarted, "risk", reason: "risk@main killed by signal 9 (SIGKILL)", restarts: 1),
                .start(id("risk")),
            ])
        rig.spawnStarted([.start(id("risk"))])
        #expect(rig.status("risk").restarts == 1)
        #expect(rig.exit("risk").events.last?.restarts == 2)
        #expect(rig.status("risk").restarts == 2)
    }
}

@Suite struct IntensityTests {
    static let instant = SupervisorPolicy(intensity: 5, period: .seconds(30), restartBackoff: .zero, restartBackoffMax: .zero)

    @Test(arguments: [0, 1, 2, 5])
    func restartNumberIntensityPlusOneWithinThePeriodGivesUp(intensity: Int) throws {
        var policy = Self.instant
        policy.intensity = intensity
        var rig = try Rig(["risk"], policy)
        rig.boot()
        for _ in 0..<intensity {
            rig.advance(.seconds(1))
            let actions = rig.exit("risk")
            #expect(!actions.gaveUp)
            rig.spawnStarted(actions)
        }
        rig.advance(.seconds(1))
        let reason = "risk@main exited with code 1: restart \(intensity + 1) within 30 s would exceed the intensity of \(intensity)"
        #expect(
            rig.exit("risk") == [
                rig.event(
                    .exited, "risk", pid: rig.lastPid, reason: "exited with code 1", exitCode: 1, onCrash: .halt, restarts: intensity),
                rig.event(.gaveUp, nil, reason: reason, restarts: intensity + 1),
                .giveUp(reason: reason),
            ])
        #expect(rig.sup.hasGivenUp)
        #expect(rig.sup.isFinished)
        #expect(rig.state("risk") == .failed(.exited(code: 1)))
    }

    @Test(arguments: [
        (Duration.seconds(10), true),
        (.seconds(10) + .nanoseconds(1), false),
    ])
    func restartsOlderThanThePeriodFallOutOfTheWindow(thirdCrashAt: Duration, givesUp: Bool) throws {
        var rig = try Rig(["risk"], SupervisorPolicy(intensity: 2, period: .seconds(10), restartBackoff: .zero, restartBackoffMax: .zero))
        rig.boot()
        for at in [Duration.zero, .seconds(5)] {
            rig.now = t0.advanced(by: at)
            rig.spawnStarted(rig.exit("risk"))
        }
        rig.now = t0.advanced(by: thirdCrashAt)
        #expect(rig.exit("risk").gaveUp == givesUp)
        #expect(rig.sup.hasGivenUp == givesUp)
    }

    @Test func exitsThatAreNotRestartedDoNotCount() throws {
        var rig = try Rig(
            [child("risk"), child("job", .transient), child("report", .temporary)],
            SupervisorPolicy(intensity: 1))
        rig.boot()
        _ = rig.exit("job", .exited(code: 0))
        _ = rig.exit("report", .signaled(signal: 9))
        #expect(!rig.exit("risk").gaveUp)
    }

    @Test func givingUpStopsRunningChildrenInReverseStartOrderOneAtATime() throws {
        var rig = try Rig(["a", "b", "c", "d"], SupervisorPolicy(intensity: 0))
        rig.boot()
        let pids = ["a", "b", "c", "d"].map { rig.pid($0)! }
        let reason = "b@main exited with code 1: restart 1 within 30 s would exceed the intensity of 0"
        #expect(
            rig.exit("b") == [
                rig.event(.exited, "b", pid: pids[1], reason: "exited with code 1", exitCode: 1, onCrash: .halt),
                rig.event(.gaveUp, nil, reason: reason, restarts: 1),
                .giveUp(reason: reason),
                .stop(id("d"), pid: pids[3]),
            ])
        #expect(
            rig.exit("d", .signaled(signal: 15)) == [
                rig.event(.stopped, "d", pid: pids[3], reason: "stopped by the supervisor", signal: 15),
                .stop(id("c"), pid: pids[2]),
            ])
        #expect(
            rig.exit("c", .stoppedBySupervisor) == [
                rig.event(.stopped, "c", pid: pids[2], reason: "stopped by the supervisor"),
                .stop(id("a"), pid: pids[0]),
            ])
        #expect(!rig.sup.isFinished)
        #expect(
            rig.exit("a", .exited(code: 0)) == [
                rig.event(.stopped, "a", pid: pids[0], reason: "stopped by the supervisor", exitCode: 0)
            ])
        #expect(rig.sup.isFinished)
        #expect(
            rig.sup.children.map(\.state) == [
                .stopped(.stoppedBySupervisor), .failed(.exited(code: 1)), .stopped(.stoppedBySupervisor), .stopped(.stoppedBySupervisor),
            ])
    }

    @Test func afterGivingUpOnlyExitsMatterAndNothingStarts() throws {
        var rig = try Rig(["a", "b", "c"], SupervisorPolicy(intensity: 0))
        rig.boot()
        let pidA = rig.pid("a")!
        #expect(rig.exit("b").stops == [id("c")])
        // a crashes on its own while c is being stopped: reported, never restarted.
        #expect(
            rig.exit("a") == [
                rig.event(.exited, "a", pid: pidA, reason: "exited with code 1", exitCode: 1, onCrash: .halt)
            ])
        rig.advance(.seconds(60))
        #expect(rig.tick() == [])
        #expect(rig.start() == [])
        #expect(rig.shutdown() == [])
        #expect(rig.ready("c") == [])
        #expect(rig.exit("c").starts == [])
        #expect(rig.sup.isFinished)
        #expect(!rig.sup.allPermanentReady)
    }

    @Test func givingUpWhileAChildIsStartingStopsItOnceSpawned() throws {
        var rig = try Rig(["a", "b"], SupervisorPolicy(intensity: 0))
        _ = rig.start()
        _ = rig.spawn("a")
        #expect(rig.exit("a").stops == [])
        #expect(!rig.sup.isFinished)
        #expect(rig.spawn("b") == [rig.event(.spawned, "b", pid: 1002), .stop(id("b"), pid: 1002)])
        _ = rig.exit("b", .signaled(signal: 15))
        #expect(rig.sup.isFinished)
    }
}
