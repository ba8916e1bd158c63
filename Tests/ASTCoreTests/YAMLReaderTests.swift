import ASTCore
import Testing

/// AST's YAML reader: every construct it takes, every one it refuses, with line and column.
@Suite("YAML reader")
struct YAMLReaderTests {
    /// A compact text form of a tree: `{key: value}`, `[a, b]`, scalars as `p"..."`, `s'...'`,
    /// `d"..."` (plain, single- or double-quoted), each with `@line:column`.
    static func show(_ node: YAMLNode?) -> String {
        guard let node else { return "nil" }
        let at = "@\(node.line):\(node.column)"
        switch node.value {
        case .scalar(let text, let style):
            let prefix = style == .plain ? "p" : style == .singleQuoted ? "s" : "d"
            return prefix + String(reflecting: text) + at
        case .sequence(let items): return "[" + items.map { show($0) }.joined(separator: ", ") + "]" + at
        case .mapping(let entries):
            return "{" + entries.map { "\($0.key)@\($0.keyLine):\($0.keyColumn): \(show($0.value))" }.joined(separator: ", ") + "}" + at
        }
    }

    static func read(_ text: String) throws -> String { show(try YAMLReader.read(text)) }

    static func refusal(_ text: String) -> YAMLError? {
        do {
            _ = try YAMLReader.read(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func emptyDocumentsAreNil() throws {
        #expect(try Self.read("") == "nil")
        #expect(try Self.read("# only a comment\n\n   \n# another\n") == "nil")
    }

    @Test func blockMappingsNestAndKeepOrderAndMarks() throws {
        #expect(
            try Self.read("b: 1\na:\n  c: x y\n  d:\n    e: z\n")
                == #"{b@1:1: p"1"@1:4, a@2:1: {c@3:3: p"x y"@3:6, d@4:3: {e@5:5: p"z"@5:8}@5:5}@3:3}@1:1"#)
    }

    @Test func aValueLeftOutIsAnEmptyPlainScalarWhereTheColonEnds() throws {
        #expect(try Self.read("a:\nb: ~\n") == #"{a@1:1: p""@1:3, b@2:1: p"~"@2:4}@1:1"#)
        #expect(try Self.read("- \n- x\n") == #"[p""@1:2, p"x"@2:3]@1:1"#)
    }

    @Test func blockSequencesIndentedIndentlessAndCompact() throws {
        #expect(try Self.read("a:\n- 1\n- 2\nb: 3\n") == #"{a@1:1: [p"1"@2:3, p"2"@3:3]@2:1, b@4:1: p"3"@4:4}@1:1"#)
        #expect(try Self.read("a:\n  - 1\n") == #"{a@1:1: [p"1"@2:5]@2:3}@1:1"#)
        #expect(
            try Self.read("- - x\n  - y\n- k: v\n  l: w\n") == #"[[p"x"@1:5, p"y"@2:5]@1:3, {k@3:3: p"v"@3:6, l@4:3: p"w"@4:6}@3:3]@1:1"#)
    }

    @Test func plainScalarsStopAtColonSpaceAndSpaceHash() throws {
        #expect(
            try Self.read("url: http://h:80/a#b\nt: 09:30 # comment\nx: a#b\n")
                == #"{url@1:1: p"http://h:80/a#b"@1:6, t@2:1: p"09:30"@2:4, x@3:1: p"a#b"@3:4}@1:1"#)
        #expect(try Self.read("a: x, [y] {z}\n") == #"{a@1:1: p"x, [y] {z}"@1:4}@1:1"#)
        #expect(try Self.read("a: -1\nb: :x\n") == #"{a@1:1: p"-1"@1:4, b@2:1: p":x"@2:4}@1:1"#)
    }

    @Test func plainScalarsFoldOverMoreIndentedLines() throws {
        #expect(try Self.read("a: one\n  two\n\n  three\nb: 1\n") == #"{a@1:1: p"one two\nthree"@1:4, b@5:1: p"1"@5:4}@1:1"#)
    }

    @Test func quotedScalarsWithEscapesAndFolding() throws {
        #expect(try Self.read("a: 'it''s # not a comment'\n") == #"{a@1:1: s"it\'s # not a comment"@1:4}@1:1"#)
        #expect(
            try Self.read(#"a: "\t\n\"\\\/\x41\u00e9\U0001F600\0\a\b\v\f\r\e\ \N\_\L\P""# + "\n")
                == "{a@1:1: d\(String(reflecting: "\t\n\"\\/Aé😀\0\u{07}\u{08}\u{0B}\u{0C}\r\u{1B} \u{85}\u{A0}\u{2028}\u{2029}"))@1:4}@1:1")
        #expect(try Self.read("a: \"one\n  two  \n\n  three\\\n   four\"\n") == #"{a@1:1: d"one two\nthreefour"@1:4}@1:1"#)
        #expect(try Self.read("'k 1': x\n\"k:2\": y\n") == #"{k 1@1:1: p"x"@1:8, k:2@2:1: p"y"@2:8}@1:1"#)
    }

    @Test func flowCollections() throws {
        #expect(
            try Self.read("a: [x, 'y', \"z\", [], {}]\nb: {c: 1, d: [2, 3], e: }\nc: [\n  1,\n  2,\n]\n")
                == #"{a@1:1: [p"x"@1:5, s"y"@1:8, d"z"@1:13, []@1:18, {}@1:22]@1:4, b@2:1: {c@2:5: p"1"@2:8, d@2:11: [p"2"@2:15, p"3"@2:18]@2:14, e@2:22: p""@2:25}@2:4, c@3:1: [p"1"@4:3, p"2"@5:3]@3:4}@1:1"#
        )
    }

