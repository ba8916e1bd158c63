import ASTCore
import ASTNotify
import Testing

extension Array where Element == CommandAction {
    var commandRecords: [CommandRecord] { compactMap { if case .record(let r) = $0 { r } else { nil } } }
    var replies: [(chat: Int64, text: String)] { compactMap { if case .reply(let c, let t) = $0 { (c, t) } else { nil } } }
    var executed: [ChatCommand] { compactMap { if case .execute(let c, _, _) = $0 { c } else { nil } } }
    var refusals: [CommandRefusal] {
        commandRecords.compactMap { if case .refused(let k, _) = $0.outcome { k } else { nil } }
    }
}

/// The Telegram command desk: allow-list, parsing, the /resume confirmation, journal budget, restore.
struct CommandDeskTests {
    static let operatorChat: Int64 = 1001
    static let otherAllowed: Int64 = -100_200
    static let stranger: Int64 = 666

    static func desk(perWindow: Int = 5) -> CommandDesk {
        CommandDesk(
            settings: CommandSettings(
                allowedChats: [operatorChat, otherAllowed], botUsername: "ast_bot", confirmationTTL: .seconds(120),
                refusalsPerWindow: perWindow, refusalWindow: .seconds(60), seed: 42))
    }

    static func message(_ id: Int64, _ text: String, chat: Int64 = operatorChat, kind: TelegramUpdate.Kind = .message) -> TelegramUpdate {
        TelegramUpdate(updateID: id, kind: kind, chatID: chat, text: text)
    }

    /// The code the desk asked for in its last reply.
    static func code(in actions: [CommandAction]) -> String? {
        for case .record(let r) in actions { if case .confirmationAsked(let code, _, _) = r.outcome { return code } }
        return nil
    }

    @Test(arguments: [
        ("/status", ChatCommand.status), ("/positions", .positions), ("/help", .help), ("/start", .help),
        ("/STATUS", .status), ("  /status  ", .status), ("/status@ast_bot", .status), ("/status@AST_Bot", .status),
        ("/halt", .halt(reason: "")), ("/halt broker looks wrong", .halt(reason: "broker looks wrong")),
        ("/halt@ast_bot  too much risk ", .halt(reason: "too much risk")),
    ])
    func anAllowListedChatsCommandIsJournaledThenCarriedOut(text: String, command: ChatCommand) {
        var d = Self.desk()
        let actions = d.handle([Self.message(7, text)], now: t(1))
        #expect(actions.count == 2)
        #expect(actions.first == .record(CommandRecord(updateID: 7, chat: Self.operatorChat, at: t(1), outcome: .execute(command))))
        #expect(actions.last == .execute(command, chat: Self.operatorChat, updateID: 7))
        #expect(d.nextOffset == 8)
    }

    @Test func anUnknownChatIsIgnoredWithoutAnAnswerAndJournaled() {
        var d = Self.desk()
        let actions = d.handle([Self.message(1, "/halt", chat: Self.stranger)], now: t(1))
        #expect(actions.executed.isEmpty && actions.replies.isEmpty)
        #expect(actions.refusals == [.unknownChat])
        #expect(d.nextOffset == 2)
    }

    @Test func aFloodFromAnUnknownChatCostsABoundedNumberOfJournalEntries() {
        var d = Self.desk(perWindow: 5)
        var records: [CommandRecord] = []
        // 10,000 updates within one window: five in full, then only counted.
        for i in 1...10_000 {
            let actions = d.handle([Self.message(Int64(i), "/halt \(i)", chat: 10_000_000 + Int64(i))], now: t(Double(i) / 1000))
            #expect(actions.executed.isEmpty && actions.replies.isEmpty)
            records += actions.commandRecords
        }
        #expect(records.count == 5)
        #expect(d.nextDeadline == t(0.001).advanced(by: .seconds(60)))
        // The window's end gives one summary with the count.
        let summary = d.tick(now: t(61)).commandRecords
        #expect(summary.count == 1)
        #expect(summary.first?.outcome == .summary(.unknownChat, suppressed: 9_995, since: t(0.001)))
        #expect(summary.first?.updateID == 10_000)
        #expect(d.nextDeadline == nil && d.tick(now: t(200)).isEmpty)
        // A command from the operator still goes through in the middle of it all.
        #expect(d.handle([Self.message(10_001, "/status")], now: t(62)).executed == [.status])
    }

