/// A YAML document read by ``YAMLReader``: mappings (keys are scalars, in the order written),
/// sequences and scalars, each with the 1-based line and column where it starts (libyaml's marks:
/// a block mapping starts at its first key, a block sequence at its first `-`, a value left out
/// after `key:` or `-` where that indicator ends).
public struct YAMLNode: Sendable, Equatable {
    /// How a scalar was written. Typing is the reader's caller's business: the reader keeps text.
    public enum Style: Sendable, Equatable {
        /// Unquoted (also a value left out, whose text is empty).
        case plain
        case singleQuoted
        case doubleQuoted
    }

    /// One `key: value` of a mapping.
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var keyStyle: Style
        public var keyLine: Int
        public var keyColumn: Int
        public var value: YAMLNode
    }

    /// What the node holds.
    public indirect enum Value: Sendable, Equatable {
        case scalar(String, Style)
        case mapping([Entry])
        case sequence([YAMLNode])
    }

    public var value: Value
    public var line: Int
    public var column: Int
}

/// Why a YAML text was refused: where (1-based line and column, counted in characters) and what.
/// The message never contains the text's values (the secrets file is read with this); a
/// duplicate key is named.
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of refusal, so that callers can word some of them their own way.
    public enum Kind: Sendable, Equatable {
        /// Not YAML at all (libyaml would refuse it too).
        case syntax
        /// YAML that AST's reader refuses on purpose (anchors, aliases, tags, merge keys, ...).
        case unsupported
        /// A key that is a list or a mapping.
        case nonScalarKey
        /// A key written twice in one mapping.
        case duplicateKey
        /// Over a bound of ``YAMLReader/Limits``.
        case limit
    }

    public var kind: Kind
    public var line: Int
    public var column: Int
    public var message: String

    public var description: String { "line \(line), column \(column): \(message)" }
}

/// AST's YAML reader: the subset a configuration needs, with the standard library only (no
/// Foundation, no libyaml). Reads one document of block mappings and sequences, flow `[...]` and
/// `{...}`, plain, single- and double-quoted scalars (with YAML's escapes and line folding),
/// comments, an optional `---` start and `...` end. Refuses, with line and column, what a
/// configuration does not need and a hostile file could abuse: anchors and aliases, tags, merge
/// keys (`<<`), explicit keys (`?`), directives, block scalars (`|`, `>`), a second document,
/// duplicate keys, tabs as indentation, control characters; and anything deeper than
/// ``Limits/maximumDepth``. Scalars and marks are the ones libyaml (Yams) gives for the same text.
public enum YAMLReader {
    /// Bounds on one document.
    public struct Limits: Sendable {
        /// Deepest nesting of collections.
        public var maximumDepth: Int
        /// Most nodes (scalars, sequences, mappings).
        public var maximumNodes: Int

        public init(maximumDepth: Int = 64, maximumNodes: Int = 100_000) {
            self.maximumDepth = maximumDepth
            self.maximumNodes = maximumNodes
        }
    }

    /// Reads one YAML document; nil when it holds nothing (empty, or only comments).
    public static func read(_ bytes: [UInt8], limits: Limits = Limits()) throws(YAMLError) -> YAMLNode? {
        var parser = YAMLParser(bytes: bytes, limits: limits)
        return try parser.document()
    }

    /// Reads one YAML document from text.
    public static func read(_ text: String, limits: Limits = Limits()) throws(YAMLError) -> YAMLNode? {
        try read(Array(text.utf8), limits: limits)
    }
}

private let space: UInt8 = 0x20
private let tab: UInt8 = 0x09
private let lf: UInt8 = 0x0A
private let cr: UInt8 = 0x0D

private struct YAMLParser {
    let bytes: [UInt8]
    let limits: YAMLReader.Limits
    var index = 0
    var depth = 0
    var nodes = 0
    /// Byte offsets where each line starts.
    var lineStarts: [Int] = [0]

    init(bytes: [UInt8], limits: YAMLReader.Limits) {
        self.bytes = bytes
        self.limits = limits
        for (offset, byte) in bytes.enumerated() where byte == lf { lineStarts.append(offset + 1) }
    }

