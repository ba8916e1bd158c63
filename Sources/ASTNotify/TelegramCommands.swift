import ASTCore

/// One update as the Bot API's `getUpdates` hands it out, read at the boundary into what the
/// command desk needs. An update whose body cannot be read keeps its id (so that the offset
/// moves past it) and is of kind ``Kind/other``.
public struct TelegramUpdate: Sendable, Equatable {
    /// Which field of the Update object was present.
    public enum Kind: String, Sendable, Equatable, Codable {
        case message
        case editedMessage = "edited_message"
        case channelPost = "channel_post"
        case editedChannelPost = "edited_channel_post"
        /// Any other kind (callback_query, my_chat_member ...) or a body that could not be read.
        case other
    }

    public var updateID: Int64
    public var kind: Kind
    /// `message.chat.id` (or the channel post's), when present.
    public var chatID: Int64?
    /// `message.text`, when present.
    public var text: String?

    public init(updateID: Int64, kind: Kind, chatID: Int64? = nil, text: String? = nil) {
        self.updateID = updateID
        self.kind = kind
        self.chatID = chatID
        self.text = text
    }
}

/// Where `/resume` takes the risk gate: `ACTIVE` or `SAFE_REDUCING`.
public enum ResumeDestination: String, Sendable, Equatable, Codable {
    case active
    case reducing
}

/// A command an operator gave in an allow-listed chat, checked and ready to carry out.
public enum ChatCommand: Sendable, Equatable, Codable {
    case help
    case status
    case positions
    /// Halt trading; `reason` as the operator wrote it (empty: none given).
    case halt(reason: String)
    /// Resume trading: only after the chat confirmed it with its one-time code.
    case resume(to: ResumeDestination)
}

/// Why an update was not acted on. Each kind has its own journal budget.
public enum CommandRefusal: String, Sendable, Equatable, Codable, CaseIterable, Comparable {
    /// From a chat that is not allow-listed: ignored without an answer.
    case unknownChat = "unknown_chat"
    /// Text that is no command, or an update without text: ignored.
    case notACommand = "not_a_command"
    /// An edited message or channel post: never acted on (the original was, or was not).
    case edited
    /// A kind of update the bot does not act on, or one whose body could not be read.
    case unsupported
    /// `/command@otherbot`: meant for another bot in the group.
    case otherBot = "other_bot"
    /// An update id at or below one already handled (a re-delivery).
    case duplicate
    /// A command longer than the desk reads: refused with an answer.
    case tooLong = "too_long"
    /// `/something` the bot does not know: refused with the list of commands.
    case unknownCommand = "unknown_command"
    /// A known command with arguments it does not take.
    case badArgument = "bad_argument"
    /// `/resume confirm <code>` without a pending resume in this chat, expired, or a wrong code.
    case confirmationRefused = "confirmation_refused"

    public static func < (a: CommandRefusal, b: CommandRefusal) -> Bool { a.rawValue < b.rawValue }

    /// Whether the chat is answered when it is recorded (allow-listed chats that asked for something).
    var answered: Bool {
        switch self {
        case .tooLong, .unknownCommand, .badArgument, .confirmationRefused: true
        default: false
        }
    }
}

/// What the desk journals: each entry carries the update id, so that the journal holds the
/// `getUpdates` offset before anything is acted on, and a restart never handles an update twice.
public struct CommandRecord: Sendable, Equatable, Codable {
    /// What became of an update (or of a window of refusals).
    public enum Outcome: Sendable, Equatable, Codable {
        /// An allow-listed chat's command, carried out after this record is journaled.
        case execute(ChatCommand)
        /// `/resume` was asked for: the chat must answer `/resume confirm <code>` before `expiresAt`.
        case confirmationAsked(code: String, to: ResumeDestination, expiresAt: Timestamp)
        /// Not acted on (answered when ``CommandRefusal`` says so).
        case refused(CommandRefusal, detail: String)
        /// The refusals of a kind beyond its budget since `since`, counted only.
        case summary(CommandRefusal, suppressed: Int, since: Timestamp)
        /// Nothing but the offset: updates up to ``CommandRecord/updateID`` were read.
        case offset
    }

    /// The update this is about; for a summary or an offset, the last update read.
    public var updateID: Int64
    public var chat: Int64?
    public var at: Timestamp
    public var outcome: Outcome

    public init(updateID: Int64, chat: Int64?, at: Timestamp, outcome: Outcome) {
        self.updateID = updateID
        self.chat = chat
        self.at = at
        self.outcome = outcome
    }

    enum CodingKeys: String, CodingKey {
        case chat, at, outcome
        case updateID = "update_id"
    }
}

/// The operator identity of a chat, as journals and the risk gate's cause show it.
public func telegramOperator(_ chat: Int64) -> String { "telegram:\(chat)" }

