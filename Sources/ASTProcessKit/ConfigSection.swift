/// A typed part of the configuration: decoded from YAML, then checked by `validate`.
///
/// Keys in YAML are snake_case and Swift properties camelCase; every section spells the mapping
/// out in its `CodingKeys` (`case maxFrameBytes = "max_frame_bytes"`), so the YAML name of a
/// property is always one search away. Sections declare no defaults: every key has its one value
/// in `etc/ast.yaml`, and a key missing from every layer is an error.
public protocol ConfigSection: Decodable, Sendable {
    /// Checks ranges and relations between values; report each problem to `v`, never throw.
    func validate(_ v: inout ConfigValidator)
}

/// A closed set of names a configuration value may take (`development`, `test`, `production`).
/// The loader refuses any other text with the list of allowed names.
public protocol ConfigEnum: CaseIterable, RawRepresentable, Decodable, Sendable where RawValue == String {}

/// Collects range and consistency problems of decoded configuration sections. The loader adds the
/// file and line each value came from.
public struct ConfigValidator: Sendable {
    struct Finding: Sendable {
        let path: ConfigPath
        /// Other values this finding depends on; a finding is dropped when one of them was
        /// already reported as unusable.
        let related: [ConfigPath]
        let problem: String
    }

    private(set) var path: ConfigPath
    private(set) var findings: [Finding] = []

    init(path: ConfigPath = .root) {
        self.path = path
    }

    /// Requires `value` to lie in `allowed`: `must be between 1024 and 67108864 (got 512)`.
    /// With `index`, the value is element `index` of the list at `key`.
    public mutating func range<V: Comparable>(_ value: V, _ allowed: ClosedRange<V>, key: some CodingKey, index: Int? = nil) {
        guard !allowed.contains(value) else { return }
        var at = path.appending(key.stringValue)
        if let index { at = at.appending(index: index) }
        findings.append(
            Finding(
                path: at, related: [],
                problem: "must be between \(Self.show(allowed.lowerBound)) and \(Self.show(allowed.upperBound)) (got \(Self.show(value)))"))
    }

    /// Requires `value` (at `key`) to be at least `minimum`, the value at `minimumKey` in the same
    /// section.
    public mutating func atLeast<V: Comparable>(_ value: V, key: some CodingKey, _ minimum: V, minimumKey: some CodingKey) {
        guard value < minimum else { return }
        let other = path.appending(minimumKey.stringValue)
        findings.append(
            Finding(
                path: path.appending(key.stringValue), related: [other],
                problem: "must be at least \(Self.show(minimum)), the value of \(other) (got \(Self.show(value)))"))
    }

    /// Reports `must <rule> (got <value>)` for `key` unless `condition` holds:
    /// `v.check(!runtimeDir.isEmpty, key: CodingKeys.runtimeDir, must: "not be empty", got: runtimeDir)`.
    public mutating func check(_ condition: Bool, key: some CodingKey, must rule: String, got value: Any) {
        guard !condition else { return }
        findings.append(
            Finding(
                path: path.appending(key.stringValue), related: [],
                problem: "must \(rule) (got \(Self.show(value)))"))
    }

    /// Like ``check(_:key:must:got:)`` for a key below the current section (`["risk", "broker"]`),
    /// for rules that tie sections together; `related` keys (same form) withdraw the finding when
    /// they were already reported as unusable.
    public mutating func check(_ condition: Bool, keyPath keys: [String], related: [[String]] = [], must rule: String, got value: Any) {
        guard !condition else { return }
        let at = keys.reduce(path) { $0.appending($1) }
        let others = related.map { $0.reduce(path) { $0.appending($1) } }
        findings.append(Finding(path: at, related: others, problem: "must \(rule) (got \(Self.show(value)))"))
    }

    /// Validates a nested section found at `key`.
    public mutating func section(_ section: some ConfigSection, key: some CodingKey) {
        let outer = path
        path = path.appending(key.stringValue)
        section.validate(&self)
        path = outer
    }

    /// Validates each section of the list found at `key` (`children[0]`, `children[1]`, ...).
    public mutating func sections(_ sections: [some ConfigSection], key: some CodingKey) {
        let outer = path
        for (index, section) in sections.enumerated() {
            path = outer.appending(key.stringValue).appending(index: index)
            section.validate(&self)
        }
        path = outer
    }

    private static func show(_ value: Any) -> String {
        if let text = value as? String { return ConfigNode.show(text: text) }
        return String(describing: value)
    }
}

/// Strict scalar parsing: only the plain decimal spelling of a number, only `true`/`false`.
protocol ConfigScalar {
    /// Parses `text`; nil when it is not a valid spelling of this type.
    static func parse(configText text: String) -> Self?
    /// What a valid value looks like, after "must be": `an integer`, `true or false`.
    static func expectation(for text: String) -> String
    /// The value that stands in for one already reported as wrong, so decoding goes on and finds
    /// the other problems too.
    static var placeholder: Self { get }
}

enum ConfigScalarParsing {
    /// `-12`, `3.5`, `1e6`; not `0x10`, `nan`, `inf`, `1_000` or ` 5`.
    static func isDecimalNumber(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.allSatisfy({ (0x30...0x39).contains($0) || "+-.eE".utf8.contains($0) }),
            text.utf8.contains(where: { (0x30...0x39).contains($0) }),
            let value = Double(text)
        else { return false }
        return value.isFinite
    }

    static func isDecimalInteger(_ text: String) -> Bool {
        var digits = Substring(text)
        if digits.first == "-" || digits.first == "+" { digits = digits.dropFirst() }
        return !digits.isEmpty && digits.utf8.allSatisfy { (0x30...0x39).contains($0) }
    }
}

extension ConfigScalar where Self: FixedWidthInteger {
    static func parse(configText text: String) -> Self? {
        ConfigScalarParsing.isDecimalInteger(text) ? Self(text, radix: 10) : nil
    }

    /// Unsigned types, and any integer spelled out of range, name the bounds.
    static func expectation(for text: String) -> String {
        Self.min == 0 || ConfigScalarParsing.isDecimalInteger(text)
            ? "an integer between \(Self.min) and \(Self.max)"
            : "an integer"
    }

    static var placeholder: Self { 0 }
}

extension Int: ConfigScalar {}
extension Int8: ConfigScalar {}
extension Int16: ConfigScalar {}
extension Int32: ConfigScalar {}
extension Int64: ConfigScalar {}
extension UInt: ConfigScalar {}
extension UInt8: ConfigScalar {}
extension UInt16: ConfigScalar {}
extension UInt32: ConfigScalar {}
extension UInt64: ConfigScalar {}

extension Double: ConfigScalar {
    static func parse(configText text: String) -> Double? {
        ConfigScalarParsing.isDecimalNumber(text) ? Double(text) : nil
    }
    static func expectation(for text: String) -> String { "a number" }
    static var placeholder: Double { 0 }
}

extension Float: ConfigScalar {
    static func parse(configText text: String) -> Float? {
        guard ConfigScalarParsing.isDecimalNumber(text), let value = Float(text), value.isFinite else { return nil }
        return value
    }
    static func expectation(for text: String) -> String { "a number" }
    static var placeholder: Float { 0 }
}

extension Bool: ConfigScalar {
    static func parse(configText text: String) -> Bool? {
        switch text {
        case "true": true
        case "false": false
        default: nil
        }
    }
    static func expectation(for text: String) -> String { "true or false" }
    static var placeholder: Bool { false }
}

extension String: ConfigScalar {
    static func parse(configText text: String) -> String? { text }
    static func expectation(for text: String) -> String { "a string" }
    static var placeholder: String { "" }
}
