import Foundation
import Testing

@testable import ASTProcessKit
@testable import ASTRuntime

/// Every kind of configuration problem, with the exact text an operator sees.
@Suite("Config errors: exact operator messages")
struct ConfigErrorTests {
    static let busKeys =
        "ack_timeout_ms, allowed_uids, connect_backoff_initial_ms, connect_backoff_max_ms, hello_timeout_ms, "
        + "idle_timeout_ms, max_connections, max_frame_bytes, refusal_budget, refusal_interval_ms"
    static let rootKeys =
        "alpaca, bus, clock, environment, ibkr, journal, logging, marketdata, notifier, paper_broker, risk, runtime_dir, secrets_file, state_dir, strategy, supervisor, trading, web"
    static let secretHint = "(secrets belong in $CREDENTIALS_DIRECTORY or the secrets file, never in the config)"

    @Test func outOfRangeValueNamesKeyRangeValueAndLine() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            try dir.write("ast.local.yaml", "# small frames\nbus:\n  max_frame_bytes: 512\n")
            #expect(
                dir.errorText() == """
                    config: bus.max_frame_bytes must be between 1024 and 67108864 (got 512) in \(dir.path)/ast.local.yaml:3
                    """)
        }
    }

    @Test func unknownKeyIsRefusedWithFileAndAllowedKeys() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            try dir.write("ast.local.yaml", "bus:\n  max_frame_byts: 2048\n")
            #expect(
                dir.errorText() == """
                    config: unknown key bus.max_frame_byts in \(dir.path)/ast.local.yaml:2 (allowed here: \(Self.busKeys))
                    """)
        }
    }

    @Test func unknownKeyFromAVariableNamesTheVariable() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            #expect(
                dir.errorText(variables: ["AST_JOURNAL__BATCH": "5"]) == """
                    config: unknown key journal.batch in AST_JOURNAL__BATCH (allowed here: batch_limit, checkpoint_every, disk_check_interval_ms, disk_max_journal_mb, disk_min_free_mb, flush_interval_ms)
                    """)
        }
    }

    @Test func wrongTypeFromAVariableNamesTheVariable() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            #expect(
                dir.errorText(variables: ["AST_BUS__MAX_FRAME_BYTES": "big"]) == """
                    config: bus.max_frame_bytes must be an integer (got "big") in AST_BUS__MAX_FRAME_BYTES
                    """)
        }
    }

    @Test(arguments: [
        ("  max_frame_bytes: 12abc", #"bus.max_frame_bytes must be an integer (got "12abc") in BASE:7"#),
        ("  max_frame_bytes: 1_048_576", #"bus.max_frame_bytes must be an integer (got "1_048_576") in BASE:7"#),
        ("  max_frame_bytes: 0x100000", #"bus.max_frame_bytes must be an integer (got "0x100000") in BASE:7"#),
        ("  max_frame_bytes: 1.5", "bus.max_frame_bytes must be an integer (got 1.5) in BASE:7"),
        (
            "  max_frame_bytes: 99999999999999999999",
            "bus.max_frame_bytes must be an integer between -9223372036854775808 and 9223372036854775807 (got 99999999999999999999) in BASE:7"
        ),
        ("  max_frame_bytes:", "bus.max_frame_bytes must be an integer (got null) in BASE:7"),
        ("  max_frame_bytes: [1]", "bus.max_frame_bytes must be an integer (got a list) in BASE:7"),
        ("  allowed_uids: [-1]", "bus.allowed_uids[0] must be an integer between 0 and 4294967295 (got -1) in BASE:8"),
        ("  allowed_uids: 1000", "bus.allowed_uids must be a list (got 1000) in BASE:8"),
        ("  allowed_uids: [4294967295]", "bus.allowed_uids[0] must be between 0 and 4294967294 (got 4294967295) in BASE:8"),
        ("  level: loud", #"logging.level must be one of trace, debug, info, notice, warning, error, critical (got "loud") in BASE:5"#),
        ("environment: prod", #"environment must be one of development, test, production (got "prod") in BASE:1"#),
        ("runtime_dir: {a: 1}", "runtime_dir must be a string (got a mapping) in BASE:2"),
        ("state_dir: ''", #"state_dir must not be empty (got "") in BASE:3"#),
        (
            "  connect_backoff_max_ms: 10",
            "bus.connect_backoff_max_ms must be at least 50, the value of bus.connect_backoff_initial_ms (got 10) in BASE:10"
        ),
    ])
    func wrongValueInTheBaseIsRefusedWithLine(_ line: String, _ expected: String) throws {
        try ConfigTestDirectory.with { dir in
            let key = String(line.trimmingCharacters(in: .whitespaces).prefix { $0 != ":" })
            try dir.write("ast.yaml", base(replacing: key, with: line))
            let expectedText = "config: " + expected.replacingOccurrences(of: "BASE", with: dir.file("ast.yaml"))
            #expect(dir.errorText() == expectedText)
        }
    }

    @Test(arguments: [
        ("flag: yes", #"flag must be true or false (got "yes") in BASE:1"#),
        ("flag: True", #"flag must be true or false (got "True") in BASE:1"#),
        ("flag: 1", "flag must be true or false (got 1) in BASE:1"),
        ("ratio: .nan", #"ratio must be a number (got ".nan") in BASE:2"#),
        ("ratio: 1e400", "ratio must be a number (got \"1e400\") in BASE:2"),
        ("ratio: 1.5", "ratio must be between 0.0 and 1.0 (got 1.5) in BASE:2"),
        ("name: ~", "name must be a string (got null) in BASE:3"),
        ("count: '-'", #"count must be an integer (got "-") in BASE:4"#),
        ("optional: four", #"optional must be an integer (got "four") in BASE:6"#),
    ])
    func scalarsAreParsedStrictly(_ line: String, _ expected: String) throws {
        try ConfigTestDirectory.with { dir in
            let lines = ["flag: true", "ratio: 0.5", "name: x", "count: 1", "kind: test", "optional: 4"]
            let key = line.prefix { $0 != ":" }
            try dir.write("ast.yaml", lines.map { $0.hasPrefix(key + ":") ? line : $0 }.joined(separator: "\n"))
            let expectedText = "config: " + expected.replacingOccurrences(of: "BASE", with: dir.file("ast.yaml"))
            #expect(dir.errorText(ProbeConfig.self) == expectedText)
        }
    }

    @Test func missingKeyListsTheLayersThatWereRead() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", base(replacing: "batch_limit", with: "  # batch_limit: gone"))
            try dir.write("ast.local.yaml", "logging:\n  level: debug\n")
            #expect(
                dir.errorText() == """
                    config: journal.batch_limit is required (in no layer: \(dir.path)/ast.yaml, \(dir.path)/ast.local.yaml, AST_* variables)
                    """)
        }
    }

    @Test func missingSectionIsReportedOnceNotKeyByKey() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase.replacingOccurrences(of: "logging:\n  level: info\n", with: ""))
            #expect(
                dir.errorText() == """
                    config: logging is required (in no layer: \(dir.path)/ast.yaml, AST_* variables)
                    """)
        }
    }

    @Test func missingBaseFileIsOneClearError() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.local.yaml", "bus:\n  max_frame_bytes: 2048\n")
            #expect(
                dir.errorText() == """
                    config: \(dir.path)/ast.yaml does not exist; it is the base configuration and gives every key its value \
                    (AST_CONFIG_DIR names the directory that holds it)
                    """)
        }
    }

    @Test func severalProblemsAreReportedTogether() throws {
        try ConfigTestDirectory.with { dir in
            var text = base(replacing: "batch_limit", with: "  batch_limit: 0")
            text = text.replacingOccurrences(of: "  level: info\n", with: "")
            try dir.write("ast.yaml", text)
            try dir.write("ast.local.yaml", "bus:\n  max_frame_byts: 2048\n  hello_timeout_ms: soon\n")
            let base = dir.file("ast.yaml"), local = dir.file("ast.local.yaml")
            #expect(
                dir.errorText(variables: ["AST_BUS__MAX_FRAME_BYTES": "big", "AST_JOURNAL__FLUSH_INTERVAL_MS": "0"]) == """
                    config: logging.level is required (in no layer: \(base), \(local), AST_* variables)
                    config: bus.max_frame_bytes must be an integer (got "big") in AST_BUS__MAX_FRAME_BYTES
                    config: bus.hello_timeout_ms must be an integer (got "soon") in \(local):3
                    config: unknown key bus.max_frame_byts in \(local):2 (allowed here: \(Self.busKeys))
                    config: journal.batch_limit must be between 1 and 100000 (got 0) in \(base):13
                    config: journal.flush_interval_ms must be between 1 and 60000 (got 0) in AST_JOURNAL__FLUSH_INTERVAL_MS
                    """)
        }
    }

    @Test func syntaxErrorsOfEveryLayerAreReportedWithTheirLines() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            try dir.write("ast.development.yaml", "bus:\n  max_frame_bytes: 1\n   ack_timeout_ms: 2\n")
            try dir.write("ast.local.yaml", "bus: max_frame_bytes: 1\n")
            #expect(
                dir.errorText() == """
                    config: \(dir.path)/ast.development.yaml line 3: not valid YAML (mapping values are not allowed in this context)
                    config: \(dir.path)/ast.local.yaml line 1: not valid YAML (mapping values are not allowed in this context)
                    """)
        }
    }

    @Test(arguments: [
        (
            "binary bytes", [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0xFF, 0xFE, 0x00] as [UInt8],
            "line 1: not UTF-8 text (is it a binary file?)"
        ),
        (
            "a NUL byte", Array("environment: development\nruntime_dir: /run\0\n".utf8),
            "line 2: not valid YAML (control characters are not allowed)"
        ),
        (
            "tab indentation", Array("bus:\n\tmax_frame_bytes: 1\n".utf8),
            "line 2: not valid YAML (found character that cannot start any token; indent with spaces, YAML does not allow tabs)"
        ),
        (
            "a list at the top level", Array("- environment: development\n- bus: {}\n".utf8),
            "line 1: the top level must be a mapping of keys (got a list)"
        ),
        (
            "a bare word", Array("production\n".utf8),
            #"line 1: the top level must be a mapping of keys (got "production")"#
        ),
        (
            "a duplicate key", Array("bus: {}\nlogging: {}\nbus: {}\n".utf8),
            "line 3: not valid YAML (duplicate key bus; a key may appear only once in a mapping)"
        ),
        (
            "two documents", Array("bus: {}\n---\nbus: {}\n".utf8),
            "line 2: not valid YAML (expected a single document in the stream but found another document)"
        ),
        (
            "a list as a key", Array("? [a, b]\n: 1\n".utf8),
            "line 1: a key must be a plain name, not a list or a mapping"
        ),
    ])
    func garbageInALayerIsRefusedClearly(_ what: String, _ bytes: [UInt8], _ expected: String) throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            try dir.write("ast.local.yaml", bytes: bytes)
            #expect(dir.errorText() == "config: \(dir.path)/ast.local.yaml \(expected)", "\(what)")
        }
    }

    @Test func unreadableLayerIsReported() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            try FileManager.default.createDirectory(atPath: dir.file("ast.local.yaml"), withIntermediateDirectories: false)
            #expect(dir.errorText() == "config: \(dir.path)/ast.local.yaml is a directory")
        }
    }

    @Test func secretLookingKeyIsUnknownWithAHintAndNoValue() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase + "telegram:\n  chat: 42\n  bot_token: 123456:SECRETVALUE\n")
            try dir.write("ast.local.yaml", "bus:\n  api_key: SECRETVALUE\n")
            let text = try #require(dir.errorText(variables: ["AST_BROKER_PASSWORD": "SECRETVALUE"]))
            #expect(
                text == """
                    config: unknown key telegram in \(dir.path)/ast.yaml:\(validBase.filter { $0 == "\n" }.count + 1) (allowed here: \(Self.rootKeys)) \(Self.secretHint)
                    config: unknown key broker_password in AST_BROKER_PASSWORD (allowed here: \(Self.rootKeys)) \(Self.secretHint)
                    config: unknown key bus.api_key in \(dir.path)/ast.local.yaml:2 (allowed here: \(Self.busKeys)) \(Self.secretHint)
                    """)
            #expect(!text.contains("SECRETVALUE"))
        }
    }

    @Test(arguments: ["secrets_fil", "tokenizer_mode", "state", "secretary"])
    func keysThatMerelyResembleSecretsGetNoSecretHint(_ key: String) throws {
        #expect(!ConfigDecodingSession.looksLikeSecret(key: key))
    }

    @Test(arguments: ["bot_token", "password", "db_passwd", "client_secret", "secret", "api_key", "apikey", "telegram.bot_token"])
    func keysNamedLikeCredentialsGetTheSecretHint(_ key: String) throws {
        #expect(ConfigDecodingSession.looksLikeSecret(key: key))
    }

    @Test(arguments: [
        (["AST_BUS__": "1"], "AST_BUS__ does not name a config key"),
        (["AST_BUS___MAX": "1"], "AST_BUS___MAX does not name a config key"),
        (["AST_": "1"], "AST_ does not name a config key"),
        (["AST_BUS.MAX": "1"], "AST_BUS.MAX does not name a config key"),
    ])
    func malformedVariableNamesAreRefused(_ variables: [String: String], _ start: String) throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            #expect(
                dir.errorText(variables: variables) == "config: " + start
                    + ": after AST_, use letters, digits and _ with __ between levels (AST_BUS__MAX_FRAME_BYTES sets bus.max_frame_bytes)")
        }
    }

    @Test func variablesSettingAValueAndASectionAtOnceAreRefused() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            #expect(
                dir.errorText(variables: ["AST_BUS": "x", "AST_BUS__MAX_FRAME_BYTES": "2048"]) == """
                    config: AST_BUS__MAX_FRAME_BYTES and AST_BUS both set bus.max_frame_bytes or a key around it; keep one of them
                    """)
        }
    }

    @Test func environmentKeyDisagreeingWithASTEnvIsRefused() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            try dir.write("ast.local.yaml", "environment: test\n")
            #expect(
                dir.errorText(variables: ["AST_ENV": "production"]) == """
                    config: environment is "test" in \(dir.path)/ast.local.yaml:1 but AST_ENV selects "production" \
                    (the environment is chosen by AST_ENV, else by environment in \(dir.path)/ast.yaml)
                    """)
        }
    }

    @Test func environmentNotInTheListIsRefusedNamingASTEnv() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            #expect(
                dir.errorText(variables: ["AST_ENV": "staging"]) == """
                    config: environment must be one of development, test, production (got "staging") in AST_ENV
                    """)
            #expect(
                dir.errorText(variables: ["AST_ENV": "../../tmp/x"]) == """
                    config: AST_ENV must be a plain name such as production (lowercase letters, digits, - and _) (got "../../tmp/x")
                    """)
        }
    }

    @Test func productionRequiresAbsolutePaths() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            try dir.write("ast.local.yaml", "state_dir: var/state\nsecrets_file: secrets.yaml\n")
            #expect(
                dir.errorText(environment: "production") == """
                    config: state_dir must be an absolute path in production (got "var/state") in \(dir.path)/ast.local.yaml:1
                    config: secrets_file must be an absolute path in production (got "secrets.yaml") in \(dir.path)/ast.local.yaml:2
                    """)
            #expect(dir.errorText(environment: "development") == nil)
        }
    }

    @Test func overlongRuntimeDirIsRefused() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            let long = "/run/" + String(repeating: "a", count: 76)
            #expect(
                dir.errorText(variables: ["AST_RUNTIME_DIR": long]) == """
                    config: runtime_dir must be at most 80 bytes long so socket paths fit in a Unix socket address \
                    (got "/run/\(String(repeating: "a", count: 55))...") in AST_RUNTIME_DIR
                    """)
        }
    }

    @Test func sectionGivenAsAValueIsRefused() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            #expect(
                dir.errorText(variables: ["AST_JOURNAL": "5"]) == """
                    config: journal must be a mapping of keys (got 5) in AST_JOURNAL
                    """)
        }
    }

    @Test func aValueAlreadyReportedIsNotRangeCheckedToo() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            #expect(
                dir.errorText(variables: ["AST_BUS__CONNECT_BACKOFF_INITIAL_MS": "fast"]) == """
                    config: bus.connect_backoff_initial_ms must be an integer (got "fast") in AST_BUS__CONNECT_BACKOFF_INITIAL_MS
                    """)
        }
    }

    @Test func keysInAListOfMappingsAreCheckedElementByElement() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write(
                "ast.yaml",
                """
                children:
                  - name: a
                    weight: 2
                    colour: red
                  - nam: c
                    weight: 8
                """)
            #expect(
                dir.errorText(ListProbe.self) == """
                    config: children[1].name is required (in no layer: \(dir.path)/ast.yaml, AST_* variables)
                    config: unknown key children[0].colour in \(dir.path)/ast.yaml:4 (allowed here: name, weight)
                    config: unknown key children[1].nam in \(dir.path)/ast.yaml:5 (allowed here: name, weight)
                    """)
        }
    }

    @Test func sectionsInAListAreValidatedWithTheirIndex() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", "children:\n  - name: a\n    weight: 2\n  - name: ''\n    weight: 4\n")
            #expect(
                dir.errorText(ListProbe.self) == """
                    config: children[1].name must not be empty (got "") in \(dir.path)/ast.yaml:4
                    """)
        }
    }

    @Test func aTypeThatRefusesItsValueIsReportedInItsOwnWords() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", "children:\n  - name: a\n    weight: 3\n")
            #expect(
                dir.errorText(ListProbe.self) == """
                    config: children[0].weight must be a power of two (got 3) in \(dir.path)/ast.yaml:3
                    """)
        }
    }

    @Test func errorListsEachIssueWithItsKeyPath() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            do throws(ConfigError) {
                _ = try dir.loader(variables: ["AST_BUS__ACK_TIMEOUT_MS": "0", "AST_LOGGING__LEVEL": "loud"]).load(ASTConfig.self)
                Issue.record("loaded a configuration with two bad values")
            } catch {
                #expect(error.issues.map(\.keyPath) == ["logging.level", "bus.ack_timeout_ms"])
            }
        }
    }
}

