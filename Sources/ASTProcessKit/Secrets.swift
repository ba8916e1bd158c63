import FoundationEssentials
import Glibc

/// A secret value (a bot token, a broker password) that does not show itself.
///
/// `description`, `debugDescription`, string interpolation, `dump` and `Mirror` all print
/// `<redacted NAME>`; the value is reached only through `withValue`, at the one place that sends it.
public struct Secret: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The secret's name, such as `telegram_bot_token`; safe to log.
    public let name: String
    private let value: String

    /// Wraps `value` under `name`.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    /// Gives `body` the value. Keep what it does with it short: pass it to the one call that
    /// needs it, never to a logger.
    public func withValue<Result, Failure: Error>(_ body: (String) throws(Failure) -> Result) throws(Failure) -> Result {
        try body(value)
    }

    public var description: String { "<redacted \(name)>" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["name": name], displayStyle: .struct) }
}

/// Why a secret could not be had. The message names the secret, the file and what to do; it never
/// contains a secret value.
public struct SecretError: Error, Sendable, CustomStringConvertible {
    /// What kind of problem: nobody configured the secret, it is there but cannot be read, or
    /// what was read is not a valid secret. An operator acts differently on each.
    public enum Kind: String, Sendable {
        /// No such secret was given (no credential, no secrets file, no entry in it).
        case notConfigured = "not configured"
        /// The secret should be there but cannot be read (permissions, I/O).
        case unreadable
        /// It was read and is not a valid secret (empty, not text, not a mapping ...).
        case invalid
    }

    /// What went wrong, without the `secrets: ` prefix.
    public let message: String
    public let kind: Kind

    /// Creates an error; `message` must not contain a secret value.
    public init(_ message: String, kind: Kind = .invalid) {
        self.message = message
        self.kind = kind
    }

    /// `secrets: not configured: ...`, `secrets: unreadable: ...`, or `secrets: ...` for an invalid one.
    public var description: String { kind == .invalid ? "secrets: " + message : "secrets: \(kind.rawValue): " + message }
}

/// Where secrets come from: `$CREDENTIALS_DIRECTORY/<name>` when systemd passes credentials
/// (`LoadCredential=`), otherwise the secrets file, a YAML mapping of names to values that must
/// be a regular file owned by the process's uid with mode 0600. Secrets never come from the
/// configuration or from environment variables.
public struct SecretStore: Sendable {
    /// The credentials directory systemd gave the process, if any; when set, it is the only source.
    public let credentialsDirectory: String?
    /// The secrets file, read only when `credentialsDirectory` is nil.
    public let secretsFile: String

    /// Creates a store that reads `credentialsDirectory` if given, else `secretsFile`.
    public init(credentialsDirectory: String?, secretsFile: String) {
        self.credentialsDirectory = credentialsDirectory.flatMap { $0.isEmpty ? nil : $0 }
        self.secretsFile = secretsFile
    }

    /// The store a process uses: `$CREDENTIALS_DIRECTORY` from `variables`, else `secretsFile`
    /// (the configuration's `secrets_file`).
    public static func fromEnvironment(
        secretsFile: String,
        variables: [String: String] = ProcessInfo.processInfo.environment
    ) -> SecretStore {
        SecretStore(credentialsDirectory: variables["CREDENTIALS_DIRECTORY"], secretsFile: secretsFile)
    }

    /// Reads the secret called `name` (letters, digits, `_`, `-`, `.`).
    public func secret(_ name: String) throws(SecretError) -> Secret {
        guard Self.isSecretName(name) else {
            throw SecretError("\(ConfigNode.show(text: name)) is not a secret name (letters, digits, _, - and . only)")
        }
        if let credentialsDirectory {
            return try fromCredentials(name, directory: credentialsDirectory)
        }
        return try fromSecretsFile(name)
    }

    private func fromCredentials(_ name: String, directory: String) throws(SecretError) -> Secret {
        let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
        switch ConfigFileSystem.readFile(path) {
        case .missing, .symbolicLink:
            throw SecretError(
                "\(name) is not in $CREDENTIALS_DIRECTORY (\(path) does not exist); "
                    + "put it in /etc/credstore/\(name) (root, mode 0600) for LoadCredential=\(name) of the unit",
                kind: .notConfigured)
        case .failed(let reason):
            // systemd makes the credentials directory readable by the service when it passes a
            // credential: a directory the process cannot search means none was passed.
            if access(directory, R_OK | X_OK) != 0 {
                throw SecretError(
                    "\(name): systemd passed no credential ($CREDENTIALS_DIRECTORY \(directory) cannot be searched: "
                        + "\(String(cString: strerror(errno)))); put it in /etc/credstore/\(name) (root, mode 0600)",
                    kind: .notConfigured)
            }
            // systemd passes credentials as regular files: anything else there is a fault to fix.
            throw SecretError("\(path) \(reason)", kind: .unreadable)
        case .bytes(let bytes, _):
            guard var value = String(validating: bytes, as: UTF8.self) else {
                throw SecretError("\(path) is not UTF-8 text")
            }
            while value.hasSuffix("\n") || value.hasSuffix("\r") || value.hasSuffix("\r\n") { value.removeLast() }
            guard !value.isEmpty else { throw SecretError("\(path) is empty") }
            return Secret(name: name, value: value)
        }
    }

