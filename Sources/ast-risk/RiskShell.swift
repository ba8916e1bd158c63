import ASTBus
import ASTCore
import ASTJournal
import ASTReplay
import ASTRisk
import ASTRuntime
import ASTStrategy
import ASTSupervision
import ASTWire
import Foundation
import Logging
import Synchronization

/// The journal entry types of ast-risk, shared by the shell, its restore and replay.
typealias RiskJournal = EntryTypes.Risk

/// ast-risk's shell around the pure ``RiskGate``: journals every input before the gate sees it,
/// journals decisions and Safe Mode transitions durably, sends approved brackets to the broker
/// and alerts to the notifier (both acknowledged), and answers operator commands.
///
/// At start the gate is rebuilt by replaying the journaled inputs, so it comes back in the Safe
/// Mode it was in; a previous run that did not end cleanly brings it back HALTED.
actor RiskShell: WorkerLogic {
    var gate: RiskGate
    let journal: Journal
    let clock: any WallClock
    let logger: Logger
    let broker: BusClient
    let notifier: BusClient?
    /// DRY_RUN: decisions are made and journaled, no order leaves the risk gate.
    let mode: TradingMode
    let identity: ProcessIdentity
    /// Journaled inputs the restore could not replay and the operator's acknowledgements.
    let quarantine: Mutex<QuarantineJournal.State>
    /// The tree's approval key (from astd); every approval sent to a broker is signed with it.
    /// Nil only when started by hand (development): approvals then leave unsigned.
    let approvalKey: ApprovalKey?
    /// Fault injection for tests (`AST_FAULT_BAD_APPROVAL_SIGNATURE=1`, refused in LIVE):
    /// approvals leave with a signature that does not verify.
    let corruptSignatures: Bool
    static let badSignatureVariable = "AST_FAULT_BAD_APPROVAL_SIGNATURE"

    init(context: WorkerContext) throws {
        journal = context.journal
        clock = context.clock
        logger = context.logger
        let config = context.config
        let trading = config.trading ?? .paper
        if case .failure(let refusal) = ModeCheck.validate(
            mode: trading.mode, liveEnabled: trading.liveEnabled,
            hasBrokerCredentials: Self.hasBrokerCredentials(config))
        {
            throw refusal
        }
        mode = trading.mode
        approvalKey = try ApprovalKey.inherited()
        if approvalKey == nil {
            guard trading.mode != .live else {
                throw RiskShellError(
                    "no approval key from astd (\(ApprovalKey.descriptorVariable)): with trading.mode LIVE risk runs only under astd")
            }
            context.logger.warning("no approval key from astd: approvals leave unsigned (development; a broker under astd refuses them)")
        }
        corruptSignatures = ProcessInfo.processInfo.environment[Self.badSignatureVariable] == "1"
        if corruptSignatures {
            guard trading.mode != .live else {
                throw RiskShellError(
                    "\(Self.badSignatureVariable)=1 is a fault injection for tests and is refused with trading.mode LIVE; unset it")
            }
            context.logger.critical(
                "FAULT INJECTION ON (\(Self.badSignatureVariable)=1): approvals leave with a bad signature; for tests only")
        }
        broker = try context.busClient(to: ProcessIdentity(parsing: config.risk.broker)!, keepsRepliesToSent: true)
        notifier = try context.busClientIfConfigured(to: ProcessIdentity(role: .notifier))
        identity = context.identity
        if let missing = context.missingState {
            // Missing state is never a first start: the initial record is HALTED (before any
            // input can be handled), and a P0 says why.
            let now = clock.now()
            let record = SafeModeRecord(state: .halted, since: now, cause: SafeModeCause(kind: .missingState, text: missing.detail))
            try journal.append(
                JournalRecord(
                    kind: .state, type: RiskJournal.initial, timestamp: now,
                    body: Array(try JSONEncoder.sorted.encode(record))), durability: .durable)
            let alert = Alert(
                priority: .p0, key: "risk:missing-state#\(missing.seq)", title: "AST risk gate HALTED: missing state",
                text: "HALTED at start: \(missing.detail)", at: now)
            try notifier?.send(.alert(alert), correlationID: alert.key)
        }
        let (restored, unclean, quarantined, known, fold) = try Self.restore(limits: config.risk.limits, journal: journal, now: clock.now())
        gate = restored
        RiskMetrics.safeMode(restored.state)
        checkpointFold = fold
        checkpoints = CheckpointSchedule(every: config.journal.checkpointEvery ?? JournalConfig.defaultCheckpointEvery)
        for rejected in fold.rejectedCheckpoints { logger.warning("risk restore: \(rejected)") }
        let state = try QuarantineJournal.recordAndTell(
            quarantined, into: known, journal: journal, clock: clock, process: context.identity.description, logger: logger)
        quarantine = Mutex(state)
        logger.notice(
            "risk gate \(restored.state.rawValue) since \(restored.since): \(restored.cause.text)",
            metadata: [
                "unclean_previous_exit": "\(unclean)",
                "from_checkpoint": "\(fold.startedFromCheckpoint.map(String.init) ?? "none")",
            ])
        try journal.append(JournalRecord(kind: .state, type: RiskJournal.started, timestamp: clock.now(), body: []), durability: .durable)
        if unclean { pendingUncleanStart = true }
    }

    var pendingUncleanStart = false
    /// The restore's fold, carried forward over the journal to write checkpoints.
    var checkpointFold: RiskJournalFold
    var checkpoints: CheckpointSchedule

    /// Rebuilds the gate from the journal with the fold replay and the reports use
    /// (``RiskJournalFold``): the initial record, then every journaled input in order, with the
    /// time it was handled at. Also tells whether the last run ended cleanly.
    ///
    /// An input that does not decode or that ``RiskInput/validate()`` now refuses is skipped
    /// and returned in `quarantined` (never thrown: a journaled input must not make ast-risk
    /// crash-loop); `quarantine` is what the journal already says about quarantines.
    ///
    /// The restore starts from the newest checkpoint that verifies and was made under `limits`,
    /// then folds the tail. A journal that has checkpoints but gives no gate (none of them could
    /// be used and no initial record is left) is not a first start: the gate starts HALTED.
    static func restore(limits: RiskLimits, journal: Journal, now: Timestamp) throws
        -> (RiskGate, unclean: Bool, quarantined: [QuarantinedEntry], quarantine: QuarantineJournal.State, fold: RiskJournalFold)
    {
        let fold = try RiskJournalFold.restore(limits: limits, journal: journal)
        let quarantined = fold.quarantine.found, quarantine = fold.quarantine.state
        if let gate = fold.gate { return (gate, fold.uncleanPreviousExit, quarantined, quarantine, fold) }
        let record =
            fold.rejectedCheckpoints.isEmpty
            ? SafeModeRecord.firstStart(at: now)
            : SafeModeRecord(
                state: .halted, since: now,
                cause: SafeModeCause(
                    kind: .journalVerificationFailed,
                    text: "no usable checkpoint and no initial Safe Mode record: \(fold.rejectedCheckpoints.joined(separator: "; "))"))
        try journal.append(
            JournalRecord(
                kind: .state, type: RiskJournal.initial, timestamp: now,
                body: Array(try JSONEncoder().encode(record))), durability: .durable)
        return (try RiskGate(limits: limits, restoring: record), false, quarantined, quarantine, fold)
    }

    func run() async {
        if pendingUncleanStart {
            pendingUncleanStart = false
            logger.critical("the previous run of ast-risk did not end cleanly: HALTED")
            _ = handle(.startedAfterUncleanExit)
        }
        let pending = quarantine.withLock { $0.pending }
        if let first = pending.first {
            // Data that cannot be replayed is data corruption: HALTED, with the entry named.
            handle(
                .journalVerificationFailed(detail: "\(pending.count) quarantined journal entr\(pending.count == 1 ? "y" : "ies"): \(first)")
            )
        }
        let replies = broker.repliesToSent
        await withDiscardingTaskGroup { group in
            group.addTask { await self.broker.run() }
            if let replies { group.addTask { for await reply in replies { await self.brokerReplied(reply) } } }
            if let notifier = self.notifier { group.addTask { await notifier.run() } }
        }
    }

    func stopped() async {
        _ = try? journal.append(
            JournalRecord(kind: .state, type: RiskJournal.stopped, timestamp: clock.now(), body: []), durability: .durable)
    }

    /// Journals `input` (write-ahead), hands it to the gate and carries out the outputs.
    @discardableResult
    func handle(_ input: RiskInput, durability: Durability = .durable) -> [RiskOutput] {
        let now = clock.now()
        let encoder = JSONEncoder.sorted
        if case .brokerConnection(let report) = input, !report.connected, durability == .durable {
            return handleInOneCommit(input, now: now, encoder: encoder)
        }
        let seq: Int64
        do {
            seq = try journal.append(
                JournalRecord(
                    kind: .received, type: RiskJournal.input, timestamp: now,
                    body: Array(try encoder.encode(input))), durability: durability)
        } catch {
            // Without the journal nothing may be decided: crash-only, astd restarts us.
            logger.critical("cannot journal a risk input: \(error)")
            fatalError("ast-risk: the journal refused an input: \(error)")
        }
        // Alert keys: the input's journal sequence, unique per event (never the trading clock,
        // which stands still on the replay clock between market events).
        let outputs = RiskOutput.keyed(gate.handle(input, now: now), input: seq)
        CrashAfterInputFault.point(RiskJournal.input, input, outputs: outputs.count)
        for output in outputs { carryOut(output, encoder: encoder, now: now) }
        checkpointIfDue(now: now)
        return outputs
    }

    /// A lost broker connection halts the gate: its input and the records of what it caused (the
    /// transition to HALTED) are journaled in one durable commit, one fsync instead of two before
    /// the halt is in force. Still write-ahead: the gate's new state is taken, and anything leaves
    /// (the P0 alert), only after that commit; a crash before it leaves neither entry (the bus
    /// journaled the report as received, and an unclean restart comes back HALTED).
    func handleInOneCommit(_ input: RiskInput, now: Timestamp, encoder: JSONEncoder) -> [RiskOutput] {
        var next = gate
        let decided = next.handle(input, now: now)
        let seq: Int64
        do {
            let inputRecord = JournalRecord(
                kind: .received, type: RiskJournal.input, timestamp: now, body: Array(try encoder.encode(input)))
            let records = try [inputRecord] + decided.compactMap { try $0.journalRecord(at: now, encoder: encoder) }
            seq = try journal.append(records, durability: .durable)?.lowerBound ?? journal.lastSeq
        } catch {
            logger.critical("cannot journal a risk input: \(error)")
            fatalError("ast-risk: the journal refused an input: \(error)")
        }
        gate = next
        let outputs = RiskOutput.keyed(decided, input: seq)
        CrashAfterInputFault.point(RiskJournal.input, input, outputs: outputs.count)
        for output in outputs { carryOut(output, encoder: encoder, now: now, journaled: true) }
        checkpointIfDue(now: now)
        return outputs
    }

    /// Every `journal.checkpoint_every` inputs, journals a checkpoint: the restore's fold,
    /// carried forward over the entries since (the fold a restart and replay run, so a checkpoint
    /// can only say what a restore from entry 1 would). A checkpoint that cannot be written is
    /// logged and skipped: the next start folds more of the journal, nothing else changes.
    func checkpointIfDue(now: Timestamp) {
        do {
            try checkpoints.checkpointIfDue(&checkpointFold, journal: journal, now: now)
        } catch {
            logger.error("risk checkpoint not written: \(error)")
        }
    }

    /// `approval` signed with the tree's key, as a broker will verify it.
    func signed(_ approval: Approval) -> Approval {
        guard let approvalKey else { return approval }
        var signed = ApprovalSignature.signed(approval, key: approvalKey)
        if corruptSignatures, let s = signed.signature {
            signed.signature = String(s.dropLast()) + (s.hasSuffix("0") ? "1" : "0")
        }
        return signed
    }

    /// Carries out one output, journaling its record first unless `journaled` says it already is.
    func carryOut(_ output: RiskOutput, encoder: JSONEncoder, now: Timestamp, journaled: Bool = false) {
        do {
            if !journaled, let record = try output.journalRecord(at: now, encoder: encoder) {
                try journal.append(record, durability: .durable)
            }
            switch output {
            case .decision(let d):
                RiskMetrics.decided(approved: d.decision.approval != nil, reason: d.decision.reason?.rawValue)
                if let approval = d.decision.approval, !mode.ordersLeaveRiskGate {
                    try journal.append(
                        JournalRecord(
                            kind: .decision, type: RiskJournal.dryRun, timestamp: now,
                            correlationID: d.intent.rawValue, body: Array(encoder.encode(approval))), durability: .batched)
                    logger.info(
                        "DRY_RUN: approved \(approval.id.rawValue) not sent: \(approval.side) \(approval.quantity) \(approval.symbol)")
                } else if let approval = d.decision.approval {
                    // BusClient journals the order durably before it first leaves this process.
                    try broker.send(.orderSubmit(signed(approval)), correlationID: d.intent.rawValue)
                    logger.info("approved \(approval.id.rawValue): \(approval.side) \(approval.quantity) \(approval.symbol)")
                } else if let reason = d.decision.reason {
                    logger.info("blocked \(d.intent.rawValue): \(reason.rawValue)")
                }
            case .transition(let t):
                RiskMetrics.safeMode(t.to)
                let line = "Safe Mode \(t.from.rawValue) -> \(t.to.rawValue): \(t.cause.text)"
                if t.to == .halted { logger.critical("\(line)") } else { logger.warning("\(line)") }
            case .alert(let alert):
                try notifier?.send(.alert(alert), correlationID: alert.key)
            case .cancel(let c):
                if mode.ordersLeaveRiskGate, let id = ClientOrderID(validating: c.orderID) {
                    try broker.send(
                        .orderCancel(OrderCancel(clientOrderID: id, reason: "\(c.kind.rawValue) cancel approved by the risk gate")),
                        correlationID: c.orderID)
                }
            case .commandResult(let r):
                logger.notice("operator \(r.command): \(r.accepted ? "accepted" : "refused"): \(r.message)")
            }
        } catch {
            logger.critical("cannot journal or send a risk output: \(error)")
            fatalError("ast-risk: \(error)")
        }
    }

    func report(accepted: Bool? = nil, message: String? = nil) -> RiskStatusReport {
        RiskStatusReport(
            state: gate.state, since: gate.since, cause: gate.cause.text,
            downBrokers: gate.downBrokers.map(\.description), disconnectedBrokers: gate.disconnectedBrokers.map(\.description),
            cleanReconciliationSinceHalt: gate.hasCleanReconciliationSinceHalt, accepted: accepted, message: message)
    }

    func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message? {
        switch envelope.message {
        case .intentSubmit(let intent):
            let outputs = handle(.intent(intent))
            for case .decision(let d) in outputs where d.intent == intent.id { return .intentDecision(d) }
            return nil
        case .lifecycle(let event):
            handle(.lifecycle(event))
        case .portfolioSnapshot(let snapshot):
            handle(.portfolio(snapshot))
        case .mark(let mark):
            handle(.mark(mark), durability: .batched)
        case .brokerConnection(let report):
            handle(.brokerConnection(report))
        case .reconciliationResult(let result):
            handle(.reconciliation(result))
        case .orderCancel(let c):
            // Only the strategy's pre-close cleanup asks: cancel an entry still resting.
            handle(.cancel(CancelRequest(orderID: c.clientOrderID.rawValue, intent: nil, kind: .restingUnfilledEntry)))
        case .riskCommand(.status):
            return .riskStatus(report())
        case .riskCommand(.halt(let reason)):
            let outputs = handle(.command(.halt(reason: reason)))
            return .riskStatus(commandReport(outputs))
        case .riskCommand(.journalVerificationFailed(let detail)):
            handle(.journalVerificationFailed(detail: detail))
            return .riskStatus(report())
        case .riskCommand(.resume(let to)):
            let outputs = handle(.command(.resume(to: to)))
            return .riskStatus(commandReport(outputs))
        case .riskCommand(.operatorOrder(var order)):
            // The operator is who the kernel says connected, never what the message claims.
            order.operatorUID = peer.uid ?? UInt32.max
            return .riskStatus(operatorOrderReport(handle(.operatorOrder(order))))
        case .quarantineAck(let ack):
            let pending: [QuarantinedEntry]
            do {
                pending = try QuarantineJournal.acknowledge(ack, journal: journal, state: quarantine, at: clock.now())
            } catch {
                logger.critical("cannot journal a quarantine acknowledgement: \(error)")
                fatalError("ast-risk: \(error)")
            }
            logger.notice("operator acknowledged quarantined entry seq \(ack.seq): \(ack.reason)")
            return .commandResult(
                OperatorReply(
                    accepted: true,
                    message: "\(identity): entry seq \(ack.seq) acknowledged; "
                        + "\(pending.count) still pending; the gate stays \(gate.state.rawValue) until astctl resume"))
        default:
            break
        }
        return nil
    }

    /// Validate before you journal: the bus calls this before it journals a message
    /// (``RiskInput/validate()``; a quarantine acknowledgement must name a pending entry).
    nonisolated func validate(_ envelope: Envelope, from peer: PeerInfo) -> InputRefusal? {
        // The strategy may ask for the Safe Mode state (the 14:30 safe reducing), never command.
        if case .riskCommand(let command) = envelope.message, peer.identity.role == .strategy, command != .status {
            return InputRefusal(.invalid, "the strategy may only ask for the risk gate's status")
        }
        return switch envelope.message {
        case .intentSubmit(let intent): RiskInput.intent(intent).validate()
        case .portfolioSnapshot(let p): RiskInput.portfolio(p).validate()
        case .mark(let m): RiskInput.mark(m).validate()
        case .brokerConnection(let r): RiskInput.brokerConnection(r).validate()
        case .reconciliationResult(let r): RiskInput.reconciliation(r).validate()
        case .orderCancel(let c): InputCheck.text(c.reason, "cancel reason")
        case .riskCommand(.halt(let reason)): InputCheck.text(reason, "reason")
        case .riskCommand(.journalVerificationFailed(let detail)): InputCheck.text(detail, "detail")
        case .riskCommand(.operatorOrder(let order)): RiskInput.operatorOrder(order).validate()
        case .quarantineAck(let ack):
            QuarantineJournal.validate(ack, process: identity.description, state: quarantine.withLock { $0 })
        default: nil
        }
    }

    /// The answer to `astctl protect|flatten`: accepted with the approval, or the refusal.
    func operatorOrderReport(_ outputs: [RiskOutput]) -> RiskStatusReport {
        for case .decision(let d) in outputs {
            switch d.decision {
            case .approve(let a), .downgrade(let a, _, _):
                let sent = mode.ordersLeaveRiskGate ? "sent to \(broker.target)" : "DRY_RUN: not sent"
                return report(
                    accepted: true,
                    message: "approved \(a.id): \(a.side) \(a.quantity) \(a.symbol) \(a.entry); client order id "
                        + "\(ClientOrderID(intent: a.intent, leg: .entry)); \(sent)")
            case .block(let code, let detail):
                return report(accepted: false, message: "refused \(code): \(detail)")
            }
        }
        return report(accepted: false, message: "no decision")
    }

    func commandReport(_ outputs: [RiskOutput]) -> RiskStatusReport {
        for case .commandResult(let r) in outputs { return report(accepted: r.accepted, message: r.message) }
        return report()
    }
}

extension RiskShell {
    /// Whether the broker process has credentials (a real broker's; the paper broker needs none).
    static func hasBrokerCredentials(_ config: ASTConfig) -> Bool {
        let store = SecretStore.fromEnvironment(secretsFile: config.secretsFile)
        return StartupChecks.liveCredentialNames(brokers: [config.risk.broker]).allSatisfy { (try? store.secret($0)) != nil }
    }
}

/// ast-risk cannot start as configured.
struct RiskShellError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