/// A section with a list of mappings and a type that validates itself while decoding.
struct ListProbe: ConfigSection {
    struct Child: ConfigSection {
        var name: String
        var weight: PowerOfTwo

        func validate(_ v: inout ConfigValidator) {
            v.check(!name.isEmpty, key: CodingKeys.name, must: "not be empty", got: name)
        }
    }

    struct PowerOfTwo: Decodable, Sendable {
        var value: Int

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            value = try container.decode(Int.self)
            guard value > 0, value & (value - 1) == 0 else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be a power of two")
            }
        }
    }

    var children: [Child]

    func validate(_ v: inout ConfigValidator) {
        v.sections(children, key: CodingKeys.children)
    }
}

/// The `notifier:` section: exact operator messages for its values.
@Suite("Config errors: notifier")
struct NotifierConfigErrorTests {
    static let notifier = """
        notifier:
          telegram:
            base_url: http://api.telegram.org
            ca_file: ""
            request_timeout_ms: 10000
            min_interval_ms: 0
            burst: 3
            backoff_initial_ms: 5000
            backoff_max_ms: 1000

        """

    @Test func aPlainHTTPBaseURLAndOutOfRangePacingAreRefusedOneLineEach() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            try dir.write("ast.local.yaml", Self.notifier)
            #expect(
                dir.errorText() == """
                    config: notifier.telegram.base_url must be an https:// URL (the bot token travels in it) (got "http://api.telegram.org") in \(dir.path)/ast.local.yaml:3
                    config: notifier.telegram.min_interval_ms must be between 1 and 60000 (got 0) in \(dir.path)/ast.local.yaml:6
                    config: notifier.telegram.backoff_max_ms must be at least 5000, the value of notifier.telegram.backoff_initial_ms (got 1000) in \(dir.path)/ast.local.yaml:9
                    """)
        }
    }

    @Test func aConfigurationWithoutANotifierSectionUsesTheShippedValues() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            #expect(dir.errorText() == nil)
        }
    }
}