    // MARK: Positions

    func byte(_ at: Int) -> UInt8? { at < bytes.count ? bytes[at] : nil }
    var current: UInt8? { byte(index) }

    func isBlank(_ at: Int) -> Bool { byte(at) == space || byte(at) == tab }
    func isBreak(_ at: Int) -> Bool { byte(at) == lf || byte(at) == cr }
    /// Blank, line break or end of text.
    func isBlankOrEnd(_ at: Int) -> Bool { at >= bytes.count || isBlank(at) || isBreak(at) }

    func lineIndex(of offset: Int) -> Int {
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        return low
    }

    /// 1-based line and column (in characters) of a byte offset.
    func mark(_ offset: Int) -> (line: Int, column: Int) {
        let line = lineIndex(of: offset)
        var column = 1
        // A byte order mark is not a character of the first line.
        var at = line == 0 && bytes.starts(with: [0xEF, 0xBB, 0xBF]) && offset >= 3 ? 3 : lineStarts[line]
        while at < offset && at < bytes.count {
            if bytes[at] & 0xC0 != 0x80 { column += 1 }
            at += 1
        }
        // A continuation byte counted its lead already.
        if offset < bytes.count, bytes[offset] & 0xC0 == 0x80 { column -= 1 }
        return (line + 1, column)
    }

    /// 0-based column (in characters) of a byte offset: the indentation it stands at.
    func indent(_ offset: Int) -> Int { mark(offset).column - 1 }

    func error(_ kind: YAMLError.Kind, _ message: String, at offset: Int) -> YAMLError {
        let place = mark(offset)
        return YAMLError(kind: kind, line: place.line, column: place.column, message: message)
    }

    func node(_ value: YAMLNode.Value, at offset: Int) -> YAMLNode {
        let place = mark(offset)
        return YAMLNode(value: value, line: place.line, column: place.column)
    }

    mutating func count(at offset: Int) throws(YAMLError) {
        nodes += 1
        if nodes > limits.maximumNodes {
            throw error(.limit, "more than \(limits.maximumNodes) values", at: offset)
        }
    }

    mutating func enter(at offset: Int) throws(YAMLError) {
        depth += 1
        if depth > limits.maximumDepth {
            throw error(.limit, "nested deeper than \(limits.maximumDepth) levels", at: offset)
        }
    }

    // MARK: Characters

    /// Refuses control characters (libyaml's reader does) before anything else.
    func checkCharacters() throws(YAMLError) {
        for (offset, byte) in bytes.enumerated() where (byte < 0x20 && byte != tab && byte != lf && byte != cr) || byte == 0x7F {
            throw error(.syntax, "control characters are not allowed", at: offset)
        }
        // C1 controls (U+0080-U+009F, UTF-8 C2 80-C2 9F) other than NEL, and U+FFFE/U+FFFF.
        var offset = 0
        while offset + 1 < bytes.count {
            if bytes[offset] == 0xC2, bytes[offset + 1] >= 0x80, bytes[offset + 1] <= 0x9F, bytes[offset + 1] != 0x85 {
                throw error(.syntax, "control characters are not allowed", at: offset)
            }
            if offset + 2 < bytes.count, bytes[offset] == 0xEF, bytes[offset + 1] == 0xBF, bytes[offset + 2] >= 0xBE {
                throw error(.syntax, "control characters are not allowed", at: offset)
            }
            offset += 1
        }
    }

    /// Skips spaces and tabs on the current line.
    mutating func skipBlanks() {
        while isBlank(index) { index += 1 }
    }

    /// Skips a comment to the end of the line (not the break).
    mutating func skipComment() {
        if current == UInt8(ascii: "#") {
            while index < bytes.count && !isBreak(index) { index += 1 }
        }
    }

    /// Skips one line break (LF, CR or CR LF).
    mutating func skipBreak() {
        if current == cr { index += 1 }
        if current == lf { index += 1 }
    }

