import ASTCore
import ASTJournal
import ASTRisk
import ASTTestKit
import ASTWire
import Foundation
import Testing

/// A broker's refusal of an approval reaches the risk gate (M9): journaled as a risk input and
/// alerted, not acknowledged in silence.
@Suite(.serialized) struct OrderRefusalIntegrationTests {
    @Test(.timeLimit(.minutes(3)))
    func aRefusedApprovalIsJournaledByRiskAndRaisedAsAP0() async throws {
        let tree = try await SupervisedTree(
            overlay: ExecutionTests.looseLimits, extraEnvironment: ["AST_FAULT_BAD_APPROVAL_SIGNATURE": "1"])
        _ = try await tree.waitAllReady()
        try await ExecutionTests.markAll(tree)
        #expect(try ExecutionTests.submit([ExecutionTests.intent("refused-1", "AAPL")], to: tree) == ["refused-1"])

        func refusals() throws -> [OrderRefusal] {
            try IdentityTests.entries(tree, "risk@main").compactMap { e in
                guard e.record.type == "risk.input",
                    case .orderRefused(let r) = try JSONDecoder().decode(RiskInput.self, from: Data(e.record.body))
                else { return nil }
                return r
            }
        }
        func riskAlerts() throws -> [Alert] {
            try IdentityTests.entries(tree, "notifier@main").compactMap { e in
                guard e.record.kind == .received, e.record.type == "alert",
                    case .alert(let a) = try EnvelopeCodec.decode(e.record.body).message, a.key.hasPrefix("order-refused:")
                else { return nil }
                return a
            }
        }
        do {
            try await eventually(timeout: .seconds(30), "ast-risk journals the broker's refusal") { try !refusals().isEmpty }
            let refusal = try #require(try refusals().first)
            #expect(refusal.code == "APPROVAL_SIGNATURE_INVALID")
            #expect(refusal.approval == ApprovalID(for: "refused-1") && refusal.broker == "broker@paper")
            #expect(refusal.detail.utf8.count <= InputRefusal.maxDetailBytes)
            try await eventually(timeout: .seconds(30), "risk's P0 about the refused order at the notifier") { try !riskAlerts().isEmpty }
            #expect(try riskAlerts().allSatisfy { $0.priority == .p0 && $0.title.contains("APPROVAL_SIGNATURE_INVALID") })
            // Risk's connection to the broker stays up: a refusal of one message is a reply.
            let (after, code) = try #require(try tree.status())
            let ready = after.children.allSatisfy(\.ready)
            #expect(code == 0 && ready)
        } catch {
            print(String(tree.astd.stderr.suffix(8000)))
            throw error
        }
    }
}
