import ASTCore
import ASTNotify
import ASTRuntime
import ASTTelegram
import ASTTestKit
import Foundation
import Testing

/// `getMe` and long-polled `getUpdates` against the fake Bot API over real HTTPS, and the
/// lenient reading of updates.
@Suite(.serialized) struct TelegramUpdatesTests {
    func withFixture(_ body: (TelegramClientTests.Fixture) async throws -> Void) async throws {
        let f = try await TelegramClientTests.Fixture()
        do { try await body(f) } catch {
            await f.close()
            throw error
        }
        await f.close()
    }

    @Test func getMeNamesTheBot() async throws {
        try await withFixture { f in
            let name = try await f.client.botUsername().get()
            #expect(name == f.server.botUsername)
        }
    }

    @Test func anOffsetConfirmsEarlierUpdatesAndTheyAreNotReturnedAgain() async throws {
        try await withFixture { f in
            let a = f.server.post(chat: 4242, text: "/status")
            let b = f.server.post(chat: 4242, text: "/halt now", kind: "edited_message")
            let first = try await f.client.updates(offset: nil, timeout: .zero).get()
            #expect(
                first == [
                    TelegramUpdate(updateID: a, kind: .message, chatID: 4242, text: "/status"),
                    TelegramUpdate(updateID: b, kind: .editedMessage, chatID: 4242, text: "/halt now"),
                ])
            // Without an offset nothing is confirmed: the same again.
            let again = try await f.client.updates(offset: nil, timeout: .zero).get()
            #expect(again.map(\.updateID) == [a, b])
            let confirming = try await f.client.updates(offset: b + 1, timeout: .zero).get()
            #expect(confirming.isEmpty)
            // Confirmed and forgotten: even without an offset they are gone.
            let after = try await f.client.updates(offset: nil, timeout: .zero).get()
            #expect(after.isEmpty)
        }
    }

    @Test func aHeldPollIsAnsweredAsSoonAsAnUpdateArrivesWhileMessagesStillGoOut() async throws {
        try await withFixture { f in
            let client = f.client
            let poll = Task { await client.updates(offset: nil, timeout: .seconds(40)) }
            try await eventually(timeout: .seconds(20), "the poll to be held") { f.server.polls == 1 }
            // An alert is not held up behind the poll.
            #expect(await f.client.send(TelegramClientTests.message("while polling", mode: .plain)) == .delivered)
            let id = f.server.post(chat: 4242, text: "/positions")
            let updates = try await poll.value.get()
            #expect(updates.map(\.updateID) == [id])
        }
    }

    @Test func aPollFailureIsAnErrorWithoutTheToken() async throws {
        try await withFixture { f in
            f.server.setPollBehaviour(.serverError(status: 502))
            let result = await f.client.updates(offset: nil, timeout: .zero)
            guard case .failure(let e) = result else {
                Issue.record("expected a failure, got \(result)")
                return
            }
            #expect(e.description.contains("502") && !e.description.contains(TelegramClientTests.token))
            f.server.setPollBehaviour(.rateLimited(retryAfter: 3))
            guard case .failure(let limited) = await f.client.updates(offset: nil, timeout: .zero) else { return }
            #expect(limited.retryAfter == .seconds(3))
        }
    }

    @Test func unreadableUpdatesKeepTheirIDSoTheOffsetMovesPastThem() async throws {
        try await withFixture { f in
            let bad = f.server.postRaw(#""message":{"chat":"not an object","text":7}"#)
            let other = f.server.postRaw(#""callback_query":{"id":"1"}"#)
            let good = f.server.post(chat: -100_5, text: "/status")
            let updates = try await f.client.updates(offset: nil, timeout: .zero).get()
            #expect(
                updates == [
                    TelegramUpdate(updateID: bad, kind: .other), TelegramUpdate(updateID: other, kind: .other),
                    TelegramUpdate(updateID: good, kind: .message, chatID: -100_5, text: "/status"),
                ])
        }
    }

    @Test func theReaderDropsAnUpdateWithoutAnIDAndRefusesANonArray() {
        let read = TelegramUpdateReader.read(Data(#"[{"message":{}},{"update_id":99999999999999999999},{"update_id":3}]"#.utf8))
        #expect(read == [TelegramUpdate(updateID: 3, kind: .other)])
        #expect(TelegramUpdateReader.read(Data(#"{"update_id":3}"#.utf8)) == nil)
    }
}
