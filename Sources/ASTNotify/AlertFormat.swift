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

    /// What a message sent again says when the earlier attempt may have reached the chat
    /// (the notifier died while Telegram held the request, or the answer never came): at least
    /// once means the reader may see it twice, and this tells them so.
    public static let repeatMarker = "(repeat: delivery unknown)"

    /// The texts of one alert: its title in bold, its text, and when it happened. `repeated`:
    /// sent again after an attempt whose delivery is unknown (``repeatMarker`` in the title).
    public static func texts(_ alert: Alert, mode: ParseMode, repeated: Bool = false, limit: Int = TelegramText.maximumLength)
        -> [String]
    {
        MessageRenderer.render(
            title: "\(marker(alert.priority)) \(repeated ? repeatMarker + " " : "")\(alert.title)",
            body: "\(alert.text)\n\(alert.at)", mode: mode, limit: limit)
    }

    /// The texts of a digest of `alerts`, oldest first. The outbox only sends a digest that is one text.
    public static func digest(_ alerts: [Alert], mode: ParseMode, repeated: Bool = false, limit: Int = TelegramText.maximumLength)
        -> [String]
    {
        let body = alerts.map(digestLine).joined(separator: digestSeparator)
        return MessageRenderer.render(title: digestTitle(alerts.count, repeated: repeated), body: body, mode: mode, limit: limit)
    }

    /// What one alert costs in a digest's body, as Telegram counts it in `mode`: with
    /// ``digestFits(count:linesLength:mode:limit:)`` it tells whether a digest is one text
    /// without rendering it.
    public static func digestLineLength(_ alert: Alert, mode: ParseMode) -> Int {
        MessageRenderer.renderedLength(digestLine(alert), mode: mode)
    }

    /// Whether the digest of `count` alerts whose ``digestLineLength(_:mode:)`` add up to
    /// `linesLength` is one text: exactly when ``digest(_:mode:limit:)`` returns one.
    public static func digestFits(
        count: Int, linesLength: Int, mode: ParseMode, repeated: Bool = false, limit: Int = TelegramText.maximumLength
    ) -> Bool {
        let separators = max(0, count - 1) * MessageRenderer.renderedLength(digestSeparator, mode: mode)
        return MessageRenderer.fitsOneText(
            title: digestTitle(count, repeated: repeated), bodyLength: linesLength + separators, mode: mode, limit: limit)
    }

    static let digestSeparator = "\n\n"
    static func digestTitle(_ count: Int, repeated: Bool = false) -> String {
        "AST: \(count) alerts\(repeated ? " " + repeatMarker : "")"
    }
    static func digestLine(_ alert: Alert) -> String { "• \(marker(alert.priority)) \(alert.title) (\(alert.at))\n\(alert.text)" }
}

/// The alerts the notifier derives from astd's lifecycle events: a crash, a missed watchdog,
/// a child given up on and the supervisor giving up are P0; everything else is routine and not alerted.
public enum LifecycleAlerts {
    /// The alert for `event`, or nil when it needs none. The key says what happened
    /// (`lifecycle:exited:broker@paper:pid4242`), never when: the envelope id that carried the
    /// event (astd's journaled outbox counter) makes it unique per event (``AlertIdentity``).
    public static func alert(for event: LifecycleEvent) -> Alert? {
        let child = event.child?.description ?? "the tree"
        let key = "lifecycle:\(event.kind.rawValue):\(child)" + (event.pid.map { ":pid\($0)" } ?? "")
        switch event.kind {
        case .exited where event.stoppedOnRequest == true:
            // A planned stop (the tree stopping: `systemctl stop|restart`, SIGTERM to astd): no page.
            // A SIGTERM astd did not send while it runs on is not planned (astd says false): P0 below.
            return Alert(
                priority: .info, key: key, title: "AST process stopped on request: \(child)",
                text: "\(child) stopped cleanly while the tree was stopping (SIGTERM)\(event.pid.map { " (pid \($0))" } ?? ""); "
                    + "restarts so far: \(event.restarts)",
                at: event.at)
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

/// The identity under which the notifier keeps an alert: the sender's key joined with the id of
/// the envelope that carried it.
///
/// A sender's key alone could collide: keys were once built from a clock reading
/// (`safe-mode:HALTED:<t>`), and on the replay clock that reading stands still between market
/// events, so a second HALTED got the first one's key and was dropped as a duplicate. Senders now
/// key an event by their journal sequence (``Alert/event(_:)``), and the notifier does not rely
/// on it either. The envelope id comes from the
/// sender's journaled outbox counter (`risk@main>notifier@main#17`): unique per event sent, and
/// the same only when the bus sends the same event again. So only a true re-send is a duplicate.
public enum AlertIdentity {
    /// The longest envelope id the notifier accepts (longer ones are refused before journaling).
    public static let maximumEnvelopeIDBytes = 200

    /// The alert `message` asks for (an alert, or the P0 a lifecycle event means), keyed by
    /// ``key(_:envelopeID:)``; nil for a message that asks for none.
    public static func alert(in message: Message, envelopeID: String) -> Alert? {
        var alert: Alert
        switch message {
        case .alert(let a): alert = a
        case .lifecycle(let e):
            guard let a = LifecycleAlerts.alert(for: e) else { return nil }
            alert = a
        default: return nil
        }
        alert.key = key(alert.key, envelopeID: envelopeID)
        return alert
    }

    /// `<sender's key>|<envelope id>`.
    public static func key(_ senderKey: String, envelopeID: String) -> String { "\(senderKey)|\(envelopeID)" }
}
