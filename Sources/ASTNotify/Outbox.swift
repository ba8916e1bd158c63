import ASTCore
import ASTMessages

/// How the outbox paces and retries deliveries.
///
/// Telegram documents two limits per chat: about one message a second in a private chat, and
/// at most 20 messages a minute in a group or channel. A chat's kind follows from its id:
/// a positive number is a private chat; a negative one (a group or supergroup) and an `@name`
/// (a channel) get the group pace.
public struct OutboxSettings: Sendable, Equatable {
    /// Per private chat, the steady pace: one message per interval (Telegram asks for about one a second).
    public var minimumInterval: Duration
    /// Per private chat, how many messages may leave back to back before the pace applies.
    public var burst: Int
    /// Per group or channel, the steady pace (Telegram: 20 a minute, so 3 s).
    public var groupInterval: Duration
    /// Per group or channel, the burst; with 1, no 60 s window ever holds more than
    /// 60 s / ``groupInterval`` messages.
    public var groupBurst: Int
    /// First back-off after a server error or a network failure; it doubles per failure.
    public var backoffInitial: Duration
    /// Longest back-off; also the wait after Telegram refuses the token or the chat (401/403/404).
    public var backoffMaximum: Duration

    public init(
        minimumInterval: Duration = .seconds(1), burst: Int = 3,
        backoffInitial: Duration = .seconds(1), backoffMaximum: Duration = .seconds(60),
        groupInterval: Duration = .seconds(3), groupBurst: Int = 1
    ) {
        self.minimumInterval = minimumInterval
        self.burst = max(1, burst)
        self.groupInterval = groupInterval
        self.groupBurst = max(1, groupBurst)
        self.backoffInitial = backoffInitial
        self.backoffMaximum = backoffMaximum
    }
}

/// One text to send to one chat, and the alerts it carries.
public struct OutgoingMessage: Sendable, Equatable, Codable {
    /// Derived from a counter of the outbox (`m<n>`): unique within one run of the notifier.
    public var id: String
    public var chat: String
    public var text: String
    public var mode: ParseMode
    /// The alerts this message carries: one, or several for a digest.
    public var alertKeys: [String]
    /// For an alert split over several messages: which part (0-based) of how many.
    public var part: Int
    public var parts: Int

    public init(id: String, chat: String, text: String, mode: ParseMode, alertKeys: [String], part: Int, parts: Int) {
        self.id = id
        self.chat = chat
        self.text = text
        self.mode = mode
        self.alertKeys = alertKeys
        self.part = part
        self.parts = parts
    }

    enum CodingKeys: String, CodingKey {
        case id, chat, text, mode, part, parts
        case alertKeys = "alert_keys"
    }
}

/// What became of one attempt to send an ``OutgoingMessage``, as the Telegram client read it.
public enum DeliveryOutcome: Sendable, Equatable, Codable {
    /// Telegram answered `ok: true`.
    case delivered
    /// HTTP 429: wait `retry_after` (from the error's `parameters`) before the next message.
    case rateLimited(retryAfter: Duration)
    /// A 5xx, or a network or TLS failure before the request could have reached Telegram.
    case transientFailure(reason: String)
    /// The request may have reached Telegram but no answer says so: a timeout, a connection
    /// closed after the request was written, an answer that is not the Bot API's JSON. Sent
    /// again like a transient failure, with ``AlertFormat/repeatMarker``.
    case deliveryUnknown(reason: String)
    /// Another 4xx, with Telegram's description.
    case refused(status: Int, description: String)
}

/// A message that left the outbox for good: delivered, or refused by Telegram as it is (the
/// alert is still in the journal and, for a P0, in journald). The shell journals it durably,
/// and replaying these records is how the outbox knows, after a restart, what not to send again.
public struct DeliveryRecord: Sendable, Equatable, Codable {
    public var chat: String
    public var alertKeys: [String]
    public var part: Int
    public var parts: Int
    /// True when Telegram refused the message even as plain text, so it was given up.
    public var abandoned: Bool

