import ASTCore
import ASTExecution
import ASTJournal
import ASTReport
import ASTRisk
import ASTTestKit
import ASTWire
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// M8.6 with real processes: a worker SIGKILLed between a durably journaled input and its
/// output (`AST_FAULT_CRASH_AFTER_INPUT`) is restarted by astd, the run goes on, and
/// `astctl replay --verify` over the journals says IDENTICAL with a crash note for it.
/// - reconciler (a reconciliation: its summary and result lost), broker (a bar whose fills
///   were not yet sent), strategy (a 09:00 `market.time` whose scan had not run), market data
///   (a bars beat not yet published) and notifier (an alert not yet sent) in one run: the
///   trading content (``TradingContent``: intents, decisions, orders, fills, final portfolio)
///   equals the in-process engine's over the same sessions, which never crashes: no order
///   lost, none duplicated.
/// - risk (an intent whose decision is lost): fail closed. The restarted gate is HALTED, the
///   interrupted intent is never ordered, and no order is ever submitted twice.
///
/// Each crash halts the gate (the replay holds while HALTED); the test reconciles and resumes
/// as an operator does.
@Suite(.serialized) struct CrashBetweenInputAndOutputTests {
    static let sessions = 6

    /// Exit rules that read each holding's entry record (``HoldingsLedger``, fed by the fills the
    /// reconciler sends): with the crashes, the tree's time stops close what the engine's close.
    static let overlay = SupervisedTree.replay(
        sessions: sessions,
        """
        strategy:
          exits:
            - name: time_stop
              params: {max_sessions: 2}
            - name: trailing_stop
              params: {activation_r: 0.2, atr_multiple: 0.3}

        """)

    /// Every kind of worker but risk crashes once in one run, each between an input and its
    /// output: the reconciler, the broker, the strategy (after the third 09:00 `market.time`,
    /// before its scan: positions are held, the scan has an intent, and the restarted process
    /// sends it and later ones under request ids of its own), market data (after journaling the first bars beat, before publishing
    /// it) and the notifier (after journaling an alert, before sending it to Telegram).
    /// The shipped children, but a crash of market data changes nothing at the risk gate (the
    /// shipped `on_crash: reduce` would put it in SAFE_REDUCING while the replay goes on, which
    /// the in-process engine, never crashing, does not do).
    static let childrenOverlay =
        "supervisor:\n  children:\n"
        + SupervisorTests.workers.map { name in
            let role = name.split(separator: "@")[0]
            let onCrash = role == "broker" || role == "risk" || role == "reconciler" ? "halt" : "none"
            return """
                    - name: \(name)
                      executable: ast-\(role)
                      arguments: []
                      restart: permanent
                      shutdown_timeout_ms: 5000
                      watchdog_ms: 10000
                      on_crash: \(onCrash)

                """
        }.joined()

    @Test(.timeLimit(.minutes(12)))
    func workerCrashesReplayIdenticalAndTradeAsTheEngine() async throws {
        let telegram = try await TelegramFixture()
        let crashing = [
            "reconciler@main": "reconciler.input", "broker@paper": "paper.input", "strategy@main": "market.time",
            "marketdata@main": "marketdata.beat", "notifier@main": "alert",
        ]
        let tree = try await SupervisedTree(
            overlay: Self.overlay + "\n" + telegram.overlay + Self.childrenOverlay,
            extraEnvironment: [
                "AST_FAULT_CRASH_AFTER_INPUT":
                    "reconciler.input:reconciliation,paper.input:bar,market.time:full_scan@3,marketdata.beat:bars,alert"
            ])
        let crashed = try await play(tree, crashing: crashing)
        print("CrashBetweenInputAndOutputTests: \(crashed)")

        let verify = try tree.astctl(["replay", tree.dir("state/journal"), "--verify"], timeout: .seconds(120))
        print(verify.stdout.split(separator: "\n").filter { $0.contains("note:") || $0.hasPrefix("replay:") }.joined(separator: "\n"))
        #expect(verify.code == 0 && verify.stdout.contains("replay: IDENTICAL"), "\(verify.stdout)\(verify.stderr)")
        for process in crashing.keys.sorted() {
            #expect(Self.crashNotes(verify.stdout, process: process) == 1, "one crash note for \(process): \(verify.stdout)")
        }

        let content = try TradingContent.read(stateDirectory: tree.dir("state"))
        let engine = try await Self.engineContent(tree)
        #expect(!engine.fills.isEmpty, "the sessions traded")
        let difference = content.firstDifference(from: engine)
        #expect(difference == nil, "the tree with crashes differs from the engine at \(difference ?? "")")
        #expect(content == engine)
        await telegram.server.stop()
    }

