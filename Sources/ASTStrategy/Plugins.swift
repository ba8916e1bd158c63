import ASTCore
import ASTIndicators

/// One parameter value of a plugin's configuration: a number, a string or a flag.
public enum PluginValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case number(Double)
    case string(String)
    case bool(Bool)

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        // The configuration file's decoder reads every scalar as its text and reports each failed
        // typed read as a problem, so probing Bool first refused every number there: read the
        // text and classify it. (JSON numbers and booleans are no strings and fall through.)
        if let text = try? c.decode(String.self) {
            self = Self(text: text)
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else {
            self = .number(try c.decode(Double.self))
        }
    }

    /// `true`/`false`, a finite decimal number, else the text itself.
    init(text: String) {
        if text == "true" || text == "false" {
            self = .bool(text == "true")
        } else if !text.isEmpty, text.allSatisfy({ "0123456789.+-eE".contains($0) }), let d = Double(text), d.isFinite {
            self = .number(d)
        } else {
            self = .string(text)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .number(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .bool(let b): try c.encode(b)
        }
    }

    public var description: String {
        switch self {
        case .number(let d): d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : "\(d)"
        case .string(let s): "'\(s)'"
        case .bool(let b): String(b)
        }
    }
}

/// A plugin's parameters as the configuration file gives them: a flat map of names to values
/// (`{fast: 10, slow: 30, average: sma}`). Encodes as a JSON object with sorted keys.
public struct PluginParameters: Sendable, Equatable, Codable, ExpressibleByDictionaryLiteral {
    public var values: [String: PluginValue]

    public init(_ values: [String: PluginValue] = [:]) { self.values = values }
    public init(dictionaryLiteral elements: (String, PluginValue)...) {
        values = Dictionary(elements, uniquingKeysWith: { _, last in last })
    }

    public init(from decoder: any Decoder) throws {
        values = try decoder.singleValueContainer().decode([String: PluginValue].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyConfigKey.self)
        for key in values.keys.sorted() { try c.encode(values[key]!, forKey: AnyConfigKey(stringValue: key)) }
    }
}

/// Why a plugin refused its configuration: every problem, in words an operator can act on.
public struct PluginConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `detector ma_crossover`, `strategy bracket`.
    public var plugin: String
    public var problems: [String]

    public init(plugin: String, problems: [String]) {
        self.plugin = plugin
        self.problems = problems
    }

    public var description: String { problems.map { "\(plugin): \($0)" }.joined(separator: "; ") }
}

/// Reads typed values out of ``PluginParameters`` for a plugin's `validate`, collecting every
/// problem (a wrong type, a value out of range, an unknown key) instead of stopping at the first.
public struct ParameterReader: Sendable {
    public let plugin: String
    private let parameters: PluginParameters
    private var read: Set<String> = []
    public private(set) var problems: [String] = []

    public init(plugin: String, _ parameters: PluginParameters) {
        self.plugin = plugin
        self.parameters = parameters
    }

    /// A whole number in `range`, or `fallback` when absent.
    public mutating func int(_ key: String, default fallback: Int, in range: ClosedRange<Int>) -> Int {
        read.insert(key)
        guard let v = parameters.values[key] else { return fallback }
        guard case .number(let d) = v, d == d.rounded(), d.isFinite, abs(d) < 1e15, range.contains(Int(d)) else {
            problems.append("\(key) must be a whole number from \(range.lowerBound) to \(range.upperBound) (got \(v))")
            return fallback
        }
        return Int(d)
    }

    /// A number in `range`, or `fallback` when absent.
    public mutating func double(_ key: String, default fallback: Double, in range: ClosedRange<Double>) -> Double {
        read.insert(key)
        guard let v = parameters.values[key] else { return fallback }
        guard case .number(let d) = v, d.isFinite, range.contains(d) else {
            problems.append("\(key) must be a number from \(f(range.lowerBound)) to \(f(range.upperBound)) (got \(v))")
            return fallback
        }
        return d
    }

    /// `true` or `false`, or `fallback` when absent.
    public mutating func bool(_ key: String, default fallback: Bool) -> Bool {
        read.insert(key)
        guard let v = parameters.values[key] else { return fallback }
        guard case .bool(let b) = v else {
            problems.append("\(key) must be true or false (got \(v))")
            return fallback
        }
        return b
    }

