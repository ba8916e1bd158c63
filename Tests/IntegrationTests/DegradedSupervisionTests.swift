import ASTCore
import ASTJournal
import ASTSupervision
import ASTTestKit
import ASTWire
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// M10: supervision degrades instead of dying. A crash-looping non-critical child (here the
/// notifier) is given up on alone while risk, broker and reconciler keep running, and a child
/// that never reports READY is aborted by its start-up timeout.
@Suite(.serialized) struct DegradedSupervisionTests {
    /// The shipped children, with the notifier's own budget small (2 restarts in 2 minutes) so
    /// that three kills exceed it whatever the machine's load. `critical` is left to its
    /// default by role.
    static let overlay = """
        supervisor:
          restart_backoff_ms: 10
          restart_backoff_max_ms: 50
          children:

        """
        + SupervisorTests.workers.map { name in
            let role = name.split(separator: "@")[0]
            let onCrash = role == "broker" || role == "risk" || role == "reconciler" ? "halt" : role == "marketdata" ? "reduce" : "none"
            return """
                    - name: \(name)
                      executable: ast-\(role)
                      arguments: []
                      restart: permanent
                      shutdown_timeout_ms: 5000
                      watchdog_ms: 10000
                      on_crash: \(onCrash)
                """ + (role == "notifier" ? "\n      intensity: 2\n      period_ms: 120000\n" : "\n")
        }.joined()

    @Test(.timeLimit(.minutes(3)))
    func aCrashLoopingNotifierIsGivenUpOnAloneAndRiskBrokerAndReconcilerKeepTheirPids() async throws {
        let tree = try await SupervisedTree(overlay: Self.overlay)
        let before = try await tree.waitAllReady(timeout: .seconds(60))
        var killed: [Int32] = []
        var last: TreeStatus?
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            guard tree.astd.isRunning else { throw HarnessError("astd exited: \(tree.astd.stderr.suffix(2000))") }
            if let (s, _) = try tree.status(), let n = tree.child("notifier@main", in: s) {
                last = s
                if n.state == "given_up" { break }
                if let pid = n.pid, n.state == "running", !killed.contains(pid) {
                    kill(pid, SIGKILL)
                    killed.append(pid)
                }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        guard let seen = last.flatMap({ tree.child("notifier@main", in: $0) }), seen.state == "given_up" else {
            throw HarnessError(
                "the notifier was not given up on after killing \(killed); last status \(String(describing: last)); "
                    + "astd: \(tree.astd.stderr.suffix(3000))")
        }
        #expect(killed.count == 3, "2 restarts allowed, the third refused")

        let (after, code) = try #require(try tree.status())
        #expect(code == 3, "astctl status: degraded")
        #expect(after.state == "degraded")
        #expect(after.summary.contains("given up: notifier@main"), "summary: \(after.summary)")
        let notifier = try #require(tree.child("notifier@main", in: after))
        #expect(notifier.pid == nil && notifier.state == "given_up" && notifier.lastExit == "killed by signal 9 (SIGKILL)")
        for name in ["marketdata@main", "strategy@main", "risk@main", "broker@paper", "reconciler@main"] {
            let c = tree.child(name, in: after)
            #expect(
                c?.pid != nil && c?.pid == tree.child(name, in: before)?.pid && c?.ready == true,
                "\(name) kept running: \(String(describing: c))")
            #expect(c.map { tree.isAlive($0.pid ?? 0) } == true)
        }
        #expect(tree.astd.isRunning)

        // The P0: journaled by astd (the notifier is the one given up) and logged at CRIT.
        let astdJournal = tree.dir("state/journal/supervisor@main.sqlite")
        try await eventually(timeout: .seconds(20), "the P0 and the given_up event in astd's journal") {
            let entries = try WorkerTree.entries(path: astdJournal, process: "supervisor@main")
            let alert = entries.contains { e in
                e.record.type == MessageType.alert.rawValue && e.record.kind == .event
                    && String(decoding: e.record.body, as: UTF8.self).contains("AST process given up: notifier@main")
            }
            let event = entries.contains { e in
                guard e.record.type == MessageType.lifecycle.rawValue,
                    let l = try? JSONDecoder().decode(LifecycleEvent.self, from: Data(e.record.body))
                else { return false }
                return l.kind == .givenUp && l.child?.description == "notifier@main" && l.onCrash == .noEffect
            }
            return alert && event
        }
        #expect(tree.astd.stderr.contains("P0 AST process given up: notifier@main"))

        // The risk gate got the event too (and, on_crash none, stays as it was).
        let riskJournal = tree.dir("state/journal/risk@main.sqlite")
        try await eventually(timeout: .seconds(20), "the given_up event in ast-risk's journal") {
            try WorkerTree.entries(path: riskJournal, process: "risk@main").contains { entry in
                guard entry.record.type == MessageType.lifecycle.rawValue,
                    case .lifecycle(let e) = try EnvelopeCodec.decode(entry.record.body).message
                else { return false }
                return e.kind == .givenUp && e.child?.description == "notifier@main"
            }
        }
        // Still degraded, not given up on the tree: nothing restarted the notifier meanwhile.
        let (final, _) = try #require(try tree.status())
        #expect(tree.child("notifier@main", in: final)?.state == "given_up" && tree.astd.isRunning, "\(String(describing: last))")
    }

    @Test(.timeLimit(.minutes(2)))
    func aChildThatNeverReportsReadyIsAbortedByItsStartTimeoutNotItsWatchdog() async throws {
        // `exec sleep`: the process astd spawned is the one that never sends READY=1. Asked to
        // `--check-config` (astd's start-up check of every executable) it answers at once, as a
        // program that is no AST worker, instead of sleeping into the check's 30 s time limit.
        let tree = try await SupervisedTree(
            overlay: """
                supervisor:
                  restart_backoff_ms: 10
                  restart_backoff_max_ms: 50
                  watchdog_grace_ms: 300
                  children:
                    - name: risk@main
                      executable: ast-risk
                      arguments: []
                      restart: permanent
                      shutdown_timeout_ms: 5000
                      watchdog_ms: 10000
                      on_crash: halt
                    - name: broker@paper
                      executable: ast-broker
                      arguments: []
                      restart: permanent
                      shutdown_timeout_ms: 5000
                      watchdog_ms: 10000
                      on_crash: halt
                    - name: strategy@main
                      executable: /bin/sh
                      arguments: ["-c", "for a; do test x$a != x--check-config || exit 64; done; exec sleep 1000"]
                      restart: permanent
                      shutdown_timeout_ms: 1000
                      watchdog_ms: 200
                      on_crash: none
                      start_timeout_ms: 1500
                """)
        try await eventually(timeout: .seconds(60), "the silent strategy to be aborted for its start-up timeout") {
            guard tree.astd.isRunning else { throw HarnessError("astd exited: \(tree.astd.stderr.suffix(2000))") }
            guard let (s, _) = try tree.status(), let c = tree.child("strategy@main", in: s) else { return false }
            return c.lastExit == "did not report READY within its start-up timeout"
        }
        #expect(tree.astd.stderr.contains("strategy@main did not report READY within its start-up timeout"))
        #expect(
            !tree.astd.stderr.contains("strategy@main missed its watchdog"),
            "a 200 ms watchdog never ran: it starts at READY, which never came")
    }
}