    @Test(.timeLimit(.minutes(12)))
    func aRiskCrashReplaysIdenticalAndFailsClosed() async throws {
        let tree = try await SupervisedTree(overlay: Self.overlay, extraEnvironment: ["AST_FAULT_CRASH_AFTER_INPUT": "risk.input:intent"])
        let crashed = try await play(tree, crashing: ["risk@main": "risk.input"])
        print("CrashBetweenInputAndOutputTests: \(crashed)")

        let verify = try tree.astctl(["replay", tree.dir("state/journal"), "--verify"], timeout: .seconds(120))
        print(verify.stdout.split(separator: "\n").filter { $0.contains("note:") || $0.hasPrefix("replay:") }.joined(separator: "\n"))
        #expect(verify.code == 0 && verify.stdout.contains("replay: IDENTICAL"), "\(verify.stdout)\(verify.stderr)")
        #expect(Self.crashNotes(verify.stdout, process: "risk@main") == 1, "\(verify.stdout)")

        // The intent whose decision the crash lost: the last input before the restart.
        var lastIntent: IntentGroup?, interrupted: IntentGroup?
        var starts = 0
        var approved = Set<String>()
        try JournalReader(path: tree.dir("state/journal/risk@main.sqlite")).scan { e in
            switch e.record.type {
            case EntryTypes.processStarted:
                starts += 1
                if starts == 2 { interrupted = lastIntent }
            case EntryTypes.Risk.input:
                if case .intent(let g) = try JSONDecoder().decode(RiskInput.self, from: Data(e.record.body)) {
                    lastIntent = g
                } else {
                    lastIntent = nil
                }
            case EntryTypes.Risk.decision:
                let d = try JSONDecoder().decode(IntentDecision.self, from: Data(e.record.body))
                if d.decision.approval != nil { approved.insert(d.intent.rawValue) }
            default:
                break
            }
            return true
        }
        let lost = try #require(interrupted, "the risk journal's last input before the restart is an intent")
        #expect(!approved.contains(lost.id.rawValue), "\(lost.id) was approved after its decision was lost")

        // Every order the reconciler saw was submitted once, and only for an approved intent.
        var submissions: [String: Int] = [:]
        var reportIDs = Set<String>()
        try JournalReader(path: tree.dir("state/journal/reconciler@main.sqlite")).scan { e in
            guard e.record.kind == .received, e.record.type == EntryTypes.Reconciler.input,
                case .report(let r) = try JSONDecoder().decode(ReconcilerInput.self, from: Data(e.record.body)),
                reportIDs.insert(r.id).inserted, case .submitting(let spec) = r.event
            else { return true }
            submissions[spec.clientOrderID.rawValue, default: 0] += 1
            #expect(approved.contains(spec.intent.rawValue), "\(spec.clientOrderID) was submitted without a journaled approval")
            #expect(spec.intent != lost.id, "the interrupted intent \(lost.id) reached the broker")
            return true
        }
        #expect(!submissions.isEmpty, "the run traded")
        #expect(submissions.filter { $0.value > 1 }.isEmpty, "submitted twice: \(submissions.filter { $0.value > 1 })")
    }

    // MARK: helpers

    /// The crash notes `astctl replay --verify` printed for `process`.
    static func crashNotes(_ text: String, process: String) -> Int {
        var current = "", count = 0
        for line in text.split(separator: "\n") {
            if line.hasPrefix("\(process):") { current = process } else if !line.hasPrefix(" ") { current = "" }
            if current == process, line.contains("note:"), line.contains("a crash between input and output") { count += 1 }
        }
        return count
    }

