/// The `web:` section: where ast-web, the dashboard, listens. Loopback by default: the pages show
/// the book, and the operator actions need the `ast_web_token` credential as well.
public struct WebConfig: ConfigSection, Equatable {
    /// The address to bind (an IPv4 or IPv6 literal; `127.0.0.1` by default).
    public var address: String
    /// The TCP port (1 ... 65535; 0: any free port, which ast-web names in its status line, for tests).
    public var port: Int
    /// How often the live updates (Server-Sent Events) look at Safe Mode and the fills, in ms.
    public var liveIntervalMs: Int
    /// A PEM certificate chain: when set (with ``tlsKey``), ast-web serves HTTPS only, and an
    /// unreadable file stops it at start (never a fallback to plain HTTP). Empty: plain HTTP.
    public var tlsCertificate: String
    /// The PEM private key of ``tlsCertificate``.
    public var tlsKey: String
    /// The reports ast-web lists and shows (run, daily and backtest reports, one directory each);
    /// empty: `<state_dir>/reports`, where `astctl report` and ast-strategy write them.
    public var reportsDir: String

    public init(
        address: String, port: Int, liveIntervalMs: Int, tlsCertificate: String = "", tlsKey: String = "", reportsDir: String = ""
    ) {
        self.address = address
        self.port = port
        self.liveIntervalMs = liveIntervalMs
        self.tlsCertificate = tlsCertificate
        self.tlsKey = tlsKey
        self.reportsDir = reportsDir
    }

    /// What ast-web uses when the section is absent.
    public static let standard = WebConfig(address: "127.0.0.1", port: 8787, liveIntervalMs: 250)

    /// Whether HTTPS is configured.
    public var tlsEnabled: Bool { !tlsCertificate.isEmpty || !tlsKey.isEmpty }

    /// The reports directory, `<stateDir>/reports` when none is configured.
    public func reportsDirectory(stateDir: String) -> String { reportsDir.isEmpty ? stateDir + "/reports" : reportsDir }

    enum CodingKeys: String, CodingKey {
        case address, port
        case liveIntervalMs = "live_interval_ms"
        case tlsCertificate = "tls_certificate"
        case tlsKey = "tls_key"
        case reportsDir = "reports_dir"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        address = try c.decode(String.self, forKey: .address)
        port = try c.decode(Int.self, forKey: .port)
        liveIntervalMs = try c.decode(Int.self, forKey: .liveIntervalMs)
        tlsCertificate = try c.decodeIfPresent(String.self, forKey: .tlsCertificate) ?? ""
        tlsKey = try c.decodeIfPresent(String.self, forKey: .tlsKey) ?? ""
        reportsDir = try c.decodeIfPresent(String.self, forKey: .reportsDir) ?? ""
    }

    public func validate(_ v: inout ConfigValidator) {
        let literal = address.allSatisfy { $0.isHexDigit || $0 == "." || $0 == ":" }
        v.check(
            !address.isEmpty && address.utf8.count <= 64 && literal, key: CodingKeys.address,
            must: "be an IP address literal such as 127.0.0.1 or ::1", got: address)
        v.range(port, 0...65_535, key: CodingKeys.port)
        v.range(liveIntervalMs, 50...10_000, key: CodingKeys.liveIntervalMs)
        v.check(
            tlsCertificate.isEmpty == tlsKey.isEmpty, key: CodingKeys.tlsKey,
            must: "be set together with tls_certificate (both or neither)", got: tlsKey.isEmpty ? "empty" : "set")
        for (path, key) in [(tlsCertificate, CodingKeys.tlsCertificate), (tlsKey, .tlsKey), (reportsDir, .reportsDir)] {
            v.check(path.isEmpty || path.hasPrefix("/"), key: key, must: "be an absolute path (or empty)", got: path)
        }
    }
}
