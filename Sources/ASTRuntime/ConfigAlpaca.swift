import ASTProcessKit

/// The `alpaca:` section: where `broker@alpaca` reaches Alpaca's Trading API and its
/// `trade_updates` stream. The key id and secret are the secrets `alpaca_key_id` and
/// `alpaca_secret_key` (``SecretStore``), never configuration. PAPER trades only on a non-live
/// host, LIVE only on `https://api.alpaca.markets` with `trading.live_enabled`.
public struct AlpacaConfig: ConfigSection, Equatable {
    /// The Trading API's base URL (https, no trailing slash); the stream is `wss://<host>/stream`.
    public var baseURL: String
    /// A PEM file of certificate authorities to trust instead of the system's (tests); empty: system roots.
    public var caFile: String
    /// Longest wait for one REST answer, connecting included.
    public var requestTimeoutMS: Int
    /// The stream is pinged after this long without a frame from Alpaca ...
    public var streamPingMS: Int
    /// ... and declared dead (reconnected, HALTED until the gap is closed) when nothing answers for this long after the ping.
    public var streamDeadMS: Int
    /// Reconnect back-off of the stream: first delay and cap (doubling).
    public var backoffInitialMS: Int
    public var backoffMaxMS: Int

    public init(
        baseURL: String, caFile: String = "", requestTimeoutMS: Int = 10_000, streamPingMS: Int = 15_000, streamDeadMS: Int = 10_000,
        backoffInitialMS: Int = 1_000, backoffMaxMS: Int = 30_000
    ) {
        self.baseURL = baseURL
        self.caFile = caFile
        self.requestTimeoutMS = requestTimeoutMS
        self.streamPingMS = streamPingMS
        self.streamDeadMS = streamDeadMS
        self.backoffInitialMS = backoffInitialMS
        self.backoffMaxMS = backoffMaxMS
    }

    /// Alpaca's paper host.
    public static let standard = AlpacaConfig(baseURL: "https://paper-api.alpaca.markets")

    enum CodingKeys: String, CodingKey {
        case baseURL = "base_url"
        case caFile = "ca_file"
        case requestTimeoutMS = "request_timeout_ms"
        case streamPingMS = "stream_ping_ms"
        case streamDeadMS = "stream_dead_ms"
        case backoffInitialMS = "backoff_initial_ms"
        case backoffMaxMS = "backoff_max_ms"
    }

    public func validate(_ v: inout ConfigValidator) {
        let lower = baseURL.lowercased()
        v.check(
            lower.hasPrefix("https://") && lower.count > "https://".count && !baseURL.hasSuffix("/") && baseURL.utf8.count <= 200
                && !baseURL.contains(where: { $0.isWhitespace }),
            key: CodingKeys.baseURL, must: "be an https:// URL without a trailing /", got: baseURL)
        v.check(caFile.utf8.count <= 4096, key: CodingKeys.caFile, must: "be a path or empty", got: caFile)
        v.range(requestTimeoutMS, 100...120_000, key: CodingKeys.requestTimeoutMS)
        v.range(streamPingMS, 100...300_000, key: CodingKeys.streamPingMS)
        v.range(streamDeadMS, 100...300_000, key: CodingKeys.streamDeadMS)
        v.range(backoffInitialMS, 10...60_000, key: CodingKeys.backoffInitialMS)
        v.range(backoffMaxMS, backoffInitialMS...600_000, key: CodingKeys.backoffMaxMS)
    }
}
