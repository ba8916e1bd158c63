import ASTCore
import ASTSupervision
import Foundation
import Testing

@Suite struct ConfigurationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var children: [ChildSpec]
        var policy: SupervisorPolicy
        var error: SupervisorConfigurationError
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "duplicate child", children: [child("broker@paper"), child("risk"), child("broker@paper")],
            policy: SupervisorPolicy(), error: .duplicateChild(id("broker@paper"))),
        Case(
            name: "negative intensity", children: [child("risk")],
            policy: SupervisorPolicy(intensity: -1), error: .negativeIntensity(-1)),
        Case(
            name: "zero period", children: [child("risk")],
            policy: SupervisorPolicy(period: .zero), error: .nonPositivePeriod(.zero)),
        Case(
            name: "negative back-off", children: [child("risk")],
            policy: SupervisorPolicy(restartBackoff: .milliseconds(-1)), error: .negativeBackoff(.milliseconds(-1))),
        Case(
            name: "maximum below first back-off", children: [child("risk")],
            policy: SupervisorPolicy(restartBackoff: .seconds(2), restartBackoffMax: .seconds(1)),
            error: .backoffMaxBelowBackoff(backoff: .seconds(2), maximum: .seconds(1))),
        Case(
            name: "zero shutdown timeout",
            children: [ChildSpec(id: id("risk"), executable: "/x", shutdownTimeout: .zero)],
            policy: SupervisorPolicy(), error: .nonPositiveShutdownTimeout(id("risk"), .zero)),
        Case(
            name: "zero watchdog",
            children: [ChildSpec(id: id("risk"), executable: "/x", watchdog: .zero)],
            policy: SupervisorPolicy(), error: .nonPositiveWatchdog(id("risk"), .zero)),
    ]

    @Test(arguments: cases)
    func refusesConfigurationItCannotRun(_ c: Case) {
        #expect(throws: c.error) { try Supervisor(children: c.children, policy: c.policy) }
    }

    @Test func configurationErrorsNameTheChildAndTheFix() {
        let text = SupervisorConfigurationError.duplicateChild(id("broker@paper")).description
        #expect(text == "supervisor: child broker@paper is listed twice; every child needs its own role@instance")
        #expect(SupervisorConfigurationError.negativeIntensity(-2).description.contains("got -2"))
    }

    @Test func policyDefaultsToFiveRestartsInThirtySecondsOneForOne() {
        let p = SupervisorPolicy()
        #expect(p.strategy == .oneForOne)
        #expect(p.intensity == 5)
        #expect(p.period == .seconds(30))
        #expect(p.restartBackoff == .milliseconds(100))
        #expect(p.restartBackoffMax == .seconds(5))
    }

    @Test func configurationSpellingsAreStable() {
        #expect(RestartStrategy(rawValue: "one_for_one") == .oneForOne)
        #expect(RestartStrategy(rawValue: "rest_for_one") == .restForOne)
        #expect(CrashImpact.allCases.map(\.rawValue) == ["halt", "reduce", "none"])
        #expect(RestartType.allCases.map(\.rawValue) == ["permanent", "transient", "temporary"])
    }

    @Test func aChildWithoutADeclaredImpactHaltsTrading() {
        #expect(ChildSpec(id: id("broker@paper"), executable: "/x").onCrash == .halt)
    }
}

@Suite struct ExitReasonTests {
    @Test(arguments: [
        (ExitReason.exited(code: 0), false),
        (.exited(code: 1), true),
        (.exited(code: 137), true),
        (.signaled(signal: 9), true),
        (.signaled(signal: 15), true),
        (.watchdogTimeout, true),
        (.spawnFailed(error: "ENOENT"), true),
        (.stoppedBySupervisor, false),
    ])
    func abnormalMeansNonZeroCodeSignalWatchdogOrFailedSpawn(_ reason: ExitReason, _ abnormal: Bool) {
        #expect(reason.isAbnormal == abnormal)
    }

    @Test(arguments: [
        (ExitReason.exited(code: 3), "exited with code 3"),
        (.signaled(signal: 9), "killed by signal 9 (SIGKILL)"),
        (.signaled(signal: 6), "killed by signal 6 (SIGABRT)"),
        (.signaled(signal: 64), "killed by signal 64"),
        (.watchdogTimeout, "missed its watchdog deadline"),
        (.stoppedBySupervisor, "stopped by the supervisor"),
        (.spawnFailed(error: "No such file or directory"), "could not be spawned: No such file or directory"),
    ])
    func exitReasonsReadAsOperatorSentences(_ reason: ExitReason, _ text: String) {
        #expect(reason.description == text)
    }
}

@Suite struct LifecycleEventCodingTests {
    @Test func eventEncodesWithStableSnakeCaseKeysAndRoleAtInstance() throws {
        let event = LifecycleEvent(
            kind: .watchdogTimeout, child: id("broker@paper"), pid: 42, reason: "missed its watchdog deadline",
            signal: 6, onCrash: .noEffect, restarts: 2, at: Timestamp(nanoseconds: 7))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(event), as: UTF8.self)
        #expect(
            json
                == #"{"at":7,"child":"broker@paper","kind":"watchdog_timeout","on_crash":"none","pid":42,"reason":"missed its watchdog deadline","restarts":2,"signal":6}"#
        )
        #expect(try JSONDecoder().decode(LifecycleEvent.self, from: Data(json.utf8)) == event)
    }

    @Test func gaveUpHasNoChildAndRoundTrips() throws {
        let event = LifecycleEvent(kind: .gaveUp, child: nil, reason: "too many", exitCode: 1, restarts: 6, at: t0)
        let data = try JSONEncoder().encode(event)
        #expect(try JSONDecoder().decode(LifecycleEvent.self, from: data) == event)
        #expect(!String(decoding: data, as: UTF8.self).contains("child"))
    }

    @Test func eventWithAMalformedChildIsRefused() {
        let json = #"{"at":1,"child":"Broker Paper","kind":"exited","restarts":0}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(LifecycleEvent.self, from: Data(json.utf8)) }
    }
}
