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

/// The journal entry types of the Telegram commands.
enum CommandJournal {
    /// A ``CommandRecord``: what became of an update, with its id (the `getUpdates` offset),
    /// journaled durably before the command is carried out.
    static let command = "notifier.command"
    /// What a carried-out command answered (``CommandResultBody``).
    static let result = "notifier.command_result"
}

/// What `notifier.command_result` records.
struct CommandResultBody: Encodable {
    var updateID: Int64
    /// `telegram:<chat id>`.
    var `operator`: String
    var command: ChatCommand
    var accepted: Bool?
    var answer: String

    enum CodingKeys: String, CodingKey {
        case command, accepted, answer, `operator`
        case updateID = "update_id"
    }
}

/// How the notifier takes commands: where the rest of the tree listens, and the poll settings.
struct CommandSetup: Sendable {
    var runtimeDir: String
    var bus: BusSettings
    var pollTimeout: Duration
    var backoffInitial: Duration
    var backoffMaximum: Duration
}

/// The notifier's side of Telegram commands: long-polls `getUpdates`, hands each batch to the
/// pure ``CommandDesk``, journals what it says (the offset with it) before acting, and carries
/// commands out over the bus as `astctl` does: `status` from astd and the risk gate, positions
/// from the broker processes, `halt`/`resume` through the risk gate, as operator
/// `control@telegram-<chat id>`.
extension NotifierShell {
    /// Restores the desk from the journal: every command record, in order.
    /// The confirmation codes are seeded from the notifier's journaled seed, so replay derives them.
    static func restoreDesk(settings: CommandSettings, journal: Journal) throws -> CommandDesk {
        // From the newest desk start-up mark that verifies (or entry 1).
        let restored = try journal.restore(CommandDeskScan.self).state
        var settings = settings
        if let seed = restored.seed { settings.seed = seed ^ 0x7E1E_6A4D_C0DE_5EED }
        var desk = CommandDesk(settings: settings)
        for record in restored.records { desk.restore(record) }
        return desk
    }

    /// The chats whose commands count: the numeric ids among the alert chats.
    static func commandChats(_ chats: [String]) -> Set<Int64> { Set(chats.compactMap { Int64($0) }) }

    /// Asks `getMe` for the bot's name, then long-polls `getUpdates` until cancelled, backing
    /// off after every failure. Runs beside the alert sends: a held poll delays no alert (its
    /// own connection pool, and the actor is free while it waits).
    func pollCommands(_ client: TelegramClient, setup: CommandSetup) async {
        var backoff = Backoff(initial: setup.backoffInitial, maximum: setup.backoffMaximum)
        var rng = SystemRandomNumberGenerator()
        var bot: String?
        while bot == nil, !Task.isCancelled {
            switch await client.botUsername() {
            case .success(let name): bot = name
            case .failure(let e):
                logger.warning("Telegram commands wait: \(e.description)")
                guard await pause(e.retryAfter ?? backoff.next(using: &rng)) else { return }
            }
        }
        guard let bot else { return }
        desk?.settings.botUsername = bot
        backoff.reset()
        logger.notice("Telegram commands on", metadata: ["bot": "@\(bot)", "chats": "\(desk?.settings.allowedChats.count ?? 0)"])
        while !Task.isCancelled {
            let offset = desk?.nextOffset
            switch await client.updates(offset: offset, timeout: setup.pollTimeout) {
            case .success(let updates):
                backoff.reset()
                await handleUpdates(updates, client: client, setup: setup)
            case .failure(let e):
                if Task.isCancelled { return }
                let delay = e.retryAfter ?? backoff.next(using: &rng)
                logger.warning("Telegram getUpdates failed: \(e.description)", metadata: ["retry_in": "\(delay)"])
                guard await pause(delay) else { return }
            }
        }
    }

    /// Sleeps `delay`; false when cancelled.
    nonisolated func pause(_ delay: Duration) async -> Bool {
        do {
            try await Task.sleep(for: delay)
            return true
        } catch { return false }
    }

    /// One batch: the desk's actions in order; every record journaled durably before the
    /// action after it (so a command is journaled, with its update id, before it is carried out).
    func handleUpdates(_ updates: [TelegramUpdate], client: TelegramClient, setup: CommandSetup) async {
        guard var desk else { return }
        let actions = desk.handle(updates, now: clock.now())
        self.desk = desk
        await carryOut(actions, client: client, setup: setup)
    }

    /// Closes refusal windows that are over (one summary each).
    func tickCommands() {
        guard var desk else { return }
        let actions = desk.tick(now: clock.now())
        self.desk = desk
        for case .record(let r) in actions { journalCommand(r) }
        if let next = desk.nextDeadline { arm(at: next) }
    }

    func journalCommand(_ record: CommandRecord) {
        append(CommandJournal.command, kind: .decision, "update:\(record.updateID)", record, durability: .durable)
        markIfDue()
        if case .refused(let kind, let detail) = record.outcome {
            logger.notice("Telegram update \(record.updateID) not acted on: \(kind.rawValue): \(detail)")
        } else if case .summary(let kind, let n, let since) = record.outcome {
            logger.notice("Telegram: \(n) more updates not acted on (\(kind.rawValue)) since \(since)")
        }
    }

