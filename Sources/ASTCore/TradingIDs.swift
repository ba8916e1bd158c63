/// The rules shared by the string-backed identifiers of the trading path: 1 to `maxLength`
/// ASCII letters, digits, `.`, `_`, `:` and `-`, so that an id is safe in a log line, a
/// journal key and a broker's client order id.
enum TradingIDText {
    static func isValid(_ text: String, maxLength: Int) -> Bool {
        let bytes = text.utf8
        guard (1...maxLength).contains(bytes.count) else { return false }
        return bytes.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: ":") || c == UInt8(ascii: "-")
        }
    }
}

/// The id of an intent group, chosen by the strategy. At most 120 characters (see
/// ``TradingIDText``) so that the approval id derived from it fits too.
public struct IntentID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    public static let maxLength = 120

    /// The id, or `nil` if `text` is empty, too long or has other characters.
    public init?(validating text: String) {
        guard TradingIDText.isValid(text, maxLength: IntentID.maxLength) else { return nil }
        rawValue = text
    }

    /// For literals in code and tests; traps on an invalid id, a programming error.
    public init(stringLiteral value: String) {
        precondition(TradingIDText.isValid(value, maxLength: IntentID.maxLength), "'\(value)' is not a valid intent id")
        rawValue = value
    }

    public var description: String { rawValue }
    public static func < (a: IntentID, b: IntentID) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let id = IntentID(validating: text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(text)' is not a valid intent id")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// The id of a risk approval, which the broker requires on every order it accepts.
///
/// Derived, never random: ``init(for:)`` gives `appr-<intent id>`, so replaying a journal
/// reproduces every approval id. At most 128 characters (see ``TradingIDText``).
public struct ApprovalID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String
    public static let maxLength = 128
    /// What ``init(for:)`` puts in front of the intent id.
    public static let prefix = "appr-"

    /// The approval id of an intent group: `appr-<intent id>`.
    public init(for intent: IntentID) {
        rawValue = ApprovalID.prefix + intent.rawValue
    }

    /// The id, or `nil` if `text` is empty, too long or has other characters.
    public init?(validating text: String) {
        guard TradingIDText.isValid(text, maxLength: ApprovalID.maxLength) else { return nil }
        rawValue = text
    }

    /// For literals in code and tests; traps on an invalid id, a programming error.
    public init(stringLiteral value: String) {
        precondition(TradingIDText.isValid(value, maxLength: ApprovalID.maxLength), "'\(value)' is not a valid approval id")
        rawValue = value
    }

    public var description: String { rawValue }
    public static func < (a: ApprovalID, b: ApprovalID) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let id = ApprovalID(validating: text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(text)' is not a valid approval id")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}
