import ASTCore
import ASTSupervision
import Foundation
import Testing

/// Per-child restart budgets: a crash-looping non-critical child is given up on alone while the
/// critical children (risk, brokers, reconciler) keep running; a critical one still takes the
/// tree down.
@Suite struct BudgetTests {
    static let instant = SupervisorPolicy(
        intensity: 2, period: .seconds(30), restartBackoff: .zero, restartBackoffMax: .zero,
        givenUpRetry: .seconds(300), givenUpRetryMax: .seconds(3600))

    static func tree(_ policy: SupervisorPolicy = instant) throws -> Rig {
        var rig = try Rig([child("risk"), child("broker@paper"), child("notifier", onCrash: .noEffect, critical: false)], policy)
        rig.boot()
        return rig
    }

    /// Crashes `name` and spawns what the supervisor restarts, `times` times, a second apart.
    static func crashLoop(_ rig: inout Rig, _ name: String, times: Int) {
        for _ in 0..<times {
            rig.advance(.seconds(1))
            let actions = rig.exit(name)
            rig.spawnStarted(actions + rig.tick())
        }
    }

    @Test func aNonCriticalChildOverItsBudgetIsGivenUpOnAloneWhileTheRestKeepsRunning() throws {
        var rig = try Self.tree()
        let risk = rig.pid("risk")!, broker = rig.pid("broker@paper")!
        Self.crashLoop(&rig, "notifier", times: 2)
        rig.advance(.seconds(1))
        let pid = rig.pid("notifier")!
        let retryAt = rig.now.advanced(by: .seconds(300))
        let reason =
            "notifier@main exited with code 1: restart 3 within 30 s would exceed its intensity of 2; "
            + "non-critical, so it alone is left down and retried in 300 s"
        #expect(
            rig.exit("notifier") == [
                rig.event(.exited, "notifier", pid: pid, reason: "exited with code 1", exitCode: 1, onCrash: .noEffect, restarts: 2),
                rig.event(.givenUp, "notifier", reason: reason, onCrash: .noEffect, restarts: 3),
                .givenUp(id("notifier"), reason: reason, retryAt: retryAt),
            ])
        #expect(!rig.sup.hasGivenUp)
        #expect(!rig.sup.isFinished)
        #expect(rig.pid("risk") == risk && rig.pid("broker@paper") == broker)
        #expect(rig.state("notifier") == .givenUp(.exited(code: 1), retryAt: retryAt))
        #expect(rig.sup.givenUpChildren == [id("notifier")])
        #expect(rig.sup.isServing, "the tree serves without the notifier")
        #expect(!rig.sup.allPermanentReady, "but it is not whole")
        #expect(rig.sup.nextDeadline == retryAt)
        // Risk still restarts as before.
        rig.advance(.seconds(1))
        #expect(rig.exit("risk").scheduled.count == 1)
    }

    @Test func aCriticalChildOverItsBudgetStillGivesUpOnTheTree() throws {
        var rig = try Self.tree()
        Self.crashLoop(&rig, "risk", times: 2)
        rig.advance(.seconds(1))
        let actions = rig.exit("risk")
        #expect(actions.gaveUp)
        #expect(actions.givenUp == [])
        #expect(actions.stops == [id("notifier")], "every child stops, in reverse start order")
        #expect(rig.sup.hasGivenUp)
    }

    @Test func budgetsArePerChildSoCrashesOfDifferentChildrenDoNotAddUp() throws {
        var rig = try Self.tree()
        Self.crashLoop(&rig, "risk", times: 2)
        Self.crashLoop(&rig, "broker@paper", times: 2)
        Self.crashLoop(&rig, "notifier", times: 2)
        #expect(!rig.sup.hasGivenUp)
        #expect(rig.sup.givenUpChildren == [])
        #expect(rig.sup.children.allSatisfy { $0.pid != nil })
    }

    @Test func aChildsOwnBudgetReplacesThePolicys() throws {
        var rig = try Rig(
            [child("risk"), child("strategy", critical: false, budget: RestartBudget(intensity: 0, period: .seconds(60)))],
            Self.instant)
        rig.boot()
        rig.advance(.seconds(1))
        #expect(rig.exit("strategy").givenUp == [id("strategy")], "intensity 0: the first restart is refused")
        Self.crashLoop(&rig, "risk", times: 2)
        #expect(!rig.sup.hasGivenUp, "risk keeps the policy's budget of 2")
    }

    @Test func aGivenUpChildIsRetriedWithAFreshBudgetAfterADelayThatDoublesUpToTheMaximum() throws {
        var policy = Self.instant
        policy.givenUpRetry = .seconds(10)
        policy.givenUpRetryMax = .seconds(25)
        var rig = try Self.tree(policy)
        var delays: [Duration] = []
        for _ in 0..<3 {
            Self.crashLoop(&rig, "notifier", times: 2)
            rig.advance(.seconds(1))
            let actions = rig.exit("notifier")
            guard case .givenUp(_, _, let retryAt?) = actions.last else {
                Issue.record("not given up: \(actions)")
                return
            }
            delays.append(retryAt.duration(since: rig.now))
            rig.now = retryAt.advanced(by: .nanoseconds(-1))
            #expect(rig.tick() == [], "nothing before the retry is due")
            rig.now = retryAt
            let retry = rig.tick()
            #expect(retry.kinds == [.restarted])
            #expect(retry.starts == [id("notifier")])
            rig.spawnStarted(retry)
            _ = rig.ready("notifier")
        }
        #expect(delays == [.seconds(10), .seconds(20), .seconds(25)])
        #expect(rig.status("notifier").restarts == 3 * 2 + 3)
    }

    @Test func aStableRunAfterARetryStartsTheRetryDelayOver() throws {
        var policy = Self.instant
        policy.givenUpRetry = .seconds(10)
        var rig = try Self.tree(policy)
        for expected in [Duration.seconds(10), .seconds(10)] {
            Self.crashLoop(&rig, "notifier", times: 2)
            rig.advance(.seconds(1))
            guard case .givenUp(_, _, let retryAt?) = rig.exit("notifier").last else {
                Issue.record("not given up")
                return
            }
            #expect(retryAt.duration(since: rig.now) == expected)
            rig.now = retryAt
            rig.spawnStarted(rig.tick())
            _ = rig.ready("notifier")
            // Up for longer than the budget's period: the next loop is a first one again.
            rig.advance(.seconds(31))
        }
    }

    @Test func withoutARetryAGivenUpChildStaysDown() throws {
        var policy = Self.instant
        policy.givenUpRetry = nil
        var rig = try Self.tree(policy)
        Self.crashLoop(&rig, "notifier", times: 2)
        rig.advance(.seconds(1))
        let reason =
            "notifier@main exited with code 1: restart 3 within 30 s would exceed its intensity of 2; "
            + "non-critical, so it alone is left down until astd restarts"
        #expect(rig.exit("notifier").last == .givenUp(id("notifier"), reason: reason, retryAt: nil))
        #expect(rig.sup.nextDeadline == nil)
        rig.advance(.seconds(86_400))
        #expect(rig.tick() == [])
        #expect(rig.state("notifier") == .givenUp(.exited(code: 1), retryAt: nil))
    }

    @Test func aShutdownWithAChildGivenUpFinishesAndRetriesNothing() throws {
        var rig = try Self.tree()
        Self.crashLoop(&rig, "notifier", times: 2)
        rig.advance(.seconds(1))
        _ = rig.exit("notifier")
        #expect(rig.shutdown().stops == [id("broker@paper")])
        _ = rig.exit("broker@paper", .signaled(signal: 15))
        _ = rig.exit("risk", .signaled(signal: 15))
        #expect(rig.sup.isFinished)
        rig.advance(.seconds(600))
        #expect(rig.tick() == [])
        #expect(rig.sup.nextDeadline == nil)
    }

    @Test func underRestForOneAChildGivenUpOnDoesNotTakeItsLaterSiblingsDown() throws {
        var policy = Self.instant
        policy.strategy = .restForOne
        var rig = try Rig(
            [
                child("marketdata", critical: false, budget: RestartBudget(intensity: 0, period: .seconds(30))),
                child("risk"), child("broker@paper"),
            ], policy)
        rig.boot()
        let actions = rig.exit("marketdata")
        #expect(actions.givenUp == [id("marketdata")])
        #expect(actions.stops == [])
        #expect(rig.sup.nextDeadline == rig.now.advanced(by: .seconds(300)))
        #expect(rig.pid("risk") != nil && rig.pid("broker@paper") != nil)
    }

    @Test func aGivenUpChildsLateExitOrReadyIsIgnored() throws {
        var rig = try Self.tree()
        Self.crashLoop(&rig, "notifier", times: 2)
        rig.advance(.seconds(1))
        let old = rig.pid("notifier")!
        _ = rig.exit("notifier")
        #expect(rig.sup.exited(pid: old, reason: .exited(code: 1), now: rig.now) == [])
        #expect(rig.sup.ready(pid: old, now: rig.now) == [])
        #expect(
            rig.sup.spawned(id("notifier"), pid: 4242, now: rig.now) == [.stop(id("notifier"), pid: 4242)],
            "a spawn nobody asked for is stopped")
    }

    @Test func statusSaysWhichChildrenAreCritical() throws {
        let rig = try Self.tree()
        #expect(rig.sup.children.map(\.critical) == [true, true, false])
    }
}

