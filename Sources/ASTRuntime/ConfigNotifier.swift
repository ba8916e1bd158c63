/// The `notifier:` section: how ast-notifier delivers alerts. The bot token and the chat ids are
/// secrets (`telegram_bot_token`, `telegram_chat_ids`), never configuration.
public struct NotifierConfig: ConfigSection, Equatable {
    public var telegram: TelegramConfig

    public init(telegram: TelegramConfig) {
        self.telegram = telegram
    }

    enum CodingKeys: String, CodingKey {
        case telegram
    }

    /// The values etc/ast.yaml ships, for a configuration that has no `notifier:` section.
    public static let shipped = NotifierConfig(
        telegram: TelegramConfig(
            baseURL: "https://api.telegram.org", caFile: "", requestTimeoutMs: 10_000, minIntervalMs: 1000, burst: 3,
            backoffInitialMs: 1000, backoffMaxMs: 60_000))

    public func validate(_ v: inout ConfigValidator) {
        v.section(telegram, key: CodingKeys.telegram)
    }
}

/// `notifier.telegram`: the Bot API endpoint, its trust roots, pacing and retries.
public struct TelegramConfig: ConfigSection, Equatable {
    /// The Bot API's base URL; must be https.
    public var baseURL: String
    /// A PEM file of CAs to trust instead of the system's trust roots; empty: the system's.
    public var caFile: String
    /// Longest wait for one answer from Telegram, in milliseconds.
    public var requestTimeoutMs: Int
    /// Per private chat, at most one message per this many milliseconds once the burst is spent.
    public var minIntervalMs: Int
    /// Per private chat, messages that may leave back to back.
    public var burst: Int
    /// Per group or channel (a `-…` id or an `@name`), the same; absent: 3000 (Telegram's 20 a minute).
    public var groupIntervalMs: Int?
    /// Per group or channel, messages that may leave back to back; absent: 1.
    public var groupBurst: Int?
    /// First back-off after a 5xx or a network error, in milliseconds; doubles up to the maximum.
    public var backoffInitialMs: Int
    public var backoffMaxMs: Int
    /// Whether allow-listed chats may give commands (/status, /positions, /halt, /resume); absent: true.
    public var commands: Bool?
    /// The long-poll `timeout` of `getUpdates`, in seconds (1 ... 50); absent: 25.
    public var pollTimeoutS: Int?
    /// How long a `/resume` waits for its confirmation code, in seconds (10 ... 3600); absent: 120.
    public var confirmTtlS: Int?

    public init(
        baseURL: String, caFile: String, requestTimeoutMs: Int, minIntervalMs: Int, burst: Int,
        backoffInitialMs: Int, backoffMaxMs: Int
    ) {
        self.baseURL = baseURL
        self.caFile = caFile
        self.requestTimeoutMs = requestTimeoutMs
        self.minIntervalMs = minIntervalMs
        self.burst = burst
        self.backoffInitialMs = backoffInitialMs
        self.backoffMaxMs = backoffMaxMs
    }

    enum CodingKeys: String, CodingKey {
        case burst
        case baseURL = "base_url"
        case caFile = "ca_file"
        case requestTimeoutMs = "request_timeout_ms"
        case minIntervalMs = "min_interval_ms"
        case groupIntervalMs = "group_interval_ms"
        case groupBurst = "group_burst"
        case backoffInitialMs = "backoff_initial_ms"
        case backoffMaxMs = "backoff_max_ms"
        case commands
        case pollTimeoutS = "poll_timeout_s"
        case confirmTtlS = "confirm_ttl_s"
    }

    public func validate(_ v: inout ConfigValidator) {
        let scheme = baseURL.lowercased()
        v.check(
            scheme.hasPrefix("https://") && scheme.count > "https://".count, key: CodingKeys.baseURL,
            must: "be an https:// URL (the bot token travels in it)", got: baseURL)
        v.check(!baseURL.hasSuffix("/"), key: CodingKeys.baseURL, must: "not end with /", got: baseURL)
        v.range(requestTimeoutMs, 100...300_000, key: CodingKeys.requestTimeoutMs)
        v.range(minIntervalMs, 1...60_000, key: CodingKeys.minIntervalMs)
        v.range(burst, 1...30, key: CodingKeys.burst)
        if let groupIntervalMs { v.range(groupIntervalMs, 1...600_000, key: CodingKeys.groupIntervalMs) }
        if let groupBurst { v.range(groupBurst, 1...20, key: CodingKeys.groupBurst) }
        v.range(backoffInitialMs, 1...600_000, key: CodingKeys.backoffInitialMs)
        v.range(backoffMaxMs, 1...3_600_000, key: CodingKeys.backoffMaxMs)
        v.atLeast(backoffMaxMs, key: CodingKeys.backoffMaxMs, backoffInitialMs, minimumKey: CodingKeys.backoffInitialMs)
        if let pollTimeoutS { v.range(pollTimeoutS, 1...50, key: CodingKeys.pollTimeoutS) }
        if let confirmTtlS { v.range(confirmTtlS, 10...3600, key: CodingKeys.confirmTtlS) }
    }
}
