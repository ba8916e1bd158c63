import ASTCore
import Foundation
import Testing

@testable import ASTRisk

/// A broker's refusal of an approval the gate sent (M9): no longer counted as in flight, the
/// intent not approved again, the operator told.
@Suite("Risk gate: a broker's refusal of an approval")
struct OrderRefusalTests {
    /// At most 100 shares of AAPL at 100.00 with 100,000 of equity (10 % concentration).
    static let limits = loose.with { $0.maxSymbolConcentrationPct = 10 }

    static func refusal(_ intent: IntentID, code: String, detail: String = "does not verify") -> OrderRefusal {
        OrderRefusal(approval: ApprovalID(for: intent), intent: intent, broker: "broker@paper", code: code, detail: detail)
    }

    func deskWithBook() throws -> Desk {
        var desk = try Desk(Self.limits)
        desk.send(.portfolio(snapshot()))
        desk.mark(["AAPL"])
        return desk
    }

    @Test func aRefusedApprovalNoLongerCountsAsInFlight() throws {
        var desk = try deskWithBook()
        #expect(desk.decide(intent("i-1", quantity: 100)).approval?.quantity == 100)
        // While i-1 counts as if filled, the symbol is at its limit: nothing more.
        #expect(desk.decide(intent("i-2", quantity: 100)).approval == nil)
        desk.send(.orderRefused(Self.refusal("i-1", code: "APPROVAL_SIGNATURE_INVALID")))
        #expect(desk.gate.refusedApprovals == [ApprovalID(for: "i-1")])
        #expect(desk.decide(intent("i-3", quantity: 100)).approval?.quantity == 100, "the refused 100 shares are not held")
    }

    @Test func aReSentIntentWhoseApprovalWasRefusedIsBlockedNotApprovedAgain() throws {
        var desk = try deskWithBook()
        let group = intent("i-1", quantity: 10)
        #expect(desk.decide(group).approval != nil)
        desk.send(.orderRefused(Self.refusal("i-1", code: "INPUT_OUT_OF_RANGE", detail: "quantity beyond the exchange's bound")))
        guard case .block(let code, let detail) = desk.decide(group) else {
            Issue.record("a re-sent intent whose approval was refused was approved again")
            return
        }
        #expect(code == .orderRefusedByBroker)
        #expect(detail.contains("INPUT_OUT_OF_RANGE"))
    }

    @Test(arguments: [
        ("APPROVAL_SIGNATURE_INVALID", AlertPriority.p0), ("APPROVAL_REUSED", .p0), ("PID_MISMATCH", .p0),
        ("IDENTITY_NOT_SPAWNED", .p0), ("INPUT_OUT_OF_RANGE", .p1), ("PROCESS_NOT_READY", .p1),
    ])
    func theRefusalRaisesAnAlertP0ForIdentityCodes(code: String, priority: AlertPriority) throws {
        var desk = try deskWithBook()
        _ = desk.decide(intent("i-1", quantity: 10))
        let out = desk.send(.orderRefused(Self.refusal("i-1", code: code)))
        let alerts = out.compactMap { if case .alert(let a) = $0 { a } else { nil } }
        #expect(alerts.count == 1 && out.count == 1, "\(out)")
        #expect(alerts.first?.priority == priority)
        #expect(alerts.first?.title.contains(code) == true)
        #expect(alerts.first?.text.contains(ApprovalID(for: "i-1").rawValue) == true)
        #expect(desk.gate.state == .active, "a refusal tells, it does not halt")
    }

    @Test func aRefusalRoundTripsThroughItsJournalFormAndReplaysTheSame() throws {
        let input = RiskInput.orderRefused(Self.refusal("i-1", code: "APPROVAL_REUSED"))
        let decoded = try JSONDecoder().decode(RiskInput.self, from: JSONEncoder().encode(input))
        #expect(decoded == input)
        // The gate a journal's replay rebuilds is the gate that handled it live.
        var live = try deskWithBook()
        var replayed = try deskWithBook()
        _ = live.decide(intent("i-1", quantity: 100))
        _ = replayed.decide(intent("i-1", quantity: 100))
        live.send(input)
        replayed.send(decoded)
        #expect(live.decide(intent("i-1", quantity: 100)) == replayed.decide(intent("i-1", quantity: 100)))
        #expect(live.gate.refusedApprovals == replayed.gate.refusedApprovals)
    }

    @Test func anOversizedRefusalIsRefusedBeforeItIsJournaled() {
        let huge = OrderRefusal(
            approval: "appr-i-1", intent: "i-1", broker: "broker@paper", code: "X",
            detail: String(repeating: "d", count: 10_000))
        #expect(RiskInput.orderRefused(huge).validate() != nil)
        let code = OrderRefusal(
            approval: "appr-i-1", intent: "i-1", broker: "broker@paper",
            code: String(repeating: "C", count: 1_000), detail: "")
        #expect(RiskInput.orderRefused(code).validate() != nil)
        #expect(RiskInput.orderRefused(Self.refusal("i-1", code: "APPROVAL_REUSED")).validate() == nil)
    }
}