    public init(chat: String, alertKeys: [String], part: Int, parts: Int, abandoned: Bool) {
        self.chat = chat
        self.alertKeys = alertKeys
        self.part = part
        self.parts = parts
        self.abandoned = abandoned
    }

    enum CodingKeys: String, CodingKey {
        case chat, part, parts, abandoned
        case alertKeys = "alert_keys"
    }
}

/// The backlog as `astctl status` shows it.
public struct OutboxStatus: Sendable, Equatable {
    /// Alerts not yet delivered to every chat.
    public var pending: Int
    public var pendingP0: Int
    /// When the oldest pending P0 arrived.
    public var oldestPendingP0: Timestamp?
    /// Alerts delivered to every chat since the journal began.
    public var delivered: Int
    /// Messages Telegram refused as they were (given up; see the journal).
    public var abandoned: Int
    public var lastDeliveryAt: Timestamp?
    /// The last failure since the last success, already free of secrets.
    public var lastError: String?
    /// The earliest time a chat waits for (a back-off or `retry_after`), when one does.
    public var nextAttemptAt: Timestamp?
    /// Alerts that arrived again under an identity already known (true re-sends), dropped.
    public var duplicates: Int = 0
    /// Messages sent again because an earlier attempt's delivery is unknown.
    public var repeats: Int = 0
    /// Chats Telegram refuses (chat not found, bot blocked, token refused ...), in configured
    /// order, with Telegram's words: their alerts wait, the other chats go on.
    public var chatProblems: [ChatProblem] = []
}

/// A chat Telegram refuses to deliver to, as the configuration must fix it.
public struct ChatProblem: Sendable, Equatable, Codable {
    public var chat: String
    public var description: String
    public var since: Timestamp

    public init(chat: String, description: String, since: Timestamp) {
        self.chat = chat
        self.description = description
        self.since = since
    }
}

/// The notifier's outbox: which alert goes to which chat when, as a pure state machine.
///
/// Every P0 is its own message (split over several when long) and goes before anything else;
/// P1 and info alerts that wait together are coalesced into one digest message. Nothing is ever
/// dropped: an alert leaves the outbox only once Telegram accepted it for every chat (or refused
/// it even as plain text). Per chat one message is in flight at a time, paced by a token bucket
/// per chat kind (``OutboxSettings``), counted from the answer to the previous message so that
/// network delays cannot bunch messages up at Telegram; a 429 waits its `retry_after`,
/// server and network errors back off exponentially with jitter from a seeded generator.
/// A chat Telegram refuses (chat not found, bot blocked, token refused) keeps its alerts and is
/// tried again after the longest back-off; the other chats are not held up.
/// Alerts are deduplicated by their key, which the shell makes unique per event
/// (``AlertIdentity``): a duplicate is a true re-send, dropped, counted and logged. Across
/// restarts the shell restores the outbox from its journal (``restore(alert:receivedAt:)``,
/// ``restore(_:)``, ``restore(deliveryUnknown:chat:)``).
public struct Outbox: Sendable {
    /// What the outbox reacts to.
    public enum Input: Sendable, Equatable {
        /// An alert arrived (already journaled by the bus).
        case alert(Alert)
        /// The outcome of sending the message with this id.
        case delivery(messageID: String, DeliveryOutcome)
        /// A wake-up the outbox asked for (``Action/wake(at:)``), or any other moment to look again.
        case tick
    }

    /// What the shell carries out.
    public enum Action: Sendable, Equatable {
        /// Send this message now; report the outcome as ``Input/delivery(messageID:_:)``.
        case send(OutgoingMessage)
        /// Deliver a ``Input/tick`` at (or soon after) this time.
        case wake(at: Timestamp)
        /// Journal this durably: the message left the outbox for good.
        case record(DeliveryRecord)
        /// Write this at CRIT to the system log at once (every P0, and every alert given up).
        case logCritical(String)
        /// Write this at NOTICE (a duplicate dropped).
        case logNotice(String)
        /// A chat's problem began (or changed): journal and log it; nil: the chat works again.
        case chatProblem(chat: String, problem: String?)
    }

