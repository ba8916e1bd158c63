import ASTHTTPS
import ASTNotify
import ASTRuntime
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL

/// Where and how the notifier reaches the Telegram Bot API.
public struct TelegramSettings: Sendable, Equatable {
    /// `https://api.telegram.org` in production; tests point it at a local fake.
    public var baseURL: String
    /// A PEM file of the certificate authorities to trust instead of the system's; nil: the
    /// system trust roots.
    public var caFile: String?
    /// Longest wait for one answer, connecting included.
    public var requestTimeout: Duration

    public init(baseURL: String, caFile: String?, requestTimeout: Duration) {
        self.baseURL = baseURL
        self.caFile = caFile
        self.requestTimeout = requestTimeout
    }
}

/// Why the client could not be set up. The message never holds the token.
public struct TelegramSetupError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The Telegram Bot API's `sendMessage`, `getMe` and `getUpdates` over HTTPS (async-http-client, full certificate
/// verification against the system trust roots or a configured CA file).
///
/// The bot token is part of every request path (`/bot<TOKEN>/sendMessage`), so every text this
/// client hands out — outcomes, errors — goes through ``redact(_:)`` first. The token is read
/// from its ``Secret`` only to build a request.
public final class TelegramClient: Sendable {
    let token: Secret
    /// Removes the token, in any encoding, from every text the client hands out.
    public let redactor: SecretRedactor
    let settings: TelegramSettings
    let http: HTTPClient
    /// A pool of its own for `getUpdates`: a long poll holds its connection for up to
    /// ``maximumPollTimeout`` and must never make an alert wait for a connection or time out.
    let pollHTTP: HTTPClient
    /// The longest long-poll `timeout` asked of Telegram.
    public static let maximumPollTimeout: Duration = .seconds(50)
    /// The most bytes of an answer read; a Bot API answer to sendMessage is a few KiB.
    static let maximumAnswerBytes = 1 << 20

    public init(token: Secret, settings: TelegramSettings) throws(TelegramSetupError) {
        guard let url = URL(string: settings.baseURL), url.scheme == "https", url.host != nil else {
            throw TelegramSetupError("notifier.telegram.base_url must be an https:// URL (got \(settings.baseURL))")
        }
        let configuration: HTTPClient.Configuration
        do {
            configuration = try HTTPSClientSetup.http(
                caFile: settings.caFile, caFileKey: "notifier.telegram.ca_file", requestTimeout: settings.requestTimeout)
        } catch { throw TelegramSetupError(error.description) }
        self.token = token
        self.redactor = SecretRedactor([token])
        self.settings = settings
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        var polling = configuration
        polling.timeout = .init(connect: .init(settings.requestTimeout), read: .init(settings.requestTimeout + Self.maximumPollTimeout))
        self.pollHTTP = HTTPClient(eventLoopGroupProvider: .singleton, configuration: polling)
    }

    /// Closes the connection pool; call once before the client goes away.
    public func shutdown() async {
        try? await http.shutdown()
        try? await pollHTTP.shutdown()
    }

