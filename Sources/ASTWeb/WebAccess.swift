/// Who may act: the operator actions (halt, resume, reconcile) need `Authorization: Bearer
/// <ast_web_token>`, which a page on another site cannot send without a CORS preflight ast-web
/// never answers, and are refused when the request names another origin. Pure: the request's
/// header values in, a decision out.
public struct WebAccess: Sendable {
    /// The configured token's bytes; nil: the dashboard is read-only.
    let token: [UInt8]?

    public init(token: String?) { self.token = token.flatMap { $0.isEmpty ? nil : Array($0.utf8) } }

    public var actionsEnabled: Bool { token != nil }

    /// Why an action request is refused, or nil when it may go ahead.
    public enum Refusal: Equatable, Sendable {
        /// No token is configured: read-only (403).
        case readOnly
        /// No or a wrong bearer token (401).
        case unauthorized
        /// An `Origin` or `Sec-Fetch-Site` that is not this server's own (403).
        case crossOrigin(String)

        public var status: Int {
            switch self {
            case .unauthorized: 401
            case .readOnly, .crossOrigin: 403
            }
        }

        public var message: String {
            switch self {
            case .readOnly: "read-only: no ast_web_token credential is configured"
            case .unauthorized: "a valid bearer token is required (Authorization: Bearer <ast_web_token>)"
            case .crossOrigin(let o): "cross-origin request refused (origin \(o.prefix(100)))"
            }
        }
    }

    /// Checks an action request from its `Authorization`, `Origin`, `Sec-Fetch-Site` and `Host` values.
    public func check(authorization: String?, origin: String?, fetchSite: String?, host: String?) -> Refusal? {
        if let origin {
            let own = host.map { ["http://\($0)", "https://\($0)"] } ?? []
            if !own.contains(origin) { return .crossOrigin(origin) }
        }
        if let fetchSite, fetchSite != "same-origin", fetchSite != "none" { return .crossOrigin(fetchSite) }
        guard let token else { return .readOnly }
        guard let authorization, authorization.hasPrefix("Bearer ") else { return .unauthorized }
        let given = Array(authorization.utf8.dropFirst("Bearer ".utf8.count))
        return Self.constantTimeEqual(given, token) ? nil : .unauthorized
    }

    /// Compares without stopping at the first difference (no timing hint about the token).
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff: UInt8 = a.count == b.count ? 0 : 1
        for i in 0..<max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0xFF)
        }
        return diff == 0
    }
}
