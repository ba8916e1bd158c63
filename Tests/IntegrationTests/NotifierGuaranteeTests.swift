import ASTCore
import ASTJournal
import ASTNotify
import ASTRisk
import ASTRuntime
import ASTTestKit
import ASTWire
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What ast-notifier guarantees (M16), as a real process against the fake Bot API: no P0 lost to
/// a colliding key, at least once across a SIGKILL (a repeat marked as such), a refused chat
/// never holding back the others, every encoding of the token redacted, a group paced so that
/// Telegram never has to answer 429.
@Suite(.serialized) struct NotifierGuaranteeTests {
    static let notifier = ProcessIdentity(role: .notifier)
    let helper = NotifierTests()

    /// A risk-gate peer that sends alerts one by one, each waiting for its acknowledgement.
    func send(_ alerts: [Alert], tree: WorkerTree, instance: String) throws {
        try helper.send(alerts, tree: tree, instance: instance)
    }

    func p0(_ n: Int) -> Alert {
        Alert(priority: .p0, key: "guarantee:\(n)", title: "guarantee-\(n)", text: "P0 number \(n)", at: Timestamp(nanoseconds: 1))
    }

    /// A whole tree on the replay clock, its replay finished, so that the trading clock stands
    /// still: twenty `astctl halt`s, each followed by `astctl reconcile` and `astctl resume`, all
    /// at one market instant. Every HALTED (P0) and every resume (P1) reaches the fake Bot API
    /// over HTTPS, in order, none dropped (their keys once collided on the frozen clock).
    @Test(.timeLimit(.minutes(3)))
    func twentyHaltsAndResumesWithinOneMarketMinuteEachReachTelegramInOrder() async throws {
        let began = ContinuousClock.now
        let telegram = try await TelegramFixture()
        let tree = try await SupervisedTree(overlay: telegram.overlay + SupervisedTree.replay(sessions: 1))
        _ = try await tree.waitAllReady(timeout: .seconds(60))
        let ready = ContinuousClock.now
        try await tree.waitForTheReplayToFinish(timeout: .seconds(60))
        let replayed = ContinuousClock.now
        let before = try #require(try tree.status()?.0.safeMode)
        var spent: [String: Duration] = [:]
        func astctl(_ arguments: [String]) throws -> (code: Int32, stdout: String, stderr: String) {
            let start = ContinuousClock.now
            defer { spent[arguments[0], default: .zero] += ContinuousClock.now - start }
            return try tree.astctl(arguments)
        }
        for n in 1...20 {
            let halt = try astctl(["halt", "--reason", "halt-\(n)."])
            #expect(halt.code == 0, "halt \(n): \(halt.stdout)\(halt.stderr)")
            let reconcile = try astctl(["reconcile"])
            #expect(reconcile.code == 0, "reconcile \(n): \(reconcile.stdout)\(reconcile.stderr)")
            let resume = try astctl(["resume", "--to", "active"])
            #expect(resume.code == 0, "resume \(n): \(resume.stdout)\(resume.stderr)")
        }
        let commanded = ContinuousClock.now
        print("astctl time per command: \(spent.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value / 20)" })")
        func texts() -> [String] {
            telegram.server.accepted.map { $0.text.replacingOccurrences(of: "&gt;", with: ">") }
        }
        func count(_ marker: String) -> Int { texts().map { $0.components(separatedBy: marker).count - 1 }.reduce(0, +) }
        do {
            try await eventually(timeout: .seconds(60), "20 HALTED and 20 resumes at Telegram") {
                count("-> HALTED at") == 20 && count("HALTED -> ") == 20
            }
        } catch {
            print("accepted: \(texts())")
            throw error
        }
        // Each HALTED is its own P0 message, in the order of the halts.
        let halts = texts().filter { $0.contains("-> HALTED at") }
        #expect(halts.count == 20 && halts.allSatisfy { $0.contains("P0") })
        #expect(halts.map { t in (1...20).first { t.contains("halt-\($0).") } ?? 0 } == Array(1...20))
        #expect(count("HALTED -> ACTIVE at") == 20, "every resume to ACTIVE")
        // The resumes (P1, digested) in the order the risk gate journaled them: their keys carry
        // its journal sequence, and the notifier's delivery records list them in delivery order.
        let delivered = try WorkerTree.entries(path: tree.dir("state/journal/notifier@main.sqlite"), process: "notifier@main")
            .filter { $0.record.type == "notifier.delivered" }
            .compactMap { try? JSONDecoder().decode(DeliveryRecord.self, from: Data($0.record.body)) }
            .flatMap(\.alertKeys)
        func sequences(_ prefix: String) -> [Int] {
            delivered.filter { $0.hasPrefix(prefix) }.compactMap { key in
                key.dropFirst(prefix.count).split(separator: "|").first.flatMap { Int($0) }
            }
        }
        let haltSeqs = sequences("safe-mode:HALTED#")
        let resumeSeqs = sequences("safe-mode:ACTIVE#")
        #expect(haltSeqs.count == 20 && haltSeqs == haltSeqs.sorted() && Set(haltSeqs).count == 20, "\(haltSeqs)")
        #expect(resumeSeqs.count == 20 && resumeSeqs == resumeSeqs.sorted() && Set(resumeSeqs).count == 20, "\(resumeSeqs)")
        // The trading clock stood still: every transition at the same market instant.
        let pattern = try Regex("(HALTED|ACTIVE) at ([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z)")
        let times = texts().flatMap { $0.matches(of: pattern).compactMap { $0.output[2].substring.map(String.init) } }
        let distinct = Set(times).sorted()
        print("trading-clock times of the \(times.count) transitions: \(distinct); risk gate ACTIVE since \(before.since)")
        #expect(times.count == 40 && Set(times.map { $0.prefix(16) }).count == 1, "within one market minute: \(distinct)")
        let status = try #require(try tree.status()?.0.notifier)
        #expect(status.pending == 0 && status.duplicates == 0 && status.abandoned == 0, "\(status)")
        print(
            "tree ready \(ready - began), replay \(replayed - ready), 60 astctl commands \(commanded - replayed), "
                + "all at Telegram \(ContinuousClock.now - commanded)")
        await telegram.server.stop()
    }

    /// The same forty transitions at one market time handed straight to a lone notifier, each
    /// with the key the risk gate derives from it.
    @Test(.timeLimit(.minutes(2)))
    func fortyTransitionsAtOneMarketTimeEachReachTelegram() async throws {
        let telegram = try await TelegramFixture()
        let tree = try WorkerTree()
        let notifier = try await tree.start(Self.notifier, extra: telegram.environment())
        let at = Timestamp(nanoseconds: 1_788_986_400_000_000_000)
        var alerts: [Alert] = []
        for n in 1...20 {
            alerts.append(
                Alert(
                    for: SafeModeTransition(
                        from: .active, to: .halted, cause: SafeModeCause(kind: .operatorHalt, text: "halt-\(n)."), at: at)))
            alerts.append(
                Alert(
                    for: SafeModeTransition(
                        from: .halted, to: .active, cause: SafeModeCause(kind: .operatorResume, text: "resume-\(n)."), at: at)))
        }
        #expect(Set(alerts.map(\.key)).count == 2, "without the sender's journal sequence the keys collide")
        try send(alerts, tree: tree, instance: "replay")
        func texts() -> [String] { telegram.server.accepted.map(\.text) }
        do {
            try await eventually(timeout: .seconds(60), "40 transitions at Telegram") {
                let all = texts().joined(separator: "\n")
                return (1...20).allSatisfy { all.contains("halt-\($0).") && all.contains("resume-\($0).") }
            }
        } catch {
            print("accepted: \(texts())")
            throw error
        }
        let halts = texts().filter { $0.contains("HALTED") && $0.contains("P0") }
        #expect(halts.count == 20)
        #expect(halts.map { t in (1...20).first { t.contains("halt-\($0).") } ?? 0 } == Array(1...20))
        let all = texts().joined(separator: "\n")
        let resumes = (1...20).compactMap { all.range(of: "resume-\($0).")?.lowerBound }
        #expect(resumes.count == 20 && resumes == resumes.sorted())
        let status = try #require(try helper.status(tree))
        #expect(status.pending == 0 && status.delivered == 40 && status.duplicates == 0, "\(status)")
        await notifier.stop()
        await telegram.server.stop()
    }

    /// SIGKILL while Telegram holds its answer: the P0 is in the chat, the notifier cannot know.
    /// After the restart it goes again, marked; at least once, exactly one duplicate.
    @Test(.timeLimit(.minutes(2)))
    func aSIGKILLDuringAHeldRequestRepeatsTheP0MarkedAsARepeat() async throws {
        let telegram = try await TelegramFixture()
        let tree = try WorkerTree()
        telegram.server.script([.acceptAndHoldAnswer])
        var notifier = try await tree.start(Self.notifier, extra: telegram.environment())
        try send([p0(1)], tree: tree, instance: "a")
        try await eventually(timeout: .seconds(30), "the held request") { telegram.server.heldAnswers == 1 }
        #expect(telegram.count("guarantee-1") == 1, "Telegram has it in the chat")
        notifier.signal(SIGKILL)
        try await notifier.waitForExit()
        notifier = try await tree.start(Self.notifier, extra: telegram.environment())
        try await eventually(timeout: .seconds(30), "the repeat") { telegram.count("guarantee-1") >= 2 }
        try await eventually(timeout: .seconds(10), "an empty outbox") { try helper.status(tree)?.pending == 0 }
        let copies = telegram.server.accepted.filter { $0.text.contains("guarantee-1") }
        #expect(copies.count == 2, "at least once: \(copies.count) copies (one duplicate expected)")
        #expect(!copies[0].text.contains(AlertFormat.repeatMarker) && copies[1].text.contains(AlertFormat.repeatMarker))
        #expect(try helper.status(tree)?.repeats == 1)
        // A second alert after the restart goes once, unmarked.
        try send([p0(2)], tree: tree, instance: "b")
        try await eventually(timeout: .seconds(30), "the next alert") { telegram.count("guarantee-2") == 1 }
        #expect(!telegram.server.accepted.contains { $0.text.contains("guarantee-2") && $0.text.contains(AlertFormat.repeatMarker) })
        telegram.server.releaseHeldAnswers()
        await notifier.stop()
        await telegram.server.stop()
    }

    /// One configured chat does not exist: its alerts wait (never abandoned), the other chat
    /// gets every P0, the problem shows in the status and the journal, and once the chat exists
    /// everything reaches it.
    @Test(.timeLimit(.minutes(2)))
    func aWrongChatIDAmongTwoKeepsItsAlertsWhileTheOtherChatGetsEveryP0() async throws {
        let telegram = try await TelegramFixture(configured: ["1001", "1999"], existing: ["1001"])
        let tree = try WorkerTree()
        let notifier = try await tree.start(Self.notifier, extra: telegram.environment())
        try send((1...5).map(p0), tree: tree, instance: "a")
        try await eventually(timeout: .seconds(30), "every P0 in the good chat") {
            (1...5).allSatisfy { n in telegram.server.accepted(in: "1001").filter { $0.text.contains("guarantee-\(n)") }.count == 1 }
        }
        var status: NotifierStatusReport?
        try await eventually(timeout: .seconds(30), "the chat problem in the status") {
            status = try helper.status(tree)
            return status?.chatProblems?.contains { $0.contains("1999") && $0.contains("chat not found") } == true
        }
        #expect(status?.abandoned == 0 && status?.pending == 5 && status?.pendingP0 == 5, "\(String(describing: status))")
        let problems = try tree.entries(Self.notifier).filter { $0.record.type == "notifier.chat_problem" }
        #expect(problems.count == 1, "journaled once, not per retry: \(problems.count)")
        #expect(!notifier.stderr.contains("given up for that chat"))
        // The configuration fixed (here: the chat comes to exist): everything reaches it.
        telegram.server.addChat("1999")
        try await eventually(timeout: .seconds(30), "every P0 in the fixed chat") {
            (1...5).allSatisfy { n in telegram.server.accepted(in: "1999").contains { $0.text.contains("guarantee-\(n)") } }
        }
        try await eventually(timeout: .seconds(10), "no problem left") {
            let s = try helper.status(tree)
            return s?.pending == 0 && s?.chatProblems?.isEmpty == true && s?.delivered == 5
        }
        await notifier.stop()
        await telegram.server.stop()
    }

    /// The fake echoes the request path percent-encoded, token included, in its error: the
    /// token appears in no log, journal, status or error, in any encoding.
    @Test(.timeLimit(.minutes(2)))
    func aPercentEncodedTokenEchoedByTelegramIsRedactedEverywhere() async throws {
        let telegram = try await TelegramFixture()
        let tree = try WorkerTree()
        telegram.server.setFallback(.echoingPath(status: 502))
        let notifier = try await tree.start(Self.notifier, extra: telegram.environment())
        try send([p0(1)], tree: tree, instance: "a")
        var status: NotifierStatusReport?
        try await eventually(timeout: .seconds(30), "the echoed error in the status") {
            status = try helper.status(tree)
            return status?.lastError?.contains("cannot route") == true
        }
        let lastError = try #require(status?.lastError)
        #expect(lastError.contains("<redacted>"), "\(lastError)")
        #expect(!lastError.contains(FakeTelegramServer.percentEncodeAll(telegram.token)) && !lastError.contains(telegram.token))
        #expect(notifier.stderr.contains("cannot route"), "the failure is logged")
        telegram.server.setFallback(.normal)
        try await eventually(timeout: .seconds(30), "the alert delivered") { telegram.count("guarantee-1") == 1 }
        await notifier.stop()
        try "\(notifier.stderr)\n\(notifier.stdout)".write(toFile: tree.dir("notifier.log"), atomically: true, encoding: .utf8)
        try telegram.expectNoToken(in: tree.dir.path)
        await telegram.server.stop()
    }

    /// A group chat under a burst of P0s and P1s: paced at the group rate from each answer,
    /// the fake (enforcing the group limit, scaled down in time) never answers 429.
    @Test(.timeLimit(.minutes(2)))
    func aGroupChatUnderABurstNeverMeetsTelegramsGroupLimit() async throws {
        let group = "-1001234567"
        let telegram = try await TelegramFixture(configured: [group], existing: [group])
        // Telegram's 20 a minute, scaled to 20 in 2 s; the notifier's group pace scaled the same.
        telegram.server.setGroupLimit(messages: 20, per: .seconds(2))
        var environment = telegram.environment()
        environment["AST_NOTIFIER__TELEGRAM__GROUP_INTERVAL_MS"] = "100"
        environment["AST_NOTIFIER__TELEGRAM__GROUP_BURST"] = "1"
        let tree = try WorkerTree()
        let notifier = try await tree.start(Self.notifier, extra: environment)
        var burst: [Alert] = []
        for n in 1...30 {
            burst.append(p0(n))
            burst.append(Alert(priority: .p1, key: "fill:\(n)", title: "fill-\(n)", text: "routine \(n)", at: Timestamp(nanoseconds: 2)))
        }
        try send(burst, tree: tree, instance: "a")
        try await eventually(timeout: .seconds(60), "the whole burst at Telegram") {
            let all = telegram.server.accepted.map(\.text).joined(separator: "\n")
            return (1...30).allSatisfy { all.contains("guarantee-\($0)\n") || all.contains("guarantee-\($0)<") }
                && (1...30).allSatisfy { all.contains("fill-\($0) ") || all.contains("fill-\($0)<") }
        }
        #expect(telegram.server.tooManyRequests == 0, "the fake had to answer 429 \(telegram.server.tooManyRequests) times")
        // Every P0 alone; the routine alerts digested to fit.
        let accepted = telegram.server.accepted.map(\.text)
        #expect(accepted.filter { $0.contains("guarantee-") }.allSatisfy { $0.components(separatedBy: "guarantee-").count == 2 })
        #expect(accepted.count < 60, "P1s travel as digests: \(accepted.count) messages")
        await notifier.stop()
        await telegram.server.stop()
    }
}
