import FoundationEssentials
import Glibc

/// A strict, allocation-light JSON decoder for the compact JSON the journals and the bus carry,
/// with Foundation's `JSONDecoder` behind it: the same value, or the same refusal.
///
/// The document is read once into a flat tape of tokens (no dictionary, no key `String`s); the
/// types' own `init(from:)` then runs over it, so every validation a type does is the one it
/// does under `JSONDecoder`. The fast path gives up, and `JSONDecoder` decodes the same bytes,
/// whenever its answer could differ: an escape in a string, invalid UTF-8, a duplicate key, a
/// number that is not a plain integer (every floating-point value), a value out of its type's
/// range, `Data`/`Date`/`URL`/`Decimal` (which `JSONDecoder` decodes its own way), a nesting
/// deeper than 64, a top-level value that is not an object or array, and any error at all
/// (also one a type catches and recovers from), so a refusal is always `JSONDecoder`'s own.
///
/// `JSONDecoder` costs about 41 % of `astctl replay --verify`: it builds a dictionary of key
/// strings for every object it opens.
public enum StrictJSON {
    /// `T` from `bytes` as `fallback` decodes it (`fallback` must use the default strategies).
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], fallback: JSONDecoder) throws -> T {
        if let value = fastDecode(type, from: bytes) { return value }
        return try fallback.decode(T.self, from: Data(bytes))
    }

    /// `T` from `bytes` as a default `JSONDecoder` decodes it.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        if let value = fastDecode(type, from: bytes) { return value }
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    }

    /// The value the fast path reads, or nil when the bytes (or `T`) need `JSONDecoder`; never a
    /// value `JSONDecoder` would not give for the same bytes.
    public static func fastDecode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) -> T? {
        guard let document = StrictJSONDocument(bytes) else { return nil }
        guard let value = try? document.decode(T.self, at: 0), !document.failed else { return nil }
        return value
    }
}

/// One token of the tape: a scalar's byte range, or a container's member count and the tape
/// index just past its last descendant.
struct StrictJSONToken {
    enum Kind: UInt8 { case object, array, string, integer, number, trueValue, falseValue, null }
    var kind: Kind
    /// Scalars: first byte (a string's, after the quote). Containers: the member count.
    var start: Int32
    /// Scalars: one past the last byte (a string's, before the quote).
    var end: Int32
    /// The tape index of the next sibling.
    var next: Int32
}

/// Why the fast path gave up (never shown: `JSONDecoder` decodes the bytes again).
struct StrictJSONGiveUp: Error {}

/// Reads a document into its tape (``StrictJSONDocument`` keeps the result as a constant).
struct StrictJSONTokenizer {
    var tape: [StrictJSONToken] = []

    static func skipSpace(_ b: UnsafeBufferPointer<UInt8>, _ at: inout Int) {
        while at < b.count, b[at] == 0x20 || b[at] == 0x0A || b[at] == 0x0D || b[at] == 0x09 { at += 1 }
    }

    private mutating func append(_ kind: StrictJSONToken.Kind, _ start: Int, _ end: Int) {
        tape.append(StrictJSONToken(kind: kind, start: Int32(start), end: Int32(end), next: Int32(tape.count + 1)))
    }

    mutating func parseValue(_ b: UnsafeBufferPointer<UInt8>, _ at: inout Int, depth: Int) -> Bool {
        guard at < b.count else { return false }
        switch b[at] {
        case 0x7B: return parseContainer(b, &at, depth: depth, object: true)
        case 0x5B: return parseContainer(b, &at, depth: depth, object: false)
        case 0x22: return parseString(b, &at)
        case 0x74: return literal(b, &at, "true", .trueValue)
        case 0x66: return literal(b, &at, "false", .falseValue)
        case 0x6E: return literal(b, &at, "null", .null)
        default: return parseNumber(b, &at)
        }
    }

    private mutating func literal(_ b: UnsafeBufferPointer<UInt8>, _ at: inout Int, _ word: StaticString, _ kind: StrictJSONToken.Kind)
        -> Bool
    {
        let n = word.utf8CodeUnitCount
        guard b.count - at >= n, memcmp(b.baseAddress! + at, word.utf8Start, n) == 0 else { return false }
        append(kind, at, at + n)
        at += n
        return true
    }

