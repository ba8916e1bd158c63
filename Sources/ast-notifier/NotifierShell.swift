import ASTBus
import ASTCore
import ASTJournal
import ASTNotify
import ASTRisk
import ASTRuntime
import ASTTelegram
import ASTWire
import Foundation
import Logging

/// The journal entry types of ast-notifier besides the alerts and lifecycle events the bus
/// journals on arrival (durably, before acknowledging them: those are the outbox's inputs).
typealias NotifierJournal = EntryTypes.Notifier

/// The notifier's entry types beyond ``EntryTypes/Notifier``.
enum NotifierEntries {
    /// A chat Telegram refuses began (``ChatProblemBody`` with the problem) or ended (without).
    static let chatProblem = "notifier.chat_problem"
}

/// ast-notifier's shell around the pure ``Outbox``: feeds it the alerts the bus journaled
/// (and the alerts derived from astd's lifecycle events), sends what it says through the
/// Telegram client, journals every message that left for good durably, wakes it when it asked
/// to, and answers `astctl status`.
///
/// At start the outbox is rebuilt from the journal: every alert received minus every message
/// recorded as delivered, so that nothing is lost and nothing delivered is sent again. A message
/// journaled as sent whose answer never came (a SIGKILL while Telegram held the request) may
/// have arrived: it is sent again marked "(repeat: delivery unknown)". Delivery is at least once.
///
/// Alerts are kept under ``AlertIdentity`` (the sender's key and the envelope id), so two
/// events never share an identity. Every log line, journal body and status passes through one
/// ``SecretRedactor``.
actor NotifierShell: WorkerLogic {
    var outbox: Outbox
    let client: TelegramClient?
    /// Why delivery is off, when it is.
    let offReason: String?
    let journal: Journal
    let clock: any WallClock
    let logger: Logger
    /// Removes the bot token, in any encoding, from every text the notifier writes.
    let redactor: SecretRedactor
    var wakeAt: Timestamp?
    /// The one armed wake-up, for ``wakeAt``.
    var timerTask: Task<Void, Never>?
    let sends: AsyncStream<OutgoingMessage>
    let sendQueue: AsyncStream<OutgoingMessage>.Continuation
    let encoder: JSONEncoder
    /// Telegram commands (nil: off: no token, no numeric chat, or `notifier.telegram.commands: false`).
    var desk: CommandDesk?
    let commandSetup: CommandSetup
    /// Bus clients of the commands, per chat and target, made on first use.
    var commandClients: [String: (client: BusClient, task: Task<Void, Never>)] = [:]
    /// The `getUpdates` loop, cancelled when the process stops.
    var pollTask: Task<Void, Never>?
    /// Journal the outbox's and the desk's start-up state in marks every so many entries, so a
    /// start reads from the newest mark, not from entry 1 (``NotifierOutboxScan``, ``CommandDeskScan``).
    let outboxMarker: StartMarker<NotifierOutboxScan>
    let deskMarker: StartMarker<CommandDeskScan>

    init(context: WorkerContext) throws {
        journal = context.journal
        clock = context.systemClock
        encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        (sends, sendQueue) = AsyncStream.makeStream(of: OutgoingMessage.self)
        let config = context.config.notifier ?? .shipped
        let telegram = config.telegram
        let settings = OutboxSettings(
            minimumInterval: .milliseconds(telegram.minIntervalMs), burst: telegram.burst,
            backoffInitial: .milliseconds(telegram.backoffInitialMs), backoffMaximum: .milliseconds(telegram.backoffMaxMs),
            groupInterval: .milliseconds(telegram.groupIntervalMs ?? 3000), groupBurst: telegram.groupBurst ?? 1)
        var chats: [String] = []
        var client: TelegramClient?
        var offReason: String?
        var offKind: SecretError.Kind?
        var token: Secret?
        let store = SecretStore.fromEnvironment(secretsFile: context.config.secretsFile)
        do {
            token = try store.secret("telegram_bot_token")
        } catch {
            offReason = "\(error)"
            offKind = error.kind
        }
        // The chats are known whenever they can be read, delivery on or off: delivery records
        // apply to them, so the counts in `astctl status` stay true while delivery is off.
        do {
            chats = try Self.chatIDs(try store.secret("telegram_chat_ids"))
        } catch {
            if offReason == nil {
                offReason = "\(error)"
                offKind = error.kind
            }
        }
        if let token, !chats.isEmpty {
            do {
                client = try TelegramClient(
                    token: token,
                    settings: TelegramSettings(
                        baseURL: telegram.baseURL, caFile: telegram.caFile.isEmpty ? nil : telegram.caFile,
                        requestTimeout: .milliseconds(telegram.requestTimeoutMs)))
            } catch {
                offReason = "\(error)"
            }
        }
        let redactor = SecretRedactor(token.map { [$0] } ?? [])
        self.redactor = redactor
        logger = RedactingLogHandler.logger(context.logger, redactor: redactor)
        self.client = client
        self.offReason = offReason.map(redactor.redact)
        outbox = try Self.restore(
            chats: chats, sending: client != nil, settings: settings, journal: journal, now: clock.now(), encoder: encoder)
        commandSetup = CommandSetup(
            runtimeDir: context.config.runtimeDir, bus: BusSettings(context.config.bus),
            pollTimeout: .seconds(telegram.pollTimeoutS ?? 25), backoffInitial: settings.backoffInitial,
            backoffMaximum: settings.backoffMaximum)
        let commandChats = Self.commandChats(chats)
        if client != nil, telegram.commands ?? true, !commandChats.isEmpty {
            desk = try Self.restoreDesk(
                settings: CommandSettings(
                    allowedChats: commandChats, botUsername: "", confirmationTTL: .seconds(telegram.confirmTtlS ?? 120), seed: 0),
                journal: journal)
        }
        if let offReason {
            // Not configured is a choice (a fresh install, a test); unreadable is a fault to fix.
            if offKind == .unreadable {
                logger.error("Telegram delivery is off: \(offReason); alerts wait in the journal and show in astctl status")
            } else {
                logger.warning("Telegram delivery is off: \(offReason); alerts wait in the journal and show in astctl status")
            }
        } else {
            logger.notice(
                "Telegram delivery on",
                metadata: [
                    "base_url": "\(telegram.baseURL)", "chats": "\(chats.count)",
                    "trust": "\(telegram.caFile.isEmpty ? "system roots" : telegram.caFile)",
                ])
        }
        let status = outbox.status(now: clock.now())
        if status.pending > 0 {
            logger.notice("\(status.pending) alerts pending from before this start (\(status.pendingP0) P0)")
        }
        if outbox.chats.isEmpty == false, client == nil {
            logger.notice("delivery is off; counting against the chats \(chats.isEmpty ? "the journal names" : "configured")")
        }
        try journal.append(
            JournalRecord(kind: .state, type: NotifierJournal.started, timestamp: clock.now(), body: []), durability: .durable)
        outboxMarker = StartMarker(journal: journal, every: StartMarker<NotifierOutboxScan>.defaultEvery, from: 1)
        deskMarker = StartMarker(journal: journal, every: StartMarker<CommandDeskScan>.defaultEvery, from: 1)
        // A start that read a whole interval marks at once: the next start reads from here.
        try outboxMarker.markIfDue(at: clock.now())
        if desk != nil { try deskMarker.markIfDue(at: clock.now()) }
    }

    /// Journals the start-up marks that are due (a read of the entries since the last mark each).
    func markIfDue() {
        do {
            try outboxMarker.markIfDue(at: clock.now())
            if desk != nil { try deskMarker.markIfDue(at: clock.now()) }
        } catch {
            logger.warning("could not journal a start-up mark (the next start reads further back): \(error)")
        }
    }

    /// The chats of the `telegram_chat_ids` secret: ids (digits, a leading `-` for groups) or
    /// `@channel` names, separated by commas, spaces or lines.
    static func chatIDs(_ secret: Secret) throws(SecretError) -> [String] {
        let entries = secret.withValue { $0.split { $0 == "," || $0.isWhitespace }.map(String.init) }
        guard !entries.isEmpty else { throw SecretError("telegram_chat_ids names no chat") }
        for (i, entry) in entries.enumerated() {
            let digits = entry.hasPrefix("-") ? entry.dropFirst() : Substring(entry)
            let isID = !digits.isEmpty && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber)
            let isName =
                entry.hasPrefix("@") && entry.count > 1
                && entry.dropFirst().allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            guard isID || isName else {
                throw SecretError(
                    "telegram_chat_ids entry \(i + 1) is not a chat id (digits, with a leading - for a group) or an @channel name")
            }
        }
        var seen = Set<String>()
        return entries.filter { seen.insert($0).inserted }
    }

    /// Rebuilds the outbox: the jitter seed, every alert the bus journaled (and every alert a
    /// journaled lifecycle event means), minus every message recorded as delivered; then marks
    /// what was in flight, unanswered, when the notifier stopped (delivery unknown). Without
    /// configured chats the chats the journal names are counted against (delivery off).
    static func restore(
        chats configured: [String], sending: Bool, settings: OutboxSettings, journal: Journal, now: Timestamp, encoder: JSONEncoder
    ) throws -> Outbox {
        // From the newest outbox start-up mark that verifies (or entry 1), in one pass.
        let restored = try journal.restore(NotifierOutboxScan.self).state
        var seed = restored.seed
        let journalChats = restored.journalChats
        if seed == nil {
            let fresh = UInt64.random(in: .min ... .max)
            try journal.append(
                JournalRecord(
                    kind: .state, type: NotifierJournal.initial, timestamp: now,
                    body: Array(try encoder.encode(fresh))), durability: .durable)
            seed = fresh
        }
        let chats = configured.isEmpty && !sending ? journalChats : configured
        var outbox = Outbox(chats: chats, settings: settings, seed: seed!, sending: sending)
        for step in restored.order {
            if step.isAlert {
                guard restored.alerts.indices.contains(step.index) else { throw NotifierRestoreError(step) }
                outbox.restore(alert: restored.alerts[step.index].alert, receivedAt: restored.alerts[step.index].receivedAt)
            } else {
                guard restored.records.indices.contains(step.index) else { throw NotifierRestoreError(step) }
                outbox.restore(restored.records[step.index])
            }
        }
        for id in restored.inFlightOrder {
            guard let sent = restored.inFlight[id] else { continue }
            outbox.restore(deliveryUnknown: sent.alertKeys, chat: sent.chat)
        }
        return outbox
    }

    func run() async {
        handle(.tick)
        if let client, desk != nil {
            // Beside the sends: a held poll delays no alert.
            pollTask = Task { await self.pollCommands(client, setup: self.commandSetup) }
        }
        await withDiscardingTaskGroup { group in
            guard let client = self.client else {
                // Delivery is off: alerts wait in the journal; stay up until the process stops
                // (the stream ends in `stopped()`).
                for await _ in self.sends {}
                return
            }
            for await message in self.sends {
                group.addTask {
                    let outcome = await client.send(message)
                    await self.completed(message, outcome)
                }
            }
        }
    }

    func stopped() async {
        timerTask?.cancel()
        sendQueue.finish()
        // Sends in flight finish; the command poll is cancelled (a command being carried out
        // finishes, bounded by its bus timeout, before the journal closes).
        pollTask?.cancel()
        await pollTask?.value
        for (_, c) in commandClients { c.task.cancel() }
        for (_, c) in commandClients { await c.task.value }
        if var desk {
            for case .record(let r) in desk.closeAll(now: clock.now()) { journalCommand(r) }
            self.desk = desk
        }
        await client?.shutdown()
        _ = try? journal.append(
            JournalRecord(kind: .state, type: NotifierJournal.stopped, timestamp: clock.now(), body: []), durability: .durable)
    }

    /// Arms the one wake-up timer for `at`, unless one is already armed for that time or earlier:
    /// the shell sleeps until the outbox's next deadline instead of polling.
    func arm(at: Timestamp) {
        if let armed = wakeAt, armed <= at { return }
        wakeAt = at
        timerTask?.cancel()
        let delay = max(0, at.nanoseconds - clock.now().nanoseconds)
        timerTask = Task {
            do { try await Task.sleep(for: .nanoseconds(delay)) } catch { return }
            await self.wake(armedFor: at)
        }
    }

    /// The armed deadline came: tick the outbox (which may ask for the next one).
    func wake(armedFor at: Timestamp) {
        guard wakeAt == at else { return }  // re-armed earlier meanwhile
        wakeAt = nil
        timerTask = nil
        handle(.tick)
        tickCommands()
    }

    /// Hands `input` to the outbox and carries out what it says.
    func handle(_ input: Outbox.Input, journaledAs entryType: String? = nil) {
        let now = clock.now()
        let actions = outbox.handle(input, now: now)
        defer { NotifierMetrics.backlog(outbox.status(now: now)) }
        if let entryType {
            // Fault injection for tests: a crash after the journaled alert, before what it sends.
            let outputs = actions.filter { if case .send = $0 { true } else if case .record = $0 { true } else { false } }.count
            CrashAfterInputFault.point(entryType, input, outputs: outputs)
        }
        for action in actions {
            switch action {
            case .send(let message):
                // Durable before the request leaves: after a crash, what was in flight is known,
                // and sent again marked as a possible repeat.
                append(NotifierJournal.sent, kind: .sent, message.id, SentBody(message), durability: .durable)
                NotifierMetrics.sending(message.id)
                sendQueue.yield(message)
            case .wake(let at):
                arm(at: at)
            case .record(let record):
                // Durable before anything else happens: a restart must not send it again.
                append(NotifierJournal.delivered, kind: .decision, record.alertKeys.first, record, durability: .durable)
                markIfDue()
                let what = record.alertKeys.count == 1 ? record.alertKeys[0] : "a digest of \(record.alertKeys.count) alerts"
                let part = record.parts > 1 ? " (part \(record.part + 1)/\(record.parts))" : ""
                logger.info("\(record.abandoned ? "gave up on" : "delivered") \(what)\(part)", metadata: ["chat": "\(record.chat)"])
            case .logCritical(let line):
                logger.critical("\(line)")
            case .logNotice(let line):
                logger.notice("\(line)")
            case .chatProblem(let chat, let problem):
                append(
                    NotifierEntries.chatProblem, kind: .event, chat, ChatProblemBody(chat: chat, problem: problem), durability: .durable)
                if problem == nil { logger.notice("Telegram delivers to chat \(chat) again") }
            }
        }
    }

    func completed(_ message: OutgoingMessage, _ outcome: DeliveryOutcome) {
        if outcome != .delivered {
            append(
                NotifierJournal.failed, kind: .event, message.id, FailedBody(id: message.id, chat: message.chat, outcome: outcome),
                durability: .batched)
            logger.warning(
                "Telegram delivery failed: \(Self.describe(outcome))", metadata: ["message": "\(message.id)", "chat": "\(message.chat)"])
        }
        NotifierMetrics.completed(message.id, outcome)
        handle(.delivery(messageID: message.id, outcome))
    }

    static func describe(_ outcome: DeliveryOutcome) -> String {
        switch outcome {
        case .delivered: "delivered"
        case .rateLimited(let after): "429 Too Many Requests: retry after \(after)"
        case .transientFailure(let reason): reason
        case .deliveryUnknown(let reason): "\(reason) (delivery unknown)"
        case .refused(let status, let description): "refused (\(status)): \(description)"
        }
    }

    func append(_ type: String, kind: EntryKind, _ correlation: String?, _ body: some Encodable, durability: Durability) {
        do {
            try journal.append(
                JournalRecord(
                    kind: kind, type: type, timestamp: clock.now(), correlationID: correlation.map(redactor.redact),
                    body: redactor.redact(bytes: Array(try encoder.encode(body)))), durability: durability)
        } catch {
            // Without the journal the outbox cannot promise anything: crash-only, astd restarts us.
            logger.critical("cannot journal \(type): \(error)")
            fatalError("ast-notifier: the journal refused \(type): \(error)")
        }
    }

    func report() -> NotifierStatusReport {
        let s = outbox.status(now: clock.now())
        var report = NotifierStatusReport(
            deliveryEnabled: client != nil, pending: s.pending, pendingP0: s.pendingP0, oldestPendingP0: s.oldestPendingP0,
            delivered: s.delivered, abandoned: s.abandoned, lastDeliveryAt: s.lastDeliveryAt,
            lastError: (offReason.map { "Telegram delivery is off: \($0)" } ?? s.lastError).map(redactor.redact),
            nextAttemptAt: s.nextAttemptAt)
        report.duplicates = s.duplicates
        report.repeats = s.repeats
        report.chatProblems = s.chatProblems.map { redactor.redact($0.description) }
        return report
    }

    /// Validate before you journal: an alert beyond its sizes is refused (``Alert/validate()``).
    nonisolated func validate(_ envelope: Envelope, from peer: PeerInfo) -> InputRefusal? {
        switch envelope.message {
        case .alert, .lifecycle:
            // The envelope id is part of the alert's identity: bounded like a key.
            if let refusal = InputCheck.text(envelope.id, "envelope id", max: AlertIdentity.maximumEnvelopeIDBytes) { return refusal }
        default:
            break
        }
        if case .alert(let alert) = envelope.message { return alert.validate() }
        return nil
    }

    func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message? {
        switch envelope.message {
        case .alert, .lifecycle:
            if let alert = AlertIdentity.alert(in: envelope.message, envelopeID: envelope.id) {
                handle(.alert(alert), journaledAs: envelope.type.rawValue)
            }
        case .notifierStatusRequest:
            return .notifierStatus(report())
        default:
            break
        }
        return nil
    }
}

