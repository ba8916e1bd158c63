import ASTCore
import ASTDrill
import Testing

@Suite struct DrillPlannerTests {
    @Test func fiftyRoundsCoverEveryWorkerAndEverySignal() {
        let plan = DrillPlanner.plan(rounds: 50, seed: 42)
        #expect(plan.count == 50 && plan.map(\.index) == Array(1...50))
        for worker in DrillPlanner.workers {
            #expect(plan.filter { $0.process == worker }.count >= 8, "\(worker) is hit in every bag of 6")
        }
        for signal in DrillSignal.allCases {
            #expect(plan.filter { $0.signal == signal }.count >= 16, "\(signal)")
        }
        #expect(!plan.contains { $0.process.hasPrefix("supervisor") }, "never astd")
        #expect(plan.allSatisfy { (0...500).contains($0.delayMs) })
    }

    @Test func theSameSeedPlansTheSameDrillAndAnotherSeedAnother() {
        #expect(DrillPlanner.plan(rounds: 30, seed: 7) == DrillPlanner.plan(rounds: 30, seed: 7))
        #expect(DrillPlanner.plan(rounds: 30, seed: 7) != DrillPlanner.plan(rounds: 30, seed: 8))
    }

    @Test func aNamedProcessAndSignalsAreRespected() {
        let plan = DrillPlanner.plan(rounds: 10, seed: 1, processes: ["broker@paper"], signals: [.kill, .term], maxDelayMs: 0)
        #expect(plan.allSatisfy { $0.process == "broker@paper" && $0.signal != .stop && $0.delayMs == 0 })
        #expect(Set(plan.map(\.signal)) == [.kill, .term])
    }

    @Test func signalsHaveTheirLinuxNumbers() {
        #expect(DrillSignal.kill.number == 9 && DrillSignal.stop.number == 19 && DrillSignal.term.number == 15)
    }
}

@Suite struct InvariantCheckerTests {
    static let round = PlannedRound(index: 3, process: "broker@paper", signal: .kill, delayMs: 0)

    static func report(_ n: Int, _ event: ExecutionEvent) -> ExecutionReport {
        ExecutionReport(id: "broker@paper-r\(n)", broker: "broker@paper", event: event, at: Timestamp(nanoseconds: Int64(n)))
    }

    static func fill(_ x: String) -> ExecutionEvent {
        .fill(
            Fill(
                executionID: ExecutionID(x), clientOrderID: "i1.E", symbol: "ABC", side: .buy, quantity: Quantity(10),
                price: Price(units: 100_000), commission: .zero, at: Timestamp(nanoseconds: 1)))
    }

    /// A round in which everything held.
    static func clean() -> RoundObservation {
        RoundObservation(
            round: round, recovered: true, brokerDied: true, haltedLatencyMs: 120, haltBudgetMs: 3000,
            brokerReports: [report(1, .accepted("i1.E")), report(2, fill("x1")), report(2, fill("x1"))],
            reconciledExecutionIDs: [ExecutionID("x1")], journals: ["risk@main": nil], reconcile: .clean)
    }

    func violations(_ change: (inout RoundObservation) -> Void) -> [DrillInvariant] {
        var o = Self.clean()
        change(&o)
        var checker = InvariantChecker()
        return checker.check(o).map(\.invariant)
    }

    @Test func aCleanRoundHasNoViolation() {
        #expect(violations { _ in }.isEmpty)
    }

