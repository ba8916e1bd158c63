import Yams

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

/// Reads YAML text into a `ConfigNode`, turning Yams' errors into one-line issues.
enum ConfigYAML {
    /// Plain scalars that YAML reads as null.
    static let nullTexts: Set<String> = ["", "~", "null", "Null", "NULL"]

    /// What went wrong reading a YAML text, with the 1-based line when known. Never contains the
    /// text itself (the secrets file is parsed with this too).
    struct SyntaxProblem: Error, Sendable {
        let line: Int?
        let problem: String
    }

    /// Parses the bytes of one YAML document. An empty document (or only comments) gives `nil`.
    static func parse(_ bytes: [UInt8], file: String) -> Result<ConfigNode?, SyntaxProblem> {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            let line = firstReplacementCharacterLine(String(decoding: bytes, as: UTF8.self))
            return .failure(SyntaxProblem(line: line, problem: "not UTF-8 text (is it a binary file?)"))
        }
        if let line = ConfigAliasBound.lineOverLimit(bytes, limit: maximumNodes) {
            return .failure(
                SyntaxProblem(
                    line: line,
                    problem:
                        "more than \(maximumNodes) values once aliases are expanded (an alias bomb?); "
                        + "AST configuration needs a few hundred, write them out or use fewer aliases"))
        }
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            return .failure(describe(error, in: text))
        }
        guard let root else { return .success(nil) }
        var budget = maximumNodes
        do {
            return .success(try convert(root, file: file, budget: &budget))
        } catch {
            return .failure(error)
        }
    }

    /// Most values (scalars, lists, mappings, each alias counted as what it stands for) one
    /// document may hold. AST's whole configuration has a few hundred; the bound stops an alias
    /// bomb (aliases of aliases, each doubling the tree) long before it costs memory or time.
    static let maximumNodes = 100_000

    private static func convert(_ node: Yams.Node, file: String, budget: inout Int) throws(SyntaxProblem) -> ConfigNode {
        budget -= 1
        guard budget >= 0 else {
            throw SyntaxProblem(
                line: node.mark?.line,
                problem:
                    "more than \(maximumNodes) values once aliases are expanded (an alias bomb?); "
                    + "AST configuration needs a few hundred, write them out or use fewer aliases")
        }
        let source = ConfigSource.file(file, line: node.mark?.line)
        switch node {
        case .scalar(let scalar):
            let plain = scalar.style == .plain || scalar.style == .any
            if plain && nullTexts.contains(scalar.string) { return ConfigNode(value: .null, source: source) }
            return ConfigNode(value: .scalar(scalar.string, plain: plain), source: source)
        case .sequence(let sequence):
            var elements: [ConfigNode] = []
            for element in sequence { elements.append(try convert(element, file: file, budget: &budget)) }
            return ConfigNode(value: .sequence(elements), source: source)
        case .mapping(let mapping):
            var entries: [ConfigNode.Entry] = []
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    throw SyntaxProblem(line: key.mark?.line, problem: "a key must be a plain name, not a list or a mapping")
                }
                entries.append(
                    ConfigNode.Entry(
                        key: keyScalar.string,
                        keySource: .file(file, line: key.mark?.line),
                        value: try convert(value, file: file, budget: &budget)))
            }
            return ConfigNode(value: .mapping(entries), source: source)
        case .alias:
            // Yams resolves aliases while composing; an alias node never reaches us.
            throw SyntaxProblem(line: node.mark?.line, problem: "unresolved alias")
        }
    }

    private static func describe(_ error: any Error, in text: String) -> SyntaxProblem {
        guard let yamlError = error as? YamlError else {
            return SyntaxProblem(line: nil, problem: "not valid YAML")
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            // libyaml splits some messages: "expected a single document in the stream" + "but found another document".
            let words = if problem.hasPrefix("but "), let context { context.text + " " + problem } else { problem }
            return SyntaxProblem(line: mark.line, problem: "not valid YAML (\(words)\(tabHint(text, line: mark.line)))")
        case .reader(let problem, let offset, _, let yaml):
            let line = offset.map { characterOffset in
                1 + yaml.prefix(characterOffset).reduce(0) { $1 == "\n" ? $0 + 1 : $0 }
            }
            return SyntaxProblem(line: line, problem: "not valid YAML (\(problem))")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.joined(separator: ", ")
            return SyntaxProblem(
                line: context.mark.line,
                problem: "not valid YAML (duplicate key \(keys); a key may appear only once in a mapping)")
        default:
            return SyntaxProblem(line: nil, problem: "not valid YAML")
        }
    }

    /// libyaml reports a tab used for indentation as a character that "cannot start any token";
    /// say what it means.
    private static func tabHint(_ text: String, line: Int) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard line >= 1, line <= lines.count, lines[line - 1].contains("\t") else { return "" }
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
