import ASTTestKit
import Foundation
import Testing

/// Secrets reach AST under a real systemd as they do on an installed machine: a root-only file in
/// /etc/credstore, named by `LoadCredential=` in units/ast.service, is readable by the service's
/// user through `$CREDENTIALS_DIRECTORY`, with every sandbox setting of the unit in force.
@Suite(.serialized) struct SystemdCredentialsTests {
    /// units/ast.service run as a oneshot that prints the credentials it was given: its user,
    /// environment, credentials and sandbox, with ExecStart= swapped and the tree's ordering,
    /// notify and failure hooks left out.
    static func probeUnit() throws -> String {
        let production = try String(contentsOfFile: BuildProducts.packageRoot + "/units/ast.service", encoding: .utf8)
        let dropped = [
            "ExecStart=", "Type=", "NotifyAccess=", "WatchdogSec=", "ExecStopPost=", "OnFailure=", "Requires=", "After=",
            "PartOf=", "Restart", "TimeoutAbortSec=",
        ]
        var lines = production.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            .filter { line in !dropped.contains { line.hasPrefix($0) } }
        guard let service = lines.firstIndex(of: "[Service]") else { throw HarnessError("units/ast.service has no [Service]") }
        lines.insert(
            contentsOf: [
                "Type=oneshot",
                "ExecStart=/bin/sh -c 'echo dir=$CREDENTIALS_DIRECTORY; echo telegram=$(cat \"$CREDENTIALS_DIRECTORY/telegram_bot_token\"); id -un'",
            ], at: service + 1)
        return lines.joined(separator: "\n")
    }

    @Test(.enabled(if: SystemdSandbox.isSupported, SystemdSandbox.requirement), .timeLimit(.minutes(3)))
    func aCredentialInTheCredstoreIsReadableByTheServiceUser() async throws {
        let sandbox = try await SystemdSandbox.up()
        defer { sandbox.down() }
        let dir = try TemporaryDirectory(prefix: "ast-credentials")
        defer { dir.remove() }
        try Self.probeUnit().write(toFile: dir("ast-credentials-probe.service"), atomically: true, encoding: .utf8)
        try await sandbox.check(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "ast"])
        try await sandbox.check([
            "sh", "-c", "umask 077 && mkdir -p /etc/credstore && printf '%s\\n' 123456:test-token > /etc/credstore/telegram_bot_token",
        ])
        try await sandbox.installUnits([dir("ast-credentials-probe.service")])
        let start = try await sandbox.exec(["systemctl", "start", "ast-credentials-probe.service"])
        let lines = try await sandbox.journal(unit: "ast-credentials-probe.service").compactMap { $0["MESSAGE"] }
        #expect(start.status == 0, "\(start.stdout)\(start.stderr)\n\(lines.joined(separator: "\n"))")
        #expect(lines.contains("telegram=123456:test-token"), "\(lines.joined(separator: "\n"))")
        #expect(lines.contains("dir=/run/credentials/ast-credentials-probe.service"), "\(lines.joined(separator: "\n"))")
        #expect(lines.contains("ast"), "runs as the ast user: \(lines.joined(separator: "\n"))")
        try await sandbox.shutdownAndCheckNothingIsLeft()
    }
}