    struct Entry: Sendable {
        var alert: Alert
        var receivedAt: Timestamp
        /// Chats this alert still has to reach.
        var remaining: Int
    }

    struct ChatState: Sendable {
        var urgent: [String] = []
        var routine: [String] = []
        /// Parts already delivered of an alert split over several messages.
        var partsDone: [String: Int] = [:]
        /// Alerts Telegram refused as HTML: sent as plain text from then on.
        var plain: Set<String> = []
        /// Alerts whose last attempt in this chat may have arrived: the next one is marked.
        var unknown: Set<String> = []
        /// Why Telegram refuses this chat, since when.
        var problem: ChatProblem?
        var inFlight: OutgoingMessage?
        /// Token bucket as a theoretical arrival time (GCRA): integer time, no drift.
        var tat = Timestamp(nanoseconds: .min / 2)
        var notBefore = Timestamp(nanoseconds: .min / 2)
        var failures = 0

        var isEmpty: Bool { urgent.isEmpty && routine.isEmpty }
    }

    public let settings: OutboxSettings
    /// The chats every alert goes to, in order. Empty: delivery is off and alerts only wait.
    public let chats: [String]
    /// False while delivery is off (no client): alerts are kept and counted, nothing is sent.
    public let sending: Bool
    var entries: [String: Entry] = [:]
    var seen: Set<String> = []
    var states: [String: ChatState]
    var counter: UInt64 = 0
    var random: SplitMix64
    var delivered = 0
    var abandoned = 0
    var duplicates = 0
    var repeats = 0
    var lastDeliveryAt: Timestamp?
    var lastError: String?
    /// Each pending alert's texts and digest line length per parse mode, computed once: an
    /// alert split over several messages, or waiting through many digests, is not rendered
    /// again for every message (which made the work per message grow with the backlog's size).
    var rendered: [RenderKey: [String]] = [:]
    var lineLengths: [RenderKey: Int] = [:]

    struct RenderKey: Hashable, Sendable {
        var key: String
        var mode: ParseMode
        var repeated = false
    }

    /// - Parameters:
    ///   - seed: seeds the jitter of back-offs (journal it to replay the same waits).
    ///   - sending: false while delivery is off: the chats are known (so that delivery records
    ///     apply and the counts are true) but nothing is sent.
    public init(chats: [String], settings: OutboxSettings, seed: UInt64, sending: Bool = true) {
        self.chats = chats
        self.sending = sending
        self.settings = settings
        self.random = SplitMix64(seed: seed)
        self.states = Dictionary(uniqueKeysWithValues: chats.map { ($0, ChatState()) })
    }

    // MARK: Restore

    /// Puts a journaled alert back in the outbox without sending anything (restore at start).
    /// Returns false for a key seen before (a duplicate, counted as when it arrived).
    @discardableResult
    public mutating func restore(alert: Alert, receivedAt: Timestamp) -> Bool {
        guard enqueue(alert, now: receivedAt) else {
            duplicates += 1
            return false
        }
        return true
    }

    /// Applies a journaled ``DeliveryRecord`` (restore at start).
    public mutating func restore(_ record: DeliveryRecord) {
        apply(record)
    }

    /// Marks alerts whose last attempt in `chat` was in flight when the notifier stopped
    /// (journaled as sent, no answer journaled): their next message says ``AlertFormat/repeatMarker``.
    public mutating func restore(deliveryUnknown keys: [String], chat: String) {
        guard var s = states[chat] else { return }
        for key in keys where s.urgent.contains(key) || s.routine.contains(key) { s.unknown.insert(key) }
        states[chat] = s
    }

    /// Whether `chat` gets the group pace: a group, supergroup or channel (`-…` or `@…`).
    public static func isGroup(_ chat: String) -> Bool { chat.hasPrefix("-") || chat.hasPrefix("@") }

