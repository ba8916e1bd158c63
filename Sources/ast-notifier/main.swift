// ast-notifier: receives alerts (P0 now, P1 soon) from every process and astd's lifecycle
// events; each is journaled durably before it is acknowledged, a durable outbox. Delivery to
// Telegram arrives with milestone M6; until then alerts wait in this journal.
import ASTCore
import ASTRuntime
import ASTWire
import Foundation

var permissions = WorkerDefinition.lifecyclePermissions
for role in [Role.marketdata, .strategy, .risk, .broker, .reconciler] { permissions[role, default: []].insert(.alert) }
permissions[.supervisor, default: []].insert(.alert)
let definition = WorkerDefinition(role: .notifier, permissions: permissions) { context in
    ProbeInbox(logger: context.logger)
}
exit(await WorkerRuntime.main(definition))