    /// Plays the sessions; whenever the gate is HALTED (by a crash), reconciles and resumes to
    /// the state before the halt. Stops the tree at the end (every journal complete on disk).
    /// Checks that each of `crashing` (process -> entry type) crashed once and was restarted.
    func play(_ tree: SupervisedTree, crashing: [String: String]) async throws -> String {
        _ = try await tree.waitAllReady(timeout: .seconds(120))
        var last = "", resumes = 0
        do {
            try await eventually(timeout: .seconds(600), every: .milliseconds(300), "the replay to finish") {
                guard tree.astd.isRunning else { throw HarnessError("astd exited: \(tree.astd.stderr.suffix(2000))") }
                guard let (s, _) = try tree.status() else { return false }
                last = "marketdata: \(tree.child("marketdata@main", in: s)?.statusText ?? "-"); risk \(s.safeMode?.state.rawValue ?? "?")"
                if last.contains("replay finished") { return true }
                if s.safeMode?.state == .halted, s.children.allSatisfy(\.ready) {
                    let target = try Self.stateBeforeTheHalt(tree) == .safeReducing ? "reducing" : "active"
                    _ = try tree.astctl(["reconcile"])
                    if try tree.astctl(["resume", "--to", target]).code == 0 { resumes += 1 }
                }
                return false
            }
        } catch {
            throw HarnessError("\(error); last seen: \(last); astd: \(tree.astd.stderr.suffix(3000))")
        }
        guard let (s, _) = try tree.status() else { throw HarnessError("astd did not answer at the end") }
        var seen: [String] = []
        for (process, type) in crashing.sorted(by: { $0.key < $1.key }) {
            let marker = tree.dir("run/fault.crashed-after-input.\(process).\(type)")
            let what = (try? String(contentsOfFile: marker, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(what != nil, "\(process) crashed after \(type) (no marker \(marker))")
            let child = tree.child(process, in: s)
            #expect(
                child?.restarts == 1 && child?.lastExit == "killed by signal 9 (SIGKILL)",
                "\(process) was SIGKILLed once and restarted: \(child.map { "\($0.restarts) restarts, last exit \($0.lastExit ?? "-")" } ?? "-")"
            )
            seen.append(what ?? "\(process): no crash")
        }
        tree.astd.signal(SIGTERM)
        try await eventually(timeout: .seconds(60), every: .milliseconds(100), "astd to exit") { tree.astd.exitStatus != nil }
        return "crashed: \(seen.joined(separator: "; ")); resumed \(resumes) time(s)"
    }

    /// The state the latest transition to HALTED left, from the risk journal.
    static func stateBeforeTheHalt(_ tree: SupervisedTree) throws -> TradingState? {
        var from: TradingState?
        try JournalReader(path: tree.dir("state/journal/risk@main.sqlite")).scan { e in
            if e.record.type == EntryTypes.Risk.transition,
                let t = try? JSONDecoder().decode(SafeModeTransition.self, from: Data(e.record.body)), t.to == .halted
            {
                from = t.from
            }
            return true
        }
        return from
    }

    /// What `ast engine --json` (in-process, no crash) trades over the same sessions and bars.
    struct EngineTrades: Decodable {
        var intents: [IntentGroup]
        var decisions: [IntentDecision]
        var reports: [ExecutionReport]
        var portfolio: Portfolio?
    }

    static func engineContent(_ tree: SupervisedTree) async throws -> TradingContent {
        let ast = try ChildProcess(
            try BuildProducts.executable("ast"), ["engine", "--sessions", "\(sessions)", "--json"],
            environment: tree.environment, name: "ast-engine", outputDirectory: tree.dir.path)
        let status = try await ast.waitForExit(timeout: .seconds(300))
        guard ChildProcess.exitCode(status) == 0 else { throw HarnessError("ast engine failed: \(ast.stderr.suffix(2000))") }
        let o = try JSONDecoder().decode(EngineTrades.self, from: Data(ast.stdout.utf8))
        return TradingContent.make(
            intents: o.intents, decisions: o.decisions, reports: o.reports,
            portfolio: o.portfolio ?? ReconcilerCore().portfolio)
    }
}
