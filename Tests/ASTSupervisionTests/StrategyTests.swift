import ASTCore
import ASTSupervision
import Testing

@Suite struct OneForOneTests {
    @Test func oneForOneRestartsOnlyTheCrashedChild() throws {
        var rig = try Rig(["a", "b", "c"])
        rig.boot()
        let pids = ["a", "b", "c"].map { rig.pid($0)! }
        #expect(
            rig.exit("b") == [
                rig.event(.exited, "b", pid: pids[1], reason: "exited with code 1", exitCode: 1, onCrash: .halt),
                .restartScheduled(id("b"), at: rig.now.advanced(by: .milliseconds(100)), attempt: 1),
            ])
        rig.advance(.milliseconds(100))
        #expect(rig.tick() == [rig.event(.restarted, "b", reason: "b@main exited with code 1", restarts: 1), .start(id("b"))])
        _ = rig.spawn("b")
        #expect(rig.pid("a") == pids[0])
        #expect(rig.pid("c") == pids[2])
        #expect(rig.sup.children.map(\.restarts) == [0, 1, 0])
    }

    @Test func crashesOfDifferentChildrenKeepTheirOwnSchedules() throws {
        var rig = try Rig(["a", "b"])
        rig.boot()
        _ = rig.exit("a")
        rig.advance(.milliseconds(50))
        _ = rig.exit("b")
        rig.advance(.milliseconds(50))
        #expect(rig.tick().starts == [id("a")])
        rig.advance(.milliseconds(49))
        #expect(rig.tick() == [])
        rig.advance(.milliseconds(1))
        #expect(rig.tick().starts == [id("b")])
    }
}

@Suite struct RestForOneTests {
    static let policy = SupervisorPolicy(strategy: .restForOne)

