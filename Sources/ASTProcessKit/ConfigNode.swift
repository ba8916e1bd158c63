import ASTCore

/// Where a configuration value came from: a file (and line), or an environment variable.
struct ConfigSource: Sendable, Hashable, CustomStringConvertible {
    enum Origin: Sendable, Hashable {
        /// A YAML file, named as given to the loader.
        case file(String)
        /// An `AST_*` environment variable, by name.
        case variable(String)
        /// Something that is neither, described in words (`the environment argument`).
        case other(String)
    }

    let origin: Origin
    /// 1-based line in the file, when known.
    let line: Int?

    static func file(_ path: String, line: Int?) -> ConfigSource { ConfigSource(origin: .file(path), line: line) }
    static func variable(_ name: String) -> ConfigSource { ConfigSource(origin: .variable(name), line: nil) }

    /// `etc/ast.yaml:12`, `etc/ast.yaml`, `AST_BUS__MAX_FRAME_BYTES`.
    var description: String {
        switch origin {
        case .file(let path): line.map { "\(path):\($0)" } ?? path
        case .variable(let name): name
        case .other(let words): words
        }
    }

    var isVariable: Bool {
        if case .variable = origin { return true }
        return false
    }
}

/// A parsed configuration value that remembers where each part came from.
///
/// Scalars keep their text: they are typed only when decoded, strictly, so that `no` stays the
/// string "no" and `12abc` is never an integer.
struct ConfigNode: Sendable {
    struct Entry: Sendable {
        let key: String
        /// Where the key itself was written (used for "unknown key" reports).
        let keySource: ConfigSource
        var value: ConfigNode
    }

    enum Value: Sendable {
        /// Scalar text. `plain` is false for quoted and block scalars.
        case scalar(String, plain: Bool)
        /// A mapping with its keys in the order written.
        case mapping([Entry])
        case sequence([ConfigNode])
        /// An explicit null (`~`, `null` or nothing at all after the colon).
        case null
    }

    var value: Value
    var source: ConfigSource

    static func emptyMapping(_ source: ConfigSource) -> ConfigNode { ConfigNode(value: .mapping([]), source: source) }

    var isNull: Bool {
        if case .null = value { return true }
        return false
    }

    var entries: [Entry]? {
        if case .mapping(let entries) = value { return entries }
        return nil
    }

    /// The value at `keys` below this node, if every step is a mapping that has the key.
    func child(at keys: some Collection<String>) -> ConfigNode? {
        guard let first = keys.first else { return self }
        guard let entry = entries?.first(where: { $0.key == first }) else { return nil }
        return entry.value.child(at: keys.dropFirst())
    }

    /// The value as shown after "got" in an issue: numbers and booleans as written, other text
    /// quoted (and shortened when long), structures by their kind.
    var shownValue: String {
        switch value {
        case .scalar(let text, _): ConfigNode.show(text: text)
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .null: "null"
        }
    }

    static func show(text: String) -> String {
        if text == "true" || text == "false" || ConfigScalarParsing.isDecimalNumber(text) { return text }
        var shown = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == 60 {
                shown += "..."
                break
            }
            count += 1
            switch scalar {
            case "\"": shown += "\\\""
            case "\\": shown += "\\\\"
            case "\n": shown += "\\n"
            case "\t": shown += "\\t"
            case "\r": shown += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    shown += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    shown.unicodeScalars.append(scalar)
                }
            }
        }
        return "\"" + shown + "\""
    }

    /// Later layers win key by key: mappings merge recursively, anything else (scalars, lists)
    /// is replaced whole. An empty section (null) over a mapping adds nothing.
    static func merge(_ base: ConfigNode, _ over: ConfigNode) -> ConfigNode {
        switch (base.value, over.value) {
        case (.mapping(var merged), .mapping(let overEntries)):
            for entry in overEntries {
                if let index = merged.firstIndex(where: { $0.key == entry.key }) {
                    merged[index] = Entry(
                        key: entry.key, keySource: entry.keySource,
                        value: merge(merged[index].value, entry.value))
                } else {
                    merged.append(entry)
                }
            }
            return ConfigNode(value: .mapping(merged), source: over.source)
        case (.mapping, .null):
            return base
        default:
            return over
        }
    }
}

/// A position in the configuration tree: `bus.allowed_uids[1]`.
struct ConfigPath: Sendable, Hashable, CustomStringConvertible {
    enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    var components: [Component] = []

    static let root = ConfigPath()

    func appending(_ key: String) -> ConfigPath { ConfigPath(components: components + [.key(key)]) }
    func appending(index: Int) -> ConfigPath { ConfigPath(components: components + [.index(index)]) }

