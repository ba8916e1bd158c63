import ASTBus
import ASTCore
import ASTExecution
import ASTIBKR
import ASTJournal
import ASTPaperBroker
import ASTRisk
import ASTRuntime
import ASTWire
import Foundation
import Logging
import Synchronization

/// Where an adapter's outputs go: the one broker shell builds it from its bus clients, so every
/// adapter's reports and connection changes leave the same way (journaled by the bus before they
/// leave, re-sent until acknowledged).
struct BrokerOutlet: Sendable {
    /// Hands execution reports to the reconciler, in order.
    var deliver: @Sendable ([ExecutionReport]) throws -> Void
    /// Tells the risk gate and the reconciler that the broker connection changed.
    var connectionChanged: @Sendable (Bool, String) throws -> Void
    /// Tells the risk gate and the reconciler of a planned disconnect (IB Gateway's nightly
    /// restart): orders wait until the broker is back and reconciled, without a halt or a P0.
    var plannedDisconnect: @Sendable (String) throws -> Void
    /// The account changed at the broker in a way AST did not ask for (an order cancelled behind
    /// its back) while the broker stays connected: the reconciler reconciles now against the
    /// broker's positions and orders, and an unprotected position it finds is a P0 and HALTED.
    var accountChanged: @Sendable (String) throws -> Void
}

/// The part of ast-broker that differs per broker (the paper exchange, Interactive Brokers, ...),
/// behind the one ``BrokerShell``: the shell owns the bus, the approval screen, the common checks,
/// the outbox and the paged account queries; the adapter owns its broker.
protocol ShellAdapter: BrokerAdapter {
    /// A refusal, before the bus journals it, of a message this broker cannot take; nil lets the
    /// shell's common checks (submit, cancel, account query) apply.
    nonisolated func screen(_ envelope: Envelope) -> InputRefusal?
    /// Handles a message other than a submit, a cancel or an account query (bars, drills,
    /// operator acknowledgements); the reply, if any.
    func receiveOther(_ envelope: Envelope, from peer: PeerInfo?) async throws -> Message?
    /// Messages the bus journaled before a crash that the adapter never handled.
    func catchUp() async throws -> [Envelope]
    /// The connection report to send when the process starts; nil when the adapter reports its
    /// own once its session with the broker starts.
    func startReport() async -> (connected: Bool, detail: String)?
    /// Runs once the start report left (a protective resize a crash cut short).
    func afterStartReport() async throws
    /// The adapter's own work (a connection loop, timers) until the task is cancelled.
    func run() async
    /// The process is stopping.
    func stop() async
}

/// A broker outside this process (Interactive Brokers, Alpaca) behind the one ``BrokerShell``: it
/// takes only submits, cancels and account queries off the bus. Bars and session closes are the
/// simulated exchange's and are ignored; drill injections are refused; nothing is reported at
/// process start, as the adapter reports connected once its session with the broker is up and in
/// sync, and disconnected on any failure before.
protocol RealBrokerAdapter: ShellAdapter {}

extension RealBrokerAdapter {
    func screen(_ envelope: Envelope) -> InputRefusal? {
        if case .brokerInject = envelope.message {
            return InputRefusal(.invalid, "\(name) is a real broker: injections are for broker@paper drills")
        }
        return nil
    }

    func receiveOther(_ envelope: Envelope, from peer: PeerInfo?) async throws -> Message? { nil }

    func startReport() async -> (connected: Bool, detail: String)? { nil }

    func afterStartReport() async throws {}
}