/// Before READY a child has its start-up timeout, from READY its watchdog: a slow start under
/// load is never a missed watchdog (the flaky `aStoppedWorkerMissesItsWatchdogAndIsReplaced`).
@Suite struct HangDeadlineTests {
    static let spec = child("strategy", watchdog: .seconds(1), startTimeout: .seconds(30))

    @Test func beforeReadyOnlyTheStartTimeoutRunsFromTheStart() {
        #expect(Self.spec.hangDeadline(since: t0, readySince: nil, lastPing: nil) == .startTimeout(at: t0.advanced(by: .seconds(30))))
        #expect(
            Self.spec.hangDeadline(since: t0, readySince: nil, lastPing: t0.advanced(by: .seconds(5)))
                == .startTimeout(at: t0.advanced(by: .seconds(30))), "pings before READY change nothing")
    }

    @Test func aSlowStartIsNotAMissedWatchdog() {
        // READY 20 s after the spawn, with a 1 s watchdog: the watchdog runs from READY.
        let ready = t0.advanced(by: .seconds(20))
        #expect(Self.spec.hangDeadline(since: t0, readySince: ready, lastPing: nil) == .watchdog(at: ready.advanced(by: .seconds(1))))
    }

    @Test func fromReadyTheLastPingMovesTheWatchdogAndEarlierPingsDoNot() {
        let ready = t0.advanced(by: .seconds(2))
        #expect(
            Self.spec.hangDeadline(since: t0, readySince: ready, lastPing: t0.advanced(by: .seconds(1)))
                == .watchdog(at: ready.advanced(by: .seconds(1))))
        let ping = ready.advanced(by: .milliseconds(700))
        #expect(Self.spec.hangDeadline(since: t0, readySince: ready, lastPing: ping) == .watchdog(at: ping.advanced(by: .seconds(1))))
    }

    @Test func withoutALimitThereIsNoDeadline() {
        let none = child("strategy")
        #expect(none.hangDeadline(since: t0, readySince: nil, lastPing: nil) == nil)
        #expect(none.hangDeadline(since: t0, readySince: t0, lastPing: nil) == nil)
        #expect(
            child("strategy", startTimeout: .seconds(5)).hangDeadline(since: t0, readySince: t0, lastPing: nil) == nil,
            "a ready child without a watchdog is never hung")
        #expect(
            child("strategy", watchdog: .seconds(1)).hangDeadline(since: t0, readySince: nil, lastPing: nil) == nil,
            "without a start-up timeout a child may take its time")
    }

    @Test func aChildThatNeverBecomesReadyIsAbortedAndItsExitIsAStartTimeout() throws {
        var rig = try Rig([Self.spec], SupervisorPolicy(restartBackoff: .milliseconds(100)))
        _ = rig.start()
        _ = rig.spawn("strategy")
        let pid = rig.pid("strategy")!
        rig.advance(.seconds(31))
        #expect(
            rig.startTimedOut("strategy") == [
                rig.event(
                    .watchdogTimeout, "strategy", pid: pid, reason: "did not report READY within its start-up timeout", onCrash: .halt),
                .abort(id("strategy"), pid: pid),
            ])
        #expect(rig.startTimedOut("strategy") == [], "once")
        #expect(rig.watchdogMissed("strategy") == [], "already being aborted")
        let exit = rig.exit("strategy", .signaled(signal: 6))
        #expect(
            exit.events.first
                == LifecycleEvent(
                    kind: .exited, child: id("strategy"), pid: pid,
                    reason: "did not report READY within its start-up timeout", signal: 6,
                    onCrash: .halt, at: rig.now))
        #expect(exit.scheduled.count == 1)
        #expect(rig.status("strategy").lastExit == .startTimeout)
        #expect(ExitReason.startTimeout.isAbnormal)
    }

    @Test func theStartTimeoutDoesNotApplyOnceReady() throws {
        var rig = try Rig([Self.spec])
        rig.boot()
        #expect(rig.startTimedOut("strategy") == [])
        #expect(rig.state("strategy") == .running(pid: rig.lastPid, since: t0))
    }
}

