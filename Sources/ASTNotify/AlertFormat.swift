import ASTCore
import ASTMessages

/// How alerts read in Telegram: one alert per message (split when long), or a digest of
/// several P1 and info alerts.
public enum AlertFormat {
    /// The marker in front of a title: what a glance at the phone must tell.
    public static func marker(_ priority: AlertPriority) -> String {
        switch priority {
        case .p0: "🔴 P0"
        case .p1: "🟠 P1"
        case .info: "ℹ️ info"
        }
    }

    /// The texts of one alert: its title in bold, its text, and when it happened.
    public static func texts(_ alert: Alert, mode: ParseMode, limit: Int = TelegramText.maximumLength) -> [String] {
        MessageRenderer.render(
            title: "\(marker(alert.priority)) \(alert.title)", body: "\(alert.text)\n\(alert.at)", mode: mode, limit: limit)
    }

    /// The texts of a digest of `alerts`, oldest first. The outbox only sends a digest that is one text.
    public static func digest(_ alerts: [Alert], mode: ParseMode, limit: Int = TelegramText.maximumLength) -> [String] {
        let body = alerts.map(digestLine).joined(separator: digestSeparator)
        return MessageRenderer.render(title: digestTitle(alerts.count), body: body, mode: mode, limit: limit)
    }

    /// What one alert costs in a digest's body, as Telegram counts it in `mode`: with
    /// ``digestFits(count:linesLength:mode:limit:)`` it tells whether a digest is one text
    /// without rendering it.
    public static func digestLineLength(_ alert: Alert, mode: ParseMode) -> Int {
        MessageRenderer.renderedLength(digestLine(alert), mode: mode)
    }

    /// Whether the digest of `count` alerts whose ``digestLineLength(_:mode:)`` add up to
    /// `linesLength` is one text: exactly when ``digest(_:mode:limit:)`` returns one.
    public static func digestFits(count: Int, linesLength: Int, mode: ParseMode, limit: Int = TelegramText.maximumLength) -> Bool {
        let separators = max(0, count - 1) * MessageRenderer.renderedLength(digestSeparator, mode: mode)
        return MessageRenderer.fitsOneText(title: digestTitle(count), bodyLength: linesLength + separators, mode: mode, limit: limit)
    }

    static let digestSeparator = "\n\n"
    static func digestTitle(_ count: Int) -> String { "AST: \(count) alerts" }
    static func digestLine(_ alert: Alert) -> String { "• \(marker(alert.priority)) \(alert.title) (\(alert.at))\n\(alert.text)" }
}

/// The alerts the notifier derives from astd's lifecycle events: a crash, a missed watchdog,
/// a child given up on and the supervisor giving up are P0; everything else is routine and not alerted.
public enum LifecycleAlerts {
    /// The alert for `event`, or nil when it needs none. The key is derived from the event, so a
    /// re-sent event is deduplicated like any alert.
    public static func alert(for event: LifecycleEvent) -> Alert? {
        let child = event.child?.description ?? "the tree"
        let key = "lifecycle:\(event.kind.rawValue):\(child):\(event.at.nanoseconds)"
        switch event.kind {
        case .exited:
            var text = "\(child) \(event.reason ?? "exited")"
            if let pid = event.pid { text += " (pid \(pid))" }
            if let impact = event.onCrash { text += "; on_crash: \(impact.rawValue)" }
            text += "; restarts so far: \(event.restarts)"
            return Alert(priority: .p0, key: key, title: "AST process down: \(child)", text: text, at: event.at)
        case .watchdogTimeout:
            return Alert(
                priority: .p0, key: key, title: "AST process hung: \(child)",
                text: "\(child) missed its watchdog deadline\(event.pid.map { " (pid \($0))" } ?? ""); astd kills and restarts it",
                at: event.at)
        case .gaveUp:
            return Alert(
                priority: .p0, key: key, title: "AST supervisor gave up",
                text: "astd gave up on its tree after \(event.restarts) restarts: \(event.reason ?? "restart intensity exceeded"); "
                    + "every process is stopping and systemd takes over (runbooks/supervisor-gave-up.md)",
                at: event.at)
        case .givenUp:
            return Alert(
                priority: .p0, key: key, title: "AST process given up: \(child)",
                text: "\(event.reason ?? "\(child) exceeded its restart budget")"
                    + (event.onCrash.map { "; on_crash: \($0.rawValue)" } ?? "")
                    + "; risk, brokers and the reconciler keep running (runbooks/child-given-up.md)",
                at: event.at)
        case .spawned, .ready, .restarted, .stopped:
            return nil
        }
    }
}
