import ASTCore
import ASTNotify
import ASTRisk
import ASTRuntime
import ASTTelegram
import ASTTestKit
import Foundation
import Testing

/// The Telegram client against the local fake of the Bot API over real HTTPS.
@Suite(.serialized) struct TelegramClientTests {
    static let token = "123456789:AAF-client-test-\(UUID().uuidString)"
    static let chat = "4242"

    /// Which certificate authorities the client trusts.
    enum Trust: Sendable, CaseIterable { case testCA, otherCA, systemRoots }

    /// A fake server with fresh certificates, and a client of it trusting `trust` (the test CA
    /// unless told otherwise).
    final class Fixture {
        let dir: TemporaryDirectory
        let certificates: TestCertificates
        let server: FakeTelegramServer
        let client: TelegramClient

        init(
            trust: Trust = .testCA, token: String = TelegramClientTests.token,
            timeout: Duration = .seconds(5)
        ) async throws {
            dir = try TemporaryDirectory(prefix: "ast-tg")
            certificates = try TestCertificates(directory: dir("tls"))
            server = try await FakeTelegramServer(
                token: TelegramClientTests.token, chats: [TelegramClientTests.chat],
                certificate: certificates.certificateFile, key: certificates.keyFile)
            client = try TelegramClient(
                token: Secret(name: "telegram_bot_token", value: token),
                settings: TelegramSettings(
                    baseURL: server.baseURL,
                    caFile: trust == .testCA ? certificates.caFile : trust == .otherCA ? certificates.otherCAFile : nil,
                    requestTimeout: timeout))
        }

        func close() async {
            await client.shutdown()
            await server.stop()
            dir.remove()
        }
    }

    static func message(_ text: String, mode: ParseMode = .html, chat: String = chat) -> OutgoingMessage {
        OutgoingMessage(id: "m1", chat: chat, text: text, mode: mode, alertKeys: ["k"], part: 0, parts: 1)
    }

    func withFixture(
        trust: Trust = .testCA, token: String = token, timeout: Duration = .seconds(5),
        _ body: (Fixture) async throws -> Void
    ) async throws {
        let f = try await Fixture(trust: trust, token: token, timeout: timeout)
        do { try await body(f) } catch {
            await f.close()
            throw error
        }
        await f.close()
    }

