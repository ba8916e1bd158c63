import ASTTestKit
import Foundation
import Testing

@testable import ASTProcessKit
@testable import ASTRuntime

/// How the operator's commands (astctl, ast) find their configuration without being told:
/// AST_CONFIG_DIR > ./etc in a checkout > /etc/ast with the production settings. The system
/// directory is a parameter, so these tests need no root.
@Suite struct ConfigDiscoveryTests {
    /// Stages `scripts/install` into a temporary DESTDIR (no root, no build) and returns the
    /// staged /etc/ast. What is checked is the configuration it installs, so the executables it
    /// copies are empty stand-ins (the debug build's weigh ~600 MB).
    static func stagedInstall(_ dir: ConfigTestDirectory) throws -> String {
        let products = dir.file("products")
        try FileManager.default.createDirectory(atPath: products, withIntermediateDirectories: true)
        for name in [
            "astd", "astctl", "ast-marketdata", "ast-strategy", "ast-risk", "ast-broker", "ast-reconciler", "ast-notifier", "ast-web",
        ] {
            FileManager.default.createFile(atPath: products + "/" + name, contents: Data(), attributes: [.posixPermissions: 0o755])
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BuildProducts.packageRoot + "/scripts/install")
        process.arguments = ["--destdir", dir.file("root"), "--products", products]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "scripts/install --destdir said: \(text)")
        return dir.file("root/etc/ast")
    }

    /// One staged install (it copies the executables) serves both checks.
    @Test func anInstalledMachineGetsNoDevelopmentSettingsAndAstctlFindsProductionThere() throws {
        try ConfigTestDirectory.with { dir in
            let etc = try Self.stagedInstall(dir)
            let files = try FileManager.default.contentsOfDirectory(atPath: etc).sorted()
            #expect(files == ["ast.production.yaml", "ast.yaml"])
            try FileManager.default.createDirectory(atPath: dir.file("home"), withIntermediateDirectories: true)
            let loader = ConfigLoader.discover([:], workingDirectory: dir.file("home"), systemDirectory: etc)
            #expect(loader.directory == etc)
            let config = try loader.load(ASTConfig.self)
            #expect(config.environment == .production)
            #expect(config.runtimeDir == "/run/ast", "the sockets systemd holds, not ./run")
            #expect(config.stateDir == "/var/lib/ast")
        }
    }

    @Test func aCheckoutUsesItsOwnEtcAndTheVariableWinsOverBoth() throws {
        try ConfigTestDirectory.with { dir in
            try FileManager.default.createDirectory(atPath: dir.file("checkout/etc"), withIntermediateDirectories: true)
            try Data("environment: development\n".utf8).write(to: URL(fileURLWithPath: dir.file("checkout/etc/ast.yaml")))
            let checkout = ConfigLoader.discover([:], workingDirectory: dir.file("checkout"), systemDirectory: dir.file("system"))
            #expect(checkout.directory == dir.file("checkout/etc"))
            #expect(checkout.environment == nil, "a checkout keeps the base file's environment (development)")
            let explicit = ConfigLoader.discover(
                ["AST_CONFIG_DIR": dir.file("elsewhere")], workingDirectory: dir.file("checkout"), systemDirectory: dir.file("system"))
            #expect(explicit.directory == dir.file("elsewhere"))
            #expect(explicit.environment == nil)
            let other = ConfigLoader.discover(["AST_ENV": "test"], workingDirectory: dir.path, systemDirectory: dir.file("system"))
            #expect(other.directory == dir.file("system"))
            #expect(other.environment == "test", "AST_ENV still chooses the environment of /etc/ast")
        }
    }
}