    /// Sends one message and reads Telegram's answer. Never throws: every failure is an outcome
    /// whose text is free of the token.
    public func send(_ message: OutgoingMessage) async -> DeliveryOutcome {
        let body: [UInt8]
        do {
            body = try Self.requestBody(message)
        } catch {
            return .refused(status: 0, description: "the message could not be encoded: \(error)")
        }
        var request = HTTPClientRequest(url: token.withValue { "\(settings.baseURL)/bot\($0)/sendMessage" })
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await http.execute(request, timeout: .init(settings.requestTimeout))
            let answer = try await response.body.collect(upTo: Self.maximumAnswerBytes)
            return redact(TelegramAnswer.outcome(status: Int(response.status.code), body: Array(answer.readableBytesView)))
        } catch {
            let reason = redact("cannot reach Telegram: \(Self.describe(error))")
            return Self.mayHaveArrived(error) ? .deliveryUnknown(reason: reason) : .transientFailure(reason: reason)
        }
    }

    /// Whether a failure may have come after Telegram got the request (a timeout waiting for the
    /// answer, a connection closed under it): then the message may have been delivered.
    static func mayHaveArrived(_ error: any Error) -> Bool {
        guard let e = error as? HTTPClientError else { return false }
        return [HTTPClientError.readTimeout, .deadlineExceeded, .remoteConnectionClosed, .writeTimeout].contains(e)
    }

    /// The JSON body of `sendMessage`: `chat_id`, `text`, and `parse_mode` unless plain.
    static func requestBody(_ message: OutgoingMessage) throws -> [UInt8] {
        struct Body: Encodable {
            var chat_id: String
            var text: String
            var parse_mode: String?
            var link_preview_options = ["is_disabled": true]
        }
        let body = Body(chat_id: message.chat, text: message.text, parse_mode: message.mode == .plain ? nil : message.mode.rawValue)
        return Array(try JSONEncoder().encode(body))
    }

    /// A failure in words: the TLS or HTTP client's own error, whose text may name the request.
    static func describe(_ error: any Error) -> String {
        let text: String
        if let e = error as? NIOSSLError {
            text = "TLS: \(e)"
        } else if let e = error as? HTTPClientError {
            text = "\(e)"
        } else {
            text = String(describing: error)
        }
        return withoutSourcePaths(text)
    }

    /// `text` without the ` at /build/path/file.cc:123` locations BoringSSL puts in its errors.
    public static func withoutSourcePaths(_ text: String) -> String {
        text.replacing(#/ at \/[^\s\]\)]*:\d+/#, with: "")
    }

    /// `text` with the token (in any encoding), and any `/bot…/` path segment, replaced by `<redacted>`.
    public func redact(_ text: String) -> String {
        redactor.redact(text)
    }

    func redact(_ outcome: DeliveryOutcome) -> DeliveryOutcome {
        switch outcome {
        case .delivered, .rateLimited: outcome
        case .transientFailure(let reason): .transientFailure(reason: redact(reason))
        case .deliveryUnknown(let reason): .deliveryUnknown(reason: redact(reason))
        case .refused(let status, let description): .refused(status: status, description: redact(description))
        }
    }
}

/// Keeps the bot token out of every text that leaves the client (``SecretRedactor``).
public enum TelegramRedaction {
    /// `text` without `token`'s value in any encoding and without whatever follows `/bot` up to the next `/`.
    public static func redact(_ text: String, token: Secret) -> String {
        SecretRedactor([token]).redact(text)
    }
}

/// Reading the Bot API's answer: `{"ok":true,"result":…}` or
/// `{"ok":false,"error_code":N,"description":"…","parameters":{"retry_after":S}}`.
public enum TelegramAnswer {
    struct Envelope: Decodable {
        struct Parameters: Decodable { var retry_after: Int? }
        var ok: Bool
        var error_code: Int?
        var description: String?
        var parameters: Parameters?
    }

    /// The outcome an HTTP status and body mean. A 200 whose body is not the Bot API's JSON is
    /// a transient failure (sent again: at least once); a 429 waits `retry_after` seconds.
    public static func outcome(status: Int, body: [UInt8]) -> DeliveryOutcome {
        let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(body))
        let description = TelegramText.truncate(envelope?.description ?? "", to: 300)
        switch status {
        case 200..<300:
            guard let envelope else {
                // It said 200: the message may well be in the chat.
                return .deliveryUnknown(reason: "Telegram answered HTTP \(status) with a body that is not Bot API JSON")
            }
            if envelope.ok { return .delivered }
            return .refused(status: envelope.error_code ?? 400, description: description)
        case 429:
            if let seconds = envelope?.parameters?.retry_after, seconds >= 0 { return .rateLimited(retryAfter: .seconds(seconds)) }
            return .transientFailure(reason: "Telegram answered 429 without retry_after")
        case 500...:
            return .transientFailure(reason: "Telegram answered HTTP \(status)\(description.isEmpty ? "" : ": \(description)")")
        case 400..<500:
            guard envelope != nil else {
                return .transientFailure(reason: "Telegram answered HTTP \(status) with a body that is not Bot API JSON")
            }
            return .refused(status: status, description: description)
        default:
            return .transientFailure(reason: "Telegram answered HTTP \(status)")
        }
    }
}
