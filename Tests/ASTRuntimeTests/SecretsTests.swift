import Foundation
import Testing

@testable import ASTProcessKit
@testable import ASTRuntime

@Suite("Secrets: credentials directory, secrets file, redaction")
struct SecretsTests {
    static let value = "123456:AAH-very-secret"

    private func reveal(_ secret: Secret) -> String { secret.withValue { $0 } }

    private func errorText(_ store: SecretStore, _ name: String) -> String? {
        do throws(SecretError) {
            _ = try store.secret(name)
            return nil
        } catch {
            return error.description
        }
    }

    @Test(arguments: ["\n", "\r\n", "", "\n\n"])
    func credentialComesFromCredentialsDirectoryWithoutTrailingNewline(_ ending: String) throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("telegram_bot_token", Self.value + ending, mode: 0o400)
            let store = SecretStore(credentialsDirectory: dir.path, secretsFile: "/nonexistent/secrets.yaml")
            #expect(reveal(try store.secret("telegram_bot_token")) == Self.value)
        }
    }

    @Test func credentialsDirectoryIsTheOnlySourceWhenSet() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("secrets.yaml", "telegram_bot_token: \(Self.value)\n", mode: 0o600)
            try FileManager.default.createDirectory(atPath: dir.file("credentials"), withIntermediateDirectories: false)
            let store = SecretStore.fromEnvironment(
                secretsFile: dir.file("secrets.yaml"),
                variables: ["CREDENTIALS_DIRECTORY": dir.file("credentials")])
            #expect(
                errorText(store, "telegram_bot_token") == """
                    secrets: not configured: telegram_bot_token is not in $CREDENTIALS_DIRECTORY (\(dir.path)/credentials/telegram_bot_token does not exist); \
                    put it in /etc/credstore/telegram_bot_token (root, mode 0600) for LoadCredential=telegram_bot_token of the unit
                    """)
        }
    }

    @Test func noCredentialIsNotConfiguredAndAnUnreadableOneIsUnreadable() throws {
        try ConfigTestDirectory.with { dir in
            // systemd passed no credential at all: the directory it names does not exist.
            let none = SecretStore(credentialsDirectory: dir.file("no-such-credentials"), secretsFile: dir.file("secrets.yaml"))
            do {
                _ = try none.secret("telegram_bot_token")
                Issue.record("a missing credential was found")
            } catch let error as SecretError {
                #expect(error.kind == .notConfigured, "\(error)")
                #expect("\(error)".hasPrefix("secrets: not configured: "), "\(error)")
                #expect(!"\(error)".contains("Permission denied"))
            }
            // A credential that is there but cannot be read (here a directory: EISDIR, also as root).
            try FileManager.default.createDirectory(atPath: dir.file("credentials/telegram_bot_token"), withIntermediateDirectories: true)
            let broken = SecretStore(credentialsDirectory: dir.file("credentials"), secretsFile: dir.file("secrets.yaml"))
            do {
                _ = try broken.secret("telegram_bot_token")
                Issue.record("a directory was read as a credential")
            } catch let error as SecretError {
                #expect(error.kind == .unreadable, "\(error)")
                #expect("\(error)".hasPrefix("secrets: unreadable: "), "\(error)")
            }
        }
    }

    @Test func secretsFileWithMode0600IsReadWhenNoCredentialsDirectory() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("secrets.yaml", "# bot\ntelegram_bot_token: \"\(Self.value)\"\nbroker_password: hunter2\n", mode: 0o600)
            let store = SecretStore.fromEnvironment(secretsFile: dir.file("secrets.yaml"), variables: [:])
            #expect(store.credentialsDirectory == nil)
            #expect(reveal(try store.secret("telegram_bot_token")) == Self.value)
            #expect(reveal(try store.secret("broker_password")) == "hunter2")
        }
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o660, 0o400, 0o700, 0o4600])
    func secretsFileWithAnyOtherModeIsRefused(_ mode: Int) throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("secrets.yaml", "telegram_bot_token: \(Self.value)\n", mode: mode)
            let path = dir.file("secrets.yaml")
            let shown = String(repeating: "0", count: 4 - String(mode, radix: 8).count) + String(mode, radix: 8)
            let text = errorText(SecretStore(credentialsDirectory: nil, secretsFile: path), "telegram_bot_token")
            #expect(
                text == """
                    secrets: \(path) has mode \(shown) but must have mode 0600 (only its owner may read or write it); run: chmod 600 \(path)
                    """)
        }
    }

    @Test(.enabled(if: geteuid() == 0, "only root can give a file to another uid"))
    func secretsFileOwnedBySomeoneElseIsRefused() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("secrets.yaml", "telegram_bot_token: \(Self.value)\n", mode: 0o600)
            let path = dir.file("secrets.yaml")
            #expect(chown(path, 65534, 65534) == 0)
            #expect(
                errorText(SecretStore(credentialsDirectory: nil, secretsFile: path), "telegram_bot_token") == """
                    secrets: \(path) is owned by uid 65534 but this process runs as uid 0; run: chown 0 \(path)
                    """)
        }
    }

    @Test func secretsFileThatIsASymbolicLinkIsRefused() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("real.yaml", "telegram_bot_token: \(Self.value)\n", mode: 0o600)
            try FileManager.default.createSymbolicLink(atPath: dir.file("secrets.yaml"), withDestinationPath: dir.file("real.yaml"))
            #expect(
                errorText(SecretStore(credentialsDirectory: nil, secretsFile: dir.file("secrets.yaml")), "telegram_bot_token") == """
                    secrets: \(dir.path)/secrets.yaml is a symbolic link; secrets_file must name the file itself
                    """)
        }
    }

    @Test func missingSecretsFileSaysWhatToDo() throws {
        try ConfigTestDirectory.with { dir in
            let path = dir.file("secrets.yaml")
            #expect(
                errorText(SecretStore(credentialsDirectory: nil, secretsFile: path), "telegram_bot_token") == """
                    secrets: not configured: telegram_bot_token is needed but the secrets file \(path) does not exist and $CREDENTIALS_DIRECTORY is not set; \
                    create it with mode 0600 holding telegram_bot_token: <value>, or pass the secret with LoadCredential=
                    """)
        }
    }

    @Test func secretMissingFromTheSecretsFileIsNamed() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("secrets.yaml", "broker_password: \(Self.value)\n", mode: 0o600)
            let path = dir.file("secrets.yaml")
            #expect(
                errorText(SecretStore(credentialsDirectory: nil, secretsFile: path), "telegram_bot_token") == """
                    secrets: not configured: telegram_bot_token is not in \(path); add a line telegram_bot_token: <value> to it
                    """)
        }
    }

    @Test(arguments: [
        ("telegram_bot_token: [\(value), x]\n", "telegram_bot_token in FILE:1 must be a single string value"),
        ("telegram_bot_token:\n", "telegram_bot_token in FILE:1 is empty"),
        ("telegram_bot_token: \(value)\n  : broken\n", "FILE line 2: not valid YAML"),
        ("\(value)\n", "FILE must hold a mapping of secret names to values (name: value)"),
        ("- telegram_bot_token: \(value)\n", "FILE must hold a mapping of secret names to values (name: value)"),
        ("telegram_bot_token: \(value)\ntelegram_bot_token: \(value)\n", "FILE line 2: not valid YAML (duplicate key telegram_bot_token"),
    ])
    func malformedSecretsFileErrorsNeverContainTheValue(_ text: String, _ expectedStart: String) throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("secrets.yaml", text, mode: 0o600)
            let path = dir.file("secrets.yaml")
            let message = try #require(errorText(SecretStore(credentialsDirectory: nil, secretsFile: path), "telegram_bot_token"))
            #expect(message.hasPrefix("secrets: " + expectedStart.replacingOccurrences(of: "FILE", with: path)), "\(message)")
            #expect(!message.contains(Self.value))
            #expect(!message.contains("AAH"))
        }
    }

    @Test func secretNeverShowsItsValue() {
        let secret = Secret(name: "telegram_bot_token", value: Self.value)
        var dumped = ""
        dump(secret, to: &dumped)
        let renderings = [
            secret.description, secret.debugDescription, "\(secret)", String(describing: secret),
            String(reflecting: secret), dumped, "\([secret])", "\(Optional(secret) as Any)",
            Mirror(reflecting: secret).children.map { "\($0.label ?? ""): \($0.value)" }.joined(),
        ]
        for rendering in renderings {
            #expect(!rendering.contains(Self.value), "\(rendering)")
        }
        #expect(secret.description == "<redacted telegram_bot_token>")
        #expect(String(reflecting: secret) == "<redacted telegram_bot_token>")
        #expect(reveal(secret) == Self.value)
    }

    @Test(arguments: ["../etc/passwd", "a/b", "", "..", "token value"])
    func secretNamesThatCouldEscapeTheDirectoryAreRefused(_ name: String) throws {
        let store = SecretStore(credentialsDirectory: "/run/credentials/ast.service", secretsFile: "/nonexistent")
        #expect(errorText(store, name) == "secrets: \(ConfigNode.show(text: name)) is not a secret name (letters, digits, _, - and . only)")
    }

    @Test func emptyCredentialIsRefused() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("telegram_bot_token", "\n")
            #expect(
                errorText(SecretStore(credentialsDirectory: dir.path, secretsFile: "/nonexistent"), "telegram_bot_token")
                    == "secrets: \(dir.path)/telegram_bot_token is empty")
        }
    }
}