    /// One of `choices`, or `fallback` when absent.
    public mutating func string(_ key: String, default fallback: String, oneOf choices: [String]) -> String {
        read.insert(key)
        guard let v = parameters.values[key] else { return fallback }
        guard case .string(let s) = v, choices.contains(s) else {
            problems.append("\(key) must be one of \(choices.joined(separator: ", ")) (got \(v))")
            return fallback
        }
        return s
    }

    /// A string accepted by `isValid` (described by `expected`), or `fallback` when absent.
    public mutating func string(_ key: String, default fallback: String, expected: String, isValid: (String) -> Bool) -> String {
        read.insert(key)
        guard let v = parameters.values[key] else { return fallback }
        guard case .string(let s) = v, isValid(s) else {
            problems.append("\(key) must be \(expected) (got \(v))")
            return fallback
        }
        return s
    }

    /// Records a problem found by the plugin's own cross-checks (`fast must be below slow`).
    public mutating func problem(_ text: String) { problems.append(text) }

    /// Throws every problem, plus one per key the plugin never read (a typo), sorted.
    public func finish() throws(PluginConfigError) {
        let unknown = parameters.values.keys.filter { !read.contains($0) }.sorted()
        var all = problems
        if !unknown.isEmpty {
            all.append(
                "unknown parameter\(unknown.count > 1 ? "s" : "") \(unknown.map { "'\($0)'" }.joined(separator: ", ")) (known: \(read.sorted().joined(separator: ", ")))"
            )
        }
        if !all.isEmpty { throw PluginConfigError(plugin: plugin, problems: all) }
    }
}

/// The contract every pipeline plugin (pattern detector, strategy) follows, so that users add
/// their own without touching the pipeline.
///
/// Lifecycle, driven by ``PipelineRun``: **init** (the registry's factory makes a fresh value) ->
/// **validate** (takes and checks the configuration; a throw stops the plugin before it ever
/// executes) -> **execute** (the role's method: ``PatternDetector/detect(_:)`` once per symbol,
/// ``Strategy/plan(_:_:)`` once per surviving candidate) -> **cleanup** (always, once, also after a
/// failed validation). Execute must be pure: same inputs, same output; no I/O, clocks or
/// randomness.
public protocol PipelinePlugin: Sendable {
    /// The name the configuration selects the plugin by (`ma_crossover`); also in reports.
    var name: String { get }
    /// Takes and checks the configuration. Use ``ParameterReader`` to report every problem.
    mutating func validate(_ parameters: PluginParameters) throws(PluginConfigError)
    /// Releases whatever the plugin holds; called once at the end of every run.
    func cleanup()
}

extension PipelinePlugin {
    public func cleanup() {}
}

/// The factories of every detector and strategy a configuration may name.
///
/// ``builtIn`` has `ma_crossover`, `platform_breakout` and `bracket`; a user's plugin is one
/// ``register(detector:_:)`` or ``register(strategy:_:)`` away.
public struct PluginRegistry: Sendable {
    private var detectors: [String: @Sendable () -> any PatternDetector] = [:]
    private var strategies: [String: @Sendable () -> any Strategy] = [:]

    public init() {}

    /// The plugins that ship with AST.
    public static var builtIn: PluginRegistry {
        var r = PluginRegistry()
        r.register(detector: MACrossoverDetector.pluginName) { MACrossoverDetector() }
        r.register(detector: PlatformBreakoutDetector.pluginName) { PlatformBreakoutDetector() }
        r.register(strategy: BracketStrategy.pluginName) { BracketStrategy() }
        return r
    }

    /// Adds (or replaces) the detector factory for `name`.
    public mutating func register(detector name: String, _ make: @escaping @Sendable () -> any PatternDetector) {
        detectors[name] = make
    }

    /// Adds (or replaces) the strategy factory for `name`.
    public mutating func register(strategy name: String, _ make: @escaping @Sendable () -> any Strategy) {
        strategies[name] = make
    }

    /// A fresh detector (the lifecycle's init), or `nil` for an unknown name.
    public func makeDetector(_ name: String) -> (any PatternDetector)? { detectors[name]?() }
    /// A fresh strategy (the lifecycle's init), or `nil` for an unknown name.
    public func makeStrategy(_ name: String) -> (any Strategy)? { strategies[name]?() }

    public var detectorNames: [String] { detectors.keys.sorted() }
    public var strategyNames: [String] { strategies.keys.sorted() }
}