/// How the command desk works.
public struct CommandSettings: Sendable, Equatable {
    /// The chats whose commands are carried out (the numeric ids of `telegram_chat_ids`).
    public var allowedChats: Set<Int64>
    /// The bot's own username (from `getMe`), without `@`: `/status@<it>` is for this bot.
    public var botUsername: String
    /// How long a `/resume` waits for its confirmation.
    public var confirmationTTL: Duration
    /// The longest command text read, in UTF-8 bytes.
    public var maxTextBytes: Int
    /// Refusals of one kind journaled in full per window; the rest are counted.
    public var refusalsPerWindow: Int
    public var refusalWindow: Duration
    /// Seeds the one-time confirmation codes (journaled by the shell, so replay derives the same).
    public var seed: UInt64

    public init(
        allowedChats: Set<Int64>, botUsername: String, confirmationTTL: Duration = .seconds(120), maxTextBytes: Int = 512,
        refusalsPerWindow: Int = 5, refusalWindow: Duration = .seconds(60), seed: UInt64
    ) {
        self.allowedChats = allowedChats
        self.botUsername = botUsername
        self.confirmationTTL = confirmationTTL
        self.maxTextBytes = maxTextBytes
        self.refusalsPerWindow = refusalsPerWindow
        self.refusalWindow = refusalWindow
        self.seed = seed
    }

    /// The longest halt reason taken, in UTF-8 bytes.
    public static let maxReasonBytes = 200
}

/// What the shell does for the desk, in order. A ``record(_:)`` is journaled durably before
/// any action after it is carried out: a command is journaled, then acted on (at most once).
public enum CommandAction: Sendable, Equatable {
    case record(CommandRecord)
    /// Answer the chat (best effort; never to a chat that is not allow-listed).
    case reply(chat: Int64, text: String)
    /// Carry out the command for the chat and answer it with the result.
    case execute(ChatCommand, chat: Int64, updateID: Int64)
}

/// Telegram commands as a pure state machine (time is an input): parses updates from
/// `getUpdates`, keeps the allow-list, the one-time `/resume` confirmations (bound to a chat,
/// expiring) and the journal budget of refusals (a flood from an unknown chat costs at most
/// `refusalsPerWindow + 1` entries per window), and says what to journal, answer and carry out.
public struct CommandDesk: Sendable {
    /// A `/resume` waiting for its confirmation in one chat.
    struct PendingResume: Sendable, Equatable {
        var code: String
        var to: ResumeDestination
        var expiresAt: Timestamp
    }

    struct Window: Sendable {
        var start: Timestamp
        var recorded = 0
        var suppressed = 0
    }

    public var settings: CommandSettings
    /// The highest update id handled; `getUpdates` asks from the one after it.
    public private(set) var lastUpdateID: Int64?
    var pending: [Int64: PendingResume] = [:]
    var windows: [CommandRefusal: Window] = [:]

    public init(settings: CommandSettings) {
        self.settings = settings
    }

    /// The `offset` for the next `getUpdates`: one past the last update handled (nil: none yet).
    public var nextOffset: Int64? {
        guard let last = lastUpdateID else { return nil }
        let (next, overflow) = last.addingReportingOverflow(1)
        return overflow ? last : next
    }

    /// Chats with a `/resume` waiting for its confirmation (expired ones included until used).
    public var pendingConfirmations: Int { pending.count }

    /// When ``tick(now:)`` must run next: the end of the first window with counted refusals.
    public var nextDeadline: Timestamp? {
        windows.values.filter { $0.suppressed > 0 }.map { $0.start.advanced(by: settings.refusalWindow) }.min()
    }

    /// Closes the refusal windows that are over: one summary record each.
    public mutating func tick(now: Timestamp) -> [CommandAction] {
        var out: [CommandAction] = []
        for kind in windows.keys.sorted() {
            guard let w = windows[kind], now.duration(since: w.start) >= settings.refusalWindow else { continue }
            windows[kind] = nil
            if w.suppressed > 0 {
                out.append(
                    .record(
                        CommandRecord(
                            updateID: lastUpdateID ?? 0, chat: nil, at: now,
                            outcome: .summary(kind, suppressed: w.suppressed, since: w.start))))
            }
        }
        return out
    }

    /// Ends every refusal window (an orderly stop): one summary per kind with refusals counted,
    /// so that no count is lost to a window that never ended.
    public mutating func closeAll(now: Timestamp) -> [CommandAction] {
        var out: [CommandAction] = []
        for kind in windows.keys.sorted() {
            guard let w = windows[kind], w.suppressed > 0 else { continue }
            out.append(
                .record(
                    CommandRecord(
                        updateID: lastUpdateID ?? 0, chat: nil, at: now, outcome: .summary(kind, suppressed: w.suppressed, since: w.start)))
            )
        }
        windows = [:]
        return out
    }

