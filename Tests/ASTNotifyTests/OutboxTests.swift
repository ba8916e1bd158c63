import ASTCore
import ASTNotify
import ASTRisk
import ASTSupervision
import Testing

func t(_ seconds: Double) -> Timestamp { Timestamp(nanoseconds: Int64(seconds * 1e9)) }

func alert(_ key: String, _ priority: AlertPriority = .p0, text: String = "text", at: Double = 0) -> Alert {
    Alert(priority: priority, key: key, title: "title \(key)", text: text, at: t(at))
}

extension Array where Element == Outbox.Action {
    var sends: [OutgoingMessage] { compactMap { if case .send(let m) = $0 { m } else { nil } } }
    var wakes: [Timestamp] { compactMap { if case .wake(let w) = $0 { w } else { nil } } }
    var records: [DeliveryRecord] { compactMap { if case .record(let r) = $0 { r } else { nil } } }
    var criticals: [String] { compactMap { if case .logCritical(let s) = $0 { s } else { nil } } }
}

/// The outbox state machine: ordering, pacing, retries, coalescing, dedupe and restore.
struct OutboxTests {
    static let settings = OutboxSettings(minimumInterval: .seconds(1), burst: 3, backoffInitial: .seconds(1), backoffMaximum: .seconds(60))

    func outbox(chats: [String] = ["42"], seed: UInt64 = 7) -> Outbox { Outbox(chats: chats, settings: Self.settings, seed: seed) }

    /// Delivers whatever is in flight as soon as it is sent, ticking at every wake; returns the
    /// messages in the order they left and when.
    func drain(
        _ box: inout Outbox, from start: Timestamp, first: [Outbox.Action],
        outcome: (OutgoingMessage) -> DeliveryOutcome = { _ in .delivered },
        limit: Int = 1_000
    ) -> [(Timestamp, OutgoingMessage)] {
        var now = start
        var out: [(Timestamp, OutgoingMessage)] = []
        var actions = first
        for _ in 0..<limit {
            if let m = actions.sends.first {
                out.append((now, m))
                actions = box.handle(.delivery(messageID: m.id, outcome(m)), now: now)
            } else if let wake = actions.wakes.min() {
                now = max(now, wake)
                actions = box.handle(.tick, now: now)
            } else {
                break
            }
        }
        return out
    }

    @Test func aP0IsLoggedCriticalAtOnceAndSentAlone() {
        var box = outbox()
        let actions = box.handle(.alert(alert("a", text: "broker@paper down")), now: t(0))
        #expect(actions.criticals == ["P0 alert: title a: broker@paper down"])
        let sent = actions.sends
        #expect(sent.count == 1 && sent[0].chat == "42" && sent[0].alertKeys == ["a"] && sent[0].mode == .html)
        #expect(sent[0].text.hasPrefix("<b>🔴 P0 title a</b>\nbroker@paper down"))
        #expect(box.status(now: t(0)).pendingP0 == 1)
        let done = box.handle(.delivery(messageID: sent[0].id, .delivered), now: t(0.1))
        #expect(done.records == [DeliveryRecord(chat: "42", alertKeys: ["a"], part: 0, parts: 1, abandoned: false)])
        #expect(box.status(now: t(1)).pending == 0 && box.status(now: t(1)).delivered == 1)
    }

    @Test func aP1IsNotLoggedCritical() {
        var box = outbox()
        #expect(box.handle(.alert(alert("a", .p1)), now: t(0)).criticals.isEmpty)
    }

    @Test func sendsABurstThenOneMessagePerInterval() {
        var box = outbox()
        var first: [Outbox.Action] = []
        for i in 0..<6 { first += box.handle(.alert(alert("a\(i)")), now: t(0)) }
        // One in flight per chat: only the first left; the others follow as it is delivered.
        #expect(first.sends.count == 1)
        let times = drain(&box, from: t(0), first: first).map { $0.0 }
        #expect(times == [t(0), t(0), t(0), t(1), t(2), t(3)])
    }

    @Test func p0sGoBeforeRoutineAlertsAndAreNeverCoalesced() {
        var box = outbox()
        var first = box.handle(.alert(alert("r1", .p1)), now: t(0))  // leaves at once
        first = box.handle(.alert(alert("r2", .p1)), now: t(0)) + first
        for key in ["p1", "p2"] { first += box.handle(.alert(alert(key)), now: t(0)) }
        first += box.handle(.alert(alert("r3", .info)), now: t(0))
        let sent = drain(&box, from: t(0), first: first).map { $0.1.alertKeys }
        #expect(sent == [["r1"], ["p1"], ["p2"], ["r2", "r3"]])
    }