/// ast-broker's shell, one for every broker: takes approved brackets (only from the risk gate),
/// cancels, bars and operator injections off the bus and hands them to the broker adapter; sends
/// execution reports to the reconciler and connection changes to the risk gate and the
/// reconciler, all acknowledged (journaled here before they leave).
actor BrokerShell: WorkerLogic {
    let identity: ProcessIdentity
    let adapter: any ShellAdapter
    let reconciler: BusClient
    let risk: BusClient
    let logger: Logger
    /// The last account snapshot, served page by page (see ``BrokerQuery``).
    var snapshot: (id: String, state: BrokerAccountState)?
    var snapshotCounter = 0
    /// Checks every `order.submit` before the endpoint journals it: signature and approval id.
    let approvals: ApprovalScreen
    /// The trading clock, for the approval marks' timestamps.
    let clock: any WallClock
    nonisolated var messageScreen: (any BusMessageScreen)? { approvals }

    /// The paper exchange's broker process (`--instance paper`).
    init(context: WorkerContext) throws {
        try self.init(context: context, adapter: PaperAdapter.make)
    }

    /// A broker process around the adapter `make` builds from the context and the shell's outlet.
    init(context: WorkerContext, adapter make: (WorkerContext, BrokerOutlet) throws -> any ShellAdapter) throws {
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
        clock = context.clock
        logger = context.logger
        if approvals.restored.scanned > 0 {
            logger.info(
                "approval screen restored",
                metadata: [
                    "from": "\(approvals.restored.from)", "entries": "\(approvals.restored.scanned)",
                    "ids": "\(approvals.restored.state.count)",
                ])
        }
        // A start that read a whole interval marks at once: the next start reads from here.
        try approvals.markIfDue(at: context.clock.now())
        let reconciler = try context.busClient(to: ProcessIdentity(role: .reconciler))
        let risk = try context.busClient(to: ProcessIdentity(role: .risk))
        self.reconciler = reconciler
        self.risk = risk
        let me = context.identity
        let logger = context.logger
        let outlet = BrokerOutlet(
            deliver: { reports in
                for report in reports {
                    try reconciler.send(.executionReport(report), correlationID: report.event.clientOrderID.rawValue)
                    BrokerMetrics.reported(report.event)
                    logger.info("report \(report.id): \(report.event.summary)")
                }
            },
            connectionChanged: { connected, detail in
                let report = BrokerConnectionReport(broker: me, connected: connected, detail: detail)
                try risk.send(.brokerConnection(report))
                try reconciler.send(.brokerConnection(report))
            },
            plannedDisconnect: { detail in
                let report = BrokerConnectionReport(broker: me, connected: false, detail: detail, planned: true)
                try risk.send(.brokerConnection(report))
                try reconciler.send(.brokerConnection(report))
            },
            accountChanged: { why in
                // A connection report (still connected) to the reconciler alone: it reconciles on it in a
                // task of its own, so the reports that follow on this connection are not held up.
                logger.critical("\(me): \(why): asking the reconciler to reconcile")
                try reconciler.send(.brokerConnection(BrokerConnectionReport(broker: me, connected: true, detail: why)))
            })
        adapter = try make(context, outlet)
    }

    func run() async {
        // Every start is a (re)connection for the risk gate and the reconciler, which reconciles.
        do {
            if let (connected, detail) = await adapter.startReport() {
                let report = BrokerConnectionReport(broker: identity, connected: connected, detail: detail)
                try risk.send(.brokerConnection(report))
                try reconciler.send(.brokerConnection(report))
            }
            try await adapter.afterStartReport()
        } catch {
            fatalError("ast-broker: \(error)")
        }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.reconciler.run() }
            group.addTask { await self.risk.run() }
            group.addTask { await self.catchUp() }
            group.addTask { await self.adapter.run() }
        }
    }

    func stopped() async { await adapter.stop() }

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

    func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message? {
        await receive(envelope, from: Optional(peer))
    }

    /// Validate before you journal: the adapter's own refusal first (``ShellAdapter/screen(_:)``),
    /// then, for every broker, any bracket or cancel the exchange rules refuse
    /// (``PaperInput/validate()``) and a query for an impossible page.
    nonisolated func validate(_ envelope: Envelope, from peer: PeerInfo) -> InputRefusal? {
        if let refusal = adapter.screen(envelope) { return refusal }
        switch envelope.message {
        case .orderSubmit(let approval):
            return PaperInput.submit(BracketBuilder.bracket(for: approval)).validate()
        case .orderCancel(let c):
            return PaperInput.cancel(c.clientOrderID, reason: c.reason).validate()
        case .brokerQuery(let q):
            return BrokerAccountState.validatePage(q.page) ?? InputCheck.time(q.executionsSince, "executions_since")
                ?? q.snapshot.flatMap { InputCheck.text($0, "snapshot", max: InputCheck.maxIdentifierBytes) }
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
                do { try approvals.markIfDue(at: clock.now()) } catch {
                    logger.warning("could not journal an approval mark (the next start reads further back): \(error)")
                }
            case .orderCancel(let c):
                let answer = try await adapter.cancel(c.clientOrderID, reason: c.reason, messageID: envelope.id)
                logger.notice("cancel \(c.clientOrderID) (\(c.reason)): \(answer.message)")
            case .brokerQuery(let q):
                // Page 0 takes a snapshot; later pages come from that same snapshot, so the pages
                // of one answer agree with each other.
                if q.page == 0 {
                    snapshotCounter += 1
                    let id = "\(identity)-s\(snapshotCounter)"
                    let state = try await adapter.accountState(executionsSince: q.executionsSince)
                    snapshot = (id, state)
                    return .brokerState(state.page(0, snapshot: id))
                }
                guard let snapshot, snapshot.id == q.snapshot else {
                    return .commandResult(
                        OperatorReply(accepted: false, message: "snapshot \(q.snapshot ?? "-") is gone: ask for page 0 again"))
                }
                return .brokerState(snapshot.state.page(q.page, snapshot: snapshot.id))
            default:
                return try await adapter.receiveOther(envelope, from: peer)
            }
        } catch {
            // The journal refused a write: a broken invariant of our own. Crash-only: astd restarts us.
            logger.critical("\(identity) cannot journal or send: \(error)")
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
    /// Journals the ids handled in a start-up mark every so many entries (``ApprovalScan``).
    let marker: StartMarker<ApprovalScan>
    /// What the start-up read went through (for tests and benchmarks).
    let restored: MarkedRestore<[String: String]>

    init(key: ApprovalKey?, journal: Journal, markEvery: Int64 = StartMarker<ApprovalScan>.defaultEvery) throws {
        self.key = key
        // From the newest approval mark that verifies (every id handled before it) plus the
        // entries after it; without one, from entry 1.
        restored = try journal.restore(ApprovalScan.self)
        var handled: [ApprovalID: [UInt8]] = [:]
        for (id, digest) in restored.state {
            // A mark holds only ids and digests the fold made from the journal's own entries.
            guard let approval = ApprovalID(validating: id), let bytes = Hex.decode(digest), bytes.count == 32 else {
                throw BrokerShellError("approval mark: invalid approval id or digest for \(id)")
            }
            handled[approval] = bytes
        }
        self.handled = Mutex(handled)
        marker = StartMarker(journal: journal, every: markEvery, from: restored.from)
    }

    /// Journals an approval mark when one is due (a read of the entries since the last mark).
    func markIfDue(at now: Timestamp) throws { try marker.markIfDue(at: now) }

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

/// The approval screen's start-up scan: approval id -> the hex digest (``ApprovalScreen/digest(_:)``)
/// of the content of every `order.submit` the bus journaled as received (an id re-used with other
/// content was refused before it was journaled, so an id's entries all carry one digest).
enum ApprovalScan: MarkedScan {
    static let markName = "broker.approvals"
    static var initial: [String: String] { [:] }

    static func fold(_ handled: inout [String: String], _ entry: JournalEntry) throws {
        let r = entry.record
        guard r.kind == .received, r.type == MessageType.orderSubmit.rawValue,
            case .orderSubmit(let approval)? = try? EnvelopeCodec.decode(r.body).message
        else { return }
        handled[approval.id.rawValue] = Hex.encode(ApprovalScreen.digest(approval))
    }
}

/// ast-broker cannot start as asked.
struct BrokerShellError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