    /// Handles one batch of `getUpdates`, in order.
    public mutating func handle(_ updates: [TelegramUpdate], now: Timestamp) -> [CommandAction] {
        var out = tick(now: now)
        for update in updates { out += handle(update, now: now) }
        return out
    }

    /// Handles one update.
    public mutating func handle(_ update: TelegramUpdate, now: Timestamp) -> [CommandAction] {
        if let last = lastUpdateID, update.updateID <= last {
            return refuse(.duplicate, update, "update \(update.updateID) again (handled through \(last))", now: now)
        }
        lastUpdateID = update.updateID
        switch update.kind {
        case .message, .channelPost: break
        case .editedMessage, .editedChannelPost: return refuse(.edited, update, "edited message not acted on", now: now)
        case .other: return refuse(.unsupported, update, "update kind not acted on", now: now)
        }
        guard let chat = update.chatID else { return refuse(.unsupported, update, "no chat", now: now) }
        let text = update.text ?? ""
        guard settings.allowedChats.contains(chat) else {
            return refuse(
                .unknownChat, update, "chat \(chat) is not allow-listed (\(text.utf8.count) bytes: \(Self.excerpt(text)))", now: now)
        }
        let trimmed = text.trimmingWhitespace()
        guard trimmed.hasPrefix("/") else { return refuse(.notACommand, update, "\(text.utf8.count) bytes of text", now: now) }
        guard text.utf8.count <= settings.maxTextBytes else {
            return refuse(.tooLong, update, "a command of \(text.utf8.count) bytes (at most \(settings.maxTextBytes))", now: now)
        }
        switch Self.parse(trimmed, botUsername: settings.botUsername) {
        case .otherBot(let bot):
            return refuse(.otherBot, update, "for @\(Self.excerpt(bot))", now: now)
        case .unknown(let name):
            return refuse(.unknownCommand, update, "/\(Self.excerpt(name)) is not a command", now: now)
        case .bad(let why):
            return refuse(.badArgument, update, why, now: now)
        case .command(.resume(let to)):
            let code = Self.code(seed: settings.seed, updateID: update.updateID)
            let expires = now.advancedReportingOverflow(by: settings.confirmationTTL) ?? now
            pending[chat] = PendingResume(code: code, to: to, expiresAt: expires)
            let record = CommandRecord(
                updateID: update.updateID, chat: chat, at: now, outcome: .confirmationAsked(code: code, to: to, expiresAt: expires))
            let minutes = Self.describe(settings.confirmationTTL)
            return [
                .record(record),
                .reply(
                    chat: chat,
                    text: "Resume trading to \(to == .active ? "ACTIVE" : "SAFE_REDUCING")? Send /resume confirm \(code) "
                        + "from this chat within \(minutes) to go ahead. Any other answer cancels it."),
            ]
        case .confirm(let code):
            guard let p = pending.removeValue(forKey: chat) else {
                return refuse(.confirmationRefused, update, "no /resume is waiting for confirmation in this chat", now: now)
            }
            guard now < p.expiresAt else {
                return refuse(.confirmationRefused, update, "the confirmation expired at \(p.expiresAt); send /resume again", now: now)
            }
            guard code == p.code else {
                return refuse(.confirmationRefused, update, "wrong confirmation code; send /resume again", now: now)
            }
            return execute(.resume(to: p.to), update: update, chat: chat, now: now)
        case .command(let command):
            // A halt cancels every resume still waiting: the operator changed their mind.
            if case .halt = command { pending = [:] }
            return execute(command, update: update, chat: chat, now: now)
        }
    }

    func execute(_ command: ChatCommand, update: TelegramUpdate, chat: Int64, now: Timestamp) -> [CommandAction] {
        [
            .record(CommandRecord(updateID: update.updateID, chat: chat, at: now, outcome: .execute(command))),
            .execute(command, chat: chat, updateID: update.updateID),
        ]
    }

    /// Counts a refusal against its kind's budget: recorded (and answered, when the kind is)
    /// while the window has room, else only counted for the window's summary.
    mutating func refuse(_ kind: CommandRefusal, _ update: TelegramUpdate, _ detail: String, now: Timestamp) -> [CommandAction] {
        var w = windows[kind] ?? Window(start: now)
        if w.suppressed == 0, now.duration(since: w.start) >= settings.refusalWindow { w = Window(start: now) }
        defer { windows[kind] = w }
        guard w.recorded < settings.refusalsPerWindow else {
            w.suppressed += 1
            return []
        }
        w.recorded += 1
        let record = CommandRecord(updateID: update.updateID, chat: update.chatID, at: now, outcome: .refused(kind, detail: detail))
        var out: [CommandAction] = [.record(record)]
        if kind.answered, let chat = update.chatID, settings.allowedChats.contains(chat) {
            out.append(.reply(chat: chat, text: kind == .unknownCommand || kind == .badArgument ? "\(detail).\n\(Self.help)" : detail))
        }
        return out
    }