    @Test func routineAlertsWaitingTogetherBecomeOneDigest() {
        var box = outbox()
        var first: [Outbox.Action] = []
        for i in 0..<30 { first += box.handle(.alert(alert("r\(i)", i % 2 == 0 ? .p1 : .info, text: "fill \(i)")), now: t(0)) }
        let sent = drain(&box, from: t(0), first: first).map(\.1)
        #expect(sent.count == 2)
        #expect(sent[0].alertKeys == ["r0"])
        #expect(sent[1].alertKeys == (1..<30).map { "r\($0)" })
        #expect(sent[1].text.hasPrefix("<b>AST: 29 alerts</b>") && sent[1].text.contains("fill 29"))
        #expect(box.status(now: t(10)).pending == 0 && box.status(now: t(10)).delivered == 30)
    }

    @Test func aDigestNeverExceedsOneMessageAndTheRestFollows() {
        var box = outbox()
        var first: [Outbox.Action] = []
        for i in 0..<40 { first += box.handle(.alert(alert("r\(i)", .p1, text: String(repeating: "x", count: 500))), now: t(0)) }
        let sent = drain(&box, from: t(0), first: first).map(\.1)
        #expect(sent.allSatisfy { TelegramText.length($0.text) <= TelegramText.maximumLength })
        #expect(sent.flatMap(\.alertKeys) == (0..<40).map { "r\($0)" })
        #expect(sent.count > 2)
    }

    @Test func rateLimitedWaitsExactlyRetryAfter() {
        var box = outbox()
        let m = box.handle(.alert(alert("a")), now: t(0)).sends[0]
        let after = box.handle(.delivery(messageID: m.id, .rateLimited(retryAfter: .seconds(7))), now: t(0.5))
        #expect(after.sends.isEmpty && after.wakes == [t(7.5)])
        #expect(box.handle(.tick, now: t(7.4)).sends.isEmpty)
        let retry = box.handle(.tick, now: t(7.5)).sends
        #expect(retry.count == 1 && retry[0].alertKeys == ["a"] && retry[0].id != m.id)
        #expect(box.status(now: t(1)).lastError?.contains("429") == true)
    }

    @Test func serverErrorsBackOffExponentiallyWithJitterUpToTheMaximum() {
        var box = outbox()
        var message = box.handle(.alert(alert("a")), now: t(0)).sends[0]
        var now = t(0)
        var delays: [Duration] = []
        for _ in 0..<10 {
            let actions = box.handle(.delivery(messageID: message.id, .transientFailure(reason: "HTTP 502")), now: now)
            let wake = actions.wakes[0]
            delays.append(wake.duration(since: now))
            now = wake
            message = box.handle(.tick, now: now).sends[0]
        }
        for (i, d) in delays.enumerated() {
            let full = min(Duration.seconds(1) * (1 << i), .seconds(60))
            #expect(d >= full / 2 && d <= full, "attempt \(i): \(d) not in [\(full / 2), \(full)]")
        }
        #expect(box.status(now: now).pendingP0 == 1)
    }

    @Test func theSameSeedGivesTheSameJitter() {
        func delays(seed: UInt64) -> [Timestamp] {
            var box = outbox(seed: seed)
            var m = box.handle(.alert(alert("a")), now: t(0)).sends[0]
            var wakes: [Timestamp] = []
            for _ in 0..<5 {
                let w = box.handle(.delivery(messageID: m.id, .transientFailure(reason: "x")), now: wakes.last ?? t(0)).wakes[0]
                wakes.append(w)
                m = box.handle(.tick, now: w).sends[0]
            }
            return wakes
        }
        #expect(delays(seed: 1) == delays(seed: 1))
        #expect(delays(seed: 1) != delays(seed: 2))
    }

    @Test func aSuccessResetsTheBackoff() {
        var box = outbox()
        let m1 = box.handle(.alert(alert("a")), now: t(0)).sends[0]
        var w = box.handle(.delivery(messageID: m1.id, .transientFailure(reason: "x")), now: t(0)).wakes[0]
        let m2 = box.handle(.tick, now: w).sends[0]
        w = box.handle(.delivery(messageID: m2.id, .transientFailure(reason: "x")), now: w).wakes[0]
        let m3 = box.handle(.tick, now: w).sends[0]
        _ = box.handle(.delivery(messageID: m3.id, .delivered), now: w)
        let m4 = box.handle(.alert(alert("b")), now: w.advanced(by: .seconds(10))).sends[0]
        let next = box.handle(.delivery(messageID: m4.id, .transientFailure(reason: "x")), now: w.advanced(by: .seconds(10))).wakes[0]
        #expect(next.duration(since: w.advanced(by: .seconds(10))) <= .seconds(1))
    }

