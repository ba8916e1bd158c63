import ASTCore
import ASTJournal
import ASTTestKit
import ASTWire
import Foundation
import Logging
import Testing

@testable import ASTReplay

/// A reconciler that starts with a quarantined entry pending (its journal was moved aside, or an
/// input no longer validates) tells the risk gate at that start, before any input; replay
/// reproduces that message from the same quarantine records instead of calling it an output
/// it did not produce.
@Suite struct StartupQuarantineReplayTests {
    let logger = Logger(label: "test")

    /// A reconciler journal as the shell writes it on a start after missing state: the start
    /// marker, the quarantine of the `journal.state_missing` entry, the start-up mismatch to
    /// ast-risk (`text`, the shell's unless told), then one input and its summary.
    func record(_ path: String, text: (String) -> String = { $0 }) throws {
        let journal = try Journal(path: path, process: "reconciler@main", logger: logger)
        defer { try? journal.close() }
        try journal.append(
            JournalRecord(kind: .state, type: EntryTypes.processStarted, timestamp: at(0), body: Array(#"{"pid":1}"#.utf8)),
            durability: .batched)
        let entry = QuarantinedEntry(
            process: "reconciler@main", journal: path, seq: 1, type: JournalStart.stateMissingType,
            cause: "no journal while risk@main.sqlite exists: missing state")
        try journal.append(QuarantineJournal.entryRecord(entry, at: at(0)), durability: .durable)
        let shells = QuarantineJournal.startupMismatch(pending: [entry]) ?? ""
        try journal.append(
            message(
                .sent, .reconciliationResult(.mismatch(text(shells))), from: ProcessIdentity(role: .reconciler),
                id: "reconciler@main>risk@main#1", correlation: nil, at: at(1), peer: "risk@main"), durability: .batched)
    }

    @Test func theStartupMismatchOfAQuarantinedStartReplaysIdentical() throws {
        let dir = try TemporaryDirectory(prefix: "replay-quarantine")
        defer { dir.remove() }
        try record(dir("reconciler@main.sqlite"))
        let report = ReplayVerifier.verify(try JournalDirectory(path: dir.path), config: ReplaySettings())
        #expect(report.identical, "\(report.text())")
        #expect(report.processes.first?.outputsCompared == 1, "\(report.text())")
    }

    @Test func anotherMismatchAtStartIsStillADivergence() throws {
        let dir = try TemporaryDirectory(prefix: "replay-quarantine")
        defer { dir.remove() }
        try record(dir("reconciler@main.sqlite")) { _ in "2 quarantined journal entries: made up" }
        let report = ReplayVerifier.verify(try JournalDirectory(path: dir.path), config: ReplaySettings())
        #expect(!report.identical, "\(report.text())")
    }
}
