import ASTBus
import ASTCore
import ASTExecution
import ASTJournal
import ASTPaperBroker
import ASTReplay
import ASTRuntime
import ASTWire
import Foundation
import Logging
import Synchronization

/// The body of `paper.restored`: the checkpoint a start restored from (nil: entry 1).
struct PaperRestoredNote: Codable, Sendable, Equatable {
    var fromCheckpoint: Int64?
    var inputs: Int
    var rejectedCheckpoints: [String]

    enum CodingKeys: String, CodingKey {
        case fromCheckpoint = "from_checkpoint", inputs, rejectedCheckpoints = "rejected_checkpoints"
    }
}

/// The journal entry types of the paper broker.
typealias PaperJournal = EntryTypes.Paper

/// Fault injection for the chaos drill's tests: a deliberately broken broker. Never on in
/// production: the variable's name says FAULT, ast-broker logs it at CRIT and refuses to start
/// with it in LIVE mode.
enum FaultInjection {
    /// `=1`: after a restart, every bracket with an open leg is submitted again under the same
    /// client order ids, bypassing the exchange's duplicate check (the bug a drill must catch).
    static let resubmitsAfterRestartVariable = "AST_FAULT_BROKER_RESUBMITS_AFTER_RESTART"

    static var resubmitsAfterRestart: Bool {
        ProcessInfo.processInfo.environment[resubmitsAfterRestartVariable] == "1"
    }
}

