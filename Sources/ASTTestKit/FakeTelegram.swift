import ASTCore
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A fake of an outside service: the Telegram Bot API's `sendMessage`, `getMe` and
/// `getUpdates`, for tests only.
///
/// It is written from the Bot API documentation, not from Telegram's code: HTTPS on loopback with
/// a certificate made at test time, requests to `/bot<token>/sendMessage` with a JSON body
/// (`chat_id`, `text`, optional `parse_mode`), answers `{"ok":true,"result":{…Message…}}` or
/// `{"ok":false,"error_code":N,"description":"…"}` with `"parameters":{"retry_after":S}` on a
/// 429. With `parse_mode=HTML` it checks the text as the documentation describes: only the
/// supported tags, balanced; every `<`, `>` and `&` outside a tag or an entity refused; at most
/// 4,096 characters after entities are parsed. A wrong token is a 401, an unknown chat a 400.
/// Tests script misbehaviour per request: 429, 5xx, a slow answer, malformed JSON, a closed
/// connection (scripts apply to `sendMessage` only).
///
/// `getUpdates` follows the Bot API documentation of long polling: updates a test ``post(chat:text:kind:)``s
/// get increasing `update_id`s; a call returns those with an id at or above `offset` (all
/// unconfirmed ones without it), at most `limit` (1 ... 100, default 100); an update is
/// confirmed, and forgotten, once `getUpdates` is called with an offset above its id; with
/// nothing to return the call is held up to `timeout` seconds (default 0) and answered as soon
/// as an update arrives, else with an empty array; a second `getUpdates` while one is held ends
/// the first with `409 Conflict: terminated by other getUpdates request`. `getMe` answers the
/// bot's User with its username. ``setForgetsConfirmed(_:)`` can stop the forgetting, to model a
/// poller that died after acting and before its next call confirmed what it had read.
/// It is no evidence of how the real service behaves beyond what those documents say.
public final class FakeTelegramServer: Sendable {
    /// How the fake answers one request.
    public indirect enum Behaviour: Sendable, Equatable {
        /// As the Bot API does: checks the request and sends the message or refuses it.
        case normal
        /// `429 Too Many Requests` with `parameters.retry_after`.
        case rateLimited(retryAfter: Int)
        /// A 5xx with the Bot API's error body.
        case serverError(status: Int)
        /// Waits, then answers as `then` says.
        case slow(Duration, then: Behaviour)
        /// `200 OK` with a body that is not JSON.
        case malformedJSON
        /// Closes the connection without answering.
        case closeConnection
        /// Handles the request as ``normal`` (a message is accepted: it is in the chat) but holds
        /// the answer until ``releaseHeldAnswers()``: Telegram delivered, the notifier cannot know.
        case acceptAndHoldAnswer
        /// Answers `status` with a description that echoes the request path percent-encoded
        /// (every byte but letters and digits), token included, as a careless server might.
        case echoingPath(status: Int)
    }

    /// One message the fake accepted (answered `ok: true`).
    public struct Message: Sendable, Equatable {
        public var chatID: String
        public var text: String
        public var parseMode: String?

        public init(chatID: String, text: String, parseMode: String?) {
            self.chatID = chatID
            self.text = text
            self.parseMode = parseMode
        }
    }

    struct State {
        var script: [Behaviour] = []
        var fallback: Behaviour = .normal
        var accepted: [Message] = []
        var requests = 0
        var nextMessageID = 1
        var refusals: [String] = []
        /// Posted updates not yet forgotten: id and the Update object's JSON.
        var updates: [(id: Int64, json: String)] = []
        var nextUpdateID: Int64 = 500_000_001
        var nextPostedMessageID = 1
        var forgetsConfirmed = true
        var pollFallback: Behaviour = .normal
        /// The one held getUpdates call: woken when an update is posted.
        var heldPoll: (number: Int, wake: @Sendable (_ conflict: Bool) -> Void)?
        var pollCount = 0
        var offsets: [Int64?] = []
        /// Chats that exist besides the ones given at start (``addChat(_:)``).
        var addedChats: Set<String> = []
        /// Group and channel limit: at most `messages` accepted per chat in any `window`.
        var groupLimit: (messages: Int, window: Duration)?
        /// When each group or channel message was accepted, per chat.
        var groupTimes: [String: [ContinuousClock.Instant]] = [:]
        var tooManyRequests = 0
        /// Answers held by ``Behaviour/acceptAndHoldAnswer``.
        var heldAnswers: [@Sendable () -> Void] = []
        var heldCount = 0
    }

