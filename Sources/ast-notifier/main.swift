// ast-notifier: receives alerts (P0, P1, info) from every process and astd's lifecycle events;
// each is journaled durably before it is acknowledged, a durable outbox. The pure Outbox
// (ASTNotify) decides what goes to Telegram when; NotifierShell sends it through the Bot API
// (ASTTelegram) and journals every delivery, so a restart neither loses nor repeats an alert.
import ASTCore
import ASTRuntime
import ASTWire
import Foundation

var permissions = WorkerDefinition.lifecyclePermissions
for role in [Role.marketdata, .strategy, .risk, .broker, .reconciler] { permissions[role, default: []].insert(.alert) }
permissions[.supervisor, default: []].insert(.alert)
permissions[.control, default: []].insert(.notifierStatusRequest)
let definition = WorkerDefinition(role: .notifier, permissions: permissions) { context in
    try NotifierShell(context: context)
}
exit(await WorkerRuntime.main(definition))
