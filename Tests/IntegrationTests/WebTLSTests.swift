import ASTTestKit
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// ast-web with `web.tls_certificate`/`tls_key`: HTTPS only, and a certificate it cannot read
/// stops it at start with an error naming the file, never a fallback to plain HTTP. ast-web runs
/// alone (started by hand, as WorkerRuntime allows): TLS needs no tree, and a tree costs seconds.
@Suite(.serialized) struct WebTLSTests {
    @Test(.timeLimit(.minutes(2)))
    func aConfiguredCertificateServesHTTPSOnlyAndAnUnreadableOneStopsTheStartNamed() async throws {
        let dir = try TemporaryDirectory(prefix: "ast-webtls")
        defer { dir.remove() }
        let certs = try TestCertificates(directory: dir("tls"))
        let port = WebFixture.freePort()
        func start(certificate: String, name: String) throws -> ChildProcess {
            try ChildProcess(
                try BuildProducts.executable("ast-web"), ["--instance", "main"],
                environment: [
                    "PATH": "/usr/bin:/bin", "AST_CONFIG_DIR": BuildProducts.packageRoot + "/etc", "AST_ENV": "test",
                    "AST_RUNTIME_DIR": dir("run"), "AST_STATE_DIR": dir("state"), "AST_SECRETS_FILE": dir("no-secrets.yaml"),
                    "AST_WEB__PORT": String(port), "AST_WEB__TLS_CERTIFICATE": certificate, "AST_WEB__TLS_KEY": certs.keyFile,
                ], name: name, outputDirectory: dir.path)
        }
        /// curl's exit code and the HTTP status it printed (000: no HTTP answer).
        func curl(_ arguments: [String]) async throws -> (Int32?, String) {
            let c = try ChildProcess(
                "/usr/bin/env", ["curl", "-sS", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}"] + arguments,
                environment: ["PATH": "/usr/bin:/bin"], name: "curl-\(UUID().uuidString.prefix(8))", outputDirectory: dir.path)
            return (ChildProcess.exitCode(try await c.waitForExit(timeout: .seconds(20))), c.stdout)
        }
        let url = "https://127.0.0.1:\(port)/api/v1/openapi.json"

        let web = try start(certificate: certs.certificateFile, name: "ast-web-tls")
        var seen = "-"
        do {
            try await eventuallyAsync(timeout: .seconds(60), every: .milliseconds(200), "ast-web to answer over https") {
                guard web.isRunning else { throw HarnessError("ast-web exited: \(web.stderrTail)") }
                let (code, status) = try await curl(["--cacert", certs.caFile, url])
                seen = "curl exit \(code ?? -1), HTTP \(status)"
                return code == 0 && status == "200"
            }
        } catch {
            Issue.record("last seen: \(seen); ast-web: \(web.stderrTail)")
            throw error
        }
        // The test CA's certificate, host name checked; another CA is refused; plain HTTP gets no page.
        #expect(try await curl(["--cacert", certs.otherCAFile, url]).1 == "000", "a certificate from another CA is not trusted")
        let plain = try await curl(["http://127.0.0.1:\(port)/api/v1/openapi.json"])
        #expect(plain.1 == "000", "plain HTTP on the TLS port gets no HTTP answer: \(plain)")
        web.signal(SIGTERM)
        _ = try await web.waitForExit(timeout: .seconds(20))

        // A configured certificate that cannot be read: ast-web stops before it listens, and says why.
        try "not a certificate\n".write(toFile: dir("tls/broken.pem"), atomically: true, encoding: .utf8)
        for (certificate, name) in [(dir("tls/broken.pem"), "broken"), (dir("tls/missing.pem"), "missing")] {
            let refused = try start(certificate: certificate, name: "ast-web-\(name)")
            let status = try await refused.waitForExit(timeout: .seconds(30))
            #expect(ChildProcess.exitCode(status) != 0, "ast-web with a \(name) certificate must not start")
            #expect(
                refused.stderr.contains("web.tls_certificate \(certificate)") && refused.stderr.contains("never falls back to plain HTTP"),
                "the error names the certificate: \(refused.stderrTail)")
            let after = try await curl(["http://127.0.0.1:\(port)/api/v1/openapi.json"])
            #expect(after.1 == "000", "nothing serves plain HTTP instead: \(after)")
        }
    }
}
