import ASTNotify
import AsyncHTTPClient
import Foundation
import NIOCore

/// Why `getMe` or `getUpdates` gave nothing; the text is free of the token.
public struct TelegramPollError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    /// Telegram's `retry_after` on a 429: wait at least this long.
    public var retryAfter: Duration?

    public init(_ description: String, retryAfter: Duration? = nil) {
        self.description = description
        self.retryAfter = retryAfter
    }
}

extension TelegramClient {
    /// The most bytes of a `getUpdates` answer read: 100 updates of at most 4,096 characters each,
    /// with room for their other fields.
    static let maximumUpdatesBytes = 8 << 20

    /// The bot's own username (`getMe`), for commands addressed as `/status@<username>`.
    public func botUsername() async -> Result<String, TelegramPollError> {
        struct Me: Decodable { var username: String? }
        switch await call("getMe", body: [:], client: http, timeout: settings.requestTimeout, maximumBytes: 1 << 16) {
        case .failure(let e): return .failure(e)
        case .success(let result):
            guard let me = try? JSONDecoder().decode(Me.self, from: result), let name = me.username, !name.isEmpty else {
                return .failure(TelegramPollError("getMe answered without a username"))
            }
            return .success(name)
        }
    }

    /// Long-polls `getUpdates` from `offset` (nil: the earliest unconfirmed update) for at most
    /// `timeout` (whole seconds, up to ``maximumPollTimeout``). Calling it with an offset
    /// confirms every update below it at Telegram (which then forgets them).
    public func updates(offset: Int64?, timeout: Duration) async -> Result<[TelegramUpdate], TelegramPollError> {
        let seconds = min(max(timeout.components.seconds, 0), Self.maximumPollTimeout.components.seconds)
        var body: [String: Any] = ["timeout": seconds, "limit": 100]
        if let offset { body["offset"] = offset }
        switch await call(
            "getUpdates", body: body, client: pollHTTP, timeout: settings.requestTimeout + .seconds(seconds),
            maximumBytes: Self.maximumUpdatesBytes)
        {
        case .failure(let e): return .failure(e)
        case .success(let result):
            guard let updates = TelegramUpdateReader.read(result) else {
                return .failure(TelegramPollError("getUpdates answered a result that is not an array of updates"))
            }
            return .success(updates)
        }
    }

    /// One Bot API call with a JSON body: the `result` member's JSON, or why not.
    func call(_ method: String, body: [String: Any], client: HTTPClient, timeout: Duration, maximumBytes: Int) async -> Result<
        Data, TelegramPollError
    > {
        var request = HTTPClientRequest(url: token.withValue { "\(settings.baseURL)/bot\($0)/\(method)" })
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        guard let json = try? JSONSerialization.data(withJSONObject: body) else {
            return .failure(TelegramPollError("\(method): the request could not be encoded"))
        }
        request.body = .bytes(ByteBuffer(bytes: json))
        let status: Int
        let answer: Data
        do {
            let response = try await client.execute(request, timeout: .init(timeout))
            status = Int(response.status.code)
            answer = Data(try await response.body.collect(upTo: maximumBytes).readableBytesView)
        } catch {
            return .failure(TelegramPollError(redact("\(method): cannot reach Telegram: \(Self.describe(error))")))
        }
        struct Answer: Decodable {
            struct Parameters: Decodable { var retry_after: Int? }
            var ok: Bool
            var description: String?
            var parameters: Parameters?
        }
        guard let envelope = try? JSONDecoder().decode(Answer.self, from: answer) else {
            return .failure(TelegramPollError("\(method): Telegram answered HTTP \(status) with a body that is not Bot API JSON"))
        }
        guard envelope.ok, (200..<300).contains(status) else {
            let description = redact(TelegramText.truncate(envelope.description ?? "", to: 300))
            let retry = envelope.parameters?.retry_after.flatMap { (0...3600).contains($0) ? Duration.seconds($0) : nil }
            return .failure(TelegramPollError("\(method): Telegram answered HTTP \(status): \(description)", retryAfter: retry))
        }
        guard let object = try? JSONSerialization.jsonObject(with: answer) as? [String: Any], let result = object["result"],
            let data = try? JSONSerialization.data(withJSONObject: result, options: [.fragmentsAllowed])
        else {
            return .failure(TelegramPollError("\(method): Telegram answered ok without a result"))
        }
        return .success(data)
    }
}

/// Reads the `result` of `getUpdates` (an array of Update objects) into ``TelegramUpdate``
/// values, leniently: an update whose body cannot be read keeps its id (kind `other`) so that
/// the offset moves past it; one without a readable `update_id` is dropped (a later offset
/// confirms it away at Telegram).
public enum TelegramUpdateReader {
    struct Chat: Decodable { var id: Int64 }
    struct Message: Decodable {
        var chat: Chat
        var text: String?
    }

    struct Lenient: Decodable {
        var update: TelegramUpdate?

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: any Decoder) throws {
            guard let c = try? decoder.container(keyedBy: Key.self),
                let id = try? c.decode(Int64.self, forKey: Key(stringValue: "update_id"))
            else {
                update = nil
                return
            }
            let kinds: [TelegramUpdate.Kind] = [.message, .editedMessage, .channelPost, .editedChannelPost]
            for kind in kinds where c.contains(Key(stringValue: kind.rawValue)) {
                let m = try? c.decode(Message.self, forKey: Key(stringValue: kind.rawValue))
                update = TelegramUpdate(updateID: id, kind: m == nil ? .other : kind, chatID: m?.chat.id, text: m?.text)
                return
            }
            update = TelegramUpdate(updateID: id, kind: .other)
        }
    }

    /// The updates of a `getUpdates` result, or nil when it is not a JSON array.
    public static func read(_ result: Data) -> [TelegramUpdate]? {
        guard let items = try? JSONDecoder().decode([Lenient].self, from: result) else { return nil }
        return items.compactMap(\.update)
    }
}
