import ASTCore
import ASTTestKit
import Foundation
import Testing
import Yams

@testable import ASTProcessKit

/// ASTCore's YAML reader against libyaml (Yams, a test-only dependency): every YAML file of the
/// repository and a few hundred seeded configuration-shaped documents give the same `ConfigNode`
/// (text, plain or quoted, null, order, and the line of every value and key).
@Suite("Config: YAML reader against Yams")
struct YAMLDifferentialTests {
    /// The loader's conversion as it was with Yams: the oracle.
    static func oracle(_ text: String, file: String) throws -> ConfigNode? {
        guard let root = try Yams.compose(yaml: text) else { return nil }
        return convert(root, file: file)
    }

    static func convert(_ node: Yams.Node, file: String) -> ConfigNode {
        let source = ConfigSource.file(file, line: node.mark?.line)
        switch node {
        case .scalar(let scalar):
            let plain = scalar.style == .plain || scalar.style == .any
            if plain && ConfigYAML.nullTexts.contains(scalar.string) { return ConfigNode(value: .null, source: source) }
            return ConfigNode(value: .scalar(scalar.string, plain: plain), source: source)
        case .sequence(let sequence):
            return ConfigNode(value: .sequence(sequence.map { convert($0, file: file) }), source: source)
        case .mapping(let mapping):
            return ConfigNode(
                value: .mapping(
                    mapping.map { key, value in
                        ConfigNode.Entry(
                            key: key.string ?? "<not a scalar>", keySource: .file(file, line: key.mark?.line),
                            value: convert(value, file: file))
                    }), source: source)
        case .alias:
            return ConfigNode(value: .scalar("<alias>", plain: false), source: source)
        }
    }

    /// The first difference between two trees, or nil when they are the same.
    static func difference(_ a: ConfigNode, _ b: ConfigNode, at path: String = "") -> String? {
        if a.source != b.source { return "\(path): source \(a.source) vs \(b.source)" }
        switch (a.value, b.value) {
        case (.null, .null): return nil
        case (.scalar(let x, let px), .scalar(let y, let py)):
            return x == y && px == py ? nil : "\(path): \(String(reflecting: x)) plain \(px) vs \(String(reflecting: y)) plain \(py)"
        case (.sequence(let xs), .sequence(let ys)):
            guard xs.count == ys.count else { return "\(path): \(xs.count) vs \(ys.count) items" }
            for (i, (x, y)) in zip(xs, ys).enumerated() {
                if let d = difference(x, y, at: "\(path)[\(i)]") { return d }
            }
            return nil
        case (.mapping(let xs), .mapping(let ys)):
            guard xs.map(\.key) == ys.map(\.key) else { return "\(path): keys \(xs.map(\.key)) vs \(ys.map(\.key))" }
            for (x, y) in zip(xs, ys) {
                if x.keySource != y.keySource { return "\(path).\(x.key): key source \(x.keySource) vs \(y.keySource)" }
                if let d = difference(x.value, y.value, at: "\(path).\(x.key)") { return d }
            }
            return nil
        default:
            return "\(path): \(a.shownValue) vs \(b.shownValue)"
        }
    }

    /// Reads `text` both ways; returns the problem, if any.
    static func compare(_ text: String, file: String) -> String? {
        let ours = ConfigYAML.parse(Array(text.utf8), file: file)
        let theirs = Result { try oracle(text, file: file) }
        switch (ours, theirs) {
        case (.success(let a), .success(let b)):
            switch (a, b) {
            case (nil, nil): return nil
            case (let a?, let b?): return difference(a, b).map { "\(file): \($0)" }
            default: return "\(file): one is empty, the other not"
            }
        case (.failure(let problem), .success):
            return "\(file): refused (line \(problem.line ?? 0): \(problem.problem)) but Yams reads it"
        case (.success, .failure(let error)):
            return "\(file): read but Yams refuses it: \(error)"
        case (.failure, .failure):
            return nil
        }
    }