    /// A string without escapes or control characters; non-ASCII text must be valid UTF-8.
    private mutating func parseString(_ b: UnsafeBufferPointer<UInt8>, _ at: inout Int) -> Bool {
        let start = at + 1
        var i = start
        var ascii = true
        while i < b.count {
            let c = b[i]
            if c == 0x22 { break }
            if c == 0x5C || c < 0x20 { return false }
            if c >= 0x80 { ascii = false }
            i += 1
        }
        guard i < b.count else { return false }
        if !ascii, String(validating: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self) == nil { return false }
        append(.string, start, i)
        at = i + 1
        return true
    }

    /// JSON's number grammar; `.integer` when it has neither fraction nor exponent.
    private mutating func parseNumber(_ b: UnsafeBufferPointer<UInt8>, _ at: inout Int) -> Bool {
        func digit(_ i: Int) -> Bool { i < b.count && b[i] >= 0x30 && b[i] <= 0x39 }
        let start = at
        var i = at
        if i < b.count, b[i] == 0x2D { i += 1 }
        guard digit(i) else { return false }
        if b[i] == 0x30 {
            i += 1
        } else {
            while digit(i) { i += 1 }
        }
        var integer = true
        if i < b.count, b[i] == 0x2E {
            i += 1
            guard digit(i) else { return false }
            while digit(i) { i += 1 }
            integer = false
        }
        if i < b.count, b[i] == 0x65 || b[i] == 0x45 {
            i += 1
            if i < b.count, b[i] == 0x2B || b[i] == 0x2D { i += 1 }
            guard digit(i) else { return false }
            while digit(i) { i += 1 }
            integer = false
        }
        append(integer ? .integer : .number, start, i)
        at = i
        return true
    }

    private mutating func parseContainer(_ b: UnsafeBufferPointer<UInt8>, _ at: inout Int, depth: Int, object: Bool) -> Bool {
        guard depth < StrictJSONDocument.maxDepth else { return false }
        let index = tape.count
        append(object ? .object : .array, 0, 0)
        at += 1
        Self.skipSpace(b, &at)
        let close: UInt8 = object ? 0x7D : 0x5D
        var count: Int32 = 0
        if at < b.count, b[at] == close {
            at += 1
        } else {
            while true {
                if object {
                    guard at < b.count, b[at] == 0x22, parseString(b, &at) else { return false }
                    Self.skipSpace(b, &at)
                    guard at < b.count, b[at] == 0x3A else { return false }
                    at += 1
                    Self.skipSpace(b, &at)
                }
                guard parseValue(b, &at, depth: depth + 1) else { return false }
                count += 1
                Self.skipSpace(b, &at)
                guard at < b.count else { return false }
                if b[at] == 0x2C {
                    at += 1
                    Self.skipSpace(b, &at)
                    continue
                }
                guard b[at] == close else { return false }
                at += 1
                break
            }
        }
        tape[index].start = count
        tape[index].next = Int32(tape.count)
        return !object || uniqueKeys(index, b)
    }

    /// False when the object at `index` names a key twice (which `JSONDecoder` resolves its own way).
    private func uniqueKeys(_ index: Int, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = Int(tape[index].start)
        guard count > 1 else { return true }
        var keys: [Int] = []
        keys.reserveCapacity(count)
        var j = index + 1
        for _ in 0..<count {
            let key = tape[j]
            for k in keys {
                let other = tape[k]
                if other.end - other.start == key.end - key.start,
                    memcmp(b.baseAddress! + Int(key.start), b.baseAddress! + Int(other.start), Int(key.end - key.start)) == 0
                {
                    return false
                }
            }
            keys.append(j)
            j = Int(tape[j + 1].next)
        }
        return true
    }
}

/// A parsed document: the bytes and their tape. A class so that every decoder and container
/// over it shares one `failed` flag.
final class StrictJSONDocument {
    let bytes: [UInt8]
    /// A constant once parsed: every read of a class's `var` would pay a dynamic exclusivity check.
    let tape: [StrictJSONToken]
    /// Set by every error the fast path raises, whether or not the type caught it.
    private(set) var failed = false
    static let maxDepth = 64

    init?(_ bytes: [UInt8]) {
        self.bytes = bytes
        guard bytes.count < Int(Int32.max) else { return nil }
        var tokenizer = StrictJSONTokenizer()
        tokenizer.tape.reserveCapacity(bytes.count / 8 + 4)
        let ok = bytes.withUnsafeBufferPointer { b -> Bool in
            var at = 0
            StrictJSONTokenizer.skipSpace(b, &at)
            guard at < b.count, b[at] == 0x7B || b[at] == 0x5B else { return false }
            guard tokenizer.parseValue(b, &at, depth: 0) else { return false }
            StrictJSONTokenizer.skipSpace(b, &at)
            return at == b.count
        }
        guard ok else { return nil }
        tape = tokenizer.tape
    }

