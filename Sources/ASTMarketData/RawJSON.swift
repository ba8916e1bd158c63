/// A JSON value whose numbers are kept as their text, so that a price such as `187.43` becomes
/// fixed-point units without passing through `Double` (Foundation's decoders read numbers as
/// binary floating point first).
indirect enum RawJSON: Sendable, Equatable {
    case object([String: RawJSON])
    case array([RawJSON])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    subscript(key: String) -> RawJSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    var string: String? { if case .string(let s) = self { s } else { nil } }
    var number: String? { if case .number(let n) = self { n } else { nil } }
    var array: [RawJSON]? { if case .array(let a) = self { a } else { nil } }

    /// Why a text is not JSON: the byte offset and what was expected.
    struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
        var offset: Int
        var expected: String
        var description: String { "not JSON: expected \(expected) at byte \(offset)" }
    }

    /// Parses one JSON document (RFC 8259), nesting at most 64 levels deep.
    static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> RawJSON {
        var p = Parser(bytes: bytes)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == bytes.count else { throw SyntaxError(offset: p.i, expected: "end of document") }
        return v
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        }

        mutating func expect(_ c: UInt8, _ what: String) throws(SyntaxError) {
            guard i < bytes.count, bytes[i] == c else { throw SyntaxError(offset: i, expected: what) }
            i += 1
        }

        mutating func literal(_ word: String, _ value: RawJSON) throws(SyntaxError) -> RawJSON {
            let w = Array(word.utf8)
            guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw SyntaxError(offset: i, expected: word) }
            i += w.count
            return value
        }

        mutating func value(depth: Int) throws(SyntaxError) -> RawJSON {
            guard depth < 64 else { throw SyntaxError(offset: i, expected: "less nesting") }
            guard i < bytes.count else { throw SyntaxError(offset: i, expected: "a value") }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var o: [String: RawJSON] = [:]
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
                    i += 1
                    return .object(o)
                }
                while true {
                    skipSpace()
                    let k = try string()
                    skipSpace()
                    try expect(UInt8(ascii: ":"), "':'")
                    skipSpace()
                    o[k] = try value(depth: depth + 1)
                    skipSpace()
                    if i < bytes.count, bytes[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    try expect(UInt8(ascii: "}"), "',' or '}'")
                    return .object(o)
                }
            case UInt8(ascii: "["):
                i += 1
                var a: [RawJSON] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
                    i += 1
                    return .array(a)
                }
                while true {
                    skipSpace()
                    a.append(try value(depth: depth + 1))
                    skipSpace()
                    if i < bytes.count, bytes[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    try expect(UInt8(ascii: "]"), "',' or ']'")
                    return .array(a)
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            default: return .number(try number())
            }
        }

        mutating func number() throws(SyntaxError) -> String {
            let start = i
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
            func digits(_ p: inout Parser) -> Int {
                let s = p.i
                while p.i < p.bytes.count, p.bytes[p.i] >= 0x30, p.bytes[p.i] <= 0x39 { p.i += 1 }
                return p.i - s
            }
            guard digits(&self) > 0 else { throw SyntaxError(offset: i, expected: "a value") }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                guard digits(&self) > 0 else { throw SyntaxError(offset: i, expected: "a digit") }
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                guard digits(&self) > 0 else { throw SyntaxError(offset: i, expected: "an exponent") }
            }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }

        mutating func string() throws(SyntaxError) -> String {
            try expect(UInt8(ascii: "\""), "'\"'")
            var out: [UInt8] = []
            while i < bytes.count {
                let c = bytes[i]
                i += 1
                switch c {
                case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard i < bytes.count else { throw SyntaxError(offset: i, expected: "an escape") }
                    let e = bytes[i]
                    i += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16) else {
                            throw SyntaxError(offset: i, expected: "four hex digits")
                        }
                        i += 4
                        // Surrogate pairs are replaced: Polygon's texts are ASCII.
                        out += Array(String(Unicode.Scalar(v).map(Character.init) ?? "\u{FFFD}").utf8)
                    default: throw SyntaxError(offset: i - 1, expected: "a valid escape")
                    }
                case 0..<0x20: throw SyntaxError(offset: i - 1, expected: "no control character in a string")
                default: out.append(c)
                }
            }
            throw SyntaxError(offset: i, expected: "'\"'")
        }
    }
}
