import ASTCore
import ASTMessages
import ASTNotify
import Testing

/// What the outbox promises (M16): no two events share an identity, a refused chat keeps its
/// alerts while the others go on, true counts with delivery off, a repeat marked as such after
/// an unknown delivery, and a pace per chat kind that Telegram accepts.
struct OutboxGuaranteeTests {
    static let settings = OutboxSettings(
        minimumInterval: .seconds(1), burst: 3, backoffInitial: .seconds(1), backoffMaximum: .seconds(60),
        groupInterval: .seconds(3), groupBurst: 1)

    func outbox(chats: [String] = ["42"], sending: Bool = true) -> Outbox {
        Outbox(chats: chats, settings: Self.settings, seed: 7, sending: sending)
    }

    /// Answers every message as `outcome` says at once, ticking at every wake, until nothing is
    /// left or `until`; returns what left, when.
    func run(
        _ box: inout Outbox, from start: Timestamp, first: [Outbox.Action], until: Timestamp = t(100_000),
        outcome: (OutgoingMessage) -> DeliveryOutcome = { _ in .delivered }
    ) -> [(Timestamp, OutgoingMessage)] {
        var now = start
        var out: [(Timestamp, OutgoingMessage)] = []
        var queue = first.sends
        var wakes = first.wakes
        for _ in 0..<100_000 {
            if !queue.isEmpty {
                let m = queue.removeFirst()
                out.append((now, m))
                let actions = box.handle(.delivery(messageID: m.id, outcome(m)), now: now)
                queue += actions.sends
                wakes += actions.wakes
            } else if let wake = wakes.min(), wake <= until {
                wakes.removeAll { $0 == wake }
                now = max(now, wake)
                let actions = box.handle(.tick, now: now)
                queue += actions.sends
                wakes += actions.wakes
            } else {
                break
            }
        }
        return out
    }

    /// The risk gate's HALTED alert for a transition at `at`, as it arrives in envelope `n`.
    func halted(_ n: Int, at: Timestamp) -> Alert? {
        let transition = SafeModeTransition(
            from: .active, to: .halted, cause: SafeModeCause(kind: .operatorHalt, text: "drill \(n)"), at: at)
        return AlertIdentity.alert(in: .alert(Alert(for: transition)), envelopeID: "risk@main>notifier@main#\(n)")
    }