    /// Checks, at start, the secrets file the process would read: when `$CREDENTIALS_DIRECTORY`
    /// is not set and the file exists, it must be a regular file (not a symbolic link) owned by
    /// the process's uid with mode 0600, and a YAML mapping. A missing file is fine here (a
    /// secret that is needed and missing is refused where it is read).
    public func checkSecretsFile() throws(SecretError) {
        guard credentialsDirectory == nil else { return }
        let path = secretsFile
        switch ConfigFileSystem.readFile(path, followSymbolicLinks: false, check: ownerAndMode(path)) {
        case .missing:
            return
        case .symbolicLink:
            throw SecretError("\(path) is a symbolic link; secrets_file must name the file itself")
        case .failed(let reason):
            throw SecretError("\(path) \(reason)")
        case .bytes(let bytes, _):
            switch ConfigYAML.parse(bytes, file: path) {
            case .failure(let syntax):
                throw SecretError("\(syntax.line.map { "\(path) line \($0)" } ?? path): \(syntax.problem)")
            case .success(let root):
                guard root == nil || root?.entries != nil else {
                    throw SecretError("\(path) must hold a mapping of secret names to values (name: value)")
                }
            }
        }
    }

    private func ownerAndMode(_ path: String) -> (stat) -> String? {
        let uid = ConfigFileSystem.effectiveUID
        return { status in
            if status.st_uid != uid {
                return "is owned by uid \(status.st_uid) but this process runs as uid \(uid); run: chown \(uid) \(path)"
            }
            let mode = UInt32(status.st_mode) & 0o7777
            if mode != 0o600 {
                return "has mode \(Self.octal(mode)) but must have mode 0600 (only its owner may read or write it); run: chmod 600 \(path)"
            }
            return nil
        }
    }

    private func fromSecretsFile(_ name: String) throws(SecretError) -> Secret {
        let path = secretsFile
        let outcome = ConfigFileSystem.readFile(path, followSymbolicLinks: false, check: ownerAndMode(path))
        let bytes: [UInt8]
        switch outcome {
        case .missing:
            throw SecretError(
                "\(name) is needed but the secrets file \(path) does not exist and $CREDENTIALS_DIRECTORY is not set; "
                    + "create it with mode 0600 holding \(name): <value>, or pass the secret with LoadCredential=",
                kind: .notConfigured)
        case .symbolicLink:
            throw SecretError("\(path) is a symbolic link; secrets_file must name the file itself")
        case .failed(let reason):
            throw SecretError("\(path) \(reason)", kind: reason.hasPrefix("cannot be read") ? .unreadable : .invalid)
        case .bytes(let read, _):
            bytes = read
        }

        let root: ConfigNode?
        switch ConfigYAML.parse(bytes, file: path) {
        case .failure(let syntax):
            // The problem text comes from libyaml and names no content, so no secret leaks here.
            throw SecretError("\(syntax.line.map { "\(path) line \($0)" } ?? path): \(syntax.problem)")
        case .success(let node):
            root = node
        }
        guard let root, let entries = root.entries else {
            throw SecretError("\(path) must hold a mapping of secret names to values (name: value)")
        }
        guard let entry = entries.first(where: { $0.key == name }) else {
            throw SecretError("\(name) is not in \(path); add a line \(name): <value> to it", kind: .notConfigured)
        }
        switch entry.value.value {
        case .scalar(let value, _) where !value.isEmpty:
            return Secret(name: name, value: value)
        case .scalar, .null:
            throw SecretError("\(name) in \(entry.keySource) is empty")
        case .mapping, .sequence:
            throw SecretError("\(name) in \(entry.keySource) must be a single string value")
        }
    }

    private static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    private static func isSecretName(_ name: String) -> Bool {
        name != "." && name != ".." && !name.isEmpty
            && name.utf8.allSatisfy {
                (0x61...0x7A).contains($0) || (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) || "_-.".utf8.contains($0)
            }
    }
}

/// What every process checks once its configuration has loaded, before it starts anything:
/// the secrets file is as documented, and LIVE trading has its broker credentials.
public enum StartupChecks {
    /// Why the process must not start (exit 78), or nil.
    public static func refusal(
        _ config: TreeConfig,
        variables: [String: String] = ProcessInfo.processInfo.environment
    ) -> String? {
        let store = SecretStore.fromEnvironment(secretsFile: config.secretsFile, variables: variables)
        do {
            try store.checkSecretsFile()
        } catch {
            return "\(error)"
        }
        if config.tradingInEffect.mode == .live {
            let brokers = config.supervisor.children.map(\.name).filter { $0.hasPrefix("broker@") }
            do {
                for name in liveCredentialNames(brokers: brokers) { _ = try store.secret(name) }
            } catch {
                return "trading.mode is LIVE but the broker credentials are missing: \(error)"
            }
        }
        return nil
    }

    /// The secrets LIVE trading needs for these broker processes: broker@alpaca its key pair (the
    /// names its client reads), any other broker `broker_api_key`, as does a tree that names none.
    public static func liveCredentialNames(brokers: [String]) -> [String] {
        var names: [String] = []
        for broker in brokers.isEmpty ? [""] : brokers {
            let needed = broker == "broker@alpaca" ? ["alpaca_key_id", "alpaca_secret_key"] : ["broker_api_key"]
            for name in needed where !names.contains(name) { names.append(name) }
        }
        return names
    }
}
