// A `Decoder` over `ConfigNode` that keeps going after a problem so that one run reports every
// wrong, missing and unknown key. A value that cannot be used is reported with its source and
// replaced by a placeholder (0, "", false, the first case, an empty list); nothing decoded while
// any issue is pending is ever returned to a caller.

/// Thrown out of `init(from:)` when a custom type failed in a way the session could not paper
/// over with a placeholder; its issue is already recorded.
struct ConfigDecodingAbandoned: Error {}

/// Optional types decode a missing key as nil rather than reporting it as required.
protocol ConfigOptionalType {
    static var configNone: Self { get }
}

extension Optional: ConfigOptionalType {
    static var configNone: Optional<Wrapped> { nil }
}

/// The shared state of one decoding run: issues found, and which keys each mapping was asked for.
final class ConfigDecodingSession {
    private struct MappingUse {
        let path: ConfigPath
        let entries: [ConfigNode.Entry]
        var asked: Set<String>
    }

    private(set) var issues: [ConfigIssue] = []
    /// Paths already reported as unusable; range checks on or around them are not repeated.
    private(set) var reportedPaths: [ConfigPath] = []
    private var mappings: [MappingUse] = []
    private var mappingIndex: [ConfigPath: Int] = [:]
    private var abandonedPaths: [ConfigPath] = []
    /// The layers read, for "is required (in no layer: ...)".
    private let layerNames: [String]

    init(layerNames: [String]) {
        self.layerNames = layerNames
    }

    // MARK: Decoding

    func decode<T: Decodable>(_ type: T.Type, node: ConfigNode?, at path: ConfigPath) throws -> T {
        if let scalarType = T.self as? any ConfigScalar.Type {
            return decodeScalar(scalarType, node: node, at: path) as! T
        }
        if let enumType = T.self as? any ConfigEnum.Type {
            return try decodeEnum(enumType, node: node, at: path) as! T
        }
        do {
            return try T(from: ConfigNodeDecoder(node: node, path: path, session: self))
        } catch let abandoned as ConfigDecodingAbandoned {
            throw abandoned
        } catch {
            abandonedPaths.append(path)
            if let node {
                // A type's own words read best when they are a rule: "must be a power of two".
                let reason = Self.reason(error)
                let problem = reason.hasPrefix("must ") ? reason : "is not valid: " + reason
                report(path, "\(name(of: path)) \(problem) (got \(node.shownValue)) in \(node.source)")
            }
            throw ConfigDecodingAbandoned()
        }
    }

    private func decodeScalar<S: ConfigScalar>(_ type: S.Type, node: ConfigNode?, at path: ConfigPath) -> S {
        guard let node else { return S.placeholder }
        if case .scalar(let text, _) = node.value {
            if let value = S.parse(configText: text) { return value }
            mismatch(at: path, node: node, expected: S.expectation(for: text))
        } else {
            mismatch(at: path, node: node, expected: S.expectation(for: ""))
        }
        return S.placeholder
    }

    private func decodeEnum<E: ConfigEnum>(_ type: E.Type, node: ConfigNode?, at path: ConfigPath) throws -> E {
        guard let placeholder = E.allCases.first else { throw ConfigDecodingAbandoned() }
        guard let node else { return placeholder }
        if case .scalar(let text, _) = node.value, let value = E(rawValue: text) { return value }
        let names = E.allCases.map(\.rawValue).joined(separator: ", ")
        mismatch(at: path, node: node, expected: "one of \(names)")
        return placeholder
    }

    // MARK: Reporting

    func mismatch(at path: ConfigPath, node: ConfigNode, expected: String) {
        report(path, "\(name(of: path)) must be \(expected) (got \(node.shownValue)) in \(node.source)")
    }

    func missing(at path: ConfigPath) {
        report(path, "\(path) is required (in no layer: \(layerNames.joined(separator: ", ")))")
    }

    private func report(_ path: ConfigPath, _ message: String) {
        reportedPaths.append(path)
        issues.append(ConfigIssue(keyPath: path.isRoot ? nil : path.description, message: message))
    }

    private func name(of path: ConfigPath) -> String {
        path.isRoot ? "the configuration" : path.description
    }

    /// True when a problem at `path` (or around it) was already reported, so that a check on a
    /// placeholder value does not produce a second, misleading issue.
    func alreadyReported(_ path: ConfigPath) -> Bool {
        reportedPaths.contains { path.isWithin($0) || $0.isWithin(path) }
    }