    @Test func crashStopsLaterChildrenInReverseOrderThenRestartsThemInStartOrder() throws {
        var rig = try Rig(["a", "b", "c", "d", "e"], Self.policy)
        rig.boot()
        let pid = Dictionary(uniqueKeysWithValues: ["a", "b", "c", "d", "e"].map { ($0, rig.pid($0)!) })
        let due = rig.now.advanced(by: .milliseconds(100))
        #expect(
            rig.exit("b") == [
                rig.event(.exited, "b", pid: pid["b"], reason: "exited with code 1", exitCode: 1, onCrash: .halt),
                .restartScheduled(id("b"), at: due, attempt: 1),
                .stop(id("e"), pid: pid["e"]!),
            ])
        #expect(
            rig.exit("e", .signaled(signal: 15)) == [
                rig.event(.stopped, "e", pid: pid["e"], reason: "stopped by the supervisor", signal: 15),
                .stop(id("d"), pid: pid["d"]!),
            ])
        #expect(
            rig.exit("d", .exited(code: 0)) == [
                rig.event(.stopped, "d", pid: pid["d"], reason: "stopped by the supervisor", exitCode: 0),
                .stop(id("c"), pid: pid["c"]!),
            ])
        #expect(
            rig.exit("c", .signaled(signal: 9)) == [
                rig.event(.stopped, "c", pid: pid["c"], reason: "stopped by the supervisor", signal: 9)
            ])
        #expect(
            rig.sup.children.map(\.state) == [
                .running(pid: pid["a"]!, since: t0),
                .waitingToRestart(until: due), .waitingToRestart(until: due), .waitingToRestart(until: due), .waitingToRestart(until: due),
            ])
        rig.advance(.milliseconds(100))
        let because = "rest_for_one after b@main exited with code 1"
        #expect(
            rig.tick() == [
                rig.event(.restarted, "b", reason: because, restarts: 1), .start(id("b")),
                rig.event(.restarted, "c", reason: because, restarts: 1), .start(id("c")),
                rig.event(.restarted, "d", reason: because, restarts: 1), .start(id("d")),
                rig.event(.restarted, "e", reason: because, restarts: 1), .start(id("e")),
            ])
        #expect(rig.pid("a") == pid["a"])
        #expect(
            rig.sup.children.map(\.lastExit) == [nil, .exited(code: 1), .stoppedBySupervisor, .stoppedBySupervisor, .stoppedBySupervisor])
    }

    @Test func anIncidentCountsAsOneRestartAgainstTheChildThatCrashed() throws {
        var policy = Self.policy
        policy.intensity = 1
        var rig = try Rig(["a", "b", "c", "d"], policy)
        rig.boot()
        var actions = rig.exit("a")
        while let stop = actions.stops.first {
            actions = rig.exit(stop.description, .signaled(signal: 15))
            #expect(!actions.gaveUp)
        }
        rig.advance(.milliseconds(100))
        rig.spawnStarted(rig.tick())
        #expect(!rig.sup.hasGivenUp)
        rig.advance(.seconds(1))
        actions = rig.exit("c")
        #expect(!actions.gaveUp, "the siblings a's incident restarted were not charged: c's first restart is within its budget")
        while let stop = actions.stops.first { actions = rig.exit(stop.description, .signaled(signal: 15)) }
        rig.advance(.milliseconds(100))
        rig.spawnStarted(rig.tick())
        rig.advance(.seconds(1))
        #expect(rig.exit("a").gaveUp, "a's second incident within the period is its restart number 2")
    }

    @Test func siblingsRestartAsSoonAsTheLastOneExitsAfterTheBackoff() throws {
        var rig = try Rig(["a", "b", "c"], Self.policy)
        rig.boot()
        #expect(rig.exit("b").stops == [id("c")])
        rig.advance(.milliseconds(200))
        #expect(rig.tick() == [], "c is still stopping")
        #expect(rig.exit("c", .signaled(signal: 9)).starts == ids("b", "c"))
    }

    @Test func crashOfTheLastChildRestartsOnlyIt() throws {
        var rig = try Rig(["a", "b", "c"], Self.policy)
        rig.boot()
        #expect(rig.exit("c").stops == [])
        rig.advance(.milliseconds(100))
        #expect(rig.tick().starts == [id("c")])
    }

    @Test func anEarlierCrashDuringAnIncidentWidensIt() throws {
        var rig = try Rig(["a", "b", "c", "d"], Self.policy)
        rig.boot()
        let crashAt = rig.now
        #expect(rig.exit("c").stops == [id("d")])
        rig.advance(.milliseconds(10))
        let due = crashAt.advanced(by: .milliseconds(110))
        #expect(
            rig.exit("a").filter { if case .report = $0 { false } else { true } } == [
                .restartScheduled(id("a"), at: due, attempt: 1)
            ], "d is still stopping: b waits its turn")
        #expect(rig.state("c") == .waitingToRestart(until: due))
        #expect(rig.exit("d").stops == [id("b")])
        #expect(rig.exit("b").stops == [])
        rig.now = due.advanced(by: .nanoseconds(-1))
        #expect(rig.tick() == [])
        rig.now = due
        #expect(rig.tick().starts == ids("a", "b", "c", "d"))
    }

    @Test func aSiblingCrashingOnItsOwnDuringAnIncidentIsPartOfIt() throws {
        var policy = Self.policy
        policy.intensity = 1
        var rig = try Rig(["a", "b", "c", "d"], policy)
        rig.boot()
        let pidC = rig.pid("c")
        #expect(rig.exit("b").stops == [id("d")])
        #expect(
            rig.exit("c", .exited(code: 2)) == [
                rig.event(.exited, "c", pid: pidC, reason: "exited with code 2", exitCode: 2, onCrash: .halt)
            ])
        #expect(rig.exit("d").stops == [], "c is already down")
        rig.advance(.milliseconds(100))
        #expect(rig.tick().starts == ids("b", "c", "d"))
        #expect(!rig.sup.hasGivenUp)
    }

    @Test(arguments: [
        (RestartType.temporary, ExitReason.exited(code: 1)),
        (.transient, .exited(code: 0)),
    ])
    func aCrashThatIsNotRestartedLeavesLaterSiblingsAlone(_ restart: RestartType, _ exit: ExitReason) throws {
        var rig = try Rig([child("a"), child("b", restart), child("c")], Self.policy)
        rig.boot()
        let pidC = rig.pid("c")
        #expect(rig.exit("b", exit).filter { if case .report = $0 { false } else { true } } == [])
        rig.advance(.seconds(10))
        #expect(rig.tick() == [])
        #expect(rig.pid("c") == pidC)
        #expect(rig.sup.allPermanentReady)
    }

    @Test func temporaryAndFinishedSiblingsDoNotComeBack() throws {
        var rig = try Rig([child("a"), child("b"), child("c", .temporary), child("d", .transient)], Self.policy)
        rig.boot()
        _ = rig.exit("d", .exited(code: 0))
        #expect(rig.exit("b").stops == [id("c")])
        #expect(rig.exit("c", .signaled(signal: 15)).stops == [])
        #expect(rig.state("c") == .stopped(.stoppedBySupervisor))
        rig.advance(.milliseconds(100))
        #expect(rig.tick().starts == [id("b")])
        #expect(rig.state("d") == .stopped(.exited(code: 0)))
    }

    @Test func aStartingSiblingIsStoppedOnceItIsSpawned() throws {
        var rig = try Rig(["a", "b", "c"], Self.policy)
        _ = rig.start()
        _ = rig.spawn("a")
        _ = rig.spawn("b")
        #expect(rig.exit("a").stops == [], "c has no pid yet and goes first")
        #expect(rig.spawn("c") == [rig.event(.spawned, "c", pid: 1003), .stop(id("c"), pid: 1003)])
        #expect(rig.exit("c", .signaled(signal: 15)).stops == [id("b")])
        #expect(rig.exit("b", .signaled(signal: 15)).stops == [])
        rig.advance(.milliseconds(100))
        #expect(rig.tick().starts == ids("a", "b", "c"))
    }

    @Test func aSiblingThatFailsToSpawnDuringAnIncidentIsRestartedWithIt() throws {
        var rig = try Rig(["a", "b", "c"], Self.policy)
        _ = rig.start()
        _ = rig.spawn("a")
        _ = rig.spawn("b")
        _ = rig.exit("a")
        #expect(rig.sup.spawnFailed(id("c"), error: "EAGAIN", now: rig.now).stops == [id("b")])
        _ = rig.exit("b", .signaled(signal: 15))
        rig.advance(.milliseconds(100))
        #expect(rig.tick().starts == ids("a", "b", "c"))
        #expect(!rig.sup.allPermanentReady)
    }
}

