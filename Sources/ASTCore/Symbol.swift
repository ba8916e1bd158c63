/// A U.S. equity ticker: `AAPL`, `BRK.B`, `BF-B`.
///
/// Validated at construction and at decoding: 1 to 12 characters, an uppercase letter first,
/// then uppercase letters, digits, or a single `.` or `-` between them (class shares). No
/// lowercase is folded: a lowercase ticker from a peer is refused, not guessed at.
public struct Symbol: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral,
    CodingKeyRepresentable
{
    public let rawValue: String

    /// The ticker, or `nil` if `text` is not a valid one. (Labelled so that a literal argument
    /// cannot silently pick the trapping literal initializer instead.)
    public init?(validating text: String) {
        guard Symbol.isValid(text) else { return nil }
        rawValue = text
    }

    /// For literals in code and tests; traps on an invalid ticker, a programming error.
    public init(stringLiteral value: String) {
        precondition(Symbol.isValid(value), "'\(value)' is not a valid ticker")
        rawValue = value
    }

    public var description: String { rawValue }
    public static func < (a: Symbol, b: Symbol) -> Bool { a.rawValue < b.rawValue }

    /// Whether `text` is a ticker by the rules above.
    public static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...12).contains(bytes.count), isUpper(bytes[0]), !isSeparator(bytes[bytes.count - 1]) else { return false }
        for (i, c) in bytes.enumerated() {
            if isSeparator(c) {
                if isSeparator(bytes[i - 1]) { return false }
            } else if !isUpper(c) && !(c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) {
                return false
            }
        }
        return true
    }

    private static func isUpper(_ c: UInt8) -> Bool { c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") }
    private static func isSeparator(_ c: UInt8) -> Bool { c == UInt8(ascii: ".") || c == UInt8(ascii: "-") }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let s = Symbol(validating: text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(text)' is not a valid ticker")
        }
        self = s
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    /// Lets `[Symbol: V]` encode as a JSON object keyed by ticker.
    public var codingKey: any CodingKey { SymbolKey(stringValue: rawValue) }

    public init?<T: CodingKey>(codingKey: T) { self.init(validating: codingKey.stringValue) }

    private struct SymbolKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