    @Test func eachInvariantFailsOnItsOwnObservation() {
        #expect(violations { $0.recovered = false } == [.treeRecovers])
        #expect(violations { $0.haltedLatencyMs = 3001 } == [.brokerDeathHalts])
        #expect(violations { $0.haltedLatencyMs = nil } == [.brokerDeathHalts])
        #expect(
            violations {
                $0.brokerDied = false
                $0.haltedLatencyMs = nil
            }.isEmpty, "only a broker's death must halt")
        #expect(violations { $0.brokerReports.append(Self.report(9, .accepted("i1.E"))) } == [.noDuplicateOrder])
        #expect(violations { $0.brokerReports.append(Self.report(9, Self.fill("x2"))) } == [.everyFillReconciled])
        #expect(violations { $0.journals["broker@paper"] = "edited entry at entry 4" } == [.journalsVerify])
        #expect(violations { $0.reconcile = .mismatch("ABC: 10 held, broker 20") } == [.positionsReconcile])
        #expect(violations { $0.reconcile = .incomplete("timeout") } == [.positionsReconcile])
        #expect(violations { $0.journalReadErrors = ["cannot read the broker's journal: no such file"] } == [.journalsReadable])
    }

    @Test func anUnreadableJournalFailsTheRoundEvenWithNoReportsToCheck() {
        // Nothing read is not "no duplicates, every fill reconciled".
        let found = violations {
            $0.brokerReports = []
            $0.reconciledExecutionIDs = []
            $0.journalReadErrors = ["cannot read the broker's journal: not an AST journal", "cannot read the reconciler's journal: EIO"]
        }
        #expect(found == [.journalsReadable, .journalsReadable])
    }

    @Test func theSameAcceptanceSeenTwiceIsNoDuplicate() {
        // A report re-read (or re-sent with its id) is one acceptance.
        #expect(violations { $0.brokerReports.append(Self.report(1, .accepted("i1.E"))) }.isEmpty)
    }

    @Test func aLastingFaultIsReportedOnceInTheRoundItIsFirstSeen() {
        var o = Self.clean()
        o.brokerReports.append(Self.report(9, .accepted("i1.E")))
        var checker = InvariantChecker()
        #expect(checker.check(o).map(\.round) == [3])
        o.round.index = 4
        #expect(checker.check(o).isEmpty)
    }
}

@Suite struct DrillReportTests {
    @Test func percentilesAreNearestRank() {
        #expect(DrillReport.percentile([], 50) == nil)
        #expect(DrillReport.percentile([30, 10, 20], 50) == 20)
        #expect(DrillReport.percentile(Array(1...100), 99) == 99)
        #expect(DrillReport.percentile([5], 99) == 5)
    }

    @Test func theReportCountsKillsPerProcessAndSignal() {
        var r = DrillReport(seed: 1)
        r.record(PlannedRound(index: 1, process: "risk@main", signal: .kill, delayMs: 0))
        r.record(PlannedRound(index: 2, process: "risk@main", signal: .kill, delayMs: 0))
        r.record(PlannedRound(index: 3, process: "risk@main", signal: .stop, delayMs: 0))
        #expect(r.rounds == 3 && r.kills == ["risk@main": ["kill": 2, "stop": 1]])
        #expect(r.text.contains("risk@main: SIGKILL x2, SIGSTOP x1") && r.text.contains("PASSED"))
        r.violations.append(DrillViolation(round: 2, invariant: .noDuplicateOrder, detail: "x"))
        #expect(!r.passed && r.text.contains("Violations: 1"))
    }
}

@Suite struct DrillWaitsTests {
    let t0 = ContinuousClock.now

    @Test func aWaitPastItsBoundNamesTheRoundTheWaitAndWhatItSaw() {
        var w = DrillWaits()
        w.setRound(31, of: 100)
        w.begin("astctl resume (and reconcile)", at: t0, limit: .seconds(280))
        w.begin("every worker ready again", at: t0 + .seconds(1), limit: .seconds(30))
        w.saw("tree degraded; reconciler@main pid 812 starting")
        #expect(w.overrun(at: t0 + .seconds(55), grace: .seconds(30)) == nil, "within bound + grace")
        #expect(
            w.overrun(at: t0 + .seconds(62), grace: .seconds(30))
                == "astctl drill: round 31/100 gave up: waited 61 s for every worker ready again (bound 30 s + 30 s)"
                + " [astctl resume (and reconcile) > every worker ready again]; last seen: tree degraded; reconciler@main pid 812 starting")
    }

    @Test func theOutermostOverrunIsReportedAndEndedWaitsAreForgotten() {
        var w = DrillWaits()
        w.setRound(2, of: 3)
        w.begin("outer", at: t0, limit: .seconds(5))
        w.begin("inner", at: t0, limit: .seconds(60))
        w.end()
        #expect(
            w.overrun(at: t0 + .seconds(36), grace: .seconds(30))?.contains("for outer (bound 5 s + 30 s) [outer]; last seen: nothing")
                == true)
        w.end()
        #expect(w.overrun(at: t0 + .seconds(3600), grace: .seconds(30)) == nil)
        w.end()  // one end too many does nothing
        #expect(w.waits.isEmpty)
    }
}
