import ASTCore
import ASTSupervision
import Testing

/// The shell sleeps until ``Supervisor/nextDeadline``: it must name exactly the moment a tick
/// has work, and nothing while progress can only come from an exit.
@Suite struct DeadlineTests {
    @Test func nothingIsScheduledWhileEveryChildRuns() throws {
        var rig = try Rig(["a", "b"])
        rig.boot()
        #expect(rig.sup.nextDeadline == nil)
    }

    @Test func theDeadlineIsTheEarliestScheduledRestartAndTheTickThereRestarts() throws {
        var rig = try Rig(["a", "b"])
        rig.boot()
        _ = rig.exit("a")
        let firstDue = rig.now.advanced(by: .milliseconds(100))
        rig.advance(.milliseconds(30))
        _ = rig.exit("b")
        #expect(rig.sup.nextDeadline == firstDue)
        rig.advance(.milliseconds(69))
        #expect(rig.tick() == [], "one nanosecond short of the deadline nothing is due")
        rig.advance(.milliseconds(1))
        #expect(rig.tick().starts == [id("a")])
        #expect(rig.sup.nextDeadline == firstDue.advanced(by: .milliseconds(30)), "then b's restart")
    }

    @Test func restForOneWaitsForExitsWhileSiblingsStopThenForTheIncident() throws {
        var rig = try Rig(["a", "b", "c"], SupervisorPolicy(strategy: .restForOne))
        rig.boot()
        let due = rig.now.advanced(by: .milliseconds(100))
        _ = rig.exit("b")
        #expect(rig.sup.nextDeadline == nil, "c is being stopped: progress comes from its exit")
        _ = rig.exit("c", .signaled(signal: 15))
        #expect(rig.sup.nextDeadline == due)
    }

    @Test func aShutdownSchedulesNothing() throws {
        var rig = try Rig(["a", "b"])
        rig.boot()
        _ = rig.exit("a")
        _ = rig.sup.shutdown(now: rig.now)
        #expect(rig.sup.nextDeadline == nil)
    }
}