/// What `notifier.chat_problem` records.
struct ChatProblemBody: Encodable {
    var chat: String
    /// Nil: the chat works again.
    var problem: String?
}

/// What `notifier.sent` records of a message.
struct SentBody: Codable, Sendable, Equatable {
    var id: String
    var chat: String
    var alertKeys: [String]
    var part: Int
    var parts: Int
    var mode: String
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        chat = try c.decode(String.self, forKey: .chat)
        alertKeys = try c.decode([String].self, forKey: .alertKeys)
        part = try c.decode(Int.self, forKey: .part)
        parts = try c.decode(Int.self, forKey: .parts)
        mode = try c.decode(String.self, forKey: .mode)
    }
    init(_ m: OutgoingMessage) {
        id = m.id
        chat = m.chat
        alertKeys = m.alertKeys
        part = m.part
        parts = m.parts
        mode = m.mode == .html ? "HTML" : "plain"
    }
    enum CodingKeys: String, CodingKey {
        case id, chat, part, parts, mode
        case alertKeys = "alert_keys"
    }
}

/// What `notifier.failed` records of an attempt.
struct FailedBody: Codable {
    var id: String
    var chat: String
    var outcome: DeliveryOutcome
}

/// What the notifier's outbox restore reads from its journal (from the newest start-up mark that
/// verifies, or from entry 1): the jitter seed, every alert the bus journaled (and every alert a
/// journaled lifecycle event means), every delivery record, in journal order (a record never
/// precedes its alert), and what was sent and not answered, per run (message ids restart with
/// each run). ``NotifierShell/restore(chats:sending:settings:journal:now:encoder:)`` builds the
/// outbox from it.
enum NotifierOutboxScan: MarkedScan {
    struct Step: Codable, Sendable, Equatable {
        var isAlert: Bool
        var index: Int
    }

