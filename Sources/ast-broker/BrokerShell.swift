import ASTBus
import ASTCore
import ASTExecution
import ASTJournal
import ASTPaperBroker
import ASTRisk
import ASTRuntime
import ASTWire
import Foundation
import Logging
import Synchronization

/// ast-broker's shell: takes approved brackets (only from the risk gate), cancels, bars and
/// operator injections off the bus and hands them to the broker adapter; sends execution
/// reports to the reconciler and connection changes to the risk gate and the reconciler, all
/// acknowledged (journaled here before they leave).
actor BrokerShell: WorkerLogic {
    let identity: ProcessIdentity
    let adapter: PaperAdapter
    let reconciler: BusClient
    let risk: BusClient
    let logger: Logger
    let clock: any WallClock
    /// The last account snapshot, served page by page (see ``BrokerQuery``).
    var snapshot: (id: String, state: BrokerAccountState)?
    var snapshotCounter = 0
    /// Checks every `order.submit` before the endpoint journals it: signature and approval id.
    let approvals: ApprovalScreen
    nonisolated var messageScreen: (any BusMessageScreen)? { approvals }

    init(context: WorkerContext) throws {
        identity = context.identity
        let key = try ApprovalKey.inherited()
        if key == nil {
            guard (context.config.trading ?? .paper).mode != .live else {
                throw BrokerShellError(
                    "no approval key from astd (\(ApprovalKey.descriptorVariable)): with trading.mode LIVE a broker runs only under astd")
            }
            context.logger.warning("no approval key from astd: approvals are taken unsigned (development; refused in LIVE)")
        }
        approvals = try ApprovalScreen(key: key, journal: context.journal)
        logger = context.logger
        clock = context.clock
        let config = context.config
        guard context.identity.instance == "paper" else {
            throw BrokerShellError(
                "no adapter for \(context.identity): this build has the paper broker only (run ast-broker --instance paper)")
        }
        let client: (ProcessIdentity) throws -> BusClient = { try context.busClient(to: $0) }
        let fault = FaultInjection.resubmitsAfterRestart
        if fault {
            guard (config.trading ?? .paper).mode != .live else {
                throw BrokerShellError(
                    "\(FaultInjection.resubmitsAfterRestartVariable)=1 is a fault injection for tests and is refused with trading.mode LIVE; unset it"
                )
            }
            context.logger.critical(
                "FAULT INJECTION ON (\(FaultInjection.resubmitsAfterRestartVariable)=1): this broker re-submits open orders after a restart; for drill tests only, never in production"
            )
        }
        let reconciler = try client(ProcessIdentity(role: .reconciler))
        let risk = try client(ProcessIdentity(role: .risk))
        self.reconciler = reconciler
        self.risk = risk
        let me = context.identity
        let logger = context.logger
        try MissingState.quarantine(context)
        adapter = try PaperAdapter(
            name: context.identity.description, config: config.paperBroker ?? .standard, journal: context.journal, clock: context.clock,
            logger: context.logger, faultResubmitAfterRestart: fault,
            checkpointEvery: config.journal.checkpointEvery ?? JournalConfig.defaultCheckpointEvery,
            deliver: { reports in
                for report in reports {
                    try reconciler.send(.executionReport(report), correlationID: report.event.clientOrderID.rawValue)
                    logger.info("report \(report.id): \(report.event.summary)")
                }
            },
            connectionChanged: { connected, detail in
                let report = BrokerConnectionReport(broker: me, connected: connected, detail: detail)
                try risk.send(.brokerConnection(report))
                try reconciler.send(.brokerConnection(report))
            })
    }

    func run() async {
        // Every start is a (re)connection for the risk gate and the reconciler, which reconciles.
        do {
            let connected = await adapter.isConnected()
            let pending = adapter.quarantine.withLock { $0.pending }
            let detail =
                if let first = pending.first {
                    "broker process started with \(pending.count) quarantined journal entr\(pending.count == 1 ? "y" : "ies"): \(first); "
                        + "it refuses new orders until astctl quarantine ack"
                } else {
                    connected ? "broker process started" : "broker process started while its broker is unreachable"
                }
            let report = BrokerConnectionReport(broker: identity, connected: connected && pending.isEmpty, detail: detail)
            try risk.send(.brokerConnection(report))
            try reconciler.send(.brokerConnection(report))
            // A fill whose protective resize a crash cut short: the same plan, now.
            if pending.isEmpty { try await adapter.resizeProtection() }
        } catch {
            fatalError("ast-broker: \(error)")
        }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.reconciler.run() }
            group.addTask { await self.risk.run() }
            group.addTask { await self.catchUp() }
            group.addTask { await self.connectionTimer() }
        }
    }

    /// Handles messages the bus journaled before a crash that the adapter never saw.
    func catchUp() async {
        do {
            for env in try await adapter.catchUp() {
                logger.notice("handling \(env.type) \(env.id), journaled but not handled before the last exit")
                _ = await receive(env, from: nil)
            }
        } catch {
            fatalError("ast-broker: catching up with the journal failed: \(error)")
        }
    }

    /// While an (injected) disconnect lasts, wakes up when it ends so the reconnection is
    /// noticed and reported without waiting for the next message; likewise at the deadline of a
    /// cancel held for a session's bar that never came (it then takes effect).
    func connectionTimer() async {
        while !Task.isCancelled {
            if let until = await adapter.reconnectAt(), until > clock.now() {
                let wait = until.duration(since: clock.now())
                try? await Task.sleep(for: wait + .milliseconds(5))
                do { try await adapter.tick() } catch { fatalError("ast-broker: \(error)") }
            } else if let deadline = await adapter.cancelDeadline(), deadline <= clock.now() {
                do { try await adapter.tick() } catch { fatalError("ast-broker: \(error)") }
            } else {
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message? {
        await receive(envelope, from: Optional(peer))
    }

    /// Validate before you journal: refuses, before the bus journals it, any message the
    /// exchange could not take (``PaperInput/validate()``), a query for an impossible page, an
    /// order while a quarantined journal entry waits for the operator, and an acknowledgement
    /// of an entry that is not quarantined here.
    nonisolated func validate(_ envelope: Envelope, from peer: PeerInfo) -> InputRefusal? {
        switch envelope.message {
        case .orderSubmit(let approval):
            if let first = adapter.quarantine.withLock({ $0.pending.first }) {
                return InputRefusal(.notReady, "\(identity) takes no orders while a journal entry is quarantined (\(first))")
            }
            return PaperInput.submit(BracketBuilder.bracket(for: approval)).validate()
        case .orderCancel(let c):
            return PaperInput.cancel(c.clientOrderID, reason: c.reason).validate()
        case .bar(let bar):
            return PaperInput.bar(bar).validate()
        case .sessionClose(let close):
            return PaperInput.sessionClose(close.at).validate()
        case .brokerInject(let injection):
            return PaperInput.inject(injection).validate()
        case .brokerQuery(let q):
            return BrokerAccountState.validatePage(q.page) ?? InputCheck.time(q.executionsSince, "executions_since")
                ?? q.snapshot.flatMap { InputCheck.text($0, "snapshot", max: InputCheck.maxIdentifierBytes) }
        case .marketTime(let t):
            return InputCheck.time(t.now, "market time")
        case .quarantineAck(let ack):
            let state = adapter.quarantine.withLock { $0 }
            return QuarantineJournal.validate(ack, process: identity.description, state: state)
        default:
            return nil
        }
    }

    func receive(_ envelope: Envelope, from peer: PeerInfo?) async -> Message? {
        do {
            switch envelope.message {
            case .orderSubmit(let approval):
                let bracket = BracketBuilder.bracket(for: approval)
                let reports = try await adapter.submit(bracket, messageID: envelope.id)
                logger.info("bracket \(bracket.intent): \(reports.count) report(s)", metadata: ["approval": "\(approval.id)"])
            case .orderCancel(let c):
                let answer = try await adapter.cancel(c.clientOrderID, reason: c.reason, messageID: envelope.id)
                logger.notice("cancel \(c.clientOrderID) (\(c.reason)): \(answer.message)")
            case .bar(let bar):
                try await adapter.bar(bar, messageID: envelope.id)
            case .sessionClose(let close):
                try await adapter.sessionClose(close.at, messageID: envelope.id)
            case .brokerQuery(let q):
                // Page 0 takes a snapshot; later pages come from that same snapshot, so the pages
                // of one answer agree with each other.
                if q.page == 0 {
                    snapshotCounter += 1
                    let id = "\(identity)-s\(snapshotCounter)"
                    snapshot = (id, try await adapter.accountState(executionsSince: q.executionsSince))
                    return .brokerState(snapshot!.state.page(0, snapshot: id))
                }
                guard let snapshot, snapshot.id == q.snapshot else {
                    return .commandResult(
                        OperatorReply(accepted: false, message: "snapshot \(q.snapshot ?? "-") is gone: ask for page 0 again"))
                }
                return .brokerState(snapshot.state.page(q.page, snapshot: snapshot.id))
            case .marketTime:
                // Replay: market time moved; a disconnect whose time is up ends now.
                if let until = await adapter.reconnectAt(), until <= clock.now() { try await adapter.tick() }
            case .quarantineAck(let ack):
                let pending = try await adapter.acknowledge(ack)
                logger.notice(
                    "operator acknowledged quarantined entry seq \(ack.seq): \(ack.reason)",
                    metadata: ["peer": "\(peer?.identity.description ?? "-")"])
                return .commandResult(
                    OperatorReply(
                        accepted: true,
                        message: "\(identity): entry seq \(ack.seq) acknowledged; "
                            + (pending.isEmpty
                                ? "no quarantine pending, the broker takes orders again"
                                : "\(pending.count) quarantined entr\(pending.count == 1 ? "y" : "ies") still pending")))
            case .brokerInject(let injection):
                logger.warning("operator injection: \(injection)", metadata: ["peer": "\(peer?.identity.description ?? "-")"])
                let reports = try await adapter.inject(injection, messageID: envelope.id)
                return .commandResult(OperatorReply(accepted: true, message: "\(identity): \(injection) (\(reports.count) report(s))"))
            default:
                break
            }
        } catch {
            // The journal refused a write: a broken invariant of our own. Crash-only: astd restarts us.
            logger.critical("ast-broker cannot journal or send: \(error)")
            fatalError("ast-broker: \(error)")
        }
        return nil
    }
}

/// The broker's check of approvals, before they are journaled as received: with the tree's
/// key, an approval must carry a valid signature (``ApprovalSignature``); and an approval id
/// already handled may come again only with the same content (a re-send), never with other
/// content. The ids handled are rebuilt from the journal at start.
final class ApprovalScreen: BusMessageScreen {
    let key: ApprovalKey?
    /// approval id -> the digest of the content it was first taken with.
    let handled: Mutex<[ApprovalID: [UInt8]]>

    init(key: ApprovalKey?, journal: Journal) throws {
        self.key = key
        var handled: [ApprovalID: [UInt8]] = [:]
        try journal.scan(fromSeq: 1) { entry in
            let r = entry.record
            if r.kind == .received, r.type == MessageType.orderSubmit.rawValue,
                case .orderSubmit(let approval)? = try? EnvelopeCodec.decode(r.body).message
            {
                handled[approval.id] = Self.digest(approval)
            }
            return true
        }
        self.handled = Mutex(handled)
    }

    /// The content fingerprint of an approval, to recognise an id re-used with other content. Only
    /// approvals whose signature verified get here, and those encoded.
    static func digest(_ approval: Approval) -> [UInt8] {
        ApprovalSignature.hmacSHA256(key: [], message: ApprovalSignature.canonicalBytes(approval) ?? [])
    }

    func refusal(for envelope: Envelope, from peer: PeerInfo) -> Refusal? {
        guard case .orderSubmit(let approval) = envelope.message else { return nil }
        if let key, !ApprovalSignature.verify(approval, key: key) {
            return Refusal(
                code: .approvalSignatureInvalid,
                detail: "pid \(peer.pid): approval \(approval.id.rawValue) from \(peer.identity) does not carry a valid signature")
        }
        let digest = Self.digest(approval)
        return handled.withLock { handled in
            if let first = handled[approval.id], !ApprovalSignature.constantTimeEqual(first, digest) {
                return Refusal(
                    code: .approvalReused,
                    detail: "pid \(peer.pid): approval \(approval.id.rawValue) was already handled with other content")
            }
            handled[approval.id] = digest
            return nil
        }
    }
}

/// ast-broker cannot start as asked.
struct BrokerShellError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

extension ExecutionEvent {
    /// One line for the log.
    var summary: String {
        switch self {
        case .submitting(let s): "submitting \(s.clientOrderID) \(s.side) \(s.quantity) \(s.symbol) \(s.type.rawValue)"
        case .acknowledged(let id, let b): "acknowledged \(id) as \(b)"
        case .accepted(let id): "accepted \(id)"
        case .unacknowledged(let id, let d): "UNACKNOWLEDGED \(id): \(d)"
        case .fill(let f): "fill \(f.executionID) \(f.clientOrderID) \(f.side) \(f.quantity) \(f.symbol) @ \(f.price)"
        case .cancelled(let id, let r): "cancelled \(id): \(r)"
        case .rejected(let id, let r): "rejected \(id): \(r)"
        case .expired(let id): "expired \(id)"
        case .modified(let id, let q, let r): "resized \(id) to \(q): \(r)"
        }
    }
}
