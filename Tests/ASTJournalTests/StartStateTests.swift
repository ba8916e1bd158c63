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

    /// Under units/ast.service (ProcSubset=pid) /proc/sys/kernel/random/boot_id cannot be read:
    /// the creator then names the unit's invocation, which the whole tree shares, instead of
    /// nothing (which made every journal of the same run an "earlier run": a fresh install
    /// started HALTED for missing state).
    @Test func withoutABootIdTheCreatorNamesTheServiceInvocation() {
        #expect(JournalCreator.epoch(bootID: "6a3e\n", environment: ["INVOCATION_ID": "abc"]) == "6a3e")
        #expect(JournalCreator.epoch(bootID: nil, environment: ["INVOCATION_ID": "0f2c9a"]) == "invocation-0f2c9a")
        #expect(JournalCreator.epoch(bootID: "", environment: ["INVOCATION_ID": "0f2c9a"]) == "invocation-0f2c9a")
        // Neither: no creator is ever running, every peer journal counts as an earlier run.
        #expect(JournalCreator.epoch(bootID: nil, environment: [:]) == nil)
        #expect(JournalCreator.epoch(bootID: nil, environment: ["INVOCATION_ID": "a/b"]) == nil)
    }

    /// Under the service no process sees another in /proc: a journal created in this very
    /// invocation is of this run (a fresh install is a first start, not missing state), one of
    /// another invocation is of an earlier run, and without an epoch nothing runs (fail closed).
    @Test func aCreatorOfThisInvocationIsThisRunWithoutLookingAtItsPid() {
        let epoch = "invocation-0f2c9a"
        #expect(JournalCreator.isRunning("invocation-0f2c9a/999999/1", epoch: epoch))
        #expect(!JournalCreator.isRunning("invocation-77aa01/999999/1", epoch: epoch))
        #expect(!JournalCreator.isRunning("invocation-0f2c9a/999999/1", epoch: nil))
        #expect(!JournalCreator.isRunning("6a3e/\(getpid())/1", epoch: epoch))
    }

    /// A child astd starts again in the same run had written its journal: if it is gone, the
    /// state is lost, whatever the peers say (they are all of this run).
    @Test func aRestartedChildWhoseJournalIsGoneIsMissingStateEvenWithoutPeers() throws {
        try withTemporaryDirectory { dir in
            let own = "\(dir)/risk@main.sqlite"
            #expect(JournalStart.inspect(journal: own, environment: [JournalStart.spawnCountVariable: "1"]) == .firstStart)
            #expect(JournalStart.inspect(journal: own, environment: [:]) == .firstStart)
            guard case .missingState(let detail) = JournalStart.inspect(journal: own, environment: [JournalStart.spawnCountVariable: "2"])
            else {
                Issue.record("a restart without its journal must be missing state")
                return
            }
            #expect(detail.contains("ran earlier in this run of the tree"), "\(detail)")
        }
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