@Suite struct WatchdogTests {
    @Test func aMissedWatchdogAbortsTheChildAndItsExitCountsAsAWatchdogTimeout() throws {
        var rig = try Rig([child("broker@paper", .transient, onCrash: .reduce, watchdog: .seconds(1))])
        rig.boot()
        let pid = rig.pid("broker@paper")!
        rig.advance(.seconds(3))
        #expect(
            rig.watchdogMissed("broker@paper") == [
                rig.event(.watchdogTimeout, "broker@paper", pid: pid, reason: "missed its watchdog deadline", onCrash: .reduce),
                .abort(id("broker@paper"), pid: pid),
            ])
        #expect(rig.state("broker@paper") == .stopping(pid: pid))
        #expect(rig.watchdogMissed("broker@paper") == [], "already being killed")
        #expect(rig.ready("broker@paper") == [])
        rig.advance(.seconds(1))
        #expect(
            rig.exit("broker@paper", .signaled(signal: 9)) == [
                rig.event(.exited, "broker@paper", pid: pid, reason: "missed its watchdog deadline", signal: 9, onCrash: .reduce),
                .restartScheduled(id("broker@paper"), at: rig.now.advanced(by: .milliseconds(100)), attempt: 1),
            ])
        #expect(rig.status("broker@paper").lastExit == .watchdogTimeout)
    }

    @Test func aTemporaryChildKilledForItsWatchdogStaysFailed() throws {
        var rig = try Rig([child("report", .temporary, watchdog: .seconds(1))])
        rig.boot()
        _ = rig.watchdogMissed("report")
        #expect(rig.exit("report", .signaled(signal: 6)).scheduled == [])
        #expect(rig.state("report") == .failed(.watchdogTimeout))
    }

    @Test func aHungChildIsAbortedEvenDuringShutdown() throws {
        var rig = try Rig(["a", "b"])
        rig.boot()
        let pidA = rig.pid("a")!
        #expect(rig.shutdown().stops == [id("b")])
        #expect(rig.watchdogMissed("a").last == .abort(id("a"), pid: pidA))
        #expect(rig.exit("b", .signaled(signal: 15)).stops == [], "a is already being killed")
        #expect(
            rig.exit("a", .signaled(signal: 9)) == [
                rig.event(.exited, "a", pid: pidA, reason: "missed its watchdog deadline", signal: 9, onCrash: .halt)
            ])
        #expect(rig.sup.isFinished)
    }
}

