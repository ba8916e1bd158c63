import ASTCore
import ASTJournal
import ASTRuntime
import ASTTestKit
import ASTWire
import Foundation
import Testing

/// Fail closed where state is missing or unreadable (M10): a journal that is gone after a run is
/// never a first start, a journal that cannot be read never starts ACTIVE, and the drill and the
/// report fail on a journal they cannot read. Real astd, real workers, real journals.
@Suite(.serialized) struct FailClosedStateTests {
    /// Stops the tree's astd with SIGTERM (a clean stop of every worker) and waits for it.
    func stop(_ astd: ChildProcess) async throws {
        astd.signal(SIGTERM)
        let code = try await astd.waitForExit(timeout: .seconds(60))
        #expect(ChildProcess.exitCode(code) == 0, "astd stopped cleanly: \(astd.stderr.suffix(1500))")
    }

    /// A second astd on the same state directory (the tree after a restart).
    func restart(_ tree: SupervisedTree, name: String) throws -> ChildProcess {
        try ChildProcess(
            try BuildProducts.executable("astd"), ["--foreground"], environment: tree.environment,
            name: name, outputDirectory: tree.dir.path)
    }

    /// Moves `process`'s journal (and its WAL files) out of the journal directory, as the old
    /// runbook advised for a damaged one.
    func moveAside(_ process: String, in tree: SupervisedTree) throws {
        let aside = tree.dir("aside")
        try FileManager.default.createDirectory(atPath: aside, withIntermediateDirectories: true)
        for suffix in ["", "-wal", "-shm"]
        where FileManager.default.fileExists(atPath: tree.dir("state/journal/\(process).sqlite\(suffix)")) {
            try FileManager.default.moveItem(
                atPath: tree.dir("state/journal/\(process).sqlite\(suffix)"),
                toPath: "\(aside)/\(process).sqlite\(suffix)")
        }
    }

    func safeMode(_ tree: SupervisedTree) -> RiskStatusReport? { (try? tree.status())??.0.safeMode }

    @Test(.timeLimit(.minutes(3)))
    func riskJournalMovedAsideAfterARunStartsHaltedWithMissingState() async throws {
        let tree = try await SupervisedTree()
        _ = try await tree.waitAllReady()
        let first = safeMode(tree)
        #expect(first?.state == .active, "a new installation's first start is ACTIVE: \(String(describing: first))")
        try await stop(tree.astd)
        try moveAside("risk@main", in: tree)

        let astd = try restart(tree, name: "astd-2")
        defer { astd.signal(SIGKILL) }
        var seen: RiskStatusReport?
        try await eventually(timeout: .seconds(60), "ast-risk to answer after the restart (last seen: \(String(describing: seen)))") {
            guard astd.isRunning else { throw HarnessError("astd exited: \(astd.stderr.suffix(2000))") }
            seen = safeMode(tree)
            return seen != nil
        }
        let halted = try #require(seen)
        #expect(halted.state == .halted, "missing state is never a first start: \(halted)")
        #expect(
            halted.cause.hasPrefix("missing state: journal ") && halted.cause.contains("risk@main.sqlite does not exist"), "\(halted.cause)"
        )

        // Journaled: the initial Safe Mode record is HALTED with cause missing_state, and a P0 left for the notifier.
        let entries = try WorkerTree.entries(path: tree.dir("state/journal/risk@main.sqlite"), process: "risk@main")
        let initial = try #require(entries.first { $0.record.type == "safe_mode.initial" })
        let text = String(decoding: initial.record.body, as: UTF8.self)
        #expect(text.contains("\"HALTED\"") && text.contains("missing_state"), "\(text)")
        #expect(entries.contains { $0.record.type == JournalStart.stateMissingType })
        let alert = entries.first { $0.record.kind == .sent && $0.record.type == MessageType.alert.rawValue }
        #expect(alert.map { String(decoding: $0.record.body, as: UTF8.self).contains("P0") } == true, "a P0 alert was sent")
        #expect(alert.map { String(decoding: $0.record.body, as: UTF8.self).contains("missing state") } == true)

        // ... and the notifier took it (a new journal numbers messages above the earlier run's ids,
        // which the notifier would otherwise drop as duplicates).
        try await eventually(timeout: .seconds(20), "the notifier to receive the missing-state P0") {
            try WorkerTree.entries(path: tree.dir("state/journal/notifier@main.sqlite"), process: "notifier@main").contains {
                $0.record.kind == .received && $0.record.type == MessageType.alert.rawValue
                    && String(decoding: $0.record.body, as: UTF8.self).contains("missing state")
            }
        }