    @Test func documentMarkersAndComments() throws {
        #expect(try Self.read("--- # start\na: 1 # one\n# between\n...\n") == #"{a@2:1: p"1"@2:4}@2:1"#)
        #expect(try Self.read("\u{FEFF}a: 1\n") == #"{a@1:1: p"1"@1:4}@1:1"#)
        #expect(try Self.read("a: 1\r\nb: 2\r\n") == #"{a@1:1: p"1"@1:4, b@2:1: p"2"@2:4}@1:1"#)
    }

    /// Typing is not the reader's: `yes`, `on`, `1.0`, `0x1F` all stay text, plain.
    @Test func plainScalarsKeepTheirTextUntyped() throws {
        #expect(
            try Self.read("[yes, on, No, 1.0, 0x1F, null, ~, 1e3]")
                == #"[p"yes"@1:2, p"on"@1:7, p"No"@1:11, p"1.0"@1:15, p"0x1F"@1:20, p"null"@1:26, p"~"@1:32, p"1e3"@1:35]@1:1"#)
    }

    @Test(arguments: [
        ("a: &x 1\n", YAMLError.Kind.unsupported, 1, 4, "anchors (&) are not supported; write the value out"),
        ("a: 1\nb: *x\n", .unsupported, 2, 4, "aliases (*) are not supported; write the value out"),
        ("a: !!str 1\n", .unsupported, 1, 4, "tags (!) are not supported"),
        ("a: [!x 1]\n", .unsupported, 1, 5, "tags (!) are not supported"),
        ("base:\n  x: 1\n<<: {}\n", .unsupported, 3, 1, "merge keys (<<) are not supported; write the keys out"),
        ("? a\n: 1\n", .unsupported, 1, 1, "explicit keys (?) are not supported; write key: value"),
        ("? [a]\n: 1\n", .nonScalarKey, 1, 1, "a key must be a plain name, not a list or a mapping"),
        ("[a]: 1\n", .nonScalarKey, 1, 1, "a key must be a plain name, not a list or a mapping"),
        ("a: {[b]: 1}\n", .nonScalarKey, 1, 5, "a key must be a plain name, not a list or a mapping"),
        ("%YAML 1.2\n---\na: 1\n", .unsupported, 1, 1, "directives (%) are not supported"),
        ("a: |\n  x\n", .unsupported, 1, 4, "block scalars (| and >) are not supported; use a quoted string"),
        ("a: >-\n  x\n", .unsupported, 1, 4, "block scalars (| and >) are not supported; use a quoted string"),
        ("a: 1\n---\nb: 2\n", .syntax, 2, 1, "expected a single document in the stream but found another document"),
        ("a: 1\nb: 2\na: 3\n", .duplicateKey, 3, 1, "duplicate key a; a key may appear only once in a mapping"),
        ("a: {b: 1, b: 2}\n", .duplicateKey, 1, 11, "duplicate key b; a key may appear only once in a mapping"),
        ("a:\n\tb: 1\n", .syntax, 2, 1, "found character that cannot start any token"),
        ("a: b: c\n", .syntax, 1, 5, "mapping values are not allowed in this context"),
        ("a:\n  b: 1\n   c: 2\n", .syntax, 3, 5, "mapping values are not allowed in this context"),
        ("a: - b\n", .syntax, 1, 4, "block sequence entries are not allowed in this context"),
        ("a: 1\n- b\n", .syntax, 2, 1, "did not find expected key"),
        ("- a\nb: 1\n", .syntax, 2, 1, "did not find expected '-' indicator"),
        ("a: \"x\n", .syntax, 2, 1, "found unexpected end of stream"),
        ("a: \"\\q\"\n", .syntax, 1, 5, "found unknown escape character"),
        ("a: \"\\uD800\"\n", .syntax, 1, 5, "found invalid Unicode character escape code"),
        ("a: \"\\x4\"\n", .syntax, 1, 5, "did not find expected hexdecimal number"),
        ("a: [1, 2\n", .syntax, 2, 1, "did not find expected ',' or ']'"),
        ("a: [a: 1]\n", .unsupported, 1, 6, "a key: value pair inside [...] is not supported; use {...}"),
        ("a: {b}\n", .unsupported, 1, 6, "a flow mapping entry must be key: value"),
        ("a: 1\0\n", .syntax, 1, 5, "control characters are not allowed"),
        ("é: x\nb: @\n", .syntax, 2, 4, "found character that cannot start any token"),
        ("é: [x, é]]\n", .syntax, 1, 10, "did not find expected key"),
    ])
    func refusalsNameLineColumnAndWhat(_ text: String, _ kind: YAMLError.Kind, _ line: Int, _ column: Int, _ message: String) throws {
        let error = try #require(Self.refusal(text), "\(text) was read")
        #expect(error.kind == kind && error.line == line && error.column == column && error.message == message, "\(text): \(error)")
    }

    @Test func depthAndSizeAreBounded() throws {
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(Self.refusal(deep)?.kind == .limit)
        #expect(try YAMLReader.read(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)) != nil)
        let wide = "[" + Array(repeating: "1", count: 20).joined(separator: ",") + "]"
        #expect(throws: YAMLError.self) { try YAMLReader.read(wide, limits: YAMLReader.Limits(maximumNodes: 20)) }
        #expect(try YAMLReader.read(wide, limits: YAMLReader.Limits(maximumNodes: 21)) != nil)
    }

    /// A refusal's message never carries the text's values (the secrets file goes through this).
    @Test func refusalsDoNotEchoValues() throws {
        for text in ["token: SECRET: x\n", "token: \"SECRET\\q\"\n", "token: &SECRET x\n", "token: [SECRET\n"] {
            let error = try #require(Self.refusal(text))
            #expect(!error.description.contains("SECRET"), "\(error)")
        }
    }
}