    @Test func aMessageIsDeliveredOverVerifiedHTTPS() async throws {
        try await withFixture { f in
            #expect(await f.client.send(Self.message("<b>HALTED</b>\nbroker@paper &amp; more")) == .delivered)
            #expect(
                f.server.accepted == [
                    FakeTelegramServer.Message(chatID: Self.chat, text: "<b>HALTED</b>\nbroker@paper &amp; more", parseMode: "HTML")
                ])
        }
    }

    @Test(arguments: [Trust.otherCA, .systemRoots])
    func aCertificateFromAnUnknownCAIsRefused(trust: Trust) async throws {
        try await withFixture(trust: trust) { f in
            let outcome = await f.client.send(Self.message("hello"))
            guard case .transientFailure(let reason) = outcome else {
                Issue.record("not refused: \(outcome)")
                return
            }
            #expect(reason.localizedCaseInsensitiveContains("certificate"), "\(reason)")
            #expect(!reason.contains(Self.token))
            #expect(f.server.accepted.isEmpty)
        }
    }

    @Test func aRateLimitCarriesRetryAfterFromTheErrorParameters() async throws {
        try await withFixture { f in
            f.server.script([.rateLimited(retryAfter: 7)])
            #expect(await f.client.send(Self.message("x")) == .rateLimited(retryAfter: .seconds(7)))
            #expect(await f.client.send(Self.message("x")) == .delivered)
        }
    }

    /// A 5xx says the message was not taken; a 200 that is not the Bot API's JSON, or a
    /// connection closed under the request, leaves its delivery unknown (sent again marked).
    @Test(arguments: [
        (FakeTelegramServer.Behaviour.serverError(status: 502), false), (.serverError(status: 500), false), (.malformedJSON, true),
        (.closeConnection, true),
    ])
    func serverErrorsMalformedAnswersAndClosedConnectionsAreRetried(behaviour: FakeTelegramServer.Behaviour, unknown: Bool) async throws {
        try await withFixture { f in
            f.server.script([behaviour])
            let outcome = await f.client.send(Self.message("x"))
            let reason: String
            switch outcome {
            case .transientFailure(let r) where !unknown: reason = r
            case .deliveryUnknown(let r) where unknown: reason = r
            default:
                Issue.record("\(behaviour) gave \(outcome)")
                return
            }
            #expect(!reason.contains(Self.token) && !reason.contains("AAF-client"))
            // The next attempt goes through.
            #expect(await f.client.send(Self.message("x")) == .delivered)
        }
    }

    @Test func aSlowAnswerWithinTheTimeoutIsDelivered() async throws {
        try await withFixture(timeout: .seconds(10)) { f in
            f.server.script([.slow(.milliseconds(300), then: .normal)])
            #expect(await f.client.send(Self.message("slow")) == .delivered)
            #expect(f.server.accepted.count == 1)
        }
    }

    @Test func anAnswerSlowerThanTheTimeoutLeavesTheDeliveryUnknown() async throws {
        try await withFixture(timeout: .milliseconds(300)) { f in
            f.server.script([.slow(.seconds(3), then: .normal)])
            guard case .deliveryUnknown = await f.client.send(Self.message("slow")) else {
                Issue.record("no timeout")
                return
            }
        }
    }

    @Test func aWrongTokenIsRefusedWithoutShowingEitherToken() async throws {
        try await withFixture(token: "987654321:wrong-token-value") { f in
            let outcome = await f.client.send(Self.message("x"))
            #expect(outcome == .refused(status: 401, description: "Unauthorized"))
        }
    }

    @Test func anUnknownChatIsRefused() async throws {
        try await withFixture { f in
            #expect(await f.client.send(Self.message("x", chat: "1")) == .refused(status: 400, description: "Bad Request: chat not found"))
        }
    }

    @Test func everyRenderedAlertIsAcceptedByTheBotAPIsHTMLRules() async throws {
        let nasty = [
            "a < b > c & d", "<b>fake bold</b>", "&amp; &lt; &#65;", "tags <i>unclosed", "emoji 🔴👨‍👩‍👧‍👦 ü",
            String(repeating: "<&>", count: 3_000), String(repeating: "line\n", count: 2_000),
        ]
        try await withFixture { f in
            var sent = 0
            for (i, text) in nasty.enumerated() {
                let alert = Alert(priority: .p0, key: "k\(i)", title: "title <\(i)> & co", text: text, at: .init(nanoseconds: 0))
                for part in AlertFormat.texts(alert, mode: .html) {
                    #expect(await f.client.send(Self.message(part)) == .delivered, "\(f.server.refusals.last ?? "")")
                    sent += 1
                }
            }
            #expect(f.server.accepted.count == sent && sent > nasty.count)
        }
    }

    @Test func unescapedHTMLIsRefusedByTheFakeAsByTelegram() async throws {
        try await withFixture { f in
            guard case .refused(400, let d) = await f.client.send(Self.message("a < b")) else {
                Issue.record("accepted")
                return
            }
            #expect(d.contains("can't parse entities"))
            #expect(await f.client.send(Self.message("a < b", mode: .plain)) == .delivered)
        }
    }
}

