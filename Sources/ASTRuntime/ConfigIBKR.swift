/// The `ibkr:` section: where `broker@ibkr` (and `ast ibkr`) reach TWS or IB Gateway's API
/// socket. Paper ports by default: 7497 (TWS) and 4002 (IB Gateway); live ones are 7496/4001.
public struct IBKRConfig: ConfigSection, Equatable {
    /// TWS or IB Gateway's host; it must list this machine under the API's trusted IPs.
    public var host: String
    public var port: Int
    /// The API client id; each connection to one TWS needs its own (326 otherwise).
    public var clientId: Int
    /// The account to trade; empty: the only account TWS manages (refused when it manages several).
    public var account: String
    /// The exchange orders route to (`SMART`) and the stocks' primary exchange when known (empty).
    public var exchange: String
    /// The nightly restart: its start in UTC (`HH:MM`, or `HH:MM:SS`; empty for none) and its length
    /// in minutes (or in seconds with `restart_window_seconds`, which wins when above 0). A disconnect
    /// inside it is planned: reconnection waits for its end, no back-off, no halt and no P0 (orders
    /// wait until the broker is back and reconciled).
    public var restartWindowStartUTC: String
    public var restartWindowMinutes: Int
    public var restartWindowSeconds: Int
    /// The minimum price increment orders are rounded to (U.S. stocks: 0.01 at or above $1).
    public var minimumTick: String

    public init(
        host: String, port: Int, clientId: Int, account: String = "", exchange: String = "SMART", restartWindowStartUTC: String = "",
        restartWindowMinutes: Int = 0, minimumTick: String = "0.01", restartWindowSeconds: Int = 0
    ) {
        self.host = host
        self.port = port
        self.clientId = clientId
        self.account = account
        self.exchange = exchange
        self.restartWindowStartUTC = restartWindowStartUTC
        self.restartWindowMinutes = restartWindowMinutes
        self.restartWindowSeconds = restartWindowSeconds
        self.minimumTick = minimumTick
    }

    /// IB Gateway's paper port on this machine.
    public static let standard = IBKRConfig(host: "127.0.0.1", port: 4002, clientId: 1)

    enum CodingKeys: String, CodingKey {
        case host, port, account, exchange
        case clientId = "client_id"
        case restartWindowStartUTC = "restart_window_start_utc"
        case restartWindowMinutes = "restart_window_minutes"
        case restartWindowSeconds = "restart_window_seconds"
        case minimumTick = "minimum_tick"
    }

    /// Every key as written, `restart_window_seconds` optional (0: the minutes count).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        host = try c.decode(String.self, forKey: .host)
        port = try c.decode(Int.self, forKey: .port)
        clientId = try c.decode(Int.self, forKey: .clientId)
        account = try c.decode(String.self, forKey: .account)
        exchange = try c.decode(String.self, forKey: .exchange)
        restartWindowStartUTC = try c.decode(String.self, forKey: .restartWindowStartUTC)
        restartWindowMinutes = try c.decode(Int.self, forKey: .restartWindowMinutes)
        restartWindowSeconds = try c.decodeIfPresent(Int.self, forKey: .restartWindowSeconds) ?? 0
        minimumTick = try c.decode(String.self, forKey: .minimumTick)
    }

    /// The restart window's start as seconds of the day (UTC), nil when none is configured or it is
    /// not `HH:MM` or `HH:MM:SS`.
    public var restartWindowStartSecond: Int? {
        let parts = restartWindowStartUTC.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3, parts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isASCII) }),
            let h = Int(parts[0]), let m = Int(parts[1]), let sec = parts.count == 3 ? Int(parts[2]) : 0,
            (0..<24).contains(h), (0..<60).contains(m), (0..<60).contains(sec)
        else { return nil }
        return h * 3600 + m * 60 + sec
    }

    /// The restart window's length: `restart_window_seconds` when above 0, else the minutes.
    public var restartWindowDuration: Duration {
        restartWindowSeconds > 0 ? .seconds(restartWindowSeconds) : .seconds(restartWindowMinutes * 60)
    }

    public func validate(_ v: inout ConfigValidator) {
        v.check(
            !host.isEmpty && host.utf8.count <= 253 && !host.contains(where: { $0.isWhitespace }), key: CodingKeys.host,
            must: "be a host name or address", got: host)
        v.range(port, 1...65_535, key: CodingKeys.port)
        v.range(clientId, 0...Int(Int32.max), key: CodingKeys.clientId)
        v.check(
            account.utf8.count <= 32 && account.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }), key: CodingKeys.account,
            must: "be an IB account id (letters and digits) or empty", got: account)
        v.check(
            !exchange.isEmpty && exchange.utf8.count <= 16 && exchange.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }),
            key: CodingKeys.exchange, must: "be an exchange code such as SMART", got: exchange)
        v.check(
            restartWindowStartUTC.isEmpty || restartWindowStartSecond != nil, key: CodingKeys.restartWindowStartUTC,
            must: "be HH:MM or HH:MM:SS (UTC) or empty", got: restartWindowStartUTC)
        v.range(restartWindowMinutes, 0...240, key: CodingKeys.restartWindowMinutes)
        v.range(restartWindowSeconds, 0...14_400, key: CodingKeys.restartWindowSeconds)
        let tick = Double(minimumTick) ?? 0
        v.check(
            tick >= 0.0001 && tick <= 1 && minimumTick.count <= 8, key: CodingKeys.minimumTick,
            must: "be a price step between 0.0001 and 1",
            got: minimumTick)
    }
}
