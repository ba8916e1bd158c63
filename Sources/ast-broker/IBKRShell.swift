import ASTCore
import ASTExecution
import ASTIBKR
import ASTRuntime
import ASTWire
import Foundation

/// Interactive Brokers behind the one ``BrokerShell`` (`--instance ibkr`): the shell's bus side
/// (approved brackets only from the risk gate, signatures checked before journaling, cancels,
/// paged account queries, execution reports to the reconciler and connection changes to the risk
/// gate and the reconciler) over this adapter. Bars and session closes are the simulated
/// exchange's and are ignored here; drill injections are refused.
extension IBKRAdapter: ShellAdapter {
    /// Builds the adapter for `broker@ibkr` from the `ibkr` and `trading` configuration.
    static func make(context: WorkerContext, outlet: BrokerOutlet) throws -> any ShellAdapter {
        try IBKRAdapter(
            name: context.identity.description, config: context.config.ibkr ?? .standard, trading: context.config.trading ?? .paper,
            journal: context.journal, clock: context.clock, logger: context.logger, deliver: outlet.deliver,
            connectionChanged: outlet.connectionChanged, accountChanged: outlet.accountChanged)
    }

    nonisolated func screen(_ envelope: Envelope) -> InputRefusal? {
        if case .brokerInject = envelope.message {
            return InputRefusal(.invalid, "\(name) is a real broker: injections are for broker@paper drills")
        }
        return nil
    }

    func receiveOther(_ envelope: Envelope, from peer: PeerInfo?) async throws -> Message? { nil }

    /// Nothing at process start: the adapter reports connected once its API session started and
    /// the account is synced, and disconnected on any failure before.
    func startReport() async -> (connected: Bool, detail: String)? { nil }

    func afterStartReport() async throws {}
}