    /// Every `.yaml`/`.yml` file of the repository, the two known refusals pinned.
    @Test func everyYAMLFileOfTheRepository() throws {
        let root = BuildProducts.packageRoot
        var files: [String] = []
        for top in ["etc", "Fuzz", "Tests", "scripts", "units", "runbooks", ".ci"] {
            guard let walker = FileManager.default.enumerator(atPath: root + "/" + top) else { continue }
            while let relative = walker.nextObject() as? String {
                if relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") { files.append(top + "/" + relative) }
            }
        }
        #expect(files.contains("etc/ast.yaml") && files.contains("etc/ast.production.yaml"))
        // Not configuration AST reads, and written with what the reader refuses on purpose.
        let refused = [
            "Fuzz/corpus/config/alias.yaml": "anchors (&) are not supported",
            "etc/prometheus/ast-alerts.yml": "block scalars (| and >) are not supported",
        ]
        for file in files.sorted() {
            let text = try String(contentsOfFile: root + "/" + file, encoding: .utf8)
            if let expected = refused[file] {
                guard case .failure(let problem) = ConfigYAML.parse(Array(text.utf8), file: file) else {
                    Issue.record("\(file) was read")
                    continue
                }
                #expect(problem.problem.contains(expected), "\(file): \(problem.problem)")
                #expect(throws: Never.self, "Yams reads \(file)") { _ = try Yams.compose(yaml: text) }
                continue
            }
            #expect(Self.compare(text, file: file) == nil)
            guard case .success(_?) = ConfigYAML.parse(Array(text.utf8), file: file) else {
                Issue.record("\(file) not read")
                continue
            }
        }
    }

    /// The YAML examples of README.md (regime overlays, the sweep specification, ...).
    @Test func everyYAMLExampleOfTheREADME() throws {
        let readme = try String(contentsOfFile: BuildProducts.packageRoot + "/README.md", encoding: .utf8)
        var examples: [String] = []
        var current: String?
        for line in readme.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil {
                if line == "```yaml" { current = "" }
            } else if line.hasPrefix("```") {
                examples.append(current ?? "")
                current = nil
            } else {
                current? += line + "\n"
            }
        }
        #expect(examples.count >= 2)
        for (n, example) in examples.enumerated() {
            #expect(Self.compare(example, file: "README example \(n)") == nil)
            guard case .success(_?) = ConfigYAML.parse(Array(example.utf8), file: "README") else {
                Issue.record("README example \(n) not read:\n\(example)")
                continue
            }
        }
    }

    /// Seeded configuration-shaped documents: both readers read every one, to the same tree.
    @Test func generatedConfigurationDocuments() throws {
        var generator = YAMLDocumentGenerator(seed: 0xA57_11)
        var failures: [String] = []
        for n in 0..<400 {
            let text = generator.document()
            if let problem = Self.compare(text, file: "doc\(n)") {
                failures.append(problem + "\n" + text)
            }
            guard case .success(_?) = ConfigYAML.parse(Array(text.utf8), file: "doc\(n)") else {
                failures.append("doc\(n) not read\n" + text)
                continue
            }
        }
        #expect(failures.isEmpty, "\(failures.count) differences; first:\n\(failures.first ?? "")")
    }

    /// Typing is the decoder's: what YAML 1.1 calls booleans (`yes`, `on`) stays text, as it did
    /// with Yams; only `~`, `null` (three spellings) and nothing are null, and only when plain.
    @Test func scalarTypingIsUnchanged() throws {
        let text = "a: yes\nb: on\nc: ~\nd: null\ne: 'null'\nf: NULL\ng:\nh: 1.50\ni: \"\"\nj: Off\n"
        #expect(Self.compare(text, file: "t") == nil)
        guard case .success(let node?) = ConfigYAML.parse(Array(text.utf8), file: "t"), let entries = node.entries else {
            Issue.record("not read")
            return
        }
        let shown = entries.map { entry -> String in
            switch entry.value.value {
            case .null: "\(entry.key)=null"
            case .scalar(let text, let plain): "\(entry.key)=\(text)\(plain ? "" : "(quoted)")"
            default: "\(entry.key)=?"
            }
        }
        #expect(shown == ["a=yes", "b=on", "c=null", "d=null", "e=null(quoted)", "f=null", "g=null", "h=1.50", "i=(quoted)", "j=Off"])
    }
}

/// Seeded documents shaped like AST's configuration: nested block mappings and lists, flow lists
/// and mappings, every scalar style, comments and blank lines, values left out, folded lines.
struct YAMLDocumentGenerator {
    var random: SplitMix64

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    mutating func pick<T>(_ choices: [T]) -> T { choices[random.int(0...(choices.count - 1))] }
    mutating func chance(_ percent: Int) -> Bool { random.int(0...99) < percent }

    static let plainScalars = [
        "1", "0", "-7", "250000", "1.5", "-0.25", ".5", "1e3", "0x1F", "0o17", "true", "false", "yes", "no", "on", "off", "True",
        "~", "null", "Null", "NULL", "development", "production", "ast-risk", "/var/lib/ast", "risk@main", "09:30", "http://h:8080/a?b=c",
        "a#b", "two words", "x, y", "-dash", ":colon", "?q", "é ünïcode", "😀", "a 'b' \"c\"", "50%", "=",
    ]
    static let keys = [
        "environment", "bus", "max_frame_bytes", "risk", "children", "name", "arguments", "limits", "a", "b_c", "x1", "on", "yes", "null",
        "1", "key with space", "k-e-y", "ключ",
    ]