/// Reading the Bot API's answers and keeping the token out of every text.
struct TelegramAnswerTests {
    @Test(arguments: [
        (200, #"{"ok":true,"result":{"message_id":1}}"#, DeliveryOutcome.delivered),
        (
            429, #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 12","parameters":{"retry_after":12}}"#,
            .rateLimited(retryAfter: .seconds(12))
        ),
        (
            429, #"{"ok":false,"error_code":429,"description":"Too Many Requests"}"#,
            .transientFailure(reason: "Telegram answered 429 without retry_after")
        ),
        (
            502, #"{"ok":false,"error_code":502,"description":"Bad Gateway"}"#,
            .transientFailure(reason: "Telegram answered HTTP 502: Bad Gateway")
        ),
        (503, "<html>down</html>", .transientFailure(reason: "Telegram answered HTTP 503")),
        (200, "{not json", .deliveryUnknown(reason: "Telegram answered HTTP 200 with a body that is not Bot API JSON")),
        (
            400, #"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
            .refused(status: 400, description: "Bad Request: chat not found")
        ),
        (401, #"{"ok":false,"error_code":401,"description":"Unauthorized"}"#, .refused(status: 401, description: "Unauthorized")),
        (403, "gateway page", .transientFailure(reason: "Telegram answered HTTP 403 with a body that is not Bot API JSON")),
    ])
    func statusAndBodyGiveTheOutcome(status: Int, body: String, expected: DeliveryOutcome) {
        #expect(TelegramAnswer.outcome(status: status, body: Array(body.utf8)) == expected)
    }

    @Test(arguments: [
        "POST https://api.telegram.org/bot{T}/sendMessage failed",
        "connect to /bot{T}/sendMessage: refused",
        "token {T} leaked",
        "/bot{T}/",
    ])
    func redactionRemovesTheTokenAndAnyBotPathSegment(template: String) {
        // The token is put in here, not in the arguments, which the test runner prints.
        let text = template.replacingOccurrences(of: "{T}", with: "123:" + "SECRET")
        let out = TelegramRedaction.redact(text, token: Secret(name: "telegram_bot_token", value: "123:" + "SECRET"))
        #expect(!out.contains("SECRET") && out.contains("<redacted>"), "\(out)")
    }

    @Test(arguments: [
        "Bad Request: cannot route %2Fbot{P}%2FsendMessage", "token={p} in a query", "{P}", "json \"{J}\" body",
        "mixed {M} here",
    ])
    func redactionRemovesEveryEncodingOfTheToken(template: String) {
        let value = "7312345678:" + "AAFsecretPart-x_y"
        let percentAll = value.utf8.map { String(format: "%%%02X", $0) }.joined()
        let percentColon = value.replacingOccurrences(of: ":", with: "%3a")
        let json = value.replacingOccurrences(of: ":", with: "\\u003A")
        let mixed = "7312345678%3A" + "AAF%73ecretPart-x_y"
        let text = template.replacingOccurrences(of: "{P}", with: percentAll).replacingOccurrences(of: "{p}", with: percentColon)
            .replacingOccurrences(of: "{J}", with: json).replacingOccurrences(of: "{M}", with: mixed)
        let out = SecretRedactor([Secret(name: "telegram_bot_token", value: value)]).redact(text)
        #expect(!out.contains("AAF") && !out.contains("%41%41%46") && out.contains("<redacted>"), "\(out)")
        // The same on bytes (a journal body).
        let bytes = SecretRedactor([Secret(name: "t", value: value)]).redact(bytes: Array(text.utf8))
        #expect(String(decoding: bytes, as: UTF8.self) == out)
    }

    @Test func redactionLeavesOtherTextAlone() {
        let text = "chat 42 refused (400): Bad Request: chat not found; 100% sure"
        #expect(SecretRedactor([Secret(name: "t", value: "123:SECRET")]).redact(text) == text)
    }

    @Test func aTLSErrorLosesItsBuildPath() {
        let text =
            "TLS: handshakeFailed(sslError([Error: 268435581 error:1000007d:SSL routines:CERTIFICATE_VERIFY_FAILED at "
            + "/build/swift-nio-ssl/Sources/CNIOBoringSSL/ssl/handshake.cc:393]))"
        let out = TelegramClient.withoutSourcePaths(text)
        #expect(!out.contains("/build/") && out.contains("CERTIFICATE_VERIFY_FAILED"), "\(out)")
    }

    @Test func redactionCatchesABotPathEvenWithAnotherToken() {
        let out = TelegramRedaction.redact("GET /botOTHER:VALUE/getMe", token: Secret(name: "t", value: "123:SECRET"))
        #expect(out == "GET /bot<redacted>/getMe")
    }
}
