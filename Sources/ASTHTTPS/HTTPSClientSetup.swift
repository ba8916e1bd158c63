import AsyncHTTPClient
import NIOCore
import NIOSSL

/// The one TLS and HTTPS client setup every client of an outside service uses (Telegram, Polygon,
/// Alpaca's REST API and its stream): certificates fully verified, TLS 1.2 at least, and an optional
/// CA file that replaces the system's roots (for a private CA, or a test's fake server); over HTTP,
/// no redirect is followed (a redirect must never re-send a POST) and connect and read time out.
public enum HTTPSClientSetup {
    /// Client TLS settings; `caFileKey` names the setting in the error (`notifier.telegram.ca_file`).
    public static func tls(caFile: String?, caFileKey: String) throws(HTTPSSetupError) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .fullVerification
        tls.minimumTLSVersion = .tlsv12
        guard let caFile else { return tls }
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(caFile)
        } catch {
            throw HTTPSSetupError("\(caFileKey) \(caFile) cannot be read as PEM certificates: \(error)")
        }
        guard !certificates.isEmpty else {
            throw HTTPSSetupError("\(caFileKey) \(caFile) cannot be read as PEM certificates: no certificate in it")
        }
        tls.trustRoots = .certificates(certificates)
        return tls
    }

    /// An async-http-client configuration over ``tls(caFile:caFileKey:)``: no redirects, `requestTimeout`
    /// to connect and to read.
    public static func http(caFile: String?, caFileKey: String, requestTimeout: Duration) throws(HTTPSSetupError)
        -> HTTPClient.Configuration
    {
        var configuration = HTTPClient.Configuration(tlsConfiguration: try tls(caFile: caFile, caFileKey: caFileKey))
        configuration.timeout = .init(connect: .init(requestTimeout), read: .init(requestTimeout))
        configuration.redirectConfiguration = .disallow
        return configuration
    }
}

/// Why a client's TLS could not be set up, in words that name the setting.
public struct HTTPSSetupError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) { self.description = description }
}
