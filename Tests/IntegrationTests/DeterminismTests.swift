import ASTCore
import ASTReport
import ASTRisk
import ASTTestKit
import ASTWire
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The causal replay clock (M8): the same sessions played three times, undisturbed, with both
/// cores saturated by busy processes, and with random SIGSTOP/SIGCONT of the workers plus a
/// SIGKILL of the broker (HALTED, reconciled and resumed as an operator does), trade the same:
/// identical intents, decisions, orders, fills, final positions and P&L (``TradingContent``).
///
/// `AST_DETERMINISM_SEED` replays a failing run's disturbances; `AST_DETERMINISM_SESSIONS`
/// plays more (or fewer) sessions than the default 15 (the demo's three weeks).
@Suite(.serialized) struct DeterminismTests {
    static let sessions = ProcessInfo.processInfo.environment["AST_DETERMINISM_SESSIONS"].flatMap(Int.init) ?? 15
    static let workers = ["marketdata@main", "strategy@main", "risk@main", "broker@paper", "reconciler@main"]

    enum Disturbance: String { case none, cpuHog = "cpu hog", chaos = "SIGSTOP/SIGCONT + broker SIGKILL" }

    @Test(.timeLimit(.minutes(30)))
    func theSameSessionsTradeTheSameUnderLoadStopsAndABrokerKill() async throws {
        let seed =
            ProcessInfo.processInfo.environment["AST_DETERMINISM_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64(UInt32.max))
        print("DeterminismTests: seed \(seed) (re-run with AST_DETERMINISM_SEED=\(seed)), \(Self.sessions) sessions")
        let reference = try await run(.none, seed: seed)
        #expect(!reference.fills.isEmpty, "the reference run traded")
        #expect(!reference.decisions.isEmpty)
        for disturbance in [Disturbance.cpuHog, .chaos] {
            let content = try await run(disturbance, seed: seed)
            let difference = content.firstDifference(from: reference)
            #expect(difference == nil, "\(disturbance.rawValue) (seed \(seed)) differs from the undisturbed run at \(difference ?? "")")
            #expect(content == reference)
        }
    }

    /// One replay of the sessions under `disturbance`; the trading content of its journals.
    func run(_ disturbance: Disturbance, seed: UInt64) async throws -> TradingContent {
        let tree = try await SupervisedTree(overlay: SupervisedTree.replay(sessions: Self.sessions))
        _ = try await tree.waitAllReady(timeout: .seconds(120))
        let started = ContinuousClock.now
        var hogs: [ChildProcess] = []
        defer { for h in hogs { h.signal(SIGKILL) } }
        var notes: [String] = []
        switch disturbance {
        case .none:
            try await waitForTheEnd(tree)
        case .cpuHog:
            let cores = max(2, ProcessInfo.processInfo.activeProcessorCount)
            for i in 0..<cores {
                hogs.append(
                    try ChildProcess(
                        "/bin/sh", ["-c", "while :; do :; done"], environment: [:], name: "hog\(i)", outputDirectory: tree.dir.path))
            }
            try await waitForTheEnd(tree)
        case .chaos:
            notes = try await chaos(tree, seed: seed)
        }
        let content = try TradingContent.read(stateDirectory: tree.dir("state"))
        try checkThePreCloseCleanup(tree, content)
        print(
            "DeterminismTests: \(disturbance.rawValue): \(content.fills.count) fills, \(content.decisions.count) decisions in "
                + "\(ContinuousClock.now - started)\(notes.isEmpty ? "" : "; " + notes.joined(separator: "; "))")
        return content
    }

    /// The pre-close cleanup never asks to cancel an entry that had filled, and names the time
    /// it ran at (12:55 on an early close, never "15:55" there).
    func checkThePreCloseCleanup(_ tree: SupervisedTree, _ content: TradingContent) throws {
        let filled = Set(content.fills.map { $0.split(separator: " ")[2] })
        let cancels = try WorkerTree.entries(path: tree.dir("state/journal/strategy@main.sqlite"), process: "strategy@main")
            .filter { $0.record.type == "strategy.cancel" }
            .map { try JSONDecoder().decode(OrderCancel.self, from: Data($0.record.body)) }
        for c in cancels {
            #expect(
                !filled.contains(Substring(c.clientOrderID.rawValue)), "the cleanup asked to cancel \(c.clientOrderID), which had filled")
            if c.clientOrderID.rawValue.hasPrefix("2025-07-03") { #expect(!c.reason.contains("15:55"), "\(c.reason)") }
        }
    }

    func marketData(_ tree: SupervisedTree) throws -> String {
        guard let (s, _) = try tree.status() else { return "(astd did not answer)" }
        return tree.child("marketdata@main", in: s)?.statusText ?? "(no marketdata)"
    }

    func waitForTheEnd(_ tree: SupervisedTree) async throws {
        var last = ""
        do {
            try await eventually(timeout: .seconds(900), every: .milliseconds(500), "the replay to finish") {
                guard tree.astd.isRunning else { throw HarnessError("astd exited: \(tree.astd.stderr.suffix(2000))") }
                last = try marketData(tree)
                return last.hasPrefix("replay finished")
            }
        } catch {
            throw HarnessError("\(error); marketdata's last status: \(last); astd: \(tree.astd.stderr.suffix(3000))")
        }
    }

    /// Random SIGSTOP/SIGCONT of the workers (each stop shorter than the watchdog) until the
    /// replay ends, and once, in a session chosen by the seed, a SIGKILL of the broker at a
    /// settled point: the replay is held there (`replay.hold`), the broker dies and is
    /// restarted by astd, the risk gate goes HALTED, and the operator reconciles and resumes.
    func chaos(_ tree: SupervisedTree, seed: UInt64) async throws -> [String] {
        // SplitMix64, so that a failing run's disturbances can be replayed from its seed.
        var rng = SplitMix64(seed: seed)
        // Early enough that sessions are left after it: a session now takes about a second, and
        // one round of this loop (a stop, a pause, a status) up to three.
        let killSession = 2 + Int(rng.next() % UInt64(max(1, Self.sessions - 5)))
        var killed = false
        var stops = 0
        let deadline = ContinuousClock.now + .seconds(900)
        while ContinuousClock.now < deadline {
            guard tree.astd.isRunning else { throw HarnessError("astd exited: \(tree.astd.stderr.suffix(2000))") }
            let text = try marketData(tree)
            if text.hasPrefix("replay finished") { break }
            // At the first session seen from the chosen one on: a session may pass between two
            // looks, so waiting to see exactly that one could miss it (and did, once sessions got fast).
            if !killed, let session = Self.session(in: text), session >= killSession {
                try await killTheBrokerAtASettledPoint(tree)
                killed = true
                continue
            }
            guard let (s, _) = try tree.status() else {
                try await Task.sleep(for: .milliseconds(200))
                continue
            }
            let victim = Self.workers[Int(rng.next() % UInt64(Self.workers.count))]
            if let pid = tree.child(victim, in: s)?.pid {
                kill(pid, SIGSTOP)
                try await Task.sleep(for: .milliseconds(50 + Int(rng.next() % 1500)))
                kill(pid, SIGCONT)
                stops += 1
            }
            try await Task.sleep(for: .milliseconds(100 + Int(rng.next() % 600)))
        }
        try await waitForTheEnd(tree)
        #expect(killed, "the broker was killed in session \(killSession)")
        return ["\(stops) SIGSTOP/SIGCONT", killed ? "broker SIGKILLed from session \(killSession) on" : "broker NOT killed"]
    }

    /// The session k of marketdata's "(k/N)" progress, if the text shows one.
    static func session(in text: String) -> Int? {
        guard let end = text.range(of: "/\(sessions))") else { return nil }
        let digits = text[..<end.lowerBound].reversed().prefix { $0.isNumber }
        return Int(String(digits.reversed()))
    }

    func killTheBrokerAtASettledPoint(_ tree: SupervisedTree) async throws {
        let hold = tree.dir("run/replay.hold")
        FileManager.default.createFile(atPath: hold, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: hold) }
        var last = ""
        try await eventually(timeout: .seconds(300), every: .milliseconds(100), "the replay to hold at a settled point") {
            last = try marketData(tree)
            return last.hasPrefix("replay held") && last.contains("replay.hold")
        }
        guard let (before, _) = try tree.status(), let broker = tree.child("broker@paper", in: before), let pid = broker.pid else {
            throw HarnessError("no broker pid in astctl status")
        }
        let stateBefore = before.safeMode?.state ?? .active
        kill(pid, SIGKILL)
        var seen = ""
        try await eventually(timeout: .seconds(120), every: .milliseconds(100), "the broker restarted and the risk gate HALTED") {
            guard let (s, _) = try tree.status(), let b = tree.child("broker@paper", in: s) else { return false }
            seen = "broker pid \(b.pid.map(String.init) ?? "-") ready \(b.ready), risk \(s.safeMode?.state.rawValue ?? "?")"
            return b.pid != nil && b.pid != pid && b.ready && s.safeMode?.state == .halted
        }
        // As an operator (and the drill) does: reconcile, then resume to the state before the halt.
        let target = stateBefore == .safeReducing ? "reducing" : "active"
        try await eventually(timeout: .seconds(120), every: .milliseconds(500), "astctl resume --to \(target) accepted (\(seen))") {
            _ = try tree.astctl(["reconcile"])
            return try tree.astctl(["resume", "--to", target]).code == 0
        }
    }
}
