import ASTCore
import ASTMessages
import Foundation
import Testing

@testable import ASTRisk

/// A planned disconnect (IB Gateway's nightly restart, inside its configured window) against an
/// unplanned one: the first blocks orders without a halt or a P0 until the broker is back and a
/// reconciliation after that is clean; the second halts with a P0, as before.
struct PlannedDisconnectTests {
    static func planned(_ detail: String = "IB API planned disconnect (nightly restart)") -> RiskInput {
        .brokerConnection(BrokerConnectionReport(broker: ibkr, connected: false, detail: detail, planned: true))
    }

    static func alerts(_ out: [RiskOutput]) -> [Alert] {
        out.compactMap { if case .alert(let a) = $0 { a } else { nil } }
    }

    @Test func aPlannedDisconnectBlocksOrdersWithoutAHaltOrAP0UntilReconnectedAndReconciledClean() throws {
        var desk = try Desk.ready()
        #expect(Verdict(desk.decide(intent(quantity: 1))) == .approve)
        let out = desk.send(Self.planned())
        #expect(desk.gate.state == .active, "no halt")
        #expect(!out.contains { if case .transition = $0 { true } else { false } })
        #expect(Self.alerts(out).map(\.priority) == [.info], "\(out)")
        #expect(desk.gate.disconnectedBrokers == [ibkr])
        #expect(Verdict(desk.decide(intent("b", quantity: 1))) == .block(.brokerDisconnected))
        // Connected again: still nothing goes out before a clean reconciliation.
        #expect(desk.send(.brokerConnection(BrokerConnectionReport(broker: ibkr, connected: true))).isEmpty)
        #expect(Verdict(desk.decide(intent("c", quantity: 1))) == .block(.brokerDisconnected))
        let reconciled = desk.send(.reconciliation(.clean))
        #expect(Self.alerts(reconciled).map(\.priority) == [.info])
        #expect(desk.gate.plannedOutageBrokers.isEmpty)
        #expect(Verdict(desk.decide(intent("d", quantity: 1))) == .approve)
        #expect(desk.gate.state == .active)
    }

    @Test func aCleanReconciliationWhileTheBrokerIsStillDisconnectedDoesNotEndThePlannedOutage() throws {
        var desk = try Desk.ready()
        desk.send(Self.planned())
        #expect(desk.send(.reconciliation(.clean)).isEmpty)
        #expect(Verdict(desk.decide(intent(quantity: 1))) == .block(.brokerDisconnected))
        desk.send(.brokerConnection(BrokerConnectionReport(broker: ibkr, connected: true)))
        #expect(Verdict(desk.decide(intent("b", quantity: 1))) == .block(.brokerDisconnected))
    }

    @Test func aMismatchAfterAPlannedDisconnectHaltsWithAP0() throws {
        var desk = try Desk.ready()
        desk.send(Self.planned())
        desk.send(.brokerConnection(BrokerConnectionReport(broker: ibkr, connected: true)))
        let out = desk.send(.reconciliation(.mismatch("AAPL: 10 at the broker, 0 in the book")))
        #expect(desk.gate.state == .halted)
        #expect(Self.alerts(out).map(\.priority) == [.p0])
    }

    @Test func anUnplannedDisconnectHaltsWithAP0AlsoDuringAPlannedOne() throws {
        var desk = try Desk.ready()
        let unplanned = desk.send(
            .brokerConnection(BrokerConnectionReport(broker: ibkr, connected: false, detail: "TWS lost its connection to IB (1100)")))
        #expect(desk.gate.state == .halted)
        #expect(Self.alerts(unplanned).map(\.priority) == [.p0])

        var other = try Desk.ready()
        other.send(Self.planned())
        // The window ended and the broker is still down: reported as a failure.
        let overdue = other.send(
            .brokerConnection(BrokerConnectionReport(broker: ibkr, connected: false, detail: "still not connected after the window")))
        #expect(other.gate.state == .halted)
        #expect(Self.alerts(overdue).map(\.priority) == [.p0])
    }

    @Test func aRepeatedPlannedReportAlertsOnce() throws {
        var desk = try Desk.ready()
        #expect(Self.alerts(desk.send(Self.planned("socket closed"))).count == 1)
        #expect(Self.alerts(desk.send(Self.planned("1100 inside the window"))).isEmpty)
    }

    @Test func aRememberedApprovalIsNotRepeatedDuringAPlannedOutage() throws {
        var desk = try Desk.ready()
        let group = intent(quantity: 1)
        #expect(Verdict(desk.decide(group)) == .approve)
        desk.send(Self.planned())
        #expect(Verdict(desk.decide(group)) == .block(.brokerDisconnected))
    }

    @Test func aPlannedOutageSurvivesACheckpoint() throws {
        var desk = try Desk.ready()
        desk.send(Self.planned())
        desk.send(.brokerConnection(BrokerConnectionReport(broker: ibkr, connected: true)))
        let saved = try JSONDecoder().decode(RiskGateState.self, from: JSONEncoder().encode(desk.gate.checkpointState))
        var restored = desk
        restored.gate = try RiskGate(limits: desk.gate.limits, restoring: saved)
        #expect(Verdict(restored.decide(intent(quantity: 1))) == .block(.brokerDisconnected))
        restored.send(.reconciliation(.clean))
        #expect(Verdict(restored.decide(intent("b", quantity: 1))) == .approve)
    }

    @Test func anUnplannedReportEncodesAsBefore() throws {
        let json = String(
            decoding: try JSONEncoder().encode(BrokerConnectionReport(broker: ibkr, connected: false, detail: "x")), as: UTF8.self)
        #expect(!json.contains("planned"))
        let planned = try JSONDecoder().decode(
            BrokerConnectionReport.self,
            from: JSONEncoder().encode(BrokerConnectionReport(broker: ibkr, connected: false, detail: "x", planned: true)))
        #expect(planned.planned == true)
    }
}