@Suite struct BudgetConfigurationTests {
    static func refusal(_ children: [ChildSpec], _ policy: SupervisorPolicy = SupervisorPolicy()) -> SupervisorConfigurationError? {
        do {
            _ = try Supervisor(children: children, policy: policy)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: ["risk", "broker@paper", "reconciler"])
    func childrenThatWatchPositionsMustBeCritical(name: String) {
        #expect(Self.refusal([child(name, critical: false)]) == .positionWatcherNotCritical(id(name)))
    }

    @Test func badBudgetsTimeoutsAndRetriesAreRefused() {
        #expect(
            Self.refusal([child("strategy", critical: false, budget: RestartBudget(intensity: -1, period: .seconds(1)))])
                == .negativeChildIntensity(id("strategy"), -1))
        #expect(
            Self.refusal([child("strategy", budget: RestartBudget(intensity: 1, period: .zero))])
                == .nonPositiveChildPeriod(id("strategy"), .zero))
        #expect(Self.refusal([child("strategy", startTimeout: .zero)]) == .nonPositiveStartTimeout(id("strategy"), .zero))
        #expect(Self.refusal([child("strategy")], SupervisorPolicy(givenUpRetry: .zero)) == .nonPositiveGivenUpRetry(.zero))
        #expect(
            Self.refusal([child("strategy")], SupervisorPolicy(givenUpRetry: .seconds(10), givenUpRetryMax: .seconds(5)))
                == .givenUpRetryMaxBelowRetry(retry: .seconds(10), maximum: .seconds(5)))
        #expect(
            Self.refusal([child("strategy", critical: false)], SupervisorPolicy(givenUpRetry: nil, givenUpRetryMax: .zero)) == nil,
            "without a retry its maximum is not used")
    }

    @Test func theGivenUpEventHasAStableSpelling() throws {
        let e = LifecycleEvent(kind: .givenUp, child: id("notifier"), reason: "r", onCrash: .noEffect, restarts: 6, at: t0)
        let json = String(decoding: try JSONEncoder().encode(e), as: UTF8.self)
        #expect(json.contains("\"kind\":\"given_up\""))
        #expect(try JSONDecoder().decode(LifecycleEvent.self, from: Data(json.utf8)) == e)
    }
}
