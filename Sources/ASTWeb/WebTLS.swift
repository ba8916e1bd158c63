import ASTRuntime
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL

/// Why ast-web cannot serve HTTPS as configured. It then does not start: a configured
/// certificate never falls back to plain HTTP.
public struct WebTLSError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// How ast-web's listener speaks: plain HTTP/1.1, or HTTPS (TLS 1.2+ through swift-nio-ssl) when
/// `web.tls_certificate` and `web.tls_key` are set.
public struct WebListener: Sendable {
    let server: HTTPServerBuilder
    /// `http` or `https`.
    public let scheme: String

    /// Reads and checks the certificate and key now, at start, so that a bad one stops ast-web
    /// with an error that names the file instead of failing each connection later.
    public init(_ config: WebConfig) throws(WebTLSError) {
        guard config.tlsEnabled else {
            server = .http1()
            scheme = "http"
            return
        }
        let refused = "ast-web does not start (it never falls back to plain HTTP)"
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(config.tlsCertificate)
        } catch {
            throw WebTLSError("web.tls_certificate \(config.tlsCertificate) is not a readable PEM certificate chain (\(error)): \(refused)")
        }
        guard !chain.isEmpty else { throw WebTLSError("web.tls_certificate \(config.tlsCertificate) holds no certificate: \(refused)") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: config.tlsKey, format: .pem)
        } catch {
            throw WebTLSError("web.tls_key \(config.tlsKey) is not a readable PEM private key (\(error)): \(refused)")
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        do {
            // Builds the context now: a key that does not belong to the certificate is refused here.
            _ = try NIOSSLContext(configuration: tls)
            server = try .tls(.http1(), tlsConfiguration: tls)
        } catch {
            throw WebTLSError(
                "web.tls_certificate \(config.tlsCertificate) and web.tls_key \(config.tlsKey) do not make a TLS context (\(error)): \(refused)"
            )
        }
        scheme = "https"
    }
}
