import ASTCore
import ASTExecution
import ASTIBKR
import ASTRuntime
import ASTWire
import Foundation

/// Interactive Brokers behind the one ``BrokerShell`` (`--instance ibkr`): the shell's bus side
/// (approved brackets only from the risk gate, signatures checked before journaling, cancels,
/// paged account queries, execution reports to the reconciler and connection changes to the risk
/// gate and the reconciler) over this adapter; what it refuses and ignores: ``RealBrokerAdapter``.
extension IBKRAdapter: RealBrokerAdapter {
    /// Builds the adapter for `broker@ibkr` from the `ibkr` and `trading` configuration.
    static func make(context: WorkerContext, outlet: BrokerOutlet) throws -> any ShellAdapter {
        try IBKRAdapter(
            name: context.identity.description, config: context.config.ibkr ?? .standard, trading: context.config.trading ?? .paper,
            journal: context.journal, clock: context.clock, logger: context.logger, deliver: outlet.deliver,
            connectionChanged: outlet.connectionChanged, accountChanged: outlet.accountChanged,
            // TWS lives in real time: under the replay's market clock its timers would stand still.
            connectionClock: (context.config.clock ?? .wall).mode == .replay ? context.systemClock : context.clock,
            plannedDisconnect: outlet.plannedDisconnect)
    }
}