    @Test func aDuplicateKeyIsIgnoredEvenAfterDelivery() {
        var box = outbox()
        let m = box.handle(.alert(alert("a")), now: t(0)).sends[0]
        #expect(box.handle(.alert(alert("a")), now: t(0)).sends.isEmpty)
        _ = box.handle(.delivery(messageID: m.id, .delivered), now: t(0))
        #expect(box.handle(.alert(alert("a")), now: t(5)).sends.isEmpty)
        #expect(box.status(now: t(5)).delivered == 1 && box.status(now: t(5)).duplicates == 2)
    }

    @Test func aStaleOrUnknownDeliveryResultIsIgnored() {
        var box = outbox()
        let m = box.handle(.alert(alert("a")), now: t(0)).sends[0]
        #expect(box.handle(.delivery(messageID: "m999", .delivered), now: t(0)).isEmpty)
        #expect(box.status(now: t(0)).pending == 1)
        _ = box.handle(.delivery(messageID: m.id, .delivered), now: t(0))
        #expect(box.handle(.delivery(messageID: m.id, .delivered), now: t(0)).isEmpty)
    }

    @Test func restoringFromRecordsSendsOnlyWhatWasNotDelivered() {
        var before = outbox()
        var first: [Outbox.Action] = []
        for i in 0..<5 { first += before.handle(.alert(alert("a\(i)")), now: t(0)) }
        // Two delivered, then the process dies with the third in flight.
        var records: [DeliveryRecord] = []
        var m = first.sends[0]
        for _ in 0..<2 {
            let actions = before.handle(.delivery(messageID: m.id, .delivered), now: t(0))
            records += actions.records
            m = actions.sends[0]
        }
        var after = outbox()
        for i in 0..<5 { after.restore(alert: alert("a\(i)"), receivedAt: t(0)) }
        for r in records { after.restore(r) }
        #expect(after.status(now: t(10)).pending == 3)
        let resent = drain(&after, from: t(10), first: after.handle(.tick, now: t(10))).map(\.1.alertKeys)
        #expect(resent == [["a2"], ["a3"], ["a4"]])
        // A re-send of an old alert after the restart is still a duplicate.
        #expect(after.handle(.alert(alert("a0")), now: t(20)).sends.isEmpty)
    }

    @Test func aLongAlertGoesInPartsAndARestartResumesAtTheNextPart() {
        var box = outbox()
        let long = alert("long", text: String(repeating: "line of text\n", count: 1_000))
        let first = box.handle(.alert(long), now: t(0)).sends[0]
        #expect(first.parts > 1 && first.part == 0)
        let second = box.handle(.delivery(messageID: first.id, .delivered), now: t(0))
        #expect(second.records == [DeliveryRecord(chat: "42", alertKeys: ["long"], part: 0, parts: first.parts, abandoned: false)])
        #expect(box.status(now: t(0)).pending == 1)
        var restored = outbox()
        restored.restore(alert: long, receivedAt: t(0))
        restored.restore(second.records[0])
        let rest = drain(&restored, from: t(1), first: restored.handle(.tick, now: t(1))).map(\.1)
        #expect(rest.map(\.part) == Array(1..<first.parts))
        #expect(restored.status(now: t(100)).pending == 0)
    }

    @Test func aRefusedHTMLMessageIsSentAgainAsPlainTextAndAbandonedOnlyIfThatIsRefusedToo() {
        var box = outbox()
        let html = box.handle(.alert(alert("a", text: "x < y")), now: t(0)).sends[0]
        let plain = box.handle(
            .delivery(messageID: html.id, .refused(status: 400, description: "Bad Request: can't parse entities")), now: t(0)
        ).sends
        #expect(plain.count == 1 && plain[0].mode == .plain && plain[0].text.contains("x < y"))
        let gaveUp = box.handle(.delivery(messageID: plain[0].id, .refused(status: 400, description: "Bad Request: nope")), now: t(1))
        #expect(gaveUp.records == [DeliveryRecord(chat: "42", alertKeys: ["a"], part: 0, parts: 1, abandoned: true)])
        #expect(gaveUp.criticals.count == 1 && gaveUp.criticals[0].contains("title a"))
        #expect(box.status(now: t(1)).pending == 0 && box.status(now: t(1)).abandoned == 1)
    }

