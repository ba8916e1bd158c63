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

/// ast-notifier's shell around the pure ``Outbox``: feeds it the alerts the bus journaled
/// (and the alerts derived from astd's lifecycle events), sends what it says through the
/// Telegram client, journals every message that left for good durably, wakes it when it asked
/// to, and answers `astctl status`.
///
/// At start the outbox is rebuilt from the journal: every alert received minus every message
/// recorded as delivered, so that nothing is lost and nothing delivered is sent again.
actor NotifierShell: WorkerLogic {
    var outbox: Outbox
    let client: TelegramClient?
    /// Why delivery is off, when it is.
    let offReason: String?
    let journal: Journal
    let clock: any WallClock
    let logger: Logger
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

    init(context: WorkerContext) throws {
        journal = context.journal
        clock = context.systemClock
        logger = context.logger
        encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        (sends, sendQueue) = AsyncStream.makeStream(of: OutgoingMessage.self)
        let config = context.config.notifier ?? .shipped
        let telegram = config.telegram
        let settings = OutboxSettings(
            minimumInterval: .milliseconds(telegram.minIntervalMs), burst: telegram.burst,
            backoffInitial: .milliseconds(telegram.backoffInitialMs), backoffMaximum: .milliseconds(telegram.backoffMaxMs))
        var chats: [String] = []
        var client: TelegramClient?
        var offReason: String?
        var offKind: SecretError.Kind?
        do {
            let store = SecretStore.fromEnvironment(secretsFile: context.config.secretsFile)
            let token = try store.secret("telegram_bot_token")
            chats = try Self.chatIDs(try store.secret("telegram_chat_ids"))
            client = try TelegramClient(
                token: token,
                settings: TelegramSettings(
                    baseURL: telegram.baseURL, caFile: telegram.caFile.isEmpty ? nil : telegram.caFile,
                    requestTimeout: .milliseconds(telegram.requestTimeoutMs)))
        } catch let error as SecretError {
            offReason = "\(error)"
            offKind = error.kind
        } catch let error as TelegramSetupError {
            offReason = "\(error)"
        }
        if client == nil { chats = [] }
        self.client = client
        self.offReason = offReason
        outbox = try Self.restore(chats: chats, settings: settings, journal: journal, now: clock.now(), encoder: encoder)
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
        try journal.append(
            JournalRecord(kind: .state, type: NotifierJournal.started, timestamp: clock.now(), body: []), durability: .durable)
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
    /// journaled lifecycle event means), minus every message recorded as delivered.
    static func restore(chats: [String], settings: OutboxSettings, journal: Journal, now: Timestamp, encoder: JSONEncoder) throws -> Outbox
    {
        var seed: UInt64?
        var alerts: [(Alert, Timestamp)] = []
        var records: [DeliveryRecord] = []
        // Alerts and records are applied in journal order: a record never precedes its alert.
        var order: [(isAlert: Bool, index: Int)] = []
        let decoder = JSONDecoder()
        try journal.scan(fromSeq: 1) { entry in
            let r = entry.record
            switch (r.kind, r.type) {
            case (.state, NotifierJournal.initial):
                seed = try decoder.decode(UInt64.self, from: Data(r.body))
            case (.received, MessageType.alert.rawValue), (.received, MessageType.lifecycle.rawValue):
                let alert: Alert?
                switch try? EnvelopeCodec.decode(r.body).message {
                case .alert(let a): alert = a
                case .lifecycle(let e): alert = LifecycleAlerts.alert(for: e)
                default: alert = nil
                }
                if let alert {
                    order.append((true, alerts.count))
                    alerts.append((alert, r.timestamp))
                }
            case (.decision, NotifierJournal.delivered):
                order.append((false, records.count))
                records.append(try decoder.decode(DeliveryRecord.self, from: Data(r.body)))
            default:
                break
            }
            return true
        }
        if seed == nil {
            let fresh = UInt64.random(in: .min ... .max)
            try journal.append(
                JournalRecord(
                    kind: .state, type: NotifierJournal.initial, timestamp: now,
                    body: Array(try encoder.encode(fresh))), durability: .durable)
            seed = fresh
        }
        var outbox = Outbox(chats: chats, settings: settings, seed: seed!)
        for step in order {
            if step.isAlert {
                outbox.restore(alert: alerts[step.index].0, receivedAt: alerts[step.index].1)
            } else {
                outbox.restore(records[step.index])
            }
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
        if let entryType {
            // Fault injection for tests: a crash after the journaled alert, before what it sends.
            let outputs = actions.filter { if case .send = $0 { true } else if case .record = $0 { true } else { false } }.count
            CrashAfterInputFault.point(entryType, input, outputs: outputs)
        }
        for action in actions {
            switch action {
            case .send(let message):
                append(NotifierJournal.sent, kind: .sent, message.id, SentBody(message), durability: .batched)
                sendQueue.yield(message)
            case .wake(let at):
                arm(at: at)
            case .record(let record):
                // Durable before anything else happens: a restart must not send it again.
                append(NotifierJournal.delivered, kind: .decision, record.alertKeys.first, record, durability: .durable)
                let what = record.alertKeys.count == 1 ? record.alertKeys[0] : "a digest of \(record.alertKeys.count) alerts"
                let part = record.parts > 1 ? " (part \(record.part + 1)/\(record.parts))" : ""
                logger.info("\(record.abandoned ? "gave up on" : "delivered") \(what)\(part)", metadata: ["chat": "\(record.chat)"])
            case .logCritical(let line):
                logger.critical("\(line)")
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
        handle(.delivery(messageID: message.id, outcome))
    }

    static func describe(_ outcome: DeliveryOutcome) -> String {
        switch outcome {
        case .delivered: "delivered"
        case .rateLimited(let after): "429 Too Many Requests: retry after \(after)"
        case .transientFailure(let reason): reason
        case .refused(let status, let description): "refused (\(status)): \(description)"
        }
    }

    func append(_ type: String, kind: EntryKind, _ correlation: String?, _ body: some Encodable, durability: Durability) {
        do {
            try journal.append(
                JournalRecord(
                    kind: kind, type: type, timestamp: clock.now(), correlationID: correlation,
                    body: Array(try encoder.encode(body))), durability: durability)
        } catch {
            // Without the journal the outbox cannot promise anything: crash-only, astd restarts us.
            logger.critical("cannot journal \(type): \(error)")
            fatalError("ast-notifier: the journal refused \(type): \(error)")
        }
    }

    func report() -> NotifierStatusReport {
        let s = outbox.status(now: clock.now())
        return NotifierStatusReport(
            deliveryEnabled: client != nil, pending: s.pending, pendingP0: s.pendingP0, oldestPendingP0: s.oldestPendingP0,
            delivered: s.delivered, abandoned: s.abandoned, lastDeliveryAt: s.lastDeliveryAt,
            lastError: offReason.map { "Telegram delivery is off: \($0)" } ?? s.lastError, nextAttemptAt: s.nextAttemptAt)
    }

    /// Validate before you journal: an alert beyond its sizes is refused (``Alert/validate()``).
    nonisolated func validate(_ envelope: Envelope, from peer: PeerInfo) -> InputRefusal? {
        if case .alert(let alert) = envelope.message { return alert.validate() }
        return nil
    }

    func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message? {
        switch envelope.message {
        case .alert(let alert):
            handle(.alert(alert), journaledAs: MessageType.alert.rawValue)
        case .lifecycle(let event):
            if let alert = LifecycleAlerts.alert(for: event) { handle(.alert(alert), journaledAs: MessageType.lifecycle.rawValue) }
        case .notifierStatusRequest:
            return .notifierStatus(report())
        default:
            break
        }
        return nil
    }
}

/// What `notifier.sent` records of a message.
struct SentBody: Encodable {
    var id: String
    var chat: String
    var alertKeys: [String]
    var part: Int
    var parts: Int
    var mode: String
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
struct FailedBody: Encodable {
    var id: String
    var chat: String
    var outcome: DeliveryOutcome
}