    mutating func key() -> String {
        let k = pick(Self.keys)
        switch random.int(0...9) {
        case 0: return "'" + k + "'"
        case 1: return "\"" + k + "\""
        default: return k
        }
    }

    mutating func quoted() -> String {
        switch random.int(0...5) {
        case 0: return "''"
        case 1: return "'" + pick(["it''s", "a # b", "x: y", "  spaced  ", "[1]", "~", "null", "yes"]) + "'"
        case 2: return "\"\""
        default:
            let parts = ["a", " ", "\\n", "\\t", "\\\"", "\\\\", "\\/", "\\u00e9", "\\x41", "\\U0001F600", "#", ": ", "null", "é"]
            return "\"" + (0..<random.int(1...5)).map { _ in pick(parts) }.joined() + "\""
        }
    }

    mutating func scalar() -> String { chance(70) ? pick(Self.plainScalars) : quoted() }

    mutating func comment() -> String { chance(15) ? " # " + pick(["note", "a: b", "- x", "#", "'"]) : "" }

    mutating func flow(depth: Int) -> String {
        if depth > 1 || chance(40) {
            let items = (0..<random.int(0...4)).map { _ in depth < 2 && chance(20) ? flow(depth: depth + 1) : flowScalar() }
            return "[" + items.joined(separator: pick([", ", ",", " , "])) + "]"
        }
        var used: Set<String> = []
        var entries: [String] = []
        for _ in 0..<random.int(0...3) {
            let k = pick(["a", "b", "c", "before", "after", "'q'", "\"d\""])
            guard used.insert(k.filter { $0 != "'" && $0 != "\"" }).inserted else { continue }
            entries.append(k + ": " + (chance(20) ? flow(depth: depth + 1) : flowScalar()))
        }
        return "{" + entries.joined(separator: ", ") + "}"
    }

    mutating func flowScalar() -> String {
        chance(70) ? pick(["1", "x", "two words", "-3", "AMEX", "~", "true", "1.5", "é", "a.b", "/p"]) : quoted()
    }

    /// A value after `key:` at indentation `indent`.
    mutating func value(indent: Int, depth: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        switch depth >= 4 ? random.int(0...3) : random.int(0...7) {
        case 0, 1: return " " + scalar() + comment() + "\n"
        case 2: return " " + flow(depth: 0) + comment() + "\n"
        case 3:
            if chance(50) { return comment() + "\n" }
            // A plain scalar folded over more indented lines.
            return " first" + "\n" + pad + "   second" + (chance(50) ? "\n\n" + pad + "  third" : "") + "\n"
        case 4, 5: return comment() + "\n" + mapping(indent: indent + random.int(1...4), depth: depth + 1)
        default:
            let listIndent = chance(40) ? indent : indent + random.int(1...3)
            return comment() + "\n" + list(indent: listIndent, depth: depth + 1)
        }
    }

    mutating func mapping(indent: Int, depth: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        var used: Set<String> = []
        var out = ""
        for _ in 0..<random.int(1...5) {
            let k = key()
            guard used.insert(k.filter { $0 != "'" && $0 != "\"" }).inserted else { continue }
            if chance(10) { out += pad + "# " + pick(["comment", "key: value", "- item"]) + "\n" }
            if chance(10) { out += "\n" }
            out += pad + k + ":" + value(indent: indent, depth: depth)
        }
        return out
    }

    mutating func list(indent: Int, depth: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        var out = ""
        for _ in 0..<random.int(1...4) {
            switch depth >= 4 ? random.int(0...1) : random.int(0...4) {
            case 0: out += pad + "- " + scalar() + comment() + "\n"
            case 1: out += pad + "-" + comment() + "\n"
            case 2: out += pad + "- " + flow(depth: 0) + "\n"
            case 3:
                // A mapping in the item, its first key on the dash's line.
                let inner = mapping(indent: indent + 2, depth: depth + 1)
                out += pad + "- " + inner.drop(while: { $0 == " " || $0 == "\n" })
            default: out += pad + "-\n" + list(indent: indent + 2, depth: depth + 1)
            }
        }
        return out
    }

    mutating func document() -> String {
        var text = chance(10) ? "---\n" : ""
        if chance(20) { text += "# " + pick(["AST configuration", "key: value"]) + "\n\n" }
        text += mapping(indent: 0, depth: 0)
        if chance(10) { text += "...\n" }
        return text
    }
}
