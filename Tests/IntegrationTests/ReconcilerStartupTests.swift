import ASTCore
import ASTJournal
import ASTRuntime
import ASTTestKit
import ASTWire
import Foundation
import Testing

/// ast-reconciler's start-up (M8): a report that arrives while the reconciler is still starting
/// (waiting for the broker's account) is journaled by the bus, found by the start-up scan for
/// unhandled messages, and also waiting on the live path; it must be taken once.
@Suite(.serialized) struct ReconcilerStartupTests {
    @Test(.timeLimit(.minutes(2)))
    func aReportArrivingDuringStartUpIsHandledOnceNotByBothTheScanAndTheLivePath() async throws {
        let tree = try WorkerTree()
        let reconcilerID = ProcessIdentity(role: .reconciler)
        // No broker yet: the reconciler waits for the broker's cash before its start-up scan.
        let reconciler = try await tree.start(reconcilerID)
        defer { reconciler.signal(SIGKILL) }
        let peer = try RawBusPeer(path: tree.socketPath(reconcilerID), identity: ProcessIdentity(role: .broker, instance: "raw"))
        try peer.hello()
        guard case .welcome? = try peer.receive()?.message else { throw HarnessError("no welcome from the reconciler") }
        let report = ExecutionReport(
            id: "broker@raw-r1", broker: "broker@raw", event: .accepted("i-startup.E"),
            at: Timestamp(nanoseconds: 1_751_000_000_000_000_000))
        let sent = try peer.send(.executionReport(report), id: "broker@raw>reconciler@main#1")
        try await eventually(timeout: .seconds(30), "the report journaled as received") {
            try tree.entries(reconcilerID).contains {
                $0.record.kind == .received && $0.record.messageID == sent.id && $0.record.type == "execution.report"
            }
        }
        // Now the broker: the reconciler gets its cash, scans, and the live path goes on.
        let broker = try await tree.start(ProcessIdentity(role: .broker, instance: "paper"))
        defer { broker.signal(SIGKILL) }
        // The acknowledgement comes once the live path is done with the report.
        var acked = false
        let deadline = ContinuousClock.now + .seconds(60)
        while !acked && ContinuousClock.now < deadline {
            if case .ack(let a)? = try peer.receive(timeoutMs: 60_000)?.message, a.id == sent.id { acked = true }
        }
        #expect(acked, "the reconciler acknowledged the report; its log: \(reconciler.stderr.suffix(2000))")
        let taken = try tree.entries(reconcilerID).filter { $0.record.type == "reconciler.input" && $0.record.messageID == sent.id }
        #expect(taken.count == 1, "the report was taken \(taken.count) times (start-up scan and live path)")
    }
}