@Suite struct ShutdownTests {
    @Test func shutdownStopsChildrenInReverseStartOrderOneAtATime() throws {
        var rig = try Rig(["a", "b", "c"])
        rig.boot()
        let pids = ["a", "b", "c"].map { rig.pid($0)! }
        #expect(rig.shutdown() == [.stop(id("c"), pid: pids[2])])
        #expect(
            rig.exit("c", .signaled(signal: 15)) == [
                rig.event(.stopped, "c", pid: pids[2], reason: "stopped by the supervisor", signal: 15), .stop(id("b"), pid: pids[1]),
            ])
        #expect(rig.exit("b", .exited(code: 0)).stops == [id("a")])
        #expect(!rig.sup.isFinished)
        #expect(rig.exit("a", .signaled(signal: 9)).stops == [])
        #expect(rig.sup.isFinished)
        #expect(!rig.sup.hasGivenUp)
        #expect(!rig.sup.allPermanentReady)
        #expect(rig.sup.children.map(\.state) == Array(repeating: .stopped(.stoppedBySupervisor), count: 3))
    }

    @Test func nothingIsRestartedDuringShutdownAndExitsAreExpected() throws {
        var rig = try Rig(["a", "b", "c"])
        rig.boot()
        _ = rig.exit("a")
        #expect(rig.shutdown().stops == [id("c")])
        #expect(rig.state("a") == .failed(.exited(code: 1)), "its pending restart is cancelled")
        let pidB = rig.pid("b")
        #expect(
            rig.exit("b", .exited(code: 0)) == [
                rig.event(.exited, "b", pid: pidB, reason: "exited with code 0", exitCode: 0, onCrash: .halt)
            ])
        rig.advance(.seconds(10))
        #expect(rig.tick() == [])
        #expect(rig.exit("c", .signaled(signal: 15)).starts == [])
        #expect(rig.sup.isFinished)
    }

    @Test func shutdownWaitsForAStartingChildAndStopsItOnceSpawned() throws {
        var rig = try Rig(["a", "b"])
        _ = rig.start()
        _ = rig.spawn("a")
        #expect(rig.shutdown() == [], "b has no pid yet and goes first")
        #expect(rig.spawn("b") == [rig.event(.spawned, "b", pid: 1002), .stop(id("b"), pid: 1002)])
        #expect(rig.exit("b", .signaled(signal: 15)).stops == [id("a")])
        _ = rig.exit("a", .signaled(signal: 15))
        #expect(rig.sup.isFinished)
    }

    @Test func shutdownOfAChildThatFailsToSpawnFinishes() throws {
        var rig = try Rig(["a"])
        _ = rig.start()
        #expect(rig.shutdown() == [])
        #expect(rig.sup.spawnFailed(id("a"), error: "ENOENT", now: rig.now).filter { if case .report = $0 { false } else { true } } == [])
        #expect(rig.sup.isFinished)
    }

    @Test func shutdownBeforeStartFinishesAtOnceAndRefusesToStart() throws {
        var rig = try Rig(["a"])
        #expect(rig.shutdown() == [])
        #expect(rig.sup.isFinished)
        #expect(rig.start() == [])
    }

    @Test func shutdownTwiceDoesNothingMore() throws {
        var rig = try Rig(["a", "b"])
        rig.boot()
        #expect(rig.shutdown().stops == [id("b")])
        #expect(rig.shutdown() == [])
    }

    @Test func shutdownCancelsARestForOneIncident() throws {
        var rig = try Rig(["a", "b", "c"], SupervisorPolicy(strategy: .restForOne))
        rig.boot()
        #expect(rig.exit("a").stops == [id("c")])
        #expect(rig.shutdown() == [], "c is already stopping")
        #expect(rig.exit("c", .signaled(signal: 15)).stops == [id("b")])
        #expect(rig.exit("b", .signaled(signal: 15)).stops == [])
        rig.advance(.seconds(1))
        #expect(rig.tick() == [])
        #expect(rig.sup.isFinished)
        #expect(rig.state("a") == .failed(.exited(code: 1)))
    }
}
