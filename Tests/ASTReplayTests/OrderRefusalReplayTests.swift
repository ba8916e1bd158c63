import ASTCore
import ASTJournal
import ASTReplay
import ASTRisk
import ASTTestKit
import Foundation
import Logging
import Testing

/// A broker's refusal journaled by ast-risk (`risk.input` orderRefused) is folded by replay and
/// by the restore exactly as the gate handled it live.
@Suite struct OrderRefusalReplayTests {
    func inputs() -> [(RiskInput, Timestamp)] {
        let snapshot = PortfolioSnapshot(
            asOf: at(1), cash: Money("100000.00")!, equity: Money("100000.00")!,
            peakEquity: Money("100000.00")!, startOfDayEquity: Money("100000.00")!)
        let group = intentGroup("2025-07-01.breakout.S1", Symbol(validating: "AAPL")!, quantity: 10)
        let refusal = OrderRefusal(
            approval: ApprovalID(for: group.id), intent: group.id, broker: "broker@paper",
            code: "APPROVAL_SIGNATURE_INVALID", detail: "pid 42: approval does not carry a valid signature")
        return [
            (.portfolio(snapshot), at(1)), (.mark(MarketMark(symbol: "AAPL", price: Price("100.00")!, at: at(2))), at(2)),
            (.intent(group), at(3)), (.orderRefused(refusal), at(4)), (.intent(group), at(5)),
        ]
    }

    @Test func aJournaledRefusalReplaysIdenticallyAndTheFoldRestoresIt() throws {
        let dir = try TemporaryDirectory(prefix: "refusal-replay")
        defer { dir.remove() }
        let path = dir("risk@main.sqlite")
        _ = try recordRisk(path, inputs())
        let report = ReplayVerifier.verify(try JournalDirectory(path: dir.path), config: ReplaySettings())
        #expect(report.identical, "\(report.text())")
        #expect(report.processes.first?.inputs == 5)

        let journal = try Journal(path: path, process: "risk@main", logger: Logger(label: "test"))
        defer { try? journal.close() }
        let fold = try RiskJournalFold.fold(limits: .cautiousDefaults) { try journal.scan(fromSeq: 1, $0) }
        #expect(fold.gate?.refusedApprovals == [ApprovalID(for: "2025-07-01.breakout.S1")])
        // The re-sent intent was recorded blocked, and the restored gate blocks it again.
        var gate = try #require(fold.gate)
        let again = gate.handle(.intent(intentGroup("2025-07-01.breakout.S1", Symbol(validating: "AAPL")!, quantity: 10)), now: at(6))
        guard case .decision(let d)? = again.first, case .block(let code, _) = d.decision else {
            Issue.record("expected a block, got \(again)")
            return
        }
        #expect(code == .orderRefusedByBroker)
    }
}