    /// Brings the desk back to where a journaled record left it (at start, record by record in
    /// journal order). Refusal windows start afresh.
    public mutating func restore(_ record: CommandRecord) {
        if record.updateID > (lastUpdateID ?? .min) { lastUpdateID = record.updateID }
        switch record.outcome {
        case .confirmationAsked(let code, let to, let expiresAt):
            if let chat = record.chat { pending[chat] = PendingResume(code: code, to: to, expiresAt: expiresAt) }
        case .execute(.resume):
            if let chat = record.chat { pending[chat] = nil }
        case .execute(.halt):
            pending = [:]
        case .refused(.confirmationRefused, _):
            if let chat = record.chat { pending[chat] = nil }
        default:
            break
        }
    }

    /// The commands, for `/help` and for a refusal.
    public static let help = """
        Commands: /status, /positions, /halt [reason], /resume [active|reducing] (asks for a confirmation code), /help
        """

    // MARK: parsing

    enum Parsed: Equatable {
        case command(ChatCommand)
        case confirm(code: String)
        case otherBot(String)
        case unknown(String)
        case bad(String)
    }

    /// Reads `/name[@bot] [arguments]` (text trimmed, starting with `/`).
    static func parse(_ text: Substring, botUsername: String) -> Parsed {
        let head = text.prefix { !$0.isWhitespace }
        let rest = text.dropFirst(head.count).trimmingWhitespace()
        var name = head.dropFirst()
        if let at = name.firstIndex(of: "@") {
            let bot = name[name.index(after: at)...]
            guard bot.lowercased() == botUsername.lowercased() else { return .otherBot(String(bot)) }
            name = name[..<at]
        }
        let command = name.lowercased()
        guard !command.isEmpty, command.count <= 32 else { return .unknown(command) }
        let arguments = rest.split(whereSeparator: \.isWhitespace)
        func noArguments(_ c: ChatCommand) -> Parsed { arguments.isEmpty ? .command(c) : .bad("/\(command) takes no arguments") }
        switch command {
        case "help", "start": return noArguments(.help)
        case "status": return noArguments(.status)
        case "positions": return noArguments(.positions)
        case "halt":
            let reason = String(rest)
            guard reason.utf8.count <= CommandSettings.maxReasonBytes else {
                return .bad("the halt reason is \(reason.utf8.count) bytes (at most \(CommandSettings.maxReasonBytes))")
            }
            guard !reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                return .bad("the halt reason holds control characters")
            }
            return .command(.halt(reason: reason))
        case "resume":
            switch arguments.map({ $0.lowercased() }) {
            case []: return .command(.resume(to: .active))
            case ["active"]: return .command(.resume(to: .active))
            case ["reducing"]: return .command(.resume(to: .reducing))
            case let a where a.count == 2 && a[0] == "confirm":
                let code = a[1]
                guard code.count == 6, code.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                    return .bad("a confirmation code is 6 digits")
                }
                return .confirm(code: code)
            default: return .bad("/resume takes active, reducing, or confirm <code>")
            }
        default:
            return .unknown(command)
        }
    }

    /// The one-time code of the `/resume` in update `updateID`: six digits derived from the
    /// journaled seed (deterministic, so replay reproduces it). It binds a confirmation to one
    /// request; it is no secret from whoever reads the notifier's journal.
    static func code(seed: UInt64, updateID: Int64) -> String {
        var z = seed &+ UInt64(bitPattern: updateID) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let digits = String(z % 1_000_000)
        return String(repeating: "0", count: 6 - digits.count) + digits
    }

    /// At most 32 characters of outside text, control characters shown as `?`, for a journal detail.
    static func excerpt(_ text: some StringProtocol) -> String {
        let kept = text.unicodeScalars.prefix(32).map { $0.properties.generalCategory == .control ? "?" : Character($0) }
        return String(kept) + (text.unicodeScalars.count > 32 ? "..." : "")
    }

    static func describe(_ d: Duration) -> String {
        let s = d.components.seconds
        return s % 60 == 0 ? "\(s / 60) minute\(s == 60 ? "" : "s")" : "\(s) seconds"
    }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> Substring {
        let s = Substring(self)
        guard let first = s.firstIndex(where: { !$0.isWhitespace }) else { return s[s.endIndex...] }
        let last = s.lastIndex(where: { !$0.isWhitespace }) ?? first
        return s[first...last]
    }
}