    let token: String
    let chats: Set<String>
    let state = Mutex(State())
    let channel: any Channel
    /// The port it listens on (127.0.0.1).
    public let port: Int
    /// `https://127.0.0.1:<port>`, for `notifier.telegram.base_url`.
    public var baseURL: String { "https://127.0.0.1:\(port)" }

    /// Starts listening on 127.0.0.1 (`port` 0: any free port) with `certificate` (PEM chain)
    /// and `key` (PEM), accepting `token` and messages to `chats`.
    /// The bot's username, as `getMe` tells it (commands may be addressed as `/status@<it>`).
    public let botUsername: String

    public init(
        token: String, chats: Set<String>, certificate: String, key: String, port: Int = 0, botUsername: String = "ast_test_bot"
    ) async throws {
        self.token = token
        self.chats = chats
        self.botUsername = botUsername
        let chain = try NIOSSLCertificate.fromPEMFile(certificate)
        let context = try NIOSSLContext(
            configuration: .makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))))
        let box = Mutex<FakeTelegramServer?>(nil)
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let server = box.withLock({ $0 }) else { throw HarnessError("fake Telegram not ready") }
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(FakeTelegramHandler(server: server))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        self.port = channel.localAddress?.port ?? port
        box.withLock { $0 = self }
    }

    /// Stops listening and closes the listening socket (open connections finish on their own).
    public func stop() async {
        try? await channel.close()
    }

    /// The next requests are answered, in order, as `behaviours` say; then as ``setFallback(_:)``.
    public func script(_ behaviours: [Behaviour]) { state.withLock { $0.script += behaviours } }

    /// How requests are answered once the script is used up (``Behaviour/normal`` at first).
    public func setFallback(_ behaviour: Behaviour) { state.withLock { $0.fallback = behaviour } }

    /// Every message accepted so far, in order.
    public var accepted: [Message] { state.withLock { $0.accepted } }
    /// Requests received so far (answered or not).
    public var requests: Int { state.withLock { $0.requests } }
    /// The descriptions of the refusals sent so far (400s, 401s ...).
    public var refusals: [String] { state.withLock { $0.refusals } }

    /// Posts an update as if a user wrote `text` in `chat` (`kind`: `message`, `edited_message`,
    /// `channel_post` ...); returns its update id. A held `getUpdates` is answered at once.
    @discardableResult
    public func post(chat: Int64, text: String, kind: String = "message") -> Int64 {
        let (id, wake) = state.withLock { s in
            let id = s.nextUpdateID
            s.nextUpdateID += 1
            let message =
                #"{"message_id":\#(s.nextPostedMessageID),"date":\#(Int(Date().timeIntervalSince1970)),"#
                + #""chat":{"id":\#(chat),"type":"\#(chat < 0 ? "group" : "private")"},"text":\#(Self.quote(text))}"#
            s.nextPostedMessageID += 1
            s.updates.append((id, #"{"update_id":\#(id),"\#(kind)":\#(message)}"#))
            defer { s.heldPoll = nil }
            return (id, s.heldPoll?.wake)
        }
        wake?(false)
        return id
    }

    /// Posts an update whose JSON is `json` with `"update_id":<id>` put first (for malformed bodies).
    @discardableResult
    public func postRaw(_ body: String) -> Int64 {
        let (id, wake) = state.withLock { s in
            let id = s.nextUpdateID
            s.nextUpdateID += 1
            s.updates.append((id, #"{"update_id":\#(id)\#(body.isEmpty ? "" : ",")\#(body)}"#))
            defer { s.heldPoll = nil }
            return (id, s.heldPoll?.wake)
        }
        wake?(false)
        return id
    }

    /// Whether a `getUpdates` with an offset forgets the updates below it (true, as documented).
    public func setForgetsConfirmed(_ forgets: Bool) { state.withLock { $0.forgetsConfirmed = forgets } }

    /// How `getUpdates` calls are answered: ``Behaviour/normal`` or a failure (for back-off tests).
    public func setPollBehaviour(_ behaviour: Behaviour) { state.withLock { $0.pollFallback = behaviour } }

    /// `getUpdates` calls so far, and the offset each asked from (nil: none given).
    public var pollOffsets: [Int64?] { state.withLock { $0.offsets } }
    public var polls: Int { state.withLock { $0.pollCount } }

    /// Makes `chat` exist (a configuration fixed on Telegram's side: the bot added to the chat).
    public func addChat(_ chat: String) { state.withLock { _ = $0.addedChats.insert(chat) } }

    /// Enforces Telegram's documented group limit: a group or channel (`-…`, `@…`) gets a 429
    /// with `retry_after` when it would get more than `messages` in any `window`.
    public func setGroupLimit(messages: Int, per window: Duration) { state.withLock { $0.groupLimit = (messages, window) } }

    /// The 429s the group limit made the fake answer.
    public var tooManyRequests: Int { state.withLock { $0.tooManyRequests } }

    /// Requests whose answer ``Behaviour/acceptAndHoldAnswer`` held so far.
    public var heldAnswers: Int { state.withLock { $0.heldCount } }

    /// Sends the answers held so far (to connections still open).
    public func releaseHeldAnswers() {
        let held = state.withLock { s in
            defer { s.heldAnswers = [] }
            return s.heldAnswers
        }
        for answer in held { answer() }
    }

    func hold(answer: @escaping @Sendable () -> Void) {
        state.withLock {
            $0.heldAnswers.append(answer)
            $0.heldCount += 1
        }
    }

    /// `text` with every byte but ASCII letters and digits percent-encoded.
    public static func percentEncodeAll(_ text: String) -> String {
        text.utf8.map { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                ? String(UnicodeScalar(b)) : String(format: "%%%02X", b)
        }.joined()
    }

    /// Messages accepted for `chat`, in order.
    public func accepted(in chat: String) -> [Message] { accepted.filter { $0.chatID == chat } }

    /// A `getUpdates` call: the answer now, or nil to hold it (``hold(_:)`` registers the waiter).
    func poll(body: [UInt8], uri: String) -> (HTTPResponseStatus, String)? {
        var parameters: [String: Any] = [:]
        if let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] { parameters = json }
        if let query = uri.split(separator: "?", maxSplits: 1).dropFirst().first {
            for pair in query.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { parameters[String(kv[0])] = Int64(kv[1]) ?? 0 }
            }
        }
        func integer(_ key: String) -> Int64? { (parameters[key] as? NSNumber)?.int64Value }
        let offset = integer("offset")
        let limit = Int(integer("limit") ?? 100)
        guard (1...100).contains(limit) else {
            return (.badRequest, #"{"ok":false,"error_code":400,"description":"Bad Request: invalid limit"}"#)
        }
        let timeout = integer("timeout") ?? 0
        return state.withLock { s -> (HTTPResponseStatus, String)? in
            if let offset, s.forgetsConfirmed { s.updates.removeAll { $0.id < offset } }
            let due = s.updates.filter { offset == nil || $0.id >= (offset ?? .min) }.prefix(limit)
            if due.isEmpty && timeout > 0 { return nil }
            return (.ok, #"{"ok":true,"result":[\#(due.map(\.json).joined(separator: ","))]}"#)
        }
    }

    /// Holds a poll: `wake(conflict)` answers it; a poll held before is ended with a 409.
    func hold(_ wake: @escaping @Sendable (_ conflict: Bool) -> Void) -> Int {
        let (number, previous) = state.withLock { s in
            let previous = s.heldPoll?.wake
            let number = (s.heldPoll?.number ?? 0) + 1
            s.heldPoll = (number, wake)
            return (number, previous)
        }
        previous?(true)
        return number
    }

    /// Ends the held poll `number` (its timeout came) unless something else answered it.
    func release(_ number: Int) -> Bool {
        state.withLock { s in
            guard s.heldPoll?.number == number else { return false }
            s.heldPoll = nil
            return true
        }
    }

    /// Counts a `getUpdates` call and its offset; the behaviour it gets.
    func countPoll(body: [UInt8]) -> Behaviour {
        let offset = ((try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any])?["offset"] as? NSNumber
        return state.withLock { s in
            s.pollCount += 1
            s.offsets.append(offset?.int64Value)
            return s.pollFallback
        }
    }

    static func method(of uri: String) -> String {
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        return path.split(separator: "/", omittingEmptySubsequences: true).last.map { $0.lowercased() } ?? ""
    }

    func nextBehaviour() -> Behaviour {
        state.withLock { s in
            s.requests += 1
            return s.script.isEmpty ? s.fallback : s.script.removeFirst()
        }
    }

    /// The Bot API's answer to a request that is handled normally: status and JSON body.
    func answer(method: HTTPMethod, uri: String, body: [UInt8]) -> (HTTPResponseStatus, String) {
        func error(_ code: Int, _ description: String) -> (HTTPResponseStatus, String) {
            state.withLock { $0.refusals.append(description) }
            return (HTTPResponseStatus(statusCode: code), #"{"ok":false,"error_code":\#(code),"description":\#(Self.quote(description))}"#)
        }
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].hasPrefix("bot") else { return error(404, "Not Found") }
        guard parts[0].dropFirst(3) == token else { return error(401, "Unauthorized") }
        if parts[1].lowercased() == "getme" {
            return (.ok, #"{"ok":true,"result":{"id":7000000001,"is_bot":true,"first_name":"AST","username":\#(Self.quote(botUsername))}}"#)
        }
        guard parts[1].lowercased() == "sendmessage" else { return error(404, "Not Found: method not found") }
        guard method == .POST || method == .GET else { return error(405, "Method Not Allowed") }
        guard let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            return error(400, "Bad Request: message text is empty")
        }
        let chat: String
        if let s = json["chat_id"] as? String {
            chat = s
        } else if let n = json["chat_id"] as? Int {
            chat = String(n)
        } else {
            return error(400, "Bad Request: chat_id is empty")
        }
        guard let text = json["text"] as? String, !text.isEmpty else { return error(400, "Bad Request: message text is empty") }
        guard chats.contains(chat) || state.withLock({ $0.addedChats.contains(chat) }) else {
            return error(400, "Bad Request: chat not found")
        }
        let mode = json["parse_mode"] as? String
        let shown: String
        switch mode?.lowercased() {
        case nil, "":
            shown = text
        case "html":
            switch Self.parseHTML(text) {
            case .failure(let problem): return error(400, "Bad Request: can't parse entities: \(problem)")
            case .success(let parsed): shown = parsed
            }
        default:
            return error(400, "Bad Request: unsupported parse_mode")
        }
        if shown.utf16.count > 4096 { return error(400, "Bad Request: message is too long") }
        if shown.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return error(400, "Bad Request: message text is empty") }
        if chat.hasPrefix("-") || chat.hasPrefix("@") {
            let now = ContinuousClock.now
            let limited = state.withLock { s -> Bool in
                guard let limit = s.groupLimit else { return false }
                let recent = (s.groupTimes[chat] ?? []).filter { now - $0 < limit.window }
                s.groupTimes[chat] = recent
                guard recent.count < limit.messages else {
                    s.tooManyRequests += 1
                    return true
                }
                s.groupTimes[chat, default: []].append(now)
                return false
            }
            if limited {
                return (
                    .tooManyRequests,
                    #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#
                )
            }
        }
        let id = state.withLock { s in
            s.accepted.append(Message(chatID: chat, text: text, parseMode: mode))
            defer { s.nextMessageID += 1 }
            return s.nextMessageID
        }
        let result =
            #"{"message_id":\#(id),"date":\#(Int(Date().timeIntervalSince1970)),"chat":{"id":\#(Self.quote(chat)),"type":"private"},"text":\#(Self.quote(shown))}"#
        return (.ok, #"{"ok":true,"result":\#(result)}"#)
    }

    /// Tags the HTML parse mode supports.
    static let tags: Set<String> = [
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "tg-spoiler", "blockquote", "a", "span",
    ]

    /// The text a reader sees for `html`, or what is wrong with it.
    static func parseHTML(_ html: String) -> Result<String, HarnessError> {
        var out = ""
        var open: [String] = []
        var i = html.startIndex
        while i < html.endIndex {
            let c = html[i]
            if c == "<" {
                guard let close = html[i...].firstIndex(of: ">") else {
                    return .failure(HarnessError("unclosed start tag at \(html.distance(from: html.startIndex, to: i))"))
                }
                var inner = html[html.index(after: i)..<close]
                let closing = inner.hasPrefix("/")
                if closing { inner = inner.dropFirst() }
                let name = String(inner.prefix { $0 != " " }).lowercased()
                guard tags.contains(name) else { return .failure(HarnessError("unsupported start tag \"\(name)\"")) }
                if closing {
                    guard open.last == name else { return .failure(HarnessError("unmatched end tag \"\(name)\"")) }
                    open.removeLast()
                } else {
                    open.append(name)
                }
                i = html.index(after: close)
            } else if c == ">" {
                return .failure(HarnessError("unescaped > at \(html.distance(from: html.startIndex, to: i))"))
            } else if c == "&" {
                guard let semi = html[i...].firstIndex(of: ";"), html.distance(from: i, to: semi) <= 10 else {
                    return .failure(HarnessError("unescaped & at \(html.distance(from: html.startIndex, to: i))"))
                }
                let entity = String(html[html.index(after: i)..<semi])
                switch entity {
                case "lt": out += "<"
                case "gt": out += ">"
                case "amp": out += "&"
                case "quot": out += "\""
                default:
                    if entity.hasPrefix("#x"), let v = UInt32(entity.dropFirst(2), radix: 16), let s = Unicode.Scalar(v) {
                        out.unicodeScalars.append(s)
                    } else if entity.hasPrefix("#"), let v = UInt32(entity.dropFirst()), let s = Unicode.Scalar(v) {
                        out.unicodeScalars.append(s)
                    } else {
                        return .failure(HarnessError("unsupported entity &\(entity);"))
                    }
                }
                i = html.index(after: semi)
            } else {
                out.append(c)
                i = html.index(after: i)
            }
        }
        guard open.isEmpty else { return .failure(HarnessError("unclosed tag \"\(open.last!)\"")) }
        return .success(out)
    }

    static func quote(_ s: String) -> String {
        String(decoding: try! JSONEncoder().encode(s), as: UTF8.self)
    }
}

/// One HTTPS connection of the fake: collects a request, answers as the server's script says.
final class FakeTelegramHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let server: FakeTelegramServer
    var head: HTTPRequestHead?
    var body: [UInt8] = []

    init(server: FakeTelegramServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = []
        case .body(let b):
            body += b.readableBytesView
        case .end:
            guard let head else { return }
            switch FakeTelegramServer.method(of: head.uri) {
            case "getupdates": respondToPoll(server.countPoll(body: body), head: head, body: body, context: context)
            case "sendmessage": respond(server.nextBehaviour(), head: head, body: body, context: context)
            default: respond(.normal, head: head, body: body, context: context)
            }
        }
    }

    /// `getUpdates`: answered now, or held until an update is posted, its timeout, or a newer poll.
    func respondToPoll(_ behaviour: FakeTelegramServer.Behaviour, head: HTTPRequestHead, body: [UInt8], context: ChannelHandlerContext) {
        guard behaviour == .normal else { return respond(behaviour, head: head, body: body, context: context) }
        let path = head.uri.split(separator: "/", omittingEmptySubsequences: true)
        guard path.first?.dropFirst(3) == Substring(server.token) else {
            return respond(.normal, head: head, body: body, context: context)  // the 401
        }
        if let (status, json) = server.poll(body: body, uri: head.uri) { return write(status, json, context: context) }
        let timeout = ((try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any])?["timeout"] as? NSNumber
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let number = server.hold { conflict in
            loop.execute {
                let (handler, context) = bound.value
                if conflict {
                    handler.write(
                        .conflict,
                        #"{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}"#,
                        context: context)
                } else if let (status, json) = handler.server.poll(body: body, uri: head.uri) {
                    handler.write(status, json, context: context)
                } else {
                    handler.write(.ok, #"{"ok":true,"result":[]}"#, context: context)
                }
            }
        }
        loop.scheduleTask(in: .seconds(min(max(timeout?.int64Value ?? 0, 0), 120))) {
            let (handler, context) = bound.value
            if handler.server.release(number) { handler.write(.ok, #"{"ok":true,"result":[]}"#, context: context) }
        }
    }

    func respond(_ behaviour: FakeTelegramServer.Behaviour, head: HTTPRequestHead, body: [UInt8], context: ChannelHandlerContext) {
        switch behaviour {
        case .normal:
            let (status, json) = server.answer(method: head.method, uri: head.uri, body: body)
            write(status, json, context: context)
        case .rateLimited(let seconds):
            write(
                .tooManyRequests,
                #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after \#(seconds)","parameters":{"retry_after":\#(seconds)}}"#,
                context: context)
        case .serverError(let status):
            write(
                HTTPResponseStatus(statusCode: status), #"{"ok":false,"error_code":\#(status),"description":"Internal Server Error"}"#,
                context: context)
        case .malformedJSON:
            write(.ok, #"{"ok":tru"#, context: context)
        case .closeConnection:
            context.close(promise: nil)
        case .acceptAndHoldAnswer:
            let (status, json) = server.answer(method: head.method, uri: head.uri, body: body)
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            server.hold {
                loop.execute {
                    let (handler, context) = bound.value
                    handler.write(status, json, context: context)
                }
            }
        case .echoingPath(let status):
            let description = "Bad Request: cannot route \(FakeTelegramServer.percentEncodeAll(head.uri))"
            write(
                HTTPResponseStatus(statusCode: status),
                #"{"ok":false,"error_code":\#(status),"description":\#(FakeTelegramServer.quote(description))}"#, context: context)
        case .slow(let delay, let then):
            let loop = context.eventLoop.assumeIsolated()
            loop.scheduleTask(in: .nanoseconds(delay.totalNanoseconds)) { [self] in
                self.respond(then, head: head, body: body, context: context)
            }
        }
    }

    func write(_ status: HTTPResponseStatus, _ json: String, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(json.utf8.count))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: json)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

/// A test certificate authority and a server certificate for 127.0.0.1 and localhost, made with
/// `openssl` into a directory at test time; plus a second, unrelated CA.
public struct TestCertificates: Sendable {
    /// The CA that signed the server certificate (PEM).
    public let caFile: String
    /// A CA that signed nothing here: trusting only it must refuse the server.
    public let otherCAFile: String
    public let certificateFile: String
    public let keyFile: String

    /// Generates everything into `directory` (created if needed).
    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        caFile = "\(directory)/ca.pem"
        otherCAFile = "\(directory)/other-ca.pem"
        certificateFile = "\(directory)/server.pem"
        keyFile = "\(directory)/server.key"
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
            .write(toFile: "\(directory)/server.ext", atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        let ca = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
        try Self.openssl(
            ["req", "-x509"] + ec + ["-keyout", "\(directory)/ca.key", "-out", caFile, "-days", "2", "-subj", "/CN=AST test CA"] + ca)
        try Self.openssl(
            ["req", "-x509"] + ec + [
                "-keyout", "\(directory)/other-ca.key", "-out", otherCAFile, "-days", "2", "-subj", "/CN=AST other CA",
            ] + ca)
        try Self.openssl(["req"] + ec + ["-keyout", keyFile, "-out", "\(directory)/server.csr", "-subj", "/CN=localhost"])
        try Self.openssl([
            "x509", "-req", "-in", "\(directory)/server.csr", "-CA", caFile, "-CAkey", "\(directory)/ca.key", "-CAcreateserial",
            "-out", certificateFile, "-days", "2", "-extfile", "\(directory)/server.ext",
        ])
    }

    static func openssl(_ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = arguments
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let message = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw HarnessError("openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(String(decoding: message, as: UTF8.self))")
        }
    }
}