/// The paper broker: a ``PaperExchange`` made persistent. Every input is journaled durably
/// (write-ahead) before the exchange handles it, so the account (cash, positions, resting
/// orders, executions) survives any restart: at start the exchange is rebuilt by replaying the
/// journaled inputs, reports the previous run produced but never handed to the bus are
/// delivered now, and messages the bus had journaled but this adapter never handled (a crash
/// between the two) are handled now.
actor PaperAdapter: BrokerAdapter {
    nonisolated let name: String
    var exchange: PaperExchange
    let journal: Journal
    let clock: any WallClock
    let logger: Logger
    /// Hands reports to the bus (journaled there before this returns), in order.
    let deliver: @Sendable ([ExecutionReport]) throws -> Void
    /// Tells the risk gate and the reconciler that the broker connection changed.
    let connectionChanged: @Sendable (Bool, String) throws -> Void
    /// The highest report sequence handed to ``deliver``.
    var reportsThrough: Int64 = 0
    var connected: Bool
    /// Messages found journaled by the bus but never handled, handled by ``catchUp()``.
    var unhandled: [Envelope] = []
    /// Journaled inputs the restore could not replay, and the operator's acknowledgements:
    /// while one is pending the broker reports itself disconnected and refuses new orders.
    nonisolated let quarantine: Mutex<QuarantineJournal.State>
    /// The restore's fold, carried forward to write checkpoints (nil with the fault injection,
    /// whose restore needs every bracket from entry 1).
    var checkpointFold: PaperJournalFold?
    /// Inputs handled since the last checkpoint, and how many make the next one.
    var inputsSinceCheckpoint = 0
    let checkpointEvery: Int

    init(
        name: String, config: PaperBrokerConfig, journal: Journal, clock: any WallClock, logger: Logger,
        faultResubmitAfterRestart: Bool = false, checkpointEvery: Int = 10_000,
        deliver: @escaping @Sendable ([ExecutionReport]) throws -> Void,
        connectionChanged: @escaping @Sendable (Bool, String) throws -> Void
    ) throws {
        self.name = name
        self.journal = journal
        self.clock = clock
        self.logger = logger
        self.deliver = deliver
        self.connectionChanged = connectionChanged
        let restored = try Self.restore(name: name, config: config, journal: journal, recordsBrackets: faultResubmitAfterRestart)
        exchange = restored.exchange
        self.checkpointEvery = max(1, checkpointEvery)
        checkpointFold = faultResubmitAfterRestart ? nil : restored.fold
        for rejected in restored.fold.rejectedCheckpoints { logger.warning("paper restore: \(rejected)") }
        // Where this start's restore began, for the operator's timeline (replay passes over it).
        try journal.append(
            JournalRecord(
                kind: .event, type: PaperJournal.restored, timestamp: clock.now(),
                body: Array(
                    try JSONEncoder.sorted.encode(
                        PaperRestoredNote(
                            fromCheckpoint: restored.fold.startedFromCheckpoint, inputs: restored.inputs,
                            rejectedCheckpoints: restored.fold.rejectedCheckpoints)))), durability: .batched)
        // The first start that meets a skipped entry records the quarantine, durably.
        let quarantine = try QuarantineJournal.record(restored.quarantined, into: restored.quarantine, journal: journal, clock: clock)
        for entry in quarantine.pending {
            logger.critical(
                "QUARANTINE: \(entry); the broker refuses new orders until an operator runs: astctl quarantine ack --process \(name) --seq \(entry.seq) --reason '...'"
            )
        }
        self.quarantine = Mutex(quarantine)
        connected = restored.exchange.disconnectedUntil == nil
        unhandled = restored.unhandled
        // Reports of the last run that never reached the bus's outbox (a crash in between).
        let missing = restored.unsentReports
        reportsThrough = restored.reportsThrough
        if !missing.isEmpty {
            logger.notice("delivering \(missing.count) execution report(s) the previous run produced but did not send")
            try deliver(missing)
        }
        logger.notice(
            "paper account restored",
            metadata: [
                "inputs": "\(restored.inputs)", "cash": "\(restored.exchange.cash)", "open_orders": "\(restored.exchange.openOrders.count)",
                "from_checkpoint": "\(restored.fold.startedFromCheckpoint.map(String.init) ?? "none")",
            ])
        if faultResubmitAfterRestart && restored.inputs > 0 {
            let open = Set(restored.exchange.openOrders.map(\.spec.clientOrderID))
            for bracket in restored.brackets where bracket.legs.contains(where: { open.contains($0.clientOrderID) }) {
                logger.critical("FAULT INJECTION: re-submitting bracket \(bracket.intent) after a restart, past the duplicate check")
                let now = clock.now()
                let body = try JSONEncoder.sorted.encode(PaperJournalInput(input: .submit(bracket)))
                try journal.append(
                    JournalRecord(
                        kind: .received, type: PaperJournal.faultResubmit, timestamp: now,
                        correlationID: bracket.intent.rawValue, body: Array(body)), durability: .durable)
                let outcome = exchange.faultResubmitIgnoringKnownIDs(bracket, now: now)
                if !outcome.reports.isEmpty {
                    try deliver(outcome.reports)
                    reportsThrough = max(reportsThrough, outcome.reports.compactMap(\.sequence).max() ?? 0)
                }
            }
        }
    }

    /// Replays the journal with the fold replay uses (``PaperJournalFold``): the exchange as it
    /// was, the reports it produced that never reached the bus's outbox, the highest report
    /// sequence, and the messages received but never handled.
    ///
    /// An entry that cannot be replayed (its body does not decode, or ``PaperInput/validate()``
    /// refuses it: an input an older version journaled unchecked) is skipped and returned in
    /// `quarantined`, never thrown: a journaled input must not make the broker crash-loop.
    static func restore(name: String, config: PaperBrokerConfig, journal: Journal, recordsBrackets: Bool = false) throws
        -> (
            exchange: PaperExchange, unsentReports: [ExecutionReport], reportsThrough: Int64, unhandled: [Envelope], inputs: Int,
            brackets: [BracketOrder], quarantined: [QuarantinedEntry], quarantine: QuarantineJournal.State, fold: PaperJournalFold
        )
    {
        let fold = try PaperJournalFold.restore(name: name, config: config, journal: journal, recordsBrackets: recordsBrackets)
        let unhandled = try UnhandledMessages.find(
            in: journal, types: [.orderSubmit, .orderCancel, .bar, .sessionClose],
            handledType: PaperJournal.input)
        return (
            fold.exchange, fold.unsentReports, fold.reportsThrough, unhandled, fold.inputs, fold.brackets, fold.quarantine.found,
            fold.quarantine.state, fold
        )
    }

    /// Every ``checkpointEvery`` inputs, journals a checkpoint: the restore's fold, carried
    /// forward over the entries since (the same fold a restart and replay run, so a checkpoint
    /// can only say what a restore from entry 1 would), covering every entry before it.
    func checkpointIfDue(now: Timestamp) throws {
        inputsSinceCheckpoint += 1
        guard inputsSinceCheckpoint >= checkpointEvery, var fold = checkpointFold else { return }
        inputsSinceCheckpoint = 0
        try journal.appendCovering { lastSeq in try fold.checkpointRecord(journal: journal, lastSeq: lastSeq, now: now) }
        checkpointFold = fold
    }

    /// Handles what the bus journaled but the previous run never handled.
    func catchUp() async throws -> [Envelope] {
        let pending = unhandled
        unhandled = []
        return pending
    }

    /// Journals `input` durably, hands it to the exchange, delivers the reports.
    @discardableResult
    func handle(_ input: PaperInput, message: String?) throws -> PaperOutcome {
        let now = clock.now()
        if let refusal = input.validate() {
            // Normally refused by the bus before journaling; this catches a message an older
            // version journaled on the bus unchecked (found by ``catchUp()``): never an input.
            logger.error("paper broker: input refused, not journaled: \(refusal)")
            try journal.append(
                JournalRecord(
                    kind: .event, type: PaperJournal.refused, timestamp: now, messageID: message,
                    body: Array(try JSONEncoder.sorted.encode(refusal))), durability: .batched)
            return PaperOutcome(notices: [.inputRefused(refusal)])
        }
        let body = try JSONEncoder.sorted.encode(PaperJournalInput(input: input))
        try journal.append(
            JournalRecord(
                kind: .received, type: PaperJournal.input, timestamp: now, messageID: message,
                correlationID: input.correlationID, body: Array(body)), durability: .durable)
        let outcome = exchange.handle(input, now: now)
        CrashAfterInputFault.point(PaperJournal.input, input, outputs: outcome.reports.count)
        if !outcome.reports.isEmpty {
            try deliver(outcome.reports)
            reportsThrough = max(reportsThrough, outcome.reports.compactMap(\.sequence).max() ?? 0)
        }
        try checkpointIfDue(now: now)
        for notice in outcome.notices { logger.notice("paper broker: \(notice)") }
        switch outcome.connection {
        case .lost(let until)?:
            connected = false
            logger.critical("the paper broker is unreachable until \(until) (injected disconnect)")
            try connectionChanged(false, "the paper broker is unreachable until \(until) (injected disconnect)")
        case .restored?:
            connected = true
            logger.notice("the paper broker is reachable again")
            try connectionChanged(true, "the paper broker is reachable again")
        case nil:
            break
        }
        if outcome.reports.contains(where: { if case .fill = $0.event { true } else { false } }) || outcome.connection == .restored {
            try resizeProtection()
        }
        return outcome
    }

    // MARK: BrokerAdapter

    func submit(_ bracket: BracketOrder, messageID: String?) throws -> [ExecutionReport] {
        try handle(.submit(bracket), message: messageID).reports
    }

    func cancel(_ id: ClientOrderID, reason: String, messageID: String?) throws -> CancelAnswer {
        let outcome = try handle(.cancel(id, reason: reason), message: messageID)
        for case .cancelRefused(id, let why) in outcome.notices {
            return CancelAnswer(accepted: false, message: "cancel of \(id) refused: \(why)", reports: outcome.reports)
        }
        for case .cancelDeferred(id, _, _) in outcome.notices {
            return CancelAnswer(
                accepted: true, message: "cancel of \(id) accepted, held for the session's bar (market-time order)",
                reports: outcome.reports)
        }
        return CancelAnswer(accepted: true, message: "cancelled \(id)", reports: outcome.reports)
    }

    func modify(_ id: ClientOrderID, quantity: Quantity, reason: String, messageID: String?) throws -> CancelAnswer {
        let outcome = try handle(.modify(id, quantity: quantity, reason: reason), message: messageID)
        for case .modifyRefused(id, let why) in outcome.notices {
            return CancelAnswer(accepted: false, message: "modify of \(id) refused: \(why)", reports: outcome.reports)
        }
        return CancelAnswer(accepted: true, message: "resized \(id) to \(quantity)", reports: outcome.reports)
    }

    /// After a fill (and at start, for a fill whose resize a crash cut short): every protective
    /// leg above its position is resized or cancelled (``ProtectiveResize``), each as a journaled
    /// input of its own, so a restart and replay reproduce them. The M8 engine does the same.
    func resizeProtection() throws {
        guard exchange.isConnected(at: clock.now()) else { return }
        for adjustment in ProtectiveResize.plan(positions: exchange.positions, openOrders: exchange.openOrders) {
            switch adjustment {
            case .modify(let id, let quantity, let reason):
                let answer = try modify(id, quantity: quantity, reason: reason, messageID: nil)
                logger.notice("protective leg: \(answer.message) (\(reason))")
            case .cancel(let id, let reason):
                let answer = try cancel(id, reason: reason, messageID: nil)
                logger.notice("protective leg: \(answer.message) (\(reason))")
            }
        }
    }

    func accountState(executionsSince: Timestamp) throws -> BrokerAccountState {
        var state = exchange.accountState(executionsSince: executionsSince, now: clock.now())
        state.reportsThrough = reportsThrough
        return state
    }

    func isConnected() -> Bool { exchange.isConnected(at: clock.now()) }

    // MARK: The simulated exchange's own inputs

    func bar(_ bar: Bar, messageID: String?) throws { try handle(.bar(bar), message: messageID) }
    func sessionClose(_ at: Timestamp, messageID: String?) throws { try handle(.sessionClose(at), message: messageID) }
    func inject(_ injection: BrokerInjection, messageID: String?) throws -> [ExecutionReport] {
        try handle(.inject(injection), message: messageID).reports
    }

    /// Records the operator's acknowledgement of a quarantined entry (durably, with the reason);
    /// returns the entries still pending. The caller has validated `ack` against ``quarantine``.
    func acknowledge(_ ack: QuarantineAck) throws -> [QuarantinedEntry] {
        let pending = try QuarantineJournal.acknowledge(ack, journal: journal, state: quarantine, at: clock.now())
        logger.notice("quarantine of \(name) journal entry seq \(ack.seq) acknowledged: \(ack.reason)")
        if pending.isEmpty && isConnected() {
            connected = true
            try connectionChanged(
                true, "quarantine acknowledged by the operator (seq \(ack.seq): \(ack.reason)); the broker takes orders again")
        }
        return pending
    }

    /// When the broker is disconnected: the moment it is reachable again (for the timer).
    func reconnectAt() -> Timestamp? { exchange.disconnectedUntil }

    /// The deadline of a cancel held for a session's bar that has not come (a data failure): the
    /// timer sends a tick then, and the cancel takes effect.
    func cancelDeadline() -> Timestamp? { exchange.nextCancelDeadline }

    /// Lets time pass: a disconnect whose time is up ends.
    func tick() throws {
        try handle(.tick, message: nil)
    }
}

extension PaperInput {
    /// The order or symbol an input concerns, for the journal's correlation index.
    var correlationID: String? {
        switch self {
        case .submit(let b): b.intent.rawValue
        case .cancel(let id, _), .modify(let id, _, _): id.rawValue
        case .bar(let b): b.symbol.rawValue
        default: nil
        }
    }
}