    @Test func twoHaltsAtTheSameMarketTimeAreTwoAlertsAndOnlyARealResendIsADuplicate() throws {
        var box = outbox()
        let at = t(1_788_986_400)
        // The sender's keys collide (the replay clock stood still); the identities do not.
        let first = try #require(halted(1, at: at))
        let second = try #require(halted(2, at: at))
        #expect(first.key != second.key)
        var actions = box.handle(.alert(first), now: t(0)) + box.handle(.alert(second), now: t(0))
        #expect(actions.criticals.count == 2)
        // The bus sends envelope 2 again: that one is a duplicate, logged and counted.
        let again = box.handle(.alert(try #require(halted(2, at: at))), now: t(0))
        #expect(again.sends.isEmpty && again.criticals.isEmpty)
        #expect(again.contains { if case .logNotice(let line) = $0 { line.contains("duplicate") } else { false } })
        actions += again
        let sent = run(&box, from: t(0), first: actions).map(\.1.alertKeys)
        #expect(sent == [[first.key], [second.key]])
        let s = box.status(now: t(10))
        #expect(s.delivered == 2 && s.duplicates == 1 && s.pending == 0)
        // Restored from the journal, the count is the same.
        var restored = outbox()
        for a in [first, second, try #require(halted(2, at: at))] { restored.restore(alert: a, receivedAt: t(0)) }
        #expect(restored.status(now: t(0)).duplicates == 1 && restored.status(now: t(0)).pending == 2)
    }

    @Test(arguments: [
        (400, "Bad Request: chat not found"), (403, "Forbidden: bot was blocked by the user"), (401, "Unauthorized"),
        (400, "Bad Request: group chat was upgraded to a supergroup chat"), (403, "Forbidden: bot was kicked from the group chat"),
    ])
    func aRefusedChatKeepsEveryAlertWhileTheOtherChatGetsEveryP0(status: Int, description: String) {
        var box = outbox(chats: ["42", "-100777"])
        var first: [Outbox.Action] = []
        for i in 0..<5 { first += box.handle(.alert(alert("p\(i)")), now: t(0)) }
        let out = run(&box, from: t(0), first: first, until: t(600)) { m in
            m.chat == "42" ? .refused(status: status, description: description) : .delivered
        }
        let good = out.filter { $0.1.chat == "-100777" }.map(\.1.alertKeys)
        #expect(good == (0..<5).map { ["p\($0)"] })
        let s = box.status(now: t(600))
        // Nothing abandoned: the five wait for chat 42, which is shown as the problem.
        #expect(s.abandoned == 0 && s.pending == 5 && s.pendingP0 == 5)
        #expect(s.chatProblems.map(\.chat) == ["42"] && s.chatProblems[0].description.contains(description))
        #expect(out.filter { $0.1.chat == "42" }.count >= 10, "chat 42 is tried again after each longest back-off")
        // The configuration fixed (the chat answers again): everything goes and the problem clears.
        let rest = run(&box, from: t(700), first: box.handle(.tick, now: t(700)), until: t(2_000))
        #expect(rest.filter { $0.1.chat == "42" }.flatMap(\.1.alertKeys) == (0..<5).map { "p\($0)" })
        #expect(box.status(now: t(2_000)).chatProblems.isEmpty && box.status(now: t(2_000)).pending == 0)
        #expect(box.status(now: t(2_000)).delivered == 5)
    }

    @Test func aChatProblemIsReportedOnceAndItsEndToo() {
        var box = outbox(chats: ["42"])
        let m = box.handle(.alert(alert("a")), now: t(0)).sends[0]
        let refused = box.handle(.delivery(messageID: m.id, .refused(status: 400, description: "Bad Request: chat not found")), now: t(0))
        #expect(refused.contains(.chatProblem(chat: "42", problem: "Telegram refuses chat 42 (400): Bad Request: chat not found")))
        let m2 = box.handle(.tick, now: t(60)).sends[0]
        let again = box.handle(.delivery(messageID: m2.id, .refused(status: 400, description: "Bad Request: chat not found")), now: t(60))
        #expect(!again.contains { if case .chatProblem = $0 { true } else { false } }, "the same problem is not journaled again")
        let m3 = box.handle(.tick, now: t(120)).sends[0]
        #expect(box.handle(.delivery(messageID: m3.id, .delivered), now: t(120)).contains(.chatProblem(chat: "42", problem: nil)))
    }

    @Test func withDeliveryOffTheCountsStayTrue() {
        // Delivery off (no client), chats known: records from before still apply.
        var box = outbox(chats: ["42"], sending: false)
        box.restore(alert: alert("a"), receivedAt: t(0))
        box.restore(alert: alert("b"), receivedAt: t(1))
        box.restore(alert: alert("c", .p1), receivedAt: t(2))
        box.restore(DeliveryRecord(chat: "42", alertKeys: ["a"], part: 0, parts: 1, abandoned: false))
        let actions = box.handle(.alert(alert("d")), now: t(3)) + box.handle(.tick, now: t(4))
        #expect(actions.sends.isEmpty && actions.criticals.count == 1)
        let s = box.status(now: t(5))
        #expect(s.delivered == 1 && s.pending == 3 && s.pendingP0 == 2)
    }

    @Test func aSuccessClearsTheLastError() {
        var box = outbox()
        let m = box.handle(.alert(alert("a")), now: t(0)).sends[0]
        _ = box.handle(.delivery(messageID: m.id, .transientFailure(reason: "Telegram answered HTTP 500")), now: t(0))
        #expect(box.status(now: t(0)).lastError?.contains("500") == true)
        let retry = box.handle(.tick, now: t(5)).sends[0]
        _ = box.handle(.delivery(messageID: retry.id, .delivered), now: t(5))
        #expect(box.status(now: t(5)).lastError == nil)
    }

    @Test func aMessageWhoseDeliveryIsUnknownIsSentAgainMarkedAsARepeat() {
        var box = outbox()
        let m = box.handle(.alert(alert("a")), now: t(0)).sends[0]
        #expect(!m.text.contains(AlertFormat.repeatMarker))
        _ = box.handle(.delivery(messageID: m.id, .deliveryUnknown(reason: "read timeout")), now: t(10))
        let again = box.handle(.tick, now: t(20)).sends
        #expect(again.count == 1 && again[0].text.contains(AlertFormat.repeatMarker) && again[0].alertKeys == ["a"])
        #expect(box.status(now: t(20)).repeats == 1)
        // A known failure (nothing reached Telegram) is sent again without the marker.
        var other = outbox()
        let n = other.handle(.alert(alert("b")), now: t(0)).sends[0]
        _ = other.handle(.delivery(messageID: n.id, .transientFailure(reason: "connection refused")), now: t(0))
        #expect(other.handle(.tick, now: t(20)).sends.allSatisfy { !$0.text.contains(AlertFormat.repeatMarker) })
    }

    @Test func afterARestartWhatWasInFlightIsSentAgainMarkedAndTheRestIsNot() {
        var box = outbox()
        for key in ["a", "b"] { box.restore(alert: alert(key), receivedAt: t(0)) }
        box.restore(deliveryUnknown: ["a"], chat: "42")
        let out = run(&box, from: t(1), first: box.handle(.tick, now: t(1)))
        #expect(out.map(\.1.alertKeys) == [["a"], ["b"]])
        #expect(out[0].1.text.contains(AlertFormat.repeatMarker) && !out[1].1.text.contains(AlertFormat.repeatMarker))
    }

    @Test func aGroupGetsAtMostTwentyMessagesInAnyMinuteAndP0sGoFirstAndAlone() {
        var box = outbox(chats: ["-100123"])
        var first: [Outbox.Action] = []
        // A burst: 60 routine alerts, then 30 P0s.
        for i in 0..<60 { first += box.handle(.alert(alert("r\(i)", .p1)), now: t(0)) }
        for i in 0..<30 { first += box.handle(.alert(alert("p\(i)")), now: t(0)) }
        let out = run(&box, from: t(0), first: first)
        let times = out.map(\.0)
        for (i, time) in times.enumerated() {
            let inWindow = times[i...].prefix { $0.duration(since: time) < .seconds(60) }.count
            #expect(inWindow <= 20, "\(inWindow) messages within a minute from \(time)")
        }
        // The first went at once (r0); then every P0, one each, before the rest as digests.
        let keys = out.map(\.1.alertKeys)
        #expect(Array(keys[1...30]) == (0..<30).map { ["p\($0)"] })
        #expect(keys.dropFirst(31).allSatisfy { $0.allSatisfy { $0.hasPrefix("r") } })
        #expect(keys.dropFirst(31).count < 5, "the routine backlog goes as digests")
        #expect(box.status(now: t(100_000)).pending == 0)
    }

    @Test func aPrivateChatKeepsItsFasterPace() {
        var box = outbox(chats: ["42"])
        var first: [Outbox.Action] = []
        for i in 0..<6 { first += box.handle(.alert(alert("a\(i)")), now: t(0)) }
        #expect(run(&box, from: t(0), first: first).map(\.0) == [t(0), t(0), t(0), t(1), t(2), t(3)])
    }
}

/// A planned restart is not paged as a crash.
struct PlannedRestartAlertTests {
    func exited(code: Int32, onRequest: Bool?) -> LifecycleEvent {
        var e = LifecycleEvent(
            kind: .exited, child: ProcessIdentity(role: .notifier), pid: 77, reason: "exited with code \(code)", exitCode: code,
            restarts: 1, at: t(5))
        e.stoppedOnRequest = onRequest
        return e
    }

    @Test func aStopOnRequestIsInfoNotAP0() throws {
        let alert = try #require(LifecycleAlerts.alert(for: exited(code: 0, onRequest: true)))
        #expect(alert.priority == .info && alert.title.contains("stopped on request") && !alert.title.contains("down"))
    }

    @Test func anExitWithoutAStopRequestIsStillAP0() throws {
        #expect(LifecycleAlerts.alert(for: exited(code: 0, onRequest: nil))?.priority == .p0)
        #expect(LifecycleAlerts.alert(for: exited(code: 1, onRequest: nil))?.priority == .p0)
    }

    /// A SIGTERM astd did not send while it runs on (`stoppedOnRequest` false): a P0 that says so.
    @Test func aSIGTERMNobodyInASTRequestedIsAP0() throws {
        var event = exited(code: 0, onRequest: false)
        event.reason = "was terminated by a signal nobody in AST requested"
        let alert = try #require(LifecycleAlerts.alert(for: event))
        #expect(alert.priority == .p0 && alert.title == "AST process down: notifier@main")
        #expect(alert.text.contains("nobody in AST requested"))
    }
}
