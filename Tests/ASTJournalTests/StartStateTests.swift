import Foundation
import GRDB
import Testing

@testable import ASTJournal

/// Which journals exist and can be read -> how a stateful process starts: missing state is never
/// a first start.
@Suite struct JournalStartDecisionTests {
    static let own = "/var/lib/ast/journal/risk@main.sqlite"
    static func peer(_ name: String, _ kind: PeerJournalFinding.Kind) -> PeerJournalFinding {
        PeerJournalFinding(path: "/var/lib/ast/journal/\(name).sqlite", kind: kind)
    }

    @Test func existingJournalIsRestoredWhateverThePeers() {
        #expect(JournalStart.decide(journal: Self.own, own: .present, peers: []) == .restore)
        #expect(JournalStart.decide(journal: Self.own, own: .present, peers: [Self.peer("astd@main", .earlierRun)]) == .restore)
        #expect(JournalStart.decide(journal: Self.own, own: .present, peers: [Self.peer("x", .unreadable("EIO"))]) == .restore)
    }

    @Test func noJournalAnywhereIsAFirstStart() {
        #expect(JournalStart.decide(journal: Self.own, own: .absent, peers: []) == .firstStart)
    }

    @Test func peersStartedInThisSameRunAreAFirstStart() {
        // The tree's very first start: astd and the workers started before risk created theirs.
        let peers = [Self.peer("astd@main", .thisRun), Self.peer("marketdata@main", .thisRun), Self.peer("strategy@main", .empty)]
        #expect(JournalStart.decide(journal: Self.own, own: .absent, peers: peers) == .firstStart)
    }

    @Test(arguments: [
        PeerJournalFinding.Kind.earlierRun,
        .unreadable("SQLite failed while opening read-only (unable to open database file)"),
    ])
    func missingJournalWithEvidenceOfAnEarlierRunIsMissingState(kind: PeerJournalFinding.Kind) {
        let peers = [Self.peer("astd@main", .thisRun), Self.peer("broker@paper", kind)]
        guard case .missingState(let detail) = JournalStart.decide(journal: Self.own, own: .absent, peers: peers) else {
            Issue.record("expected missing state")
            return
        }
        #expect(detail.hasPrefix("missing state: journal \(Self.own) does not exist"))
        #expect(detail.contains("broker@paper.sqlite"))
        #expect(!detail.contains("astd@main"), "a peer of this run is no evidence: \(detail)")
    }

    @Test func emptyJournalFileIsMissingStateToo() {
        let result = JournalStart.decide(journal: Self.own, own: .empty, peers: [Self.peer("reconciler@main", .earlierRun)])
        guard case .missingState(let detail) = result else {
            Issue.record("expected missing state, got \(result)")
            return
        }
        #expect(detail.contains("is empty"))
    }

    @Test func detailNamesAtMostThreePeersInOrder() {
        let peers = ["e", "d", "c", "b", "a"].map { Self.peer($0, .earlierRun) }
        guard case .missingState(let detail) = JournalStart.decide(journal: Self.own, own: .absent, peers: peers) else {
            Issue.record("expected missing state")
            return
        }
        #expect(detail.contains("(a.sqlite, b.sqlite, c.sqlite and 2 more)"), "\(detail)")
    }
}

/// ``JournalStart/inspect(journal:)`` on real files.
@Suite struct JournalStartInspectionTests {
    @Test func creatorOfAJournalIsThisProcessWhileItRuns() {
        #expect(JournalCreator.isRunning(JournalCreator.current))
        #expect(!JournalCreator.isRunning("not-a-boot/\(getpid())/1"))
        #expect(!JournalCreator.isRunning("garbage"))
    }

    @Test func journalsOfThisRunAreAFirstStartAndOfAnEarlierOneAreMissingState() throws {
        try withTemporaryDirectory { dir in
            let own = "\(dir)/risk@main.sqlite"
            #expect(JournalStart.inspect(journal: own) == .firstStart, "empty directory")
            _ = try makeJournal(in: dir, count: 2, name: "astd@main")
            #expect(JournalStart.inspect(journal: own) == .firstStart, "a peer created by a running process (this one)")
            _ = FileManager.default.createFile(atPath: "\(dir)/notes.txt", contents: Data("x".utf8))
            #expect(JournalStart.inspect(journal: own) == .firstStart, "files that are not .sqlite do not count")
            // astctl's journal: its creator has always exited, but it says nothing about the tree's state.
            _ = try makeJournal(in: dir, count: 1, name: "control@astctl")
            let control = try DatabaseQueue(path: "\(dir)/control@astctl.sqlite")
            try control.write { try $0.execute(sql: "UPDATE meta SET value = 'old-boot/1/1' WHERE key = 'created_by'") }
            try control.close()
            // A journal being created this instant: no tables yet.
            try DatabaseQueue(path: "\(dir)/notifier@main.sqlite").close()
            #expect(JournalStart.inspect(journal: own) == .firstStart, "astctl's journal and a journal being created")

            // The peer's creator has exited: the installation ran before, and risk's journal is gone.
            let db = try DatabaseQueue(path: "\(dir)/astd@main.sqlite")
            try db.write { try $0.execute(sql: "UPDATE meta SET value = 'old-boot/1/1' WHERE key = 'created_by'") }
            try db.close()
            guard case .missingState = JournalStart.inspect(journal: own) else {
                Issue.record("expected missing state")
                return
            }
            // Once the process has its journal again, it restores from it.
            _ = try makeJournal(in: dir, count: 1, name: "risk@main")
            #expect(JournalStart.inspect(journal: own) == .restore)
        }
    }

    @Test func journalWithoutCreatorFromAnOlderBuildCountsAsAnEarlierRun() throws {
        try withTemporaryDirectory { dir in
            _ = try makeJournal(in: dir, count: 1, name: "reconciler@main")
            let db = try DatabaseQueue(path: "\(dir)/reconciler@main.sqlite")
            try db.write { try $0.execute(sql: "DELETE FROM meta WHERE key = 'created_by'") }
            try db.close()
            guard case .missingState = JournalStart.inspect(journal: "\(dir)/broker@paper.sqlite") else {
                Issue.record("expected missing state")
                return
            }
        }
    }

    @Test func unreadablePeerCountsAsAnEarlierRunAndEmptyOwnFileAsMissing() throws {
        try withTemporaryDirectory { dir in
            // Garbage where a journal should be: SQLite cannot read it (fail closed).
            try Data(repeating: 0xA5, count: 8192).write(to: URL(fileURLWithPath: "\(dir)/broker@paper.sqlite"))
            guard case .missingState(let detail) = JournalStart.inspect(journal: "\(dir)/risk@main.sqlite") else {
                Issue.record("expected missing state")
                return
            }
            #expect(detail.contains("broker@paper.sqlite (unreadable"), "\(detail)")
            try Data().write(to: URL(fileURLWithPath: "\(dir)/risk@main.sqlite"))
            guard case .missingState(let empty) = JournalStart.inspect(journal: "\(dir)/risk@main.sqlite") else {
                Issue.record("expected missing state for an empty file")
                return
            }
            #expect(empty.contains("is empty"))
        }
    }
}
