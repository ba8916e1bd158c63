import ASTCore
import ASTExecution
import ASTJournal
import ASTPaperBroker
import ASTReplay
import ASTRuntime
import ASTWire
import Foundation

/// The paper exchange behind the one ``BrokerShell``: its own inputs (bars, session closes, market
/// time, drill injections, quarantine acknowledgements), its start-up report and its timer.
extension PaperAdapter: ShellAdapter {
    /// Builds the paper adapter for `broker@paper` (refuses any other instance, and the
    /// resubmit-after-restart fault injection in LIVE).
    static func make(context: WorkerContext, outlet: BrokerOutlet) throws -> any ShellAdapter {
        let config = context.config
        guard context.identity.instance == "paper" else {
            throw BrokerShellError(
                "no adapter for \(context.identity): this build has the paper broker only (run ast-broker --instance paper)")
        }
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
        try MissingState.quarantine(context)
        return try PaperAdapter(
            name: context.identity.description, config: config.paperBroker ?? .standard, journal: context.journal, clock: context.clock,
            logger: context.logger, faultResubmitAfterRestart: fault,
            checkpointEvery: config.journal.checkpointEvery ?? JournalConfig.defaultCheckpointEvery,
            deliver: outlet.deliver, connectionChanged: outlet.connectionChanged)
    }

    /// Refuses any message the exchange could not take (``PaperInput/validate()``), an order
    /// while a quarantined journal entry waits for the operator, and an acknowledgement of an
    /// entry that is not quarantined here.
    nonisolated func screen(_ envelope: Envelope) -> InputRefusal? {
        switch envelope.message {
        case .orderSubmit:
            if let first = quarantine.withLock({ $0.pending.first }) {
                return InputRefusal(.notReady, "\(name) takes no orders while a journal entry is quarantined (\(first))")
            }
            return nil
        case .bar(let bar):
            return PaperInput.bar(bar).validate()
        case .sessionClose(let close):
            return PaperInput.sessionClose(close.at).validate()
        case .brokerInject(let injection):
            return PaperInput.inject(injection).validate()
        case .marketTime(let t):
            return InputCheck.time(t.now, "market time")
        case .quarantineAck(let ack):
            let state = quarantine.withLock { $0 }
            return QuarantineJournal.validate(ack, process: name, state: state)
        default:
            return nil
        }
    }

    func receiveOther(_ envelope: Envelope, from peer: PeerInfo?) async throws -> Message? {
        switch envelope.message {
        case .bar(let bar):
            try self.bar(bar, messageID: envelope.id)
        case .sessionClose(let close):
            try sessionClose(close.at, messageID: envelope.id)
        case .marketTime:
            // Replay: market time moved; a disconnect whose time is up ends now.
            if let until = reconnectAt(), until <= clock.now() { try tick() }
        case .quarantineAck(let ack):
            let pending = try acknowledge(ack)
            logger.notice(
                "operator acknowledged quarantined entry seq \(ack.seq): \(ack.reason)",
                metadata: ["peer": "\(peer?.identity.description ?? "-")"])
            return .commandResult(
                OperatorReply(
                    accepted: true,
                    message: "\(name): entry seq \(ack.seq) acknowledged; "
                        + (pending.isEmpty
                            ? "no quarantine pending, the broker takes orders again"
                            : "\(pending.count) quarantined entr\(pending.count == 1 ? "y" : "ies") still pending")))
        case .brokerInject(let injection):
            logger.warning("operator injection: \(injection)", metadata: ["peer": "\(peer?.identity.description ?? "-")"])
            let reports = try inject(injection, messageID: envelope.id)
            return .commandResult(OperatorReply(accepted: true, message: "\(name): \(injection) (\(reports.count) report(s))"))
        default:
            break
        }
        return nil
    }

    /// Every start is a (re)connection for the risk gate and the reconciler, which reconciles.
    func startReport() async -> (connected: Bool, detail: String)? {
        let connected = isConnected()
        let pending = quarantine.withLock { $0.pending }
        let detail =
            if let first = pending.first {
                "broker process started with \(pending.count) quarantined journal entr\(pending.count == 1 ? "y" : "ies"): \(first); "
                    + "it refuses new orders until astctl quarantine ack"
            } else {
                connected ? "broker process started" : "broker process started while its broker is unreachable"
            }
        return (connected && pending.isEmpty, detail)
    }

    /// A fill whose protective resize a crash cut short: the same plan, now.
    func afterStartReport() async throws {
        if quarantine.withLock({ $0.pending.isEmpty }) { try resizeProtection() }
    }

    /// While an (injected) disconnect lasts, wakes up when it ends so the reconnection is
    /// noticed and reported without waiting for the next message; likewise at the deadline of a
    /// cancel held for a session's bar that never came (it then takes effect).
    func run() async {
        while !Task.isCancelled {
            if let until = reconnectAt(), until > clock.now() {
                let wait = until.duration(since: clock.now())
                try? await Task.sleep(for: wait + .milliseconds(5))
                do { try tick() } catch { fatalError("ast-broker: \(error)") }
            } else if let deadline = cancelDeadline(), deadline <= clock.now() {
                do { try tick() } catch { fatalError("ast-broker: \(error)") }
                // This loop runs on the adapter: let the bars, orders and queries waiting for it in.
                await Task.yield()
            } else {
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    func stop() async {}
}
