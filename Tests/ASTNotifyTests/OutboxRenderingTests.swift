import ASTCore
import ASTRisk
import Testing

@testable import ASTNotify

/// The outbox renders each alert once and measures digests without rendering them (M9: the
/// fuzz target ran at ~2 inputs/s); what it sends must stay exactly what it sent before.
@Suite("Outbox: rendering once, same messages")
struct OutboxRenderingTests {
    /// The composition as it was before the caching: render everything, binary-search the digest.
    static func referenceCompose(_ outbox: Outbox, chat: String) -> OutgoingMessage {
        let s = outbox.states[chat]!
        func single(_ key: String) -> OutgoingMessage {
            let mode: ParseMode = s.plain.contains(key) ? .plain : .html
            let texts = AlertFormat.texts(outbox.entries[key]!.alert, mode: mode)
            let part = min(s.partsDone[key] ?? 0, texts.count - 1)
            return OutgoingMessage(id: "", chat: chat, text: texts[part], mode: mode, alertKeys: [key], part: part, parts: texts.count)
        }
        if let key = s.urgent.first ?? (s.routine.count == 1 ? s.routine.first : nil) { return single(key) }
        let keys = s.routine
        let mode: ParseMode = keys.contains { s.plain.contains($0) } ? .plain : .html
        var best: [String] = []
        var text = ""
        var low = 1, high = keys.count
        while low <= high {
            let mid = (low + high) / 2
            let texts = AlertFormat.digest(keys[..<mid].compactMap { outbox.entries[$0]?.alert }, mode: mode)
            if texts.count == 1 {
                best = Array(keys[..<mid])
                text = texts[0]
                low = mid + 1
            } else {
                high = mid - 1
            }
        }
        if best.count <= 1 { return single(keys[0]) }
        return OutgoingMessage(id: "", chat: chat, text: text, mode: mode, alertKeys: best, part: 0, parts: 1)
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func everyMessageIsTheOneTheRenderingOfEverythingWouldCompose(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var outbox = Outbox(chats: ["1", "@ops"], settings: OutboxSettings(), seed: 7)
        var now = Timestamp(nanoseconds: 1_000_000_000)
        var pending: [String] = []
        var sent = 0
        for _ in 0..<300 {
            now = Timestamp(nanoseconds: now.nanoseconds + Int64(random.next() % 256) * 50_000_000)
            let actions: [Outbox.Action]
            switch random.next() % 6 {
            case 0, 1:
                let priority = AlertPriority.allCases[Int(random.next() % 3)]
                let pieces = ["<&é", "line\n", "word ", "🔴", "x"]
                let text = (0..<Int(random.next() % 1200)).map { _ in pieces[Int(random.next() % 5)] }.joined()
                let alert = Alert(priority: priority, key: "k\(random.next() % 40)", title: "t<\(random.next() % 9)>", text: text, at: now)
                actions = outbox.handle(.alert(alert), now: now)
            case 2, 3:
                guard !pending.isEmpty else { continue }
                let id = pending.removeFirst()
                let outcome: DeliveryOutcome =
                    switch random.next() % 5 {
                    case 0, 1: .delivered
                    case 2: .rateLimited(retryAfter: .seconds(Int(random.next() % 5)))
                    case 3: .transientFailure(reason: "network")
                    default: .refused(status: 400, description: "Bad Request: can't parse entities")
                    }
                actions = outbox.handle(.delivery(messageID: id, outcome), now: now)
            default:
                actions = outbox.handle(.tick, now: now)
            }
            for case .send(let message) in actions {
                pending.append(message.id)
                sent += 1
                var expected = Self.referenceCompose(outbox, chat: message.chat)
                expected.id = message.id
                #expect(message == expected)
            }
        }
        #expect(sent > 20, "the scenario sends: \(sent)")
    }

    @Test func theDigestMeasureAgreesWithTheDigestItself() {
        var random = SplitMix64(seed: 42)
        for _ in 0..<200 {
            let alerts = (0..<Int(random.next() % 6 + 1)).map { i in
                Alert(
                    priority: .p1, key: "k\(i)", title: "title & <\(i)>",
                    text: String(
                        repeating: ["a", "&", "<b>", " ", "\n", "é", "🟠"][Int(random.next() % 7)], count: Int(random.next() % 1500)),
                    at: Timestamp(nanoseconds: Int64(random.next() % 1_000_000)))
            }
            for mode in [ParseMode.html, .plain] {
                let measured = AlertFormat.digestFits(
                    count: alerts.count, linesLength: alerts.reduce(0) { $0 + AlertFormat.digestLineLength($1, mode: mode) },
                    mode: mode)
                #expect(measured == (AlertFormat.digest(alerts, mode: mode).count == 1))
            }
        }
    }

    @Test func theRenderedLengthIsTheLengthOfTheEscapedText() {
        for text in ["", "plain", "a & b < c > d", "é🔴\r\n&amp;", String(repeating: "<&é", count: 100), "e\u{301}&\u{301}"] {
            #expect(MessageRenderer.renderedLength(text, mode: .html) == TelegramText.length(TelegramText.escapeHTML(text)))
            #expect(MessageRenderer.renderedLength(text, mode: .plain) == TelegramText.length(text))
        }
    }
}