    @Test(arguments: [401, 403, 404])
    func aRefusedTokenOrChatKeepsTheAlertsAndWaitsTheLongestBackoff(status: Int) {
        var box = outbox()
        let m = box.handle(.alert(alert("a")), now: t(0)).sends[0]
        let actions = box.handle(.delivery(messageID: m.id, .refused(status: status, description: "Unauthorized")), now: t(0))
        #expect(actions.wakes == [t(60)] && actions.records.isEmpty && actions.criticals.count == 1)
        #expect(box.status(now: t(1)).pendingP0 == 1 && box.status(now: t(1)).nextAttemptAt == t(60))
    }

    @Test func withoutChatsAlertsWaitAndShowInTheBacklog() {
        var box = outbox(chats: [])
        let actions = box.handle(.alert(alert("a", at: 3)), now: t(5)) + box.handle(.alert(alert("b", .p1)), now: t(6))
        #expect(actions.sends.isEmpty && actions.criticals.count == 1)
        let s = box.status(now: t(10))
        #expect(s.pending == 2 && s.pendingP0 == 1 && s.oldestPendingP0 == t(5))
    }

    @Test func anAlertLeavesOnlyOnceEveryChatHasIt() {
        var box = outbox(chats: ["1", "2"])
        let sent = box.handle(.alert(alert("a")), now: t(0)).sends
        #expect(Set(sent.map(\.chat)) == ["1", "2"])
        _ = box.handle(.delivery(messageID: sent[0].id, .delivered), now: t(0))
        #expect(box.status(now: t(0)).pending == 1)
        _ = box.handle(.delivery(messageID: sent[1].id, .delivered), now: t(0))
        #expect(box.status(now: t(0)).pending == 0 && box.status(now: t(0)).delivered == 1)
    }

    @Test func oneSlowChatDoesNotHoldBackAnother() {
        var box = outbox(chats: ["1", "2"])
        let sent = box.handle(.alert(alert("a")), now: t(0)).sends
        _ = box.handle(.delivery(messageID: sent[0].id, .transientFailure(reason: "timeout")), now: t(0))
        let next = box.handle(.delivery(messageID: sent[1].id, .delivered), now: t(0))
        #expect(next.sends.isEmpty)
        let b = box.handle(.alert(alert("b")), now: t(0.1)).sends
        #expect(b.map(\.chat) == ["2"])
    }
}

/// Alerts derived from astd's lifecycle events.
struct LifecycleAlertTests {
    @Test func aCrashAWatchdogKillAndGivingUpAreP0() {
        let id = ProcessIdentity(role: .broker, instance: "paper")
        let exited = LifecycleEvent(
            kind: .exited, child: id, pid: 12, reason: "killed by signal 9 (SIGKILL)", signal: 9, onCrash: .halt, restarts: 0, at: t(1))
        let a = LifecycleAlerts.alert(for: exited)
        #expect(a?.priority == .p0 && a?.text.contains("broker@paper killed by signal 9") == true && a?.text.contains("halt") == true)
        #expect(LifecycleAlerts.alert(for: LifecycleEvent(kind: .watchdogTimeout, child: id, at: t(2)))?.priority == .p0)
        #expect(LifecycleAlerts.alert(for: LifecycleEvent(kind: .gaveUp, child: nil, restarts: 6, at: t(3)))?.priority == .p0)
        let givenUp = LifecycleAlerts.alert(
            for: LifecycleEvent(
                kind: .givenUp, child: ProcessIdentity(role: .strategy), reason: "strategy@main exited with code 1: restart 6 within 30 s",
                onCrash: .noEffect, restarts: 6, at: t(4)))
        #expect(givenUp?.priority == .p0 && givenUp?.title == "AST process given up: strategy@main")
        // The key says what happened, never when (the envelope id makes it unique per event).
        #expect(givenUp?.key == "lifecycle:given_up:strategy@main" && a?.key == "lifecycle:exited:broker@paper:pid12")
        // The key is derived from the event: the same event twice is the same alert.
        #expect(LifecycleAlerts.alert(for: exited)?.key == a?.key)
    }

    @Test(arguments: [LifecycleKind.spawned, .ready, .restarted, .stopped])
    func routineLifecycleEventsAreNotAlerted(kind: LifecycleKind) {
        #expect(LifecycleAlerts.alert(for: LifecycleEvent(kind: kind, child: ProcessIdentity(role: .risk), at: t(1))) == nil)
    }
}