    /// Moves to the first character of the next line holding content (not blank, not a comment);
    /// the end of the text when there is none. Refuses tabs in indentation.
    mutating func skipToContent() throws(YAMLError) {
        while index < bytes.count {
            skipBlanks()
            skipComment()
            if isBreak(index) {
                skipBreak()
                try checkIndentation()
                continue
            }
            return
        }
    }

    /// At the start of a line: a tab before its first character is refused, as libyaml does.
    func checkIndentation() throws(YAMLError) {
        var at = index
        while byte(at) == space { at += 1 }
        if byte(at) == tab { throw error(.syntax, "found character that cannot start any token", at: at) }
    }

    /// Whether the rest of the current line holds only blanks and a comment; skips them.
    mutating func restOfLineIsEmpty() -> Bool {
        let start = index
        skipBlanks()
        if current == UInt8(ascii: "#") && (index == start ? (index == 0 || isBlankOrEnd(index - 1)) : true) {
            skipComment()
        }
        return index >= bytes.count || isBreak(index)
    }

    /// `---` or `...` at the start of a line, followed by a blank or the end of the line.
    func isDocumentMarker(_ at: Int) -> Bool {
        guard at + 3 <= bytes.count, at == 0 || bytes[at - 1] == lf || bytes[at - 1] == cr else { return false }
        let three = bytes[at..<at + 3]
        return (three.elementsEqual("---".utf8) || three.elementsEqual("...".utf8)) && isBlankOrEnd(at + 3)
    }

    // MARK: Document

    mutating func document() throws(YAMLError) -> YAMLNode? {
        try checkCharacters()
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        try checkIndentation()
        try skipToContent()
        if index < bytes.count, bytes[index] == UInt8(ascii: "%") {
            throw error(.unsupported, "directives (%) are not supported", at: index)
        }
        var root: YAMLNode?
        if isDocumentMarker(index), bytes[index] == UInt8(ascii: "-") {
            index += 3
            skipBlanks()
            if restOfLineIsEmpty() {
                try skipToContent()
                if index < bytes.count && !isDocumentMarker(index) { root = try blockNode(parentIndent: -1) }
            } else {
                root = try blockNode(parentIndent: -1)
            }
            if root == nil, index >= bytes.count || isDocumentMarker(index) {
                // `---` alone: an empty (null) document, marked where the next token starts.
                root = node(.scalar("", .plain), at: index)
            }
        } else if index < bytes.count && !isDocumentMarker(index) {
            root = try blockNode(parentIndent: -1)
        }
        try skipToContent()
        if isDocumentMarker(index), bytes[index] == UInt8(ascii: ".") {
            index += 3
            if !restOfLineIsEmpty() { throw error(.syntax, "did not find expected <document start>", at: index) }
            try skipToContent()
            if index < bytes.count && !isDocumentMarker(index) {
                throw error(.syntax, "did not find expected <document start>", at: index)
            }
        }
        if index < bytes.count {
            if isDocumentMarker(index) {
                throw error(.syntax, "expected a single document in the stream but found another document", at: index)
            }
            throw error(.syntax, "did not find expected key", at: index)
        }
        return root
    }

    // MARK: Block nodes