    /// Whether a refusal means the chat or the token is wrong (a configuration to fix), not the
    /// message: the alerts are kept for that chat, never abandoned.
    public static func isChatOrTokenRefusal(status: Int, description: String) -> Bool {
        if [401, 403, 404].contains(status) { return true }
        let d = description.lowercased()
        return [
            "chat not found", "user not found", "bot was blocked", "bot was kicked", "bot is not a member", "user is deactivated",
            "chat is deactivated", "chat_write_forbidden", "not enough rights", "have no rights", "need administrator rights",
            "group chat was upgraded", "peer_id_invalid", "chat_id is empty", "unauthorized", "forbidden",
        ].contains { d.contains($0) }
    }

    // MARK: Inputs

    /// Handles one input at time `now` and returns what to do.
    public mutating func handle(_ input: Input, now: Timestamp) -> [Action] {
        switch input {
        case .alert(let alert):
            guard enqueue(alert, now: now) else {
                duplicates += 1
                return [
                    .logNotice(
                        "duplicate alert dropped: \(alert.key) (\(alert.priority.rawValue) \(alert.title)) was received before; "
                            + "\(duplicates) duplicates so far")
                ]
            }
            var actions: [Action] = []
            if alert.priority == .p0 { actions.append(.logCritical("P0 alert: \(alert.title): \(alert.text)")) }
            return actions + pumpAll(now: now)
        case .delivery(let id, let outcome):
            guard let chat = chats.first(where: { states[$0]?.inFlight?.id == id }) else { return [] }
            return delivery(outcome, chat: chat, now: now) + pumpAll(now: now)
        case .tick:
            return pumpAll(now: now)
        }
    }

    /// The backlog at time `now`.
    public func status(now: Timestamp) -> OutboxStatus {
        let p0 = entries.values.filter { $0.alert.priority == .p0 }
        let waits = chats.compactMap { chat -> Timestamp? in
            guard let s = states[chat], !s.isEmpty, s.inFlight == nil, s.notBefore > now else { return nil }
            return s.notBefore
        }
        return OutboxStatus(
            pending: entries.count, pendingP0: p0.count, oldestPendingP0: p0.map(\.receivedAt).min(),
            delivered: delivered, abandoned: abandoned, lastDeliveryAt: lastDeliveryAt, lastError: lastError,
            nextAttemptAt: waits.min(), duplicates: duplicates, repeats: repeats,
            chatProblems: chats.compactMap { states[$0]?.problem })
    }

    /// Records a failure that happened outside the outbox (for example the client could not be
    /// built), so that the status shows it.
    public mutating func noteError(_ text: String) { lastError = text }

    // MARK: Internals

    mutating func enqueue(_ alert: Alert, now: Timestamp) -> Bool {
        guard seen.insert(alert.key).inserted else { return false }
        entries[alert.key] = Entry(alert: alert, receivedAt: now, remaining: chats.count)
        for chat in chats {
            if alert.priority == .p0 { states[chat]!.urgent.append(alert.key) } else { states[chat]!.routine.append(alert.key) }
        }
        return true
    }

    mutating func apply(_ record: DeliveryRecord) {
        guard var s = states[record.chat] else { return }
        var finished: [String] = []
        if record.alertKeys.count == 1 && record.parts > 1 {
            let key = record.alertKeys[0]
            let done = max(s.partsDone[key] ?? 0, record.part + 1)
            if done >= record.parts {
                finished = [key]
                s.partsDone[key] = nil
            } else {
                s.partsDone[key] = done
            }
        } else {
            finished = record.alertKeys
        }
        // One pass over the chat's queues for the whole record (a digest carries many keys).
        let done = Set(finished)
        var removed = Set<String>()
        func take(_ key: String) -> Bool {
            guard done.contains(key) else { return false }
            removed.insert(key)
            return true
        }
        if !done.isEmpty {
            s.urgent.removeAll(where: take)
            s.routine.removeAll(where: take)
        }
        for key in finished {
            s.plain.remove(key)
            s.unknown.remove(key)
            guard removed.remove(key) != nil, var e = entries[key] else { continue }
            e.remaining -= 1
            if e.remaining <= 0 {
                entries[key] = nil
                for mode in [ParseMode.html, .plain] {
                    for repeated in [false, true] { rendered[RenderKey(key: key, mode: mode, repeated: repeated)] = nil }
                    lineLengths[RenderKey(key: key, mode: mode)] = nil
                }
                if record.abandoned { abandoned += 1 } else { delivered += 1 }
            } else {
                entries[key] = e
            }
        }
        states[record.chat] = s
    }

