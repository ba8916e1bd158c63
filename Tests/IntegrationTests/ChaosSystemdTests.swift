import ASTCore
import ASTExecution
import ASTJournal
import ASTTestKit
import ASTWire
import Foundation
import Logging
import Testing

/// scripts/chaos-systemd's verdict on orders and fills (`ast-testpeer chaos-check` over a copy of
/// a journal directory), on journals written here with the records the broker and the
/// reconciler write: a re-sent order passes, an order placed twice, a fill lost or an unreadable
/// journal fails.
@Suite(.serialized)
struct ChaosCheckTests {
    static let broker = ProcessIdentity(role: .broker, instance: "paper")
    static let t0 = Timestamp(nanoseconds: 1_741_100_000_000_000_000)
    static let intent: IntentID = "2025-03-04.bracket.CLDG"

    static func approval(quantity: Int64 = 48) -> Approval {
        Approval(
            id: ApprovalID(for: intent), intent: intent, symbol: "CLDG", side: .buy, quantity: Quantity(quantity),
            requestedQuantity: Quantity(quantity), entry: .market, stopLoss: Price("95.00"), takeProfit: Price("120.00"),
            state: .active, at: t0)
    }

    static var entryID: ClientOrderID { ClientOrderID(intent: intent, leg: .entry) }

    static func fill(_ execution: String, _ quantity: Int64 = 48) -> Fill {
        Fill(
            executionID: ExecutionID(execution), clientOrderID: entryID, symbol: "CLDG", side: .buy, quantity: Quantity(quantity),
            price: Price("103.78")!, commission: Money("0")!, at: t0)
    }

    static func report(_ n: Int, _ event: ExecutionEvent) -> ExecutionReport {
        ExecutionReport(id: "broker@paper-r\(n)", broker: "broker@paper", event: event, at: t0)
    }

    /// A journal directory: the broker received `submits` and sent `reports`; the reconciler
    /// received the fills in `reconciled` (no reconciler journal when nil).
    static func journals(
        _ dir: TemporaryDirectory, submits: [Approval], reports: [ExecutionReport], reconciled: [Fill]?
    ) throws {
        let logger = Logger(label: "test")
        let b = try Journal(path: dir("broker@paper.sqlite"), process: broker.description, logger: logger)
        for (n, a) in submits.enumerated() {
            let e = Envelope(
                sender: ProcessIdentity(role: .risk), seq: UInt64(n + 1), id: "risk-m\(n)", timestamp: t0, message: .orderSubmit(a))
            _ = try b.append(
                JournalRecord(
                    kind: .received, type: "order.submit", timestamp: t0, messageID: e.id, peer: "risk", body: EnvelopeCodec.encode(e)),
                durability: .durable)
        }
        for (n, r) in reports.enumerated() {
            let e = Envelope(sender: broker, seq: UInt64(n + 1), id: "broker-m\(n)", timestamp: t0, message: .executionReport(r))
            _ = try b.append(
                JournalRecord(
                    kind: .sent, type: "execution.report", timestamp: t0, messageID: e.id, peer: "reconciler", body: EnvelopeCodec.encode(e)
                ),
                durability: .durable)
        }
        try b.close()
        guard let reconciled else { return }
        let r = try Journal(path: dir("reconciler@main.sqlite"), process: "reconciler@main", logger: logger)
        for (n, f) in reconciled.enumerated() {
            let body = try JSONEncoder().encode(ReconcilerInput.report(report(100 + n, .fill(f))))
            _ = try r.append(
                JournalRecord(kind: .received, type: EntryTypes.Reconciler.input, timestamp: t0, peer: "broker@paper", body: Array(body)),
                durability: .durable)
        }
        try r.close()
    }

    /// Runs `ast-testpeer chaos-check` on `dir`: exit status and output.
    static func check(_ dir: TemporaryDirectory, requireFills: Bool = true) async throws -> (Int32?, String) {
        let p = try ChildProcess(
            try BuildProducts.executable("ast-testpeer"), ["chaos-check", dir.path] + (requireFills ? ["--require-fills"] : []),
            environment: ProcessInfo.processInfo.environment, name: "chaos-check", outputDirectory: dir.path)
        let status = try await p.waitForExit(timeout: .seconds(60))
        return (ChildProcess.exitCode(status), p.stdout + p.stderr)
    }

    @Test(.timeLimit(.minutes(2)))
    func aResentOrderPassesAndAnOrderTwiceALostFillOrAnUnreadableJournalFails() async throws {
        let accepted = Self.report(1, .accepted(Self.entryID))
        let filled = Self.report(2, .fill(Self.fill("x-1")))
        var failures: [String] = []

        // The same approval three times (re-sent after crashes, deduped by the broker), its fill
        // report re-sent once, the fill at the reconciler: passes, and says what it counted.
        let ok = try TemporaryDirectory(prefix: "ast-chaoscheck")
        defer { ok.remove() }
        try Self.journals(
            ok, submits: Array(repeating: Self.approval(), count: 3), reports: [accepted, filled, filled], reconciled: [Self.fill("x-1")])
        let (okStatus, okOut) = try await Self.check(ok)
        #expect(okStatus == 0, "\(okOut)")
        #expect(okOut.contains("3 order.submit received for 1 approval(s) (2 re-sent copies)"), "\(okOut)")
        #expect(okOut.contains("1 fill(s) (2 fill reports"), "\(okOut)")

        let cases: [(String, [Approval], [ExecutionReport], [Fill]?, String)] = [
            (
                "accepted twice", [Self.approval()], [accepted, Self.report(3, .accepted(Self.entryID)), filled], [Self.fill("x-1")],
                "accepted by 2"
            ),
            (
                "two orders, one id", [Self.approval(), Self.approval(quantity: 96)], [accepted, filled], [Self.fill("x-1")],
                "two different orders"
            ),
            (
                "filled twice", [Self.approval()], [accepted, filled, Self.report(3, .fill(Self.fill("x-2")))],
                [Self.fill("x-1"), Self.fill("x-2")], "filled twice"
            ),
            ("fill lost", [Self.approval()], [accepted, filled], [], "never reached the reconciler"),
            ("no reconciler journal", [Self.approval()], [accepted, filled], nil, "cannot read"),
            ("no fill at all", [Self.approval()], [accepted], [], "no fill happened"),
        ]
        for (name, submits, reports, reconciled, expected) in cases {
            let dir = try TemporaryDirectory(prefix: "ast-chaoscheck")
            defer { dir.remove() }
            try Self.journals(dir, submits: submits, reports: reports, reconciled: reconciled)
            let (status, out) = try await Self.check(dir)
            if status != 1 || !out.contains(expected) {
                failures.append("\(name): exit \(status.map(String.init) ?? "signal"), expected '\(expected)' in:\n\(out)")
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}