    struct TimedAlert: Codable, Sendable, Equatable {
        var alert: Alert
        var receivedAt: Timestamp
    }

    struct State: Codable, Sendable, Equatable {
        var seed: UInt64?
        var alerts: [TimedAlert] = []
        var records: [DeliveryRecord] = []
        var order: [Step] = []
        /// Journals written before identities: records name the sender's key alone.
        var identities: Set<String> = []
        var bySenderKey: [String: String] = [:]
        var run = 0
        var inFlight: [String: SentBody] = [:]
        var inFlightOrder: [String] = []
        var journalChats: [String] = []
    }

    static let markName = "notifier.outbox"
    static var initial: State { State() }

    static func fold(_ s: inout State, _ entry: JournalEntry) throws {
        let r = entry.record
        let decoder = JSONDecoder()
        switch (r.kind, r.type) {
        case (.state, NotifierJournal.initial):
            s.seed = try decoder.decode(UInt64.self, from: Data(r.body))
        case (.state, NotifierJournal.started):
            s.run += 1
        case (.received, MessageType.alert.rawValue), (.received, MessageType.lifecycle.rawValue):
            if let envelope = try? EnvelopeCodec.decode(r.body),
                let alert = AlertIdentity.alert(in: envelope.message, envelopeID: envelope.id)
            {
                s.order.append(Step(isAlert: true, index: s.alerts.count))
                s.alerts.append(TimedAlert(alert: alert, receivedAt: r.timestamp))
                s.identities.insert(alert.key)
                if case .alert(let original) = envelope.message, s.bySenderKey[original.key] == nil {
                    s.bySenderKey[original.key] = alert.key
                } else if case .lifecycle(let e) = envelope.message {
                    // Such journals keyed a lifecycle alert by astd's clock reading.
                    let legacy = "lifecycle:\(e.kind.rawValue):\(e.child?.description ?? "the tree"):\(e.at.nanoseconds)"
                    if s.bySenderKey[legacy] == nil { s.bySenderKey[legacy] = alert.key }
                }
            }
        case (.sent, NotifierJournal.sent):
            if let body = try? decoder.decode(SentBody.self, from: Data(r.body)) {
                s.inFlight["\(s.run):\(body.id)"] = body
                s.inFlightOrder.append("\(s.run):\(body.id)")
                if !s.journalChats.contains(body.chat) { s.journalChats.append(body.chat) }
            }
        case (.event, NotifierJournal.failed):
            if let body = try? decoder.decode(FailedBody.self, from: Data(r.body)) {
                if case .deliveryUnknown = body.outcome {} else { s.inFlight["\(s.run):\(body.id)"] = nil }
            }
        case (.decision, NotifierJournal.delivered):
            var record = try decoder.decode(DeliveryRecord.self, from: Data(r.body))
            record.alertKeys = record.alertKeys.map { s.identities.contains($0) ? $0 : s.bySenderKey[$0] ?? $0 }
            s.order.append(Step(isAlert: false, index: s.records.count))
            s.records.append(record)
            if !s.journalChats.contains(record.chat) { s.journalChats.append(record.chat) }
            for (id, sent) in s.inFlight where sent.chat == record.chat && sent.part == record.part {
                let keys = sent.alertKeys.map { s.identities.contains($0) ? $0 : s.bySenderKey[$0] ?? $0 }
                if keys == record.alertKeys { s.inFlight[id] = nil }
            }
        default:
            break
        }
    }
}

/// A start-up mark whose outbox steps point past its alerts or records: never written by this
/// build (the mark is the fold's own state), so the notifier does not start on it.
struct NotifierRestoreError: Error, CustomStringConvertible {
    var step: NotifierOutboxScan.Step
    init(_ step: NotifierOutboxScan.Step) { self.step = step }
    var description: String { "notifier outbox mark: step \(step) points past its list" }
}
