import ASTRuntime
import ASTTestKit
import ASTWeb
import Foundation
import Testing

/// The reports directory is served read-only and never a byte outside it.
@Suite struct ReportFilesTests {
    /// root/backtest-1/{summary.json, report.md}, a symlink out of the root (to a directory and to a
    /// file), a symlink inside it, and a secret beside the root.
    static func layout() throws -> (TemporaryDirectory, ReportFiles) {
        let dir = try TemporaryDirectory(prefix: "ast-reports")
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir("reports/backtest-1"), withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir("outside"), withIntermediateDirectories: true)
        try "{\"total_return\": 0.1}".write(toFile: dir("reports/backtest-1/summary.json"), atomically: true, encoding: .utf8)
        try "# Backtest\n".write(toFile: dir("reports/backtest-1/report.md"), atomically: true, encoding: .utf8)
        try "secret".write(toFile: dir("outside/secret.md"), atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: dir("reports/escape"), withDestinationPath: dir("outside"))
        try fm.createSymbolicLink(atPath: dir("reports/backtest-1/leak.md"), withDestinationPath: dir("outside/secret.md"))
        try fm.createSymbolicLink(atPath: dir("reports/backtest-1/relative.md"), withDestinationPath: "../../outside/secret.md")
        try fm.createSymbolicLink(atPath: dir("reports/alias"), withDestinationPath: dir("reports/backtest-1"))
        return (dir, ReportFiles(root: dir("reports")))
    }

    @Test func aReportAndItsFilesInsideTheDirectoryAreServed() throws {
        let (dir, files) = try Self.layout()
        defer { dir.remove() }
        #expect(files.read("backtest-1", file: "report.md").map { String(decoding: $0, as: UTF8.self) } == "# Backtest\n")
        let entry = try #require(files.entry("backtest-1"))
        #expect(entry.kind == "backtest" && entry.files == ["report.md", "summary.json"], "\(entry)")
        // A symlink that stays inside the directory is the report it points at.
        #expect(files.read("alias", file: "summary.json") != nil)
    }

    @Test(arguments: [
        ("..", "outside/secret.md"), ("../outside", "secret.md"), ("backtest-1/..", "backtest-1/report.md"), (".", "backtest-1"),
        ("escape", "secret.md"), ("backtest-1", "leak.md"), ("backtest-1", "relative.md"), ("backtest-1", "../../outside/secret.md"),
        ("backtest-1", ".."), ("backtest-1", ""), ("", "report.md"), ("backtest-1%2F..", "report.md"), ("backtest-1", "missing.md"),
    ])
    func nothingOutsideTheDirectoryIsEverRead(_ name: String, _ file: String) throws {
        let (dir, files) = try Self.layout()
        defer { dir.remove() }
        #expect(files.read(name, file: file) == nil, "\(name)/\(file) must not be served")
    }

    @Test func theListingShowsNoSymlinkOutNorItsFiles() throws {
        let (dir, files) = try Self.layout()
        defer { dir.remove() }
        let names = files.list().map(\.name)
        #expect(!names.contains("escape") && names.contains("backtest-1"), "\(names)")
        #expect(files.entry("escape") == nil)
        #expect(files.list().allSatisfy { !$0.files.contains("leak.md") && !$0.files.contains("relative.md") })
    }
}

/// A report's HTML gets the dashboard's policy with its inline styles allowed by hash only
/// (hashes computed independently with Python's hashlib: base64 of SHA-256 of the block's text).
@Suite struct ReportPolicyTests {
    @Test func eachInlineStyleBlockIsAllowedByItsHashAndNothingElseIsLoosened() {
        let html = "<html><head><style>body{color:red}</style><style>\n  h1 { margin: 0 }\n</style></head><body></body></html>"
        let policy = ReportFiles.policy(forHTML: Data(html.utf8))
        #expect(
            policy.contains(
                "style-src 'self' 'sha256-FcQqt3aNlV7AZnGV4zkQRVeCeJOxbMPnQSx258L803E=' 'sha256-9O0FWquLU5Rf/IFtTpMAgBpswACHZDO7sxlx0xbH0yc=';"
            ),
            "\(policy)")
        #expect(!policy.contains("unsafe"), "\(policy)")
        #expect(
            policy.contains("script-src 'self';") && policy.contains("default-src 'none';") && policy.contains("frame-ancestors 'none'"))
    }

    @Test func htmlWithoutInlineStyleGetsTheDashboardsPolicy() {
        let policy = ReportFiles.policy(forHTML: Data("<p>plain</p>".utf8))
        #expect(policy.contains("style-src 'self';") && !policy.contains("sha256-"), "\(policy)")
    }
}

@Suite struct WebQueryTests {
    @Test(arguments: ["2025-07-01.breakout.AAPL", "appr-2025-07-01.ma_crossover.BRK.B", "2025-07-01.breakout.AAPL.E", "AAPL"])
    func correlationIdsOfTheTreeAreAccepted(_ id: String) { #expect(JournalViews.validCorrelation(id)) }

    @Test(arguments: ["", "a b", "<script>", "x/../y", String(repeating: "a", count: 201), "ÄAPL", "a\u{0}b"])
    func anythingElseIsRefusedBeforeAJournalIsOpened(_ id: String) { #expect(!JournalViews.validCorrelation(id)) }

    @Test func datesAreIsoDays() {
        #expect(JournalViews.validDate("2025-07-01"))
        for bad in ["2025-7-1", "20250701", "2025-07-01T00", "abcd-ef-gh", ""] { #expect(!JournalViews.validDate(bad), "\(bad)") }
    }
}

/// HTTPS when a certificate is configured, and never plain HTTP instead of it.
@Suite struct WebListenerTests {
    @Test func withoutACertificateTheListenerIsPlainHTTP() throws {
        #expect(try WebListener(.standard).scheme == "http")
    }

    @Test func aReadableCertificateAndKeyMakeHTTPS() throws {
        let dir = try TemporaryDirectory(prefix: "ast-webtls")
        defer { dir.remove() }
        let certs = try TestCertificates(directory: dir("tls"))
        var config = WebConfig.standard
        config.tlsCertificate = certs.certificateFile
        config.tlsKey = certs.keyFile
        #expect(try WebListener(config).scheme == "https")
    }

    @Test func anUnreadableCertificateOrKeyStopsTheStartAndNamesTheFile() throws {
        let dir = try TemporaryDirectory(prefix: "ast-webtls")
        defer { dir.remove() }
        let certs = try TestCertificates(directory: dir("tls"))
        try "not a certificate\n".write(toFile: dir("garbage.pem"), atomically: true, encoding: .utf8)
        let cases: [(String, String, String)] = [
            (dir("missing.pem"), certs.keyFile, "web.tls_certificate"), (dir("garbage.pem"), certs.keyFile, "web.tls_certificate"),
            (dir("tls"), certs.keyFile, "web.tls_certificate"), (certs.certificateFile, dir("missing.key"), "web.tls_key"),
            (certs.certificateFile, dir("garbage.pem"), "web.tls_key"),
            // A key that is not the certificate's.
            (certs.certificateFile, dir("tls/ca.key"), "do not make a TLS context"),
        ]
        for (certificate, key, named) in cases {
            var config = WebConfig.standard
            config.tlsCertificate = certificate
            config.tlsKey = key
            #expect(throws: WebTLSError.self, "\(certificate) \(key)") { try WebListener(config) }
            do {
                _ = try WebListener(config)
            } catch {
                #expect(error.description.contains(named) && error.description.contains("never falls back to plain HTTP"), "\(error)")
            }
        }
    }
}