    mutating func delivery(_ outcome: DeliveryOutcome, chat: String, now: Timestamp) -> [Action] {
        guard let message = states[chat]!.inFlight else { return [] }
        states[chat]!.inFlight = nil
        // The pace counts from the answer too: a message never reaches Telegram sooner than one
        // interval after the one before it reached it, however the network delays them.
        let interval = self.interval(chat).totalNanoseconds
        states[chat]!.tat = Timestamp(nanoseconds: max(states[chat]!.tat.nanoseconds, now.nanoseconds + interval))
        switch outcome {
        case .delivered:
            states[chat]!.failures = 0
            lastDeliveryAt = now
            lastError = nil
            var actions: [Action] = []
            if states[chat]!.problem != nil {
                states[chat]!.problem = nil
                actions.append(.chatProblem(chat: chat, problem: nil))
            }
            let record = DeliveryRecord(
                chat: chat, alertKeys: message.alertKeys, part: message.part, parts: message.parts, abandoned: false)
            apply(record)
            return [.record(record)] + actions
        case .rateLimited(let retryAfter):
            states[chat]!.notBefore = now.advanced(by: max(retryAfter, .zero))
            lastError = "Telegram asked to wait \(retryAfter) (429 Too Many Requests)"
            return []
        case .transientFailure(let reason):
            states[chat]!.failures += 1
            states[chat]!.notBefore = now.advanced(by: backoff(failures: states[chat]!.failures))
            lastError = reason
            return []
        case .deliveryUnknown(let reason):
            states[chat]!.failures += 1
            states[chat]!.notBefore = now.advanced(by: backoff(failures: states[chat]!.failures))
            for key in message.alertKeys { states[chat]!.unknown.insert(key) }
            lastError = "\(reason) (delivery unknown: sent again marked \(AlertFormat.repeatMarker))"
            return []
        case .refused(let status, let description) where Self.isChatOrTokenRefusal(status: status, description: description):
            // The token or the chat is refused: nothing to change in the message. Keep it and
            // try again after the longest back-off; the operator fixes the configuration. The
            // other chats go on.
            states[chat]!.failures += 1
            states[chat]!.notBefore = now.advanced(by: settings.backoffMaximum)
            let problem = "Telegram refuses chat \(chat) (\(status)): \(description)"
            lastError = problem
            guard states[chat]!.problem?.description != problem else { return [] }
            states[chat]!.problem = ChatProblem(chat: chat, description: problem, since: now)
            return [
                .chatProblem(chat: chat, problem: problem),
                .logCritical("\(problem); its alerts wait in the outbox and go once the configuration is fixed"),
            ]
        case .refused(let status, let description):
            lastError = "Telegram refused a message for chat \(chat) (\(status)): \(description)"
            if message.mode == .html {
                // Telegram could not take the HTML: send the same alerts again as plain text.
                for key in message.alertKeys { states[chat]!.plain.insert(key) }
                return []
            }
            let record = DeliveryRecord(chat: chat, alertKeys: message.alertKeys, part: message.part, parts: message.parts, abandoned: true)
            let titles = message.alertKeys.compactMap {
                entries[$0].map { "\($0.alert.priority.rawValue) \($0.alert.title) [\($0.alert.key)]" }
            }
            apply(record)
            return [
                .record(record),
                .logCritical(
                    "Telegram refused, even as plain text, a message for chat \(chat) (\(status)): \(description); "
                        + "given up for that chat, still in the notifier's journal: \(titles.joined(separator: "; "))"),
            ]
        }
    }

    /// Exponential back-off with "equal jitter": between half and all of the doubled delay.
    mutating func backoff(failures: Int) -> Duration {
        let initial = settings.backoffInitial.totalNanoseconds
        let maximum = settings.backoffMaximum.totalNanoseconds
        var delay = max(1, initial)
        for _ in 1..<max(1, failures) where delay < maximum {
            delay = delay.multipliedReportingOverflow(by: 2).overflow ? maximum : delay * 2
        }
        delay = min(delay, maximum)
        let half = delay / 2
        return .nanoseconds(half + Int64(random.next() % UInt64(max(1, delay - half + 1))))
    }

