import ASTCore
import ASTJournal
import ASTRisk
import ASTTestKit
import ASTWire
import Foundation
import Testing

@testable import ASTReplay

/// A crash between an input and its output is a note, never a divergence; these pin that the
/// note cannot hide a real one: an output recorded with other content next to the crash (just
/// before the restart, or delivered by the restarted process) is still a divergence.
extension IncidentReplayTests {
    /// Entries of `types` after the first start marker (or all, with `afterMarker` false).
    func seqs(_ path: String, type: String, afterMarker: Bool) throws -> [Int64] {
        var out: [Int64] = []
        var seenMarker = false
        try JournalReader(path: path).scan { e in
            if EntryTypes.startMarkers.contains(e.record.type) { seenMarker = true }
            if e.record.type == type, seenMarker || !afterMarker { out.append(e.seq) }
            return true
        }
        return out
    }

    /// Changes `old` to `new` in entry `seq`'s body, in place (as an edit by hand would).
    func change(_ path: String, seq: Int64, _ old: String, _ new: String) throws {
        var changed = false
        try editBody(path, seq: seq) { body in
            changed = body.contains(old)
            return body.replacingOccurrences(of: old, with: new)
        }
        #expect(changed, "entry \(seq) has no \(old) to change")
    }

    @Test func aChangedRiskDecisionNextToACrashIsStillADivergence() throws {
        let dir = try TemporaryDirectory(prefix: "replay-crash-edit")
        defer { dir.remove() }
        let path = dir("risk@main.sqlite")
        // Inputs 2...7 are intents S0...S5; S2's decision is lost by the crash.
        try recordRiskWithCrash(path, crashAfter: 4, marker: true)
        let decisions = try seqs(path, type: EntryTypes.Risk.decision, afterMarker: false)
        #expect(decisions.count == 5)
        // S1's, the last decision recorded before the restart, and S3's, the first after it.
        let before = decisions[1], after = decisions[2]
        for seq in [before, after] {
            // The same decision, made a nanosecond later: content a replay cannot have produced.
            var changed = false
            try editBody(path, seq: seq) { body in
                guard var d = try? JSONDecoder().decode(IntentDecision.self, from: Data(body.utf8)) else { return body }
                d.at = Timestamp(nanoseconds: d.at.nanoseconds + 1)
                changed = true
                return String(decoding: (try? sorted.encode(d)) ?? Data(), as: UTF8.self)
            }
            #expect(changed, "entry \(seq) is a decision")
        }

        let report = ReplayVerifier.verify(try JournalDirectory(path: dir.path), config: ReplaySettings())
        let risk = report.processes[0]
        #expect(!report.identical)
        #expect(risk.notes.contains { $0.contains("a crash between input and output") }, "the crash is still a note: \(risk.notes)")
        #expect(risk.divergenceCount == 2, "\(report.text())")
        #expect(risk.divergences.compactMap(\.recordedSeq) == [before, after], "\(report.text())")
        #expect(report.text().contains("NOT IDENTICAL (2 divergences)"))
    }

    @Test func aChangedReportDeliveredAfterABrokerCrashIsStillADivergence() throws {
        let dir = try TemporaryDirectory(prefix: "replay-crash-edit")
        defer { dir.remove() }
        let path = dir("broker@paper.sqlite")
        // Input 2's reports are not sent before the crash; the restarted broker sends them.
        try recordBrokerWithCrash(path, crashAfter: 2, marker: true)
        let delivered = try #require(try seqs(path, type: MessageType.executionReport.rawValue, afterMarker: true).first)
        try change(path, seq: delivered, "\"quantity\":10", "\"quantity\":12")

        let report = ReplayVerifier.verify(try JournalDirectory(path: dir.path), config: ReplaySettings())
        let broker = report.processes[0]
        #expect(!report.identical)
        #expect(broker.notes.contains { $0.contains("a crash between input and output") }, "\(broker.notes)")
        #expect(broker.divergenceCount == 1, "\(report.text())")
        #expect(
            broker.divergence?.recordedSeq == delivered && broker.divergence?.what.contains("differs from the one sent") == true,
            "\(report.text())")
    }
}
