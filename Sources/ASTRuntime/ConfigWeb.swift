/// The `web:` section: where ast-web, the dashboard, listens. Loopback by default: the pages show
/// the book, and the operator actions need the `ast_web_token` credential as well.
public struct WebConfig: ConfigSection, Equatable {
    /// The address to bind (an IPv4 or IPv6 literal; `127.0.0.1` by default).
    public var address: String
    /// The TCP port (1 ... 65535).
    public var port: Int
    /// How often the live updates (Server-Sent Events) look at Safe Mode and the fills, in ms.
    public var liveIntervalMs: Int

    public init(address: String, port: Int, liveIntervalMs: Int) {
        self.address = address
        self.port = port
        self.liveIntervalMs = liveIntervalMs
    }

    /// What ast-web uses when the section is absent.
    public static let standard = WebConfig(address: "127.0.0.1", port: 8787, liveIntervalMs: 250)

    enum CodingKeys: String, CodingKey {
        case address, port
        case liveIntervalMs = "live_interval_ms"
    }

    public func validate(_ v: inout ConfigValidator) {
        let literal = address.allSatisfy { $0.isHexDigit || $0 == "." || $0 == ":" }
        v.check(
            !address.isEmpty && address.utf8.count <= 64 && literal, key: CodingKeys.address,
            must: "be an IP address literal such as 127.0.0.1 or ::1", got: address)
        v.range(port, 1...65_535, key: CodingKeys.port)
        v.range(liveIntervalMs, 50...10_000, key: CodingKeys.liveIntervalMs)
    }
}