    func giveUp() -> StrictJSONGiveUp {
        failed = true
        return StrictJSONGiveUp()
    }

    // MARK: Reading values

    func token(_ i: Int) -> StrictJSONToken { tape[i] }

    /// The member of the object at `object` named `key`: the tape index of its value.
    func member(_ object: Int, _ key: some CodingKey) -> Int? {
        var name = key.stringValue
        return name.withUTF8 { name -> Int? in
            bytes.withUnsafeBufferPointer { b -> Int? in
                let count = Int(tape[object].start)
                var j = object + 1
                for _ in 0..<count {
                    let k = tape[j]
                    if Int(k.end - k.start) == name.count,
                        name.count == 0 || memcmp(b.baseAddress! + Int(k.start), name.baseAddress!, name.count) == 0
                    {
                        return j + 1
                    }
                    j = Int(tape[j + 1].next)
                }
                return nil
            }
        }
    }

    /// The keys of the object at `object`, in document order.
    func keys(_ object: Int) -> [String] {
        let count = Int(tape[object].start)
        var result: [String] = []
        result.reserveCapacity(count)
        var j = object + 1
        for _ in 0..<count {
            result.append(string(at: j))
            j = Int(tape[j + 1].next)
        }
        return result
    }

    func string(at i: Int) -> String {
        let t = tape[i]
        return bytes.withUnsafeBufferPointer { b in
            String(decoding: UnsafeBufferPointer(rebasing: b[Int(t.start)..<Int(t.end)]), as: UTF8.self)
        }
    }

    func decodeString(at i: Int) throws -> String {
        guard tape[i].kind == .string else { throw giveUp() }
        return string(at: i)
    }

    func decodeBool(at i: Int) throws -> Bool {
        switch tape[i].kind {
        case .trueValue: return true
        case .falseValue: return false
        default: throw giveUp()
        }
    }

    /// A plain decimal integer that fits `T` (no `-0`).
    func decodeInteger<T: FixedWidthInteger>(_ type: T.Type, at i: Int) throws -> T {
        let t = tape[i]
        guard t.kind == .integer else { throw giveUp() }
        let value: T? = bytes.withUnsafeBufferPointer { b -> T? in
            var at = Int(t.start)
            let negative = b[at] == 0x2D
            if negative {
                guard T.isSigned else { return nil }
                at += 1
            }
            var v: T = 0
            while at < Int(t.end) {
                let d = T(b[at] &- 0x30)
                let (times10, o1) = v.multipliedReportingOverflow(by: 10)
                let (next, o2) = negative ? times10.subtractingReportingOverflow(d) : times10.addingReportingOverflow(d)
                guard !o1, !o2 else { return nil }
                v = next
                at += 1
            }
            return negative && v == 0 ? nil : v
        }
        guard let value else { throw giveUp() }
        return value
    }

    func decode<T: Decodable>(_ type: T.Type, at i: Int) throws -> T {
        // Types `JSONDecoder` decodes its own way (and floating point, whose text-to-binary
        // rounding this reader does not repeat): the fast path gives up.
        if T.self == String.self, let s = try decodeString(at: i) as? T { return s }
        if T.self == Data.self || T.self == Date.self || T.self == URL.self || T.self == Decimal.self { throw giveUp() }
        return try T(from: StrictJSONDecoder(document: self, index: i))
    }
}

/// The `Decoder` over one value of a ``StrictJSONDocument``.
struct StrictJSONDecoder: Decoder {
    let document: StrictJSONDocument
    let index: Int

    // Only errors read the coding path, and an error sends the bytes to `JSONDecoder`.
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard document.token(index).kind == .object else { throw document.giveUp() }
        return KeyedDecodingContainer(StrictJSONKeyed<Key>(document: document, index: index))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard document.token(index).kind == .array else { throw document.giveUp() }
        return StrictJSONUnkeyed(document: document, index: index)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        StrictJSONSingle(document: document, index: index)
    }
}