    private static func reason(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context), DecodingError.typeMismatch(_, let context),
            DecodingError.valueNotFound(_, let context), DecodingError.keyNotFound(_, let context):
            context.debugDescription
        default:
            String(describing: error)
        }
    }

    // MARK: Unknown keys

    func mapping(at path: ConfigPath, entries: [ConfigNode.Entry]) {
        if mappingIndex[path] == nil {
            mappingIndex[path] = mappings.count
            mappings.append(MappingUse(path: path, entries: entries, asked: []))
        }
    }

    func asked(_ key: String, at path: ConfigPath) {
        if let index = mappingIndex[path] { mappings[index].asked.insert(key) }
    }

    /// Reports every key present in a mapping that no decoded type asked for. Mappings whose
    /// decoding was cut short are skipped: their remaining keys were never given the chance.
    func reportUnknownKeys() {
        for use in mappings where !abandonedPaths.contains(where: { $0.isWithin(use.path) }) {
            let allowed = use.asked.sorted()
            for entry in use.entries where !use.asked.contains(entry.key) {
                let path = use.path.appending(entry.key)
                let allowedWords = allowed.isEmpty ? "nothing is allowed here" : "allowed here: " + allowed.joined(separator: ", ")
                var message = "unknown key \(path) in \(entry.keySource) (\(allowedWords))"
                if Self.looksLikeSecret(entry) {
                    message += " (secrets belong in $CREDENTIALS_DIRECTORY or the secrets file, never in the config)"
                }
                report(path, message)
            }
        }
    }

    /// A key (or any key below it) named like a credential: a word of it ends in token, secret or
    /// apikey, contains password, or is api followed by key. Whole words, so that `secrets_file`
    /// or `tokenizer` do not count.
    static func looksLikeSecret(_ entry: ConfigNode.Entry) -> Bool {
        if looksLikeSecret(key: entry.key) { return true }
        switch entry.value.value {
        case .mapping(let entries): return entries.contains(where: looksLikeSecret)
        case .sequence(let elements): return elements.contains { ($0.entries ?? []).contains(where: looksLikeSecret) }
        case .scalar, .null: return false
        }
    }

    static func looksLikeSecret(key: String) -> Bool {
        let words = key.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
        for (index, word) in words.enumerated() {
            if word.hasSuffix("token") || word.hasSuffix("tokens") || word.hasSuffix("secret") || word.hasSuffix("apikey") { return true }
            if word.contains("password") || word.contains("passwd") { return true }
            if word == "api", index + 1 < words.count, words[index + 1] == "key" { return true }
        }
        return false
    }
}

/// Decodes one node. A nil node is a value already reported missing or unusable: everything
/// below it decodes to placeholders without further reports.
struct ConfigNodeDecoder: Decoder {
    let node: ConfigNode?
    let path: ConfigPath
    let session: ConfigDecodingSession

    var codingPath: [any CodingKey] { path.codingKeys }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        var entries: [ConfigNode.Entry]?
        if let node {
            switch node.value {
            case .mapping(let mappingEntries):
                entries = mappingEntries
                session.mapping(at: path, entries: mappingEntries)
            case .null:
                entries = []
            case .scalar, .sequence:
                session.mismatch(at: path, node: node, expected: "a mapping of keys")
            }
        }
        return KeyedDecodingContainer(ConfigKeyedContainer<Key>(entries: entries, path: path, session: session))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        var elements: [ConfigNode] = []
        if let node {
            switch node.value {
            case .sequence(let sequence):
                elements = sequence
            case .scalar(let text, _) where node.source.isVariable:
                // AST_BUS__ALLOWED_UIDS=0,1000: a list from the environment is comma-separated.
                if !text.isEmpty {
                    elements = text.split(separator: ",", omittingEmptySubsequences: false).map {
                        ConfigNode(value: .scalar(String($0).trimmingSpaces, plain: true), source: node.source)
                    }
                }
            case .scalar, .mapping, .null:
                session.mismatch(at: path, node: node, expected: "a list")
            }
        }
        return ConfigUnkeyedContainer(elements: elements, path: path, session: session)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        ConfigSingleValueContainer(node: node, path: path, session: session)
    }
}

private extension String {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

struct ConfigKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    /// nil when the mapping itself is missing or unusable (already reported).
    let entries: [ConfigNode.Entry]?
    let path: ConfigPath
    let session: ConfigDecodingSession

    var codingPath: [any CodingKey] { path.codingKeys }

    var allKeys: [Key] {
        guard let entries else { return [] }
        for entry in entries { session.asked(entry.key, at: path) }
        return entries.compactMap { Key(stringValue: $0.key) }
    }

    private func entry(_ key: Key) -> ConfigNode.Entry? {
        session.asked(key.stringValue, at: path)
        return entries?.first { $0.key == key.stringValue }
    }