    func carryOut(_ actions: [CommandAction], client: TelegramClient, setup: CommandSetup) async {
        for action in actions {
            switch action {
            case .record(let record):
                journalCommand(record)
            case .reply(let chat, let text):
                await reply(chat: chat, text: text, id: "reply", client: client)
            case .execute(let command, let chat, let updateID):
                logger.notice("Telegram command from \(telegramOperator(chat)): \(command)", metadata: ["update": "\(updateID)"])
                let (accepted, answer) = await execute(command, chat: chat, setup: setup)
                append(
                    CommandJournal.result, kind: .event, "update:\(updateID)",
                    CommandResultBody(
                        updateID: updateID, operator: telegramOperator(chat), command: command, accepted: accepted,
                        answer: TelegramText.truncate(answer, to: 2000)),
                    durability: .batched)
                await reply(chat: chat, text: answer, id: "reply-\(updateID)", client: client)
            }
        }
        if let next = desk?.nextDeadline { arm(at: next) }
    }

    /// Answers a chat (plain text, best effort: a lost answer is logged, the command stands).
    func reply(chat: Int64, text: String, id: String, client: TelegramClient) async {
        let message = OutgoingMessage(
            id: id, chat: String(chat), text: TelegramText.truncate(text, to: 4000), mode: .plain, alertKeys: [], part: 0, parts: 1)
        let outcome = await client.send(message)
        if outcome != .delivered { logger.warning("Telegram answer to chat \(chat) failed: \(Self.describe(outcome))") }
    }

    // MARK: carrying commands out

    /// Carries `command` out for `chat`: whether the tree accepted it (halt/resume) and the answer.
    func execute(_ command: ChatCommand, chat: Int64, setup: CommandSetup) async -> (Bool?, String) {
        switch command {
        case .help:
            return (nil, CommandDesk.help)
        case .status:
            return (nil, await statusText(chat: chat, setup: setup))
        case .positions:
            return (nil, await positionsText(chat: chat, setup: setup))
        case .halt(let reason):
            let why = "\(telegramOperator(chat)): \(reason.isEmpty ? "halt from Telegram" : reason)"
            return await riskAnswer(.halt(reason: why), chat: chat, setup: setup)
        case .resume(let to):
            return await riskAnswer(.resume(to: to == .active ? .active : .reducing), chat: chat, setup: setup)
        }
    }

    func riskAnswer(_ command: RiskCommand, chat: Int64, setup: CommandSetup) async -> (Bool?, String) {
        switch await request(.riskCommand(command), to: ProcessIdentity(role: .risk), chat: chat, setup: setup, timeout: .seconds(10)) {
        case .success(let reply):
            guard case .riskStatus(let r) = reply.message else { return (false, "The risk gate answered \(reply.type).") }
            let verdict = r.accepted == true ? "Done" : "Refused"
            return (r.accepted, "\(verdict): \(r.message ?? "")\n\(Self.safeModeLine(r))")
        case .failure(let why):
            return (false, "Not done: \(why). Use astctl on the host.")
        }
    }

    func statusText(chat: Int64, setup: CommandSetup) async -> String {
        var lines = ["AST status at \(clock.now())"]
        switch await request(.riskCommand(.status), to: ProcessIdentity(role: .risk), chat: chat, setup: setup, timeout: .seconds(5)) {
        case .success(let reply):
            if case .riskStatus(let r) = reply.message { lines.append(Self.safeModeLine(r)) } else { lines.append("Safe Mode: unknown") }
        case .failure(let why):
            lines.append("Safe Mode: unknown (\(why))")
        }
        switch await treeStatus(chat: chat, setup: setup) {
        case .success(let tree):
            lines.append("Tree: \(tree.state): \(tree.summary)")
            for child in tree.children where !child.ready {
                lines.append("  \(child.name): \(child.state)\(child.lastExit.map { " (last exit: \($0))" } ?? "")")
            }
        case .failure(let why):
            lines.append("Tree: unknown (\(why))")
        }
        let s = outbox.status(now: clock.now())
        lines.append("Alerts: \(s.pending) pending (\(s.pendingP0) P0), \(s.delivered) delivered")
        return lines.joined(separator: "\n")
    }

