import ASTBus
import ASTCore
import ASTJournal
import ASTTestKit
import ASTWire
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The refusals a process counted beyond its refusal budget are not lost when it stops: the
/// summary of the window still open is journaled at an orderly shutdown (M9).
@Suite struct RefusalSummaryShutdownTests {
    @Test(.timeLimit(.minutes(2)))
    func aStoppedWorkerJournalsTheSummaryOfItsOpenRefusalWindow() async throws {
        let tree = try WorkerTree()
        let risk = ProcessIdentity(role: .risk, instance: "main")
        // Two refusals recorded in full per hour; the hour does not end during the test.
        let process = try await tree.start(risk, extra: ["AST_BUS__REFUSAL_BUDGET": "2", "AST_BUS__REFUSAL_INTERVAL_MS": "3600000"])
        defer { process.stop(graceSeconds: 5) }
        let json = #"{"v":1,"from":"control@test","type":"no.such.type","seq":1,"id":"x","ts":1,"body":{}}"#
        let frame = Framing.frame(Array(json.utf8))
        let path = tree.socketPath(risk)
        for _ in 0..<12 {
            let peer = try RawBusPeer(path: path)
            try peer.write(frame)
            _ = try peer.isClosedByPeer()
        }
        process.signal(SIGTERM)
        let status = try await process.waitForExit(timeout: .seconds(30))
        #expect(ChildProcess.exitCode(status) == 0, "an orderly stop: \(process.stderrTail)")

        let entries = try tree.entries(risk)
        let recorded = entries.filter { $0.record.type == BusEvent.protocolError.rawValue }
        let summaries = entries.filter { $0.record.type == BusEvent.refusalSummary.rawValue }.map {
            String(decoding: $0.record.body, as: UTF8.self)
        }
        #expect(recorded.count == 2, "the budget is recorded in full")
        #expect(summaries.count == 1, "\(summaries)")
        #expect(summaries.first?.contains("10 more refusals") == true, "\(summaries)")
        #expect(summaries.first?.contains("still open at shutdown") == true, "\(summaries)")
        #expect(process.stderr.contains("bus refusals summarised"), "the log says it too")
    }
}
