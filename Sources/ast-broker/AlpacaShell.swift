import ASTBus
import ASTCore
import ASTExecution
import ASTJournal
import ASTPaperBroker
import ASTProcessKit
import ASTRuntime
import ASTWire
import Foundation
import Logging

/// ast-broker's shell for `--instance alpaca`: the same bus side as ``IBKRShell`` (approved
/// brackets only from the risk gate, signatures checked before journaling, cancels, paged account
/// queries, execution reports to the reconciler, connection changes to the risk gate and the
/// reconciler) over ``AlpacaAdapter``. Bars, session closes and drill injections are the simulated
/// exchange's and are refused or ignored here. (A copy of IBKRShell's bus side, to be folded into
/// one generic real-broker shell with it.)
actor AlpacaShell: WorkerLogic {
    let identity: ProcessIdentity
    let adapter: AlpacaAdapter
    let reconciler: BusClient
    let risk: BusClient
    let logger: Logger
    let approvals: ApprovalScreen
    var snapshot: (id: String, state: BrokerAccountState)?
    var snapshotCounter = 0
    nonisolated var messageScreen: (any BusMessageScreen)? { approvals }

    init(context: WorkerContext) throws {
        identity = context.identity
        let trading = context.config.trading ?? .paper
        let key = try ApprovalKey.inherited()
        if key == nil {
            guard trading.mode != .live else {
                throw BrokerShellError(
                    "no approval key from astd (\(ApprovalKey.descriptorVariable)): with trading.mode LIVE a broker runs only under astd")
            }
            context.logger.warning("no approval key from astd: approvals are taken unsigned (development; refused in LIVE)")
        }
        approvals = try ApprovalScreen(key: key, journal: context.journal)
        logger = context.logger
        let reconciler = try context.busClient(to: ProcessIdentity(role: .reconciler))
        let risk = try context.busClient(to: ProcessIdentity(role: .risk))
        self.reconciler = reconciler
        self.risk = risk
        let me = context.identity
        let logger = context.logger
        adapter = try AlpacaAdapter(
            name: context.identity.description, config: context.config.alpaca ?? .standard, trading: trading,
            secrets: SecretStore.fromEnvironment(secretsFile: context.config.secretsFile), journal: context.journal,
            clock: context.clock, logger: context.logger,
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
        await withDiscardingTaskGroup { group in
            group.addTask { await self.reconciler.run() }
            group.addTask { await self.risk.run() }
            group.addTask { await self.adapter.run() }
            group.addTask { await self.catchUp() }
        }
    }

    func stopped() async { await adapter.stop() }

    /// Handles what the bus journaled before a crash that the adapter never handled.
    func catchUp() async {
        for env in await adapter.catchUp() {
            logger.notice("handling \(env.type) \(env.id), journaled but not handled before the last exit")
            _ = await receive(env, from: nil)
        }
    }

    nonisolated func validate(_ envelope: Envelope, from peer: PeerInfo) -> InputRefusal? {
        switch envelope.message {
        case .orderSubmit(let approval):
            return PaperInput.submit(BracketBuilder.bracket(for: approval)).validate()
        case .orderCancel(let c):
            return PaperInput.cancel(c.clientOrderID, reason: c.reason).validate()
        case .brokerQuery(let q):
            return BrokerAccountState.validatePage(q.page) ?? InputCheck.time(q.executionsSince, "executions_since")
                ?? q.snapshot.flatMap { InputCheck.text($0, "snapshot", max: InputCheck.maxIdentifierBytes) }
        case .brokerInject:
            return InputRefusal(.invalid, "\(identity) is a real broker: injections are for broker@paper drills")
        default:
            return nil
        }
    }

    func receive(_ envelope: Envelope, from peer: PeerInfo) async -> Message? {
        await receive(envelope, from: Optional(peer))
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
            case .brokerQuery(let q):
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
                break
            }
        } catch {
            logger.critical("ast-broker@alpaca cannot journal or send: \(error)")
            fatalError("ast-broker: \(error)")
        }
        return nil
    }
}