    var isRoot: Bool { components.isEmpty }

    /// True when `self` is `other` or lies below it.
    func isWithin(_ other: ConfigPath) -> Bool { components.starts(with: other.components) }

    var description: String {
        var text = ""
        for component in components {
            switch component {
            case .key(let key): text += text.isEmpty ? key : "." + key
            case .index(let index): text += "[\(index)]"
            }
        }
        return text
    }

    var codingKeys: [any CodingKey] {
        components.map {
            switch $0 {
            case .key(let key): ConfigCodingKey(stringValue: key)
            case .index(let index): ConfigCodingKey(intValue: index)
            }
        }
    }
}

struct ConfigCodingKey: CodingKey {
    let stringValue: String
    let intValue: Int?
    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }
    init(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

/// Reads YAML text into a `ConfigNode` with ASTCore's ``YAMLReader`` (no Yams, no Foundation),
/// turning its refusals into one-line issues.
enum ConfigYAML {
    /// Plain scalars that YAML reads as null.
    static let nullTexts: Set<String> = ["", "~", "null", "Null", "NULL"]

    /// What went wrong reading a YAML text, with the 1-based line (and column) when known. Never
    /// contains the text itself (the secrets file is parsed with this too).
    struct SyntaxProblem: Error, Sendable {
        let line: Int?
        var column: Int? = nil
        let problem: String
    }

    /// Parses the bytes of one YAML document. An empty document (or only comments) gives `nil`.
    static func parse(_ bytes: [UInt8], file: String) -> Result<ConfigNode?, SyntaxProblem> {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            let line = firstReplacementCharacterLine(String(decoding: bytes, as: UTF8.self))
            return .failure(SyntaxProblem(line: line, problem: "not UTF-8 text (is it a binary file?)"))
        }
        let root: YAMLNode?
        do {
            root = try YAMLReader.read(bytes, limits: YAMLReader.Limits(maximumDepth: maximumDepth, maximumNodes: maximumNodes))
        } catch {
            return .failure(describe(error, in: bytes))
        }
        guard let root else { return .success(nil) }
        return .success(convert(root, file: file))
    }

    /// Most values (scalars, lists, mappings) one document may hold. AST's whole configuration
    /// has a few hundred.
    static let maximumNodes = 100_000

    /// Deepest nesting of lists and mappings. AST's configuration goes five deep.
    static let maximumDepth = 64

    /// The reader's tree as a `ConfigNode`: plain `~`, `null` and nothing at all are null;
    /// every other scalar keeps its text (typed only when decoded).
    static func convert(_ node: YAMLNode, file: String) -> ConfigNode {
        let source = ConfigSource.file(file, line: node.line)
        switch node.value {
        case .scalar(let text, let style):
            let plain = style == .plain
            if plain && nullTexts.contains(text) { return ConfigNode(value: .null, source: source) }
            return ConfigNode(value: .scalar(text, plain: plain), source: source)
        case .sequence(let items):
            return ConfigNode(value: .sequence(items.map { convert($0, file: file) }), source: source)
        case .mapping(let entries):
            return ConfigNode(
                value: .mapping(
                    entries.map {
                        ConfigNode.Entry(key: $0.key, keySource: .file(file, line: $0.keyLine), value: convert($0.value, file: file))
                    }), source: source)
        }
    }

    private static func describe(_ error: YAMLError, in bytes: [UInt8]) -> SyntaxProblem {
        switch error.kind {
        case .nonScalarKey:
            return SyntaxProblem(line: error.line, column: error.column, problem: error.message)
        case .limit:
            return SyntaxProblem(
                line: error.line, column: error.column,
                problem: "\(error.message); AST configuration needs a few hundred values, a few levels deep")
        case .syntax, .unsupported, .duplicateKey:
            return SyntaxProblem(
                line: error.line, column: error.column, problem: "not valid YAML (\(error.message)\(tabHint(bytes, line: error.line)))")
        }
    }

    /// A tab used for indentation is reported as a character that "cannot start any token" (as
    /// libyaml words it); say what it means.
    private static func tabHint(_ bytes: [UInt8], line: Int) -> String {
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        guard line >= 1, line <= lines.count, lines[line - 1].contains(0x09) else { return "" }
        return "; indent with spaces, YAML does not allow tabs"
    }

    /// The line of the first U+FFFD, which is where decoding replaced bytes that were not UTF-8.
    private static func firstReplacementCharacterLine(_ text: String) -> Int? {
        var line = 1
        for scalar in text.unicodeScalars {
            if scalar == "\u{FFFD}" { return line }
            if scalar == "\n" { line += 1 }
        }
        return nil
    }
}