        // A restart of ast-risk now restores HALTED from its (new) journal: it stays HALTED.
        let pid = try #require(try tree.status().flatMap { tree.child("risk@main", in: $0.0)?.pid })
        kill(pid, SIGKILL)
        try await eventually(timeout: .seconds(30), "ast-risk to be back") {
            guard let (s, _) = try tree.status(), let c = tree.child("risk@main", in: s) else { return false }
            return c.pid != pid && c.ready && s.safeMode != nil
        }
        #expect(safeMode(tree)?.state == .halted)
    }

    @Test(.timeLimit(.minutes(3)))
    func brokerJournalMovedAsideQuarantinesItAndHaltsTrading() async throws {
        let tree = try await SupervisedTree()
        _ = try await tree.waitAllReady()
        try await stop(tree.astd)
        try moveAside("broker@paper", in: tree)

        let astd = try restart(tree, name: "astd-2")
        defer { astd.signal(SIGKILL) }
        var seen: RiskStatusReport?
        var last = ""
        do {
            try await eventually(timeout: .seconds(60), "ast-risk to be HALTED by the broker's missing state") {
                guard astd.isRunning else { throw HarnessError("astd exited: \(astd.stderr.suffix(2000))") }
                let status = try tree.astctl(["status"])
                last = "\(status.code) \(status.stdout) \(status.stderr)"
                seen = safeMode(tree)
                return seen?.state == .halted
            }
        } catch {
            Issue.record("last astctl status: \(last)\nastd: \(astd.stderr.suffix(4000))")
            throw error
        }
        #expect(seen?.cause.contains("missing state") == true, "\(String(describing: seen?.cause))")
        let list = try tree.astctl(["quarantine", "list"])
        #expect(list.code != 0 && list.stdout.contains(JournalStart.stateMissingType), "\(list.stdout)\(list.stderr)")

        // The operator acknowledges knowingly: the broker takes orders again, the gate stays HALTED.
        let entries = try WorkerTree.entries(path: tree.dir("state/journal/broker@paper.sqlite"), process: "broker@paper")
        let seq = try #require(entries.first { $0.record.type == JournalStart.stateMissingType }?.seq)
        let ack = try tree.astctl([
            "quarantine", "ack", "--process", "broker@paper", "--seq", "\(seq)", "--reason", "journal lost in a test",
        ])
        #expect(ack.code == 0, "\(ack.stdout)\(ack.stderr)")
        try await eventually(timeout: .seconds(30), "the broker to report itself connected again") {
            safeMode(tree)?.disconnectedBrokers.isEmpty == true
        }
        #expect(safeMode(tree)?.state == .halted, "an acknowledgement is no resume")
    }

    @Test(.timeLimit(.minutes(3)))
    func reconcilerJournalMovedAsideQuarantinesItAndHaltsTrading() async throws {
        let tree = try await SupervisedTree()
        _ = try await tree.waitAllReady()
        try await stop(tree.astd)
        try moveAside("reconciler@main", in: tree)

        let astd = try restart(tree, name: "astd-2")
        defer { astd.signal(SIGKILL) }
        try await eventually(timeout: .seconds(60), "ast-risk to be HALTED by the reconciler's missing state") {
            guard astd.isRunning else { throw HarnessError("astd exited: \(astd.stderr.suffix(2000))") }
            return safeMode(tree)?.state == .halted
        }
        let halted = try #require(safeMode(tree))
        #expect(halted.cause.contains("reconciliation mismatch") && halted.cause.contains("missing state"), "\(halted.cause)")
        // Replay reproduces the reconciler's start-up quarantine message instead of calling it an
        // output it did not produce.
        let replay = try tree.astctl(["replay", "--verify"], timeout: .seconds(120))
        #expect(replay.code == 0 && replay.stdout.contains("replay: IDENTICAL"), "\(replay.stdout.suffix(3000))\(replay.stderr)")
    }

    @Test(.timeLimit(.minutes(3)))
    func corruptedRiskJournalNeverStartsActiveAndTheReportFails() async throws {
        let tree = try await SupervisedTree()
        _ = try await tree.waitAllReady()
        try await stop(tree.astd)
        // Garbage over the journal (a bad disk, a partial copy).
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: tree.dir("state/journal/risk@main.sqlite\(suffix)")) }
        try Data(repeating: 0x5A, count: 16_384).write(to: URL(fileURLWithPath: tree.dir("state/journal/risk@main.sqlite")))

        // The report on these journals fails, with the journal named.
        let report = try tree.astctl(["report", "--state-dir", tree.dir("state"), "--out", tree.dir("report")])
        #expect(report.code == 1, "report on an unreadable journal: \(report.stdout)\(report.stderr)")
        #expect(report.stderr.contains("INCOMPLETE") && report.stderr.contains("risk@main"), "\(report.stderr)")

        let astd = try restart(tree, name: "astd-2")
        defer { astd.signal(SIGKILL) }
        // ast-risk refuses to start on it (and is restarted, and refuses again); never ACTIVE.
        let deadline = ContinuousClock.now + .seconds(15)
        var states: [String] = []
        while ContinuousClock.now < deadline {
            if let s = safeMode(tree) { states.append(s.state.rawValue) }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(!states.contains("ACTIVE"), "states seen: \(states)")
        #expect(astd.stderr.contains("risk@main.sqlite: not an AST journal"), "\(astd.stderr.suffix(3000))")
    }

    @Test(.timeLimit(.minutes(3)))
    func drillFailsWhenAJournalItChecksCannotBeRead() async throws {
        let tree = try await SupervisedTree()
        _ = try await tree.waitAllReady()
        // The reconciler keeps writing to its (renamed) file; the drill finds no journal at the path.
        try FileManager.default.moveItem(
            atPath: tree.dir("state/journal/reconciler@main.sqlite"),
            toPath: tree.dir("state/journal/reconciler@main.sqlite.moved"))
        let drill = try tree.astctl(
            [
                "drill", "--rounds", "1", "--process", "strategy@main", "--signals", "term", "--seed", "1",
                "--max-delay-ms", "0",
            ], timeout: .seconds(120))
        #expect(drill.code == 1, "the drill fails: \(drill.stdout.suffix(2000))\(drill.stderr.suffix(1000))")
        let output = drill.stdout + drill.stderr
        #expect(output.contains("journals_readable") && output.contains("reconciler@main.sqlite"), "\(output.suffix(3000))")
    }
}