    func contains(_ key: Key) -> Bool { entry(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool { entry(key)?.value.isNull ?? true }

    /// The node for `key`; reports it as required when the mapping is usable but lacks it.
    private func child(_ key: Key, optional: Bool) -> ConfigNode? {
        let found = entry(key)
        if found == nil, entries != nil, !optional { session.missing(at: path.appending(key.stringValue)) }
        return found?.value
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try decodeValue(type, forKey: key) }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decodeValue(type, forKey: key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try decodeValue(type, forKey: key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try decodeValue(type, forKey: key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try decodeValue(type, forKey: key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decodeValue(type, forKey: key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try decodeValue(type, forKey: key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try decodeValue(type, forKey: key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try decodeValue(type, forKey: key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try decodeValue(type, forKey: key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try decodeValue(type, forKey: key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try decodeValue(type, forKey: key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try decodeValue(type, forKey: key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try decodeValue(type, forKey: key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decodeValue(type, forKey: key) }

    /// The one implementation behind every `decode` overload (a distinct name avoids recursion).
    private func decodeValue<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let optionalType = T.self as? any ConfigOptionalType.Type
        let node = child(key, optional: optionalType != nil)
        if node == nil, let none = optionalType?.configNone as? T { return none }
        return try session.decode(T.self, node: node, at: path.appending(key.stringValue))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try decoder(for: key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try decoder(for: key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        decoder(for: Key(stringValue: "super"))
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        decoder(for: key)
    }

    private func decoder(for key: Key?) -> ConfigNodeDecoder {
        guard let key else { return ConfigNodeDecoder(node: nil, path: path, session: session) }
        return ConfigNodeDecoder(node: child(key, optional: false), path: path.appending(key.stringValue), session: session)
    }
}

struct ConfigUnkeyedContainer: UnkeyedDecodingContainer {
    let elements: [ConfigNode]
    let path: ConfigPath
    let session: ConfigDecodingSession
    private(set) var currentIndex = 0

    init(elements: [ConfigNode], path: ConfigPath, session: ConfigDecodingSession) {
        self.elements = elements
        self.path = path
        self.session = session
    }

    var codingPath: [any CodingKey] { path.codingKeys }
    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private func ensureNotAtEnd<T>(_ type: T.Type) throws {
        if isAtEnd {
            throw DecodingError.valueNotFound(
                type,
                DecodingError.Context(
                    codingPath: path.appending(index: currentIndex).codingKeys,
                    debugDescription: "the list has only \(elements.count) elements"))
        }
    }

    mutating func decodeNil() throws -> Bool {
        try ensureNotAtEnd(Never.self)
        if elements[currentIndex].isNull {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeNext(type) }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try decodeNext(type) }
    mutating func decode(_ type: String.Type) throws -> String { try decodeNext(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try decodeNext(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try decodeNext(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try decodeNext(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try decodeNext(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try decodeNext(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try decodeNext(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try decodeNext(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try decodeNext(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try decodeNext(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try decodeNext(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try decodeNext(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try decodeNext(type) }

    private mutating func decodeNext<T: Decodable>(_ type: T.Type) throws -> T {
        try ensureNotAtEnd(type)
        let value = try session.decode(T.self, node: elements[currentIndex], at: path.appending(index: currentIndex))
        currentIndex += 1
        return value
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try nextDecoder().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try nextDecoder().unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        try nextDecoder()
    }

    private mutating func nextDecoder() throws -> ConfigNodeDecoder {
        try ensureNotAtEnd(ConfigNode.self)
        let decoder = ConfigNodeDecoder(node: elements[currentIndex], path: path.appending(index: currentIndex), session: session)
        currentIndex += 1
        return decoder
    }
}

struct ConfigSingleValueContainer: SingleValueDecodingContainer {
    let node: ConfigNode?
    let path: ConfigPath
    let session: ConfigDecodingSession

    var codingPath: [any CodingKey] { path.codingKeys }

    func decodeNil() -> Bool { node?.isNull ?? true }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try session.decode(T.self, node: node, at: path)
    }

    func decode(_ type: Bool.Type) throws -> Bool { try session.decode(type, node: node, at: path) }
    func decode(_ type: String.Type) throws -> String { try session.decode(type, node: node, at: path) }
    func decode(_ type: Double.Type) throws -> Double { try session.decode(type, node: node, at: path) }
    func decode(_ type: Float.Type) throws -> Float { try session.decode(type, node: node, at: path) }
    func decode(_ type: Int.Type) throws -> Int { try session.decode(type, node: node, at: path) }
    func decode(_ type: Int8.Type) throws -> Int8 { try session.decode(type, node: node, at: path) }
    func decode(_ type: Int16.Type) throws -> Int16 { try session.decode(type, node: node, at: path) }
    func decode(_ type: Int32.Type) throws -> Int32 { try session.decode(type, node: node, at: path) }
    func decode(_ type: Int64.Type) throws -> Int64 { try session.decode(type, node: node, at: path) }
    func decode(_ type: UInt.Type) throws -> UInt { try session.decode(type, node: node, at: path) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try session.decode(type, node: node, at: path) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try session.decode(type, node: node, at: path) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try session.decode(type, node: node, at: path) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try session.decode(type, node: node, at: path) }
}