    @Test func anOrderlyStopSummarisesTheWindowsStillOpen() {
        var d = Self.desk(perWindow: 1)
        for i in 1...4 { _ = d.handle([Self.message(Int64(i), "chatter")], now: t(Double(i))) }
        _ = d.handle([Self.message(5, "/nope", chat: Self.stranger), Self.message(6, "/nope", chat: Self.stranger)], now: t(5))
        let summaries = d.closeAll(now: t(6)).commandRecords.map(\.outcome)
        #expect(summaries == [.summary(.notACommand, suppressed: 3, since: t(1)), .summary(.unknownChat, suppressed: 1, since: t(5))])
        #expect(d.nextDeadline == nil && d.closeAll(now: t(7)).isEmpty)
    }

    @Test(arguments: [
        (TelegramUpdate.Kind.editedMessage, CommandRefusal.edited), (.editedChannelPost, .edited), (.other, .unsupported),
    ])
    func editedMessagesAndOtherKindsAreNeverActedOn(kind: TelegramUpdate.Kind, refusal: CommandRefusal) {
        var d = Self.desk()
        let actions = d.handle([Self.message(3, "/halt", kind: kind)], now: t(1))
        #expect(actions.executed.isEmpty && actions.replies.isEmpty && actions.refusals == [refusal])
        #expect(d.nextOffset == 4)
    }

    @Test func aChannelPostFromAnAllowListedChannelIsACommand() {
        var d = Self.desk()
        #expect(d.handle([Self.message(3, "/status", chat: Self.otherAllowed, kind: .channelPost)], now: t(1)).executed == [.status])
    }

    @Test func aDuplicateUpdateIDIsHandledOnce() {
        var d = Self.desk()
        let first = d.handle([Self.message(5, "/halt once"), Self.message(5, "/halt once"), Self.message(4, "/halt older")], now: t(1))
        #expect(first.executed == [.halt(reason: "once")])
        #expect(first.refusals == [.duplicate, .duplicate])
        #expect(d.handle([Self.message(5, "/halt once")], now: t(2)).executed.isEmpty)
        #expect(d.nextOffset == 6)
    }