    mutating func pumpAll(now: Timestamp) -> [Action] {
        var actions: [Action] = []
        for chat in chats { actions += pump(chat: chat, now: now) }
        return actions
    }

    /// The pace of `chat`'s kind.
    func interval(_ chat: String) -> Duration { Self.isGroup(chat) ? settings.groupInterval : settings.minimumInterval }

    mutating func pump(chat: String, now: Timestamp) -> [Action] {
        var s = states[chat]!
        guard sending, s.inFlight == nil, !s.isEmpty else { return [] }
        if now < s.notBefore { return [.wake(at: s.notBefore)] }
        let interval = self.interval(chat).totalNanoseconds
        let burst = Self.isGroup(chat) ? settings.groupBurst : settings.burst
        let allowedAt = Timestamp(nanoseconds: s.tat.nanoseconds - Int64(burst - 1) * interval)
        if now < allowedAt { return [.wake(at: allowedAt)] }
        counter += 1
        var message = compose(chat: chat, state: s)
        if message.alertKeys.contains(where: s.unknown.contains) { repeats += 1 }
        message.id = "m\(counter)"
        s.inFlight = message
        s.tat = Timestamp(nanoseconds: max(s.tat.nanoseconds, now.nanoseconds) + interval)
        states[chat] = s
        return [.send(message)]
    }

    /// The next message for a chat: its first P0, else one routine alert, else a digest of as
    /// many waiting routine alerts as fit in one message.
    mutating func compose(chat: String, state s: ChatState) -> OutgoingMessage {
        if let key = s.urgent.first ?? (s.routine.count == 1 ? s.routine.first : nil) {
            return single(key, chat: chat, state: s)
        }
        let keys = s.routine
        let mode: ParseMode = keys.contains { s.plain.contains($0) } ? .plain : .html
        let repeated = keys.contains { s.unknown.contains($0) }
        // Grow the digest while it stays one message (its length only grows with each alert, so
        // the first that does not fit ends it); at least the first alert goes. Measured from each
        // alert's cached line length: only the digest that goes is rendered.
        var count = 0, length = 0, fitting = 0
        for (i, key) in keys.enumerated() {
            if let alert = entries[key]?.alert {
                count += 1
                length += digestLineLength(key, alert, mode: mode)
            }
            guard AlertFormat.digestFits(count: count, linesLength: length, mode: mode, repeated: repeated) else { break }
            fitting = i + 1
        }
        if fitting <= 1 { return single(keys[0], chat: chat, state: s) }
        let best = Array(keys[..<fitting])
        let text = AlertFormat.digest(best.compactMap { entries[$0]?.alert }, mode: mode, repeated: repeated)[0]
        return OutgoingMessage(id: "", chat: chat, text: text, mode: mode, alertKeys: best, part: 0, parts: 1)
    }

    mutating func single(_ key: String, chat: String, state s: ChatState) -> OutgoingMessage {
        let mode: ParseMode = s.plain.contains(key) ? .plain : .html
        let repeated = s.unknown.contains(key)
        let cacheKey = RenderKey(key: key, mode: mode, repeated: repeated)
        let texts = rendered[cacheKey] ?? AlertFormat.texts(entries[key]!.alert, mode: mode, repeated: repeated)
        rendered[cacheKey] = texts
        let part = min(s.partsDone[key] ?? 0, texts.count - 1)
        return OutgoingMessage(id: "", chat: chat, text: texts[part], mode: mode, alertKeys: [key], part: part, parts: texts.count)
    }

    mutating func digestLineLength(_ key: String, _ alert: Alert, mode: ParseMode) -> Int {
        let cacheKey = RenderKey(key: key, mode: mode)
        if let known = lineLengths[cacheKey] { return known }
        let length = AlertFormat.digestLineLength(alert, mode: mode)
        lineLengths[cacheKey] = length
        return length
    }
}
