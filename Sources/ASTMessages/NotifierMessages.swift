import ASTCore

/// `astctl status` to ast-notifier: how is the outbox? Answered by ``NotifierStatusReport``.
public struct NotifierStatusRequest: Codable, Sendable, Equatable {
    public init() {}
}

/// ast-notifier's outbox as `astctl status` shows it (also the `notifier` field of
/// `astctl status --json`). Never holds a secret.
public struct NotifierStatusReport: Codable, Sendable, Equatable {
    /// False when no bot token or chat is configured: alerts only wait in the journal.
    public var deliveryEnabled: Bool
    /// Alerts not yet delivered to every chat.
    public var pending: Int
    public var pendingP0: Int
    /// When the oldest undelivered P0 arrived.
    public var oldestPendingP0: Timestamp?
    /// Alerts delivered since the journal began.
    public var delivered: Int
    /// Messages Telegram refused even as plain text, given up (still in the journal).
    public var abandoned: Int
    public var lastDeliveryAt: Timestamp?
    /// The last delivery failure (without the token), or why delivery is off.
    public var lastError: String?
    /// When the next attempt is due while Telegram is backed off from.
    public var nextAttemptAt: Timestamp?
    /// True re-sends of an alert already received, dropped (absent from older notifiers).
    public var duplicates: Int?
    /// Messages sent again, marked "(repeat: delivery unknown)", because an earlier attempt may
    /// have arrived (absent from older notifiers).
    public var repeats: Int?
    /// Chats Telegram refuses (`<chat>: <Telegram's words>`): their alerts wait, the other chats go on.
    public var chatProblems: [String]?

    public init(
        deliveryEnabled: Bool, pending: Int, pendingP0: Int, oldestPendingP0: Timestamp?, delivered: Int, abandoned: Int,
        lastDeliveryAt: Timestamp?, lastError: String?, nextAttemptAt: Timestamp?
    ) {
        self.deliveryEnabled = deliveryEnabled
        self.pending = pending
        self.pendingP0 = pendingP0
        self.oldestPendingP0 = oldestPendingP0
        self.delivered = delivered
        self.abandoned = abandoned
        self.lastDeliveryAt = lastDeliveryAt
        self.lastError = lastError
        self.nextAttemptAt = nextAttemptAt
    }

    enum CodingKeys: String, CodingKey {
        case pending, delivered, abandoned
        case deliveryEnabled = "delivery_enabled"
        case pendingP0 = "pending_p0"
        case oldestPendingP0 = "oldest_pending_p0"
        case lastDeliveryAt = "last_delivery_at"
        case lastError = "last_error"
        case nextAttemptAt = "next_attempt_at"
        case duplicates, repeats
        case chatProblems = "chat_problems"
    }
}