    @Test(arguments: [
        ("/frobnicate", CommandRefusal.unknownCommand), ("/status now", .badArgument), ("/positions all", .badArgument),
        ("/resume sideways", .badArgument), ("/resume confirm 12", .badArgument), ("/resume confirm abcdef", .badArgument),
        ("/halt " + String(repeating: "x", count: 201), .badArgument), ("/halt bad\u{7}bell", .badArgument),
        ("/" + String(repeating: "s", count: 600), .tooLong), ("/halt " + String(repeating: "é", count: 300), .tooLong),
        ("/resume confirm 123456", .confirmationRefused),
    ])
    func malformedOrOverlongCommandsAreRefusedWithAnAnswer(text: String, refusal: CommandRefusal) {
        var d = Self.desk()
        let actions = d.handle([Self.message(9, text)], now: t(1))
        #expect(actions.executed.isEmpty)
        #expect(actions.refusals == [refusal])
        #expect(actions.replies.count == 1 && actions.replies.first?.chat == Self.operatorChat)
        // The journal detail never holds the whole outside text.
        for r in actions.commandRecords { if case .refused(_, let detail) = r.outcome { #expect(detail.utf8.count < 200) } }
    }

    @Test(arguments: ["hello", "", "status", "/status@other_bot", "/halt@someone_else now"])
    func plainTextAndOtherBotsCommandsAreIgnoredSilently(text: String) {
        var d = Self.desk()
        let actions = d.handle([Self.message(2, text)], now: t(1))
        #expect(actions.executed.isEmpty && actions.replies.isEmpty)
        #expect(actions.refusals.count == 1 && [.notACommand, .otherBot].contains(actions.refusals[0]))
    }

    @Test func resumeNeedsTheCodeFromTheSameChatBeforeItExpires() throws {
        var d = Self.desk()
        let asked = d.handle([Self.message(10, "/resume")], now: t(100))
        #expect(asked.executed.isEmpty)
        let code = try #require(Self.code(in: asked))
        #expect(asked.replies.first?.text.contains("/resume confirm \(code)") == true)
        #expect(d.pendingConfirmations == 1)
        let done = d.handle([Self.message(11, "/resume confirm \(code)")], now: t(150))
        #expect(done.executed == [.resume(to: .active)])
        // One time: the same code again is refused.
        #expect(d.handle([Self.message(12, "/resume confirm \(code)")], now: t(151)).refusals == [.confirmationRefused])
    }

    @Test func resumeToReducingIsConfirmedAsReducing() throws {
        var d = Self.desk()
        let code = try #require(Self.code(in: d.handle([Self.message(10, "/resume reducing")], now: t(0))))
        #expect(d.handle([Self.message(11, "/resume CONFIRM \(code)")], now: t(1)).executed == [.resume(to: .reducing)])
    }

    @Test func anExpiredConfirmationIsRefused() throws {
        var d = Self.desk()
        let code = try #require(Self.code(in: d.handle([Self.message(10, "/resume")], now: t(100))))
        let late = d.handle([Self.message(11, "/resume confirm \(code)")], now: t(220))
        #expect(late.executed.isEmpty && late.refusals == [.confirmationRefused])
        #expect(late.replies.first?.text.contains("expired") == true)
        #expect(d.pendingConfirmations == 0)
    }

    @Test func aConfirmationFromAnotherChatIsRefusedAndTheRequestingChatsStillStands() throws {
        var d = Self.desk()
        let code = try #require(Self.code(in: d.handle([Self.message(10, "/resume")], now: t(0))))
        let other = d.handle([Self.message(11, "/resume confirm \(code)", chat: Self.otherAllowed)], now: t(1))
        #expect(other.executed.isEmpty && other.refusals == [.confirmationRefused])
        let stranger = d.handle([Self.message(12, "/resume confirm \(code)", chat: Self.stranger)], now: t(2))
        #expect(stranger.executed.isEmpty && stranger.refusals == [.unknownChat] && stranger.replies.isEmpty)
        #expect(d.handle([Self.message(13, "/resume confirm \(code)")], now: t(3)).executed == [.resume(to: .active)])
    }

    @Test func aWrongCodeCancelsTheRequest() throws {
        var d = Self.desk()
        let code = try #require(Self.code(in: d.handle([Self.message(10, "/resume")], now: t(0))))
        let wrong = code == "000000" ? "000001" : "000000"
        #expect(d.handle([Self.message(11, "/resume confirm \(wrong)")], now: t(1)).refusals == [.confirmationRefused])
        #expect(d.handle([Self.message(12, "/resume confirm \(code)")], now: t(2)).executed.isEmpty)
    }

    @Test func aHaltCancelsEveryResumeWaitingForConfirmation() throws {
        var d = Self.desk()
        let code = try #require(Self.code(in: d.handle([Self.message(10, "/resume")], now: t(0))))
        #expect(d.handle([Self.message(11, "/halt", chat: Self.otherAllowed)], now: t(1)).executed == [.halt(reason: "")])
        #expect(d.handle([Self.message(12, "/resume confirm \(code)")], now: t(2)).executed.isEmpty)
    }

    @Test func codesDifferPerRequest() throws {
        var d = Self.desk()
        let a = try #require(Self.code(in: d.handle([Self.message(10, "/resume")], now: t(0))))
        let b = try #require(Self.code(in: d.handle([Self.message(11, "/resume")], now: t(1))))
        #expect(a != b && a.count == 6 && b.count == 6)
        // The newer request replaces the older one.
        #expect(d.handle([Self.message(12, "/resume confirm \(a)")], now: t(2)).executed.isEmpty)
    }

    @Test func aRestoredDeskResumesAfterTheLastJournaledUpdateAndKeepsThePendingConfirmation() throws {
        var d = Self.desk()
        var journal: [CommandRecord] = []
        journal += d.handle([Self.message(20, "/halt"), Self.message(21, "/resume")], now: t(0)).commandRecords
        let code = try #require(journal.compactMap { if case .confirmationAsked(let c, _, _) = $0.outcome { c } else { nil } }.first)
        var restored = Self.desk()
        for r in journal { restored.restore(r) }
        #expect(restored.nextOffset == 22)
        // The update Telegram re-delivers after the restart is not acted on again.
        #expect(restored.handle([Self.message(20, "/halt")], now: t(1)).executed.isEmpty)
        let confirmed = restored.handle([Self.message(22, "/resume confirm \(code)")], now: t(2))
        #expect(confirmed.executed == [.resume(to: .active)])
        // A used confirmation stays used across a restart.
        journal += confirmed.commandRecords
        var again = Self.desk()
        for r in journal { again.restore(r) }
        #expect(again.pendingConfirmations == 0)
        #expect(again.handle([Self.message(23, "/resume confirm \(code)")], now: t(4)).executed.isEmpty)
    }

    @Test func theLargestUpdateIDDoesNotOverflowTheOffset() {
        var d = Self.desk()
        _ = d.handle([Self.message(.max, "/status")], now: t(0))
        #expect(d.nextOffset == .max)
    }

    @Test func codesAreDeterministicForTheSameSeed() throws {
        var a = Self.desk()
        var b = Self.desk()
        #expect(
            Self.code(in: a.handle([Self.message(10, "/resume")], now: t(0)))
                == Self.code(in: b.handle([Self.message(10, "/resume")], now: t(9))))
    }
}