struct StrictJSONKeyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let document: StrictJSONDocument
    let index: Int

    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { document.keys(index).compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { document.member(index, key) != nil }

    private func value(_ key: Key) throws -> Int {
        guard let v = document.member(index, key) else { throw document.giveUp() }
        return v
    }

    func decodeNil(forKey key: Key) throws -> Bool { document.token(try value(key)).kind == .null }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try document.decodeBool(at: value(key)) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try document.decodeString(at: value(key)) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { throw document.giveUp() }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { throw document.giveUp() }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try document.decodeInteger(type, at: value(key)) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try document.decodeInteger(type, at: value(key)) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try document.decodeInteger(type, at: value(key)) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try document.decodeInteger(type, at: value(key)) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try document.decodeInteger(type, at: value(key)) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try document.decodeInteger(type, at: value(key)) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try document.decodeInteger(type, at: value(key)) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try document.decodeInteger(type, at: value(key)) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try document.decodeInteger(type, at: value(key)) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try document.decodeInteger(type, at: value(key)) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try document.decode(type, at: value(key)) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try StrictJSONDecoder(document: document, index: value(key)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try StrictJSONDecoder(document: document, index: value(key)).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { throw document.giveUp() }
    func superDecoder(forKey key: Key) throws -> any Decoder { throw document.giveUp() }
}

struct StrictJSONUnkeyed: UnkeyedDecodingContainer {
    let document: StrictJSONDocument
    /// The tape index of the next element.
    var position: Int
    let total: Int

    init(document: StrictJSONDocument, index: Int) {
        self.document = document
        position = index + 1
        total = Int(document.token(index).start)
    }

    var codingPath: [any CodingKey] { [] }
    var count: Int? { total }
    var isAtEnd: Bool { currentIndex >= total }
    private(set) var currentIndex = 0

    private mutating func next() throws -> Int {
        guard !isAtEnd else { throw document.giveUp() }
        let i = position
        position = Int(document.token(i).next)
        currentIndex += 1
        return i
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { throw document.giveUp() }
        guard document.token(position).kind == .null else { return false }
        _ = try next()
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try document.decodeBool(at: next()) }
    mutating func decode(_ type: String.Type) throws -> String { try document.decodeString(at: next()) }
    mutating func decode(_ type: Double.Type) throws -> Double { throw document.giveUp() }
    mutating func decode(_ type: Float.Type) throws -> Float { throw document.giveUp() }
    mutating func decode(_ type: Int.Type) throws -> Int { try document.decodeInteger(type, at: next()) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try document.decodeInteger(type, at: next()) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try document.decodeInteger(type, at: next()) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try document.decodeInteger(type, at: next()) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try document.decodeInteger(type, at: next()) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try document.decodeInteger(type, at: next()) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try document.decodeInteger(type, at: next()) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try document.decodeInteger(type, at: next()) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try document.decodeInteger(type, at: next()) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try document.decodeInteger(type, at: next()) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try document.decode(type, at: next()) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try StrictJSONDecoder(document: document, index: next()).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try StrictJSONDecoder(document: document, index: next()).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder { throw document.giveUp() }
}

struct StrictJSONSingle: SingleValueDecodingContainer {
    let document: StrictJSONDocument
    let index: Int

    var codingPath: [any CodingKey] { [] }

    func decodeNil() -> Bool { document.token(index).kind == .null }
    func decode(_ type: Bool.Type) throws -> Bool { try document.decodeBool(at: index) }
    func decode(_ type: String.Type) throws -> String { try document.decodeString(at: index) }
    func decode(_ type: Double.Type) throws -> Double { throw document.giveUp() }
    func decode(_ type: Float.Type) throws -> Float { throw document.giveUp() }
    func decode(_ type: Int.Type) throws -> Int { try document.decodeInteger(type, at: index) }
    func decode(_ type: Int8.Type) throws -> Int8 { try document.decodeInteger(type, at: index) }
    func decode(_ type: Int16.Type) throws -> Int16 { try document.decodeInteger(type, at: index) }
    func decode(_ type: Int32.Type) throws -> Int32 { try document.decodeInteger(type, at: index) }
    func decode(_ type: Int64.Type) throws -> Int64 { try document.decodeInteger(type, at: index) }
    func decode(_ type: UInt.Type) throws -> UInt { try document.decodeInteger(type, at: index) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try document.decodeInteger(type, at: index) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try document.decodeInteger(type, at: index) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try document.decodeInteger(type, at: index) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try document.decodeInteger(type, at: index) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try document.decode(type, at: index) }
}