    func positionsText(chat: Int64, setup: CommandSetup) async -> String {
        let brokers: [ProcessIdentity]
        switch await treeStatus(chat: chat, setup: setup) {
        case .success(let tree):
            brokers = tree.children.filter { $0.ready && $0.pid != nil }.compactMap { ProcessIdentity(parsing: $0.name) }
                .filter { $0.role == .broker }
            if brokers.isEmpty { return "Positions unknown: no broker process is ready (\(tree.summary))." }
        case .failure(let why):
            return "Positions unknown: \(why)."
        }
        var lines: [String] = []
        // Executions from now on only: positions and orders are what is asked for.
        let now = clock.now()
        for broker in brokers {
            let answer = await withRequests(to: broker, chat: chat, setup: setup) { client in
                try await BrokerPages.fetch(executionsSince: now, timeout: .seconds(10)) {
                    try await client.request($0, timeout: $1)
                }
            }
            switch answer {
            case .success(let state?):
                lines.append(
                    "\(broker) at \(state.asOf)\(state.connected ? "" : " (DISCONNECTED)"): cash \(state.account.cash), equity \(state.account.equity)"
                )
                if state.positions.isEmpty { lines.append("  no positions") }
                for p in state.positions.prefix(40) { lines.append("  \(p.symbol) \(p.quantity) @ \(p.averagePrice)") }
                if state.positions.count > 40 { lines.append("  ... and \(state.positions.count - 40) more (astctl broker state)") }
                lines.append("  \(state.openOrders.count) open orders")
            case .success(nil):
                lines.append("\(broker): did not answer with its account")
            case .failure(let why):
                lines.append("\(broker): unknown (\(why))")
            }
        }
        return lines.joined(separator: "\n")
    }

    func treeStatus(chat: Int64, setup: CommandSetup) async -> Result<TreeStatus, CommandPathError> {
        switch await request(
            .statusRequest(StatusRequest()), to: ProcessIdentity(role: .supervisor), chat: chat, setup: setup, timeout: .seconds(5))
        {
        case .success(let reply):
            guard case .statusReply(let tree) = reply.message else { return .failure(CommandPathError("astd answered \(reply.type)")) }
            return .success(tree)
        case .failure(let e): return .failure(e)
        }
    }

    func request(_ message: Message, to target: ProcessIdentity, chat: Int64, setup: CommandSetup, timeout: Duration) async -> Result<
        Envelope, CommandPathError
    > {
        await withRequests(to: target, chat: chat, setup: setup) { try await $0.request(message, timeout: timeout) }
    }

    /// Runs `body` with this chat's bus client towards `target` (astd's control socket for the
    /// supervisor), made on first use and kept: the operator is `control@telegram-<chat>`.
    func withRequests<T: Sendable>(
        to target: ProcessIdentity, chat: Int64, setup: CommandSetup, _ body: @Sendable (BusClient) async throws -> T
    ) async -> Result<T, CommandPathError> {
        let path =
            target.role == .supervisor
            ? "\(setup.runtimeDir)/control.sock" : WorkerRuntime.socketPath(identity: target, runtimeDir: setup.runtimeDir)
        guard UnixSocket.isLive(path: path) else {
            return .failure(CommandPathError("\(target.role == .supervisor ? "astd" : target.description) is not reachable"))
        }
        let key = "\(chat)>\(target)"
        let client: BusClient
        if let known = commandClients[key] {
            client = known.client
        } else {
            do {
                client = try BusClient(
                    identity: ProcessIdentity(role: .control, instance: "telegram-\(chat)"), target: target.description,
                    path: path, expectedRole: target.role, settings: setup.bus, journal: journal, clock: clock, logger: logger)
            } catch {
                return .failure(CommandPathError("cannot reach \(target): \(error)"))
            }
            commandClients[key] = (client, Task { await client.run() })
        }
        // Sleeps until the handshake completes or the 5 s deadline passes (no polling).
        if !client.isConnected {
            let connected = await within(.seconds(5)) {
                await client.waitUntilConnected()
                return client.isConnected
            }
            guard connected == true else { return .failure(CommandPathError("\(target) did not answer the connection")) }
        }
        do {
            return .success(try await body(client))
        } catch {
            return .failure(CommandPathError("\(target) did not answer: \(error)"))
        }
    }

    static func safeModeLine(_ r: RiskStatusReport) -> String {
        var line = "Safe Mode: \(r.state.rawValue) since \(r.since) (\(r.cause))"
        if !r.downBrokers.isEmpty { line += "; brokers down: \(r.downBrokers.joined(separator: ", "))" }
        if !r.disconnectedBrokers.isEmpty { line += "; disconnected: \(r.disconnectedBrokers.joined(separator: ", "))" }
        return line
    }
}

/// Why a command could not reach the part of the tree it needs, in words for the operator.
struct CommandPathError: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// What the command desk's restore reads from the notifier's journal (from the newest start-up
/// mark that verifies, or from entry 1): every command record, in order, and the journaled seed
/// the confirmation codes derive from.
enum CommandDeskScan: MarkedScan {
    struct State: Codable, Sendable, Equatable {
        var records: [CommandRecord] = []
        var seed: UInt64?
    }

    static let markName = "notifier.desk"
    static var initial: State { State() }

    static func fold(_ s: inout State, _ entry: JournalEntry) throws {
        switch entry.record.type {
        case CommandJournal.command:
            s.records.append(try JSONDecoder().decode(CommandRecord.self, from: Data(entry.record.body)))
        case NotifierJournal.initial:
            s.seed = try JSONDecoder().decode(UInt64.self, from: Data(entry.record.body))
        default:
            break
        }
    }
}