    /// A node starting at the current (content) position, inside a block collection indented at
    /// `parentIndent` (-1 at the top).
    mutating func blockNode(parentIndent: Int) throws(YAMLError) -> YAMLNode {
        let start = index
        let column = indent(start)
        try refuseUnsupported(at: start)
        let c = bytes[start]
        if c == UInt8(ascii: "-") && isBlankOrEnd(start + 1) {
            return try blockSequence(column: column, indentless: false)
        }
        if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
            let value = try flowNode()
            let after = index
            skipBlanks()
            if current == UInt8(ascii: ":") && isBlankOrEnd(index + 1) {
                throw error(.nonScalarKey, "a key must be a plain name, not a list or a mapping", at: start)
            }
            index = after
            try endOfValue()
            return value
        }
        // A scalar: a key when a `:` follows on its line.
        let scalar = try blockScalar(parentIndent: parentIndent)
        let afterScalar = index
        skipBlanks()
        if current == UInt8(ascii: ":") && isBlankOrEnd(index + 1) {
            if scalar.multiline { throw error(.syntax, "mapping values are not allowed in this context", at: index) }
            index = start
            return try blockMapping(column: column)
        }
        index = afterScalar
        try endOfValue()
        return scalar.node
    }

    /// After a value: the rest of its line may hold only a comment. A `:` there is a second key.
    mutating func endOfValue() throws(YAMLError) {
        skipBlanks()
        if current == UInt8(ascii: ":") && isBlankOrEnd(index + 1) {
            throw error(.syntax, "mapping values are not allowed in this context", at: index)
        }
        if current == UInt8(ascii: "#") {
            skipComment()
        }
        if index < bytes.count && !isBreak(index) {
            throw error(.syntax, "did not find expected key", at: index)
        }
    }

    /// Refuses the YAML this reader does not take, at a node's first character.
    func refuseUnsupported(at offset: Int) throws(YAMLError) {
        guard let c = byte(offset) else { return }
        switch c {
        case UInt8(ascii: "&"): throw error(.unsupported, "anchors (&) are not supported; write the value out", at: offset)
        case UInt8(ascii: "*"): throw error(.unsupported, "aliases (*) are not supported; write the value out", at: offset)
        case UInt8(ascii: "!"): throw error(.unsupported, "tags (!) are not supported", at: offset)
        case UInt8(ascii: "|"), UInt8(ascii: ">"):
            throw error(.unsupported, "block scalars (| and >) are not supported; use a quoted string", at: offset)
        case UInt8(ascii: "%"): throw error(.unsupported, "directives (%) are not supported", at: offset)
        case UInt8(ascii: "@"), UInt8(ascii: "`"):
            throw error(.syntax, "found character that cannot start any token", at: offset)
        case UInt8(ascii: "?") where isBlankOrEnd(offset + 1):
            var at = offset + 1
            while isBlank(at) { at += 1 }
            if let next = byte(at), next == UInt8(ascii: "[") || next == UInt8(ascii: "{") || next == UInt8(ascii: "-") {
                throw error(.nonScalarKey, "a key must be a plain name, not a list or a mapping", at: offset)
            }
            throw error(.unsupported, "explicit keys (?) are not supported; write key: value", at: offset)
        case UInt8(ascii: ":") where isBlankOrEnd(offset + 1):
            throw error(.syntax, "a key is missing before ':'", at: offset)
        case tab:
            throw error(.syntax, "found character that cannot start any token", at: offset)
        default: return
        }
    }

    mutating func blockMapping(column: Int) throws(YAMLError) -> YAMLNode {
        let start = index
        try enter(at: start)
        try count(at: start)
        var entries: [YAMLNode.Entry] = []
        while true {
            // At a key, at `column`.
            let keyStart = index
            try refuseUnsupported(at: keyStart)
            if bytes[keyStart] == UInt8(ascii: "-") && isBlankOrEnd(keyStart + 1) {
                throw error(.syntax, "did not find expected key", at: keyStart)
            }
            if bytes[keyStart] == UInt8(ascii: "[") || bytes[keyStart] == UInt8(ascii: "{") {
                throw error(.nonScalarKey, "a key must be a plain name, not a list or a mapping", at: keyStart)
            }
            let key = try keyScalar()
            skipBlanks()
            guard current == UInt8(ascii: ":") && isBlankOrEnd(index + 1) else {
                throw error(.syntax, "could not find expected ':'", at: index)
            }
            if key.style == .plain && key.text == "<<" {
                throw error(.unsupported, "merge keys (<<) are not supported; write the keys out", at: keyStart)
            }
            if entries.contains(where: { $0.key == key.text }) {
                throw error(.duplicateKey, "duplicate key \(key.text); a key may appear only once in a mapping", at: keyStart)
            }
            index += 1
            let afterColon = index
            let value: YAMLNode
            if restOfLineIsEmpty() {
                try skipToContent()
                let next = index < bytes.count ? indent(index) : -1
                if index < bytes.count && !isDocumentMarker(index) && next > column {
                    value = try blockNode(parentIndent: column)
                } else if index < bytes.count && next == column && bytes[index] == UInt8(ascii: "-") && isBlankOrEnd(index + 1) {
                    value = try blockSequence(column: column, indentless: true)
                } else {
                    try count(at: afterColon)
                    value = node(.scalar("", .plain), at: afterColon)
                }
            } else {
                value = try inlineValue(parentIndent: column)
            }
            let place = mark(keyStart)
            entries.append(YAMLNode.Entry(key: key.text, keyStyle: key.style, keyLine: place.line, keyColumn: place.column, value: value))
            try skipToContent()
            if index >= bytes.count || isDocumentMarker(index) { break }
            let next = indent(index)
            if next < column { break }
            if next > column { throw error(.syntax, "did not find expected key", at: index) }
        }
        depth -= 1
        return node(.mapping(entries), at: start)
    }

    /// A value on the same line as its `key:`: a scalar or a flow collection (no block collection).
    mutating func inlineValue(parentIndent: Int) throws(YAMLError) -> YAMLNode {
        let start = index
        try refuseUnsupported(at: start)
        if bytes[start] == UInt8(ascii: "-") && isBlankOrEnd(start + 1) {
            throw error(.syntax, "block sequence entries are not allowed in this context", at: start)
        }
        if bytes[start] == UInt8(ascii: "[") || bytes[start] == UInt8(ascii: "{") {
            let value = try flowNode()
            try endOfValue()
            return value
        }
        let scalar = try blockScalar(parentIndent: parentIndent)
        try endOfValue()
        return scalar.node
    }

    mutating func blockSequence(column: Int, indentless: Bool) throws(YAMLError) -> YAMLNode {
        let start = index
        try enter(at: start)
        try count(at: start)
        var items: [YAMLNode] = []
        while true {
            // At a `-` at `column`.
            index += 1
            let afterDash = index
            if current == tab { throw error(.syntax, "found character that cannot start any token", at: index) }
            if restOfLineIsEmpty() {
                try skipToContent()
                if index < bytes.count && !isDocumentMarker(index) && indent(index) > column {
                    items.append(try blockNode(parentIndent: column))
                } else {
                    try count(at: afterDash)
                    items.append(node(.scalar("", .plain), at: afterDash))
                }
            } else {
                items.append(try blockNode(parentIndent: column))
            }
            try skipToContent()
            if index >= bytes.count || isDocumentMarker(index) { break }
            let next = indent(index)
            if next < column { break }
            if next > column { throw error(.syntax, "did not find expected '-' indicator", at: index) }
            guard bytes[index] == UInt8(ascii: "-") && isBlankOrEnd(index + 1) else {
                if indentless { break }
                throw error(.syntax, "did not find expected '-' indicator", at: index)
            }
        }
        depth -= 1
        return node(.sequence(items), at: start)
    }

    // MARK: Scalars

    /// A key: a plain or quoted scalar on one line.
    mutating func keyScalar() throws(YAMLError) -> (text: String, style: YAMLNode.Style) {
        let start = index
        let c = bytes[start]
        if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
            let text = try quoted(flow: false)
            if mark(index).line != mark(start).line {
                throw error(.syntax, "a key must be on one line", at: start)
            }
            return (text, c == UInt8(ascii: "'") ? .singleQuoted : .doubleQuoted)
        }
        let text = plainLine(flow: false)
        if text.isEmpty { throw error(.syntax, "found character that cannot start any token", at: start) }
        return (text, .plain)
    }

    /// A scalar in block context: quoted, or plain (continued on lines indented past `parentIndent`).
    mutating func blockScalar(parentIndent: Int) throws(YAMLError) -> (node: YAMLNode, multiline: Bool) {
        let start = index
        try count(at: start)
        let c = bytes[start]
        if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
            let text = try quoted(flow: false)
            return (node(.scalar(text, c == UInt8(ascii: "'") ? .singleQuoted : .doubleQuoted), at: start), false)
        }
        var text = plainLine(flow: false)
        if text.isEmpty { throw error(.syntax, "found character that cannot start any token", at: start) }
        var multiline = false
        // Continuation lines: more indented than the collection, not a comment, not a marker.
        while true {
            let lineEnd = index
            skipBlanks()
            guard isBreak(index) else {
                index = lineEnd
                break
            }
            var breaks = 0
            var probe = index
            var next: Int?
            while probe < bytes.count {
                if isBreak(probe) {
                    if bytes[probe] == cr && byte(probe + 1) == lf { probe += 1 }
                    probe += 1
                    breaks += 1
                    var at = probe
                    while isBlank(at) { at += 1 }
                    if at < bytes.count && !isBreak(at) {
                        next = at
                        break
                    }
                    probe = at
                } else {
                    break
                }
            }
            guard let next, bytes[next] != UInt8(ascii: "#"), !isDocumentMarker(lineStarts[lineIndex(of: next)]) || indent(next) > 0,
                indent(next) > parentIndent
            else {
                index = lineEnd
                break
            }
            // Tabs in the indentation of a continuation line are separation inside a scalar.
            if !(next < bytes.count && bytes[next] == UInt8(ascii: ":") && isBlankOrEnd(next + 1)) {
                index = next
                let more = plainLine(flow: false)
                if more.isEmpty {
                    index = lineEnd
                    break
                }
                text += breaks == 1 ? " " : String(repeating: "\n", count: breaks - 1)
                text += more
                multiline = true
            } else {
                index = lineEnd
                break
            }
        }
        return (node(.scalar(text, .plain), at: start), multiline)
    }

    /// The plain scalar text from here to `: `, ` #`, the line's end (or, in flow context, a flow
    /// indicator), without trailing blanks.
    mutating func plainLine(flow: Bool) -> String {
        let start = index
        if let c = current {
            let indicator = "-?:,[]{}#&*!|>'\"%@`".utf8.contains(c)
            let allowedStart =
                (c == UInt8(ascii: "-") || c == UInt8(ascii: "?") || c == UInt8(ascii: ":")) && !isBlankOrEnd(index + 1)
                && !(flow && byte(index + 1).map { ",[]{}".utf8.contains($0) } == true)
            if indicator && !allowedStart { return "" }
        }
        var end = index
        while index < bytes.count {
            let c = bytes[index]
            if isBreak(index) { break }
            if c == UInt8(ascii: ":") && (isBlankOrEnd(index + 1) || (flow && byte(index + 1).map { ",[]{}".utf8.contains($0) } == true)) {
                break
            }
            if c == UInt8(ascii: "#") && index > start && isBlank(index - 1) { break }
            if flow && ",[]{}".utf8.contains(c) { break }
            index += 1
            if !isBlank(index - 1) { end = index }
        }
        index = end
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    /// A single- or double-quoted scalar, with escapes and line folding.
    mutating func quoted(flow: Bool) throws(YAMLError) -> String {
        let start = index
        let single = bytes[index] == UInt8(ascii: "'")
        index += 1
        var out: [UInt8] = []
        while true {
            guard index < bytes.count else {
                throw error(.syntax, "found unexpected end of stream", at: index)
            }
            let c = bytes[index]
            if single && c == UInt8(ascii: "'") {
                if byte(index + 1) == UInt8(ascii: "'") {
                    out.append(c)
                    index += 2
                    continue
                }
                index += 1
                break
            }
            if !single && c == UInt8(ascii: "\"") {
                index += 1
                break
            }
            if !single && c == UInt8(ascii: "\\") {
                if isBreak(index + 1) {
                    // An escaped line break: nothing, and the next line's leading blanks go.
                    index += 1
                    skipBreak()
                    try foldBreaks(into: &out, escaped: true, quoteStart: start)
                    continue
                }
                try escape(into: &out)
                continue
            }
            if isBlank(index) || isBreak(index) {
                // Blanks before a break are dropped; blanks inside a line are kept.
                var at = index
                while isBlank(at) { at += 1 }
                if isBreak(at) {
                    index = at
                    skipBreak()
                    try foldBreaks(into: &out, escaped: false, quoteStart: start)
                } else {
                    out.append(contentsOf: bytes[index..<at])
                    index = at
                }
                continue
            }
            out.append(c)
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// After a line break inside a quoted scalar: more empty lines each give a `\n`; one break
    /// alone gives a space (none after an escaped break). Leading blanks of the next line go.
    mutating func foldBreaks(into out: inout [UInt8], escaped: Bool, quoteStart: Int) throws(YAMLError) {
        var breaks = 0
        while true {
            if index < bytes.count && (lineStarts[lineIndex(of: index)] == index) && isDocumentMarker(index) {
                throw error(.syntax, "found unexpected document indicator", at: index)
            }
            while isBlank(index) { index += 1 }
            if isBreak(index) {
                skipBreak()
                breaks += 1
                continue
            }
            break
        }
        if breaks == 0 {
            if !escaped { out.append(space) }
        } else {
            out.append(contentsOf: repeatElement(lf, count: breaks))
        }
    }

    /// One escape sequence of a double-quoted scalar (at the backslash).
    mutating func escape(into out: inout [UInt8]) throws(YAMLError) {
        let start = index
        guard let e = byte(index + 1) else { throw error(.syntax, "found unexpected end of stream", at: index) }
        index += 2
        let simple: [UInt8: UInt32] = [
            UInt8(ascii: "0"): 0, UInt8(ascii: "a"): 7, UInt8(ascii: "b"): 8, UInt8(ascii: "t"): 9, tab: 9,
            UInt8(ascii: "n"): 10, UInt8(ascii: "v"): 11, UInt8(ascii: "f"): 12, UInt8(ascii: "r"): 13,
            UInt8(ascii: "e"): 0x1B, space: 0x20, UInt8(ascii: "\""): 0x22, UInt8(ascii: "/"): 0x2F,
            UInt8(ascii: "\\"): 0x5C, UInt8(ascii: "N"): 0x85, UInt8(ascii: "_"): 0xA0, UInt8(ascii: "L"): 0x2028,
            UInt8(ascii: "P"): 0x2029,
        ]
        var code: UInt32
        if let value = simple[e] {
            code = value
        } else {
            let digits: Int
            switch e {
            case UInt8(ascii: "x"): digits = 2
            case UInt8(ascii: "u"): digits = 4
            case UInt8(ascii: "U"): digits = 8
            default: throw error(.syntax, "found unknown escape character", at: start)
            }
            code = 0
            for _ in 0..<digits {
                guard let d = current, let v = hexValue(d) else {
                    throw error(.syntax, "did not find expected hexdecimal number", at: start)
                }
                code = code << 4 | v
                index += 1
            }
        }
        guard let scalar = Unicode.Scalar(code) else {
            throw error(.syntax, "found invalid Unicode character escape code", at: start)
        }
        out.append(contentsOf: Array(String(Character(scalar)).utf8))
    }

    func hexValue(_ d: UInt8) -> UInt32? {
        switch d {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(d - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(d - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(d - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    // MARK: Flow collections

    /// Skips blanks, line breaks and comments inside a flow collection.
    mutating func skipFlowSpace() throws(YAMLError) {
        while index < bytes.count {
            if isBlank(index) {
                index += 1
            } else if isBreak(index) {
                skipBreak()
                if isDocumentMarker(index) { throw error(.syntax, "did not find expected ',' or ']'", at: index) }
            } else if bytes[index] == UInt8(ascii: "#") && (index == 0 || isBlankOrEnd(index - 1)) {
                skipComment()
            } else {
                return
            }
        }
    }

    /// A `[...]` or `{...}` at the current position, or a scalar inside one.
    mutating func flowNode() throws(YAMLError) -> YAMLNode {
        let start = index
        try refuseUnsupported(at: start)
        let c = bytes[start]
        if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
            try enter(at: start)
            try count(at: start)
            let isMapping = c == UInt8(ascii: "{")
            let close = isMapping ? UInt8(ascii: "}") : UInt8(ascii: "]")
            let expected = isMapping ? "did not find expected ',' or '}'" : "did not find expected ',' or ']'"
            index += 1
            var items: [YAMLNode] = []
            var entries: [YAMLNode.Entry] = []
            while true {
                try skipFlowSpace()
                guard index < bytes.count else { throw error(.syntax, expected, at: index) }
                if bytes[index] == close {
                    index += 1
                    break
                }
                if isMapping {
                    let keyStart = index
                    try refuseUnsupported(at: keyStart)
                    if bytes[keyStart] == UInt8(ascii: "[") || bytes[keyStart] == UInt8(ascii: "{") {
                        throw error(.nonScalarKey, "a key must be a plain name, not a list or a mapping", at: keyStart)
                    }
                    let key = try flowScalarText()
                    let quotedKey = key.style != .plain
                    try skipFlowSpace()
                    guard current == UInt8(ascii: ":"),
                        quotedKey || isBlankOrEnd(index + 1) || byte(index + 1).map({ ",[]{}".utf8.contains($0) }) == true
                    else {
                        throw error(.unsupported, "a flow mapping entry must be key: value", at: index)
                    }
                    if key.style == .plain && key.text == "<<" {
                        throw error(.unsupported, "merge keys (<<) are not supported; write the keys out", at: keyStart)
                    }
                    if entries.contains(where: { $0.key == key.text }) {
                        throw error(.duplicateKey, "duplicate key \(key.text); a key may appear only once in a mapping", at: keyStart)
                    }
                    index += 1
                    try skipFlowSpace()
                    let value: YAMLNode
                    if index < bytes.count && (bytes[index] == UInt8(ascii: ",") || bytes[index] == close) {
                        // libyaml marks a value left out in a flow mapping where the next token starts.
                        try count(at: index)
                        value = node(.scalar("", .plain), at: index)
                    } else {
                        value = try flowNode()
                    }
                    let place = mark(keyStart)
                    entries.append(
                        YAMLNode.Entry(key: key.text, keyStyle: key.style, keyLine: place.line, keyColumn: place.column, value: value))
                } else {
                    let item = try flowNode()
                    let after = index
                    try skipFlowSpace()
                    if current == UInt8(ascii: ":") {
                        throw error(.unsupported, "a key: value pair inside [...] is not supported; use {...}", at: index)
                    }
                    index = after
                    items.append(item)
                }
                try skipFlowSpace()
                guard index < bytes.count else { throw error(.syntax, expected, at: index) }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                if bytes[index] == close {
                    index += 1
                    break
                }
                throw error(.syntax, expected, at: index)
            }
            depth -= 1
            return isMapping ? node(.mapping(entries), at: start) : node(.sequence(items), at: start)
        }
        try count(at: start)
        let scalar = try flowScalarText()
        return node(.scalar(scalar.text, scalar.style), at: start)
    }

    /// A scalar inside a flow collection: quoted, or plain on one line.
    mutating func flowScalarText() throws(YAMLError) -> (text: String, style: YAMLNode.Style) {
        let start = index
        let c = bytes[start]
        if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
            return (try quoted(flow: true), c == UInt8(ascii: "'") ? .singleQuoted : .doubleQuoted)
        }
        let text = plainLine(flow: true)
        if text.isEmpty {
            if c == UInt8(ascii: ",") { throw error(.syntax, "did not find expected node content", at: start) }
            throw error(.syntax, "found character that cannot start any token", at: start)
        }
        // A plain scalar in a flow collection that goes on to the next line.
        var at = index
        while isBlank(at) { at += 1 }
        if isBreak(at) {
            var probe = at
            while probe < bytes.count && (isBlank(probe) || isBreak(probe)) { probe += 1 }
            if probe < bytes.count, !",]}#:".utf8.contains(bytes[probe]) {
                throw error(.unsupported, "a plain value inside [...] or {...} must fit on one line; quote it", at: probe)
            }
        }
        return (text, .plain)
    }
}
