import ASTCore

/// Why bytes from TWS were refused. Every case is a bounded, typed refusal: nothing a peer sends
/// can make the decoder trap.
public enum TWSDecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A frame's length prefix is over the limit (checked as soon as the 4 bytes arrive).
    case frameTooLong(length: UInt32, limit: Int)
    /// A frame with no payload.
    case emptyFrame
    /// A payload whose last byte is not the NUL that ends every field.
    case unterminatedField
    /// More fields than any message AST decodes may hold.
    case tooManyFields(limit: Int)
    /// A field that is not valid UTF-8.
    case invalidText(field: Int)
    /// A message ended before a field the decoder needs.
    case missingField(field: Int, message: String)
    /// A field that should be a number and is not one, or does not fit.
    case notANumber(field: Int, text: String)
    /// A list count that is negative or larger than the message could hold.
    case badCount(field: Int, count: Int)
    /// Fields left over after a message that AST decodes whole: a version mismatch or a forged frame.
    case trailingFields(message: String, count: Int)
    /// A message id AST does not know.
    case unknownMessage(id: Int)
    /// The server's handshake reply is malformed.
    case badHandshake(String)

    public var description: String {
        switch self {
        case .frameTooLong(let length, let limit): "TWS frame of \(length) bytes is over the \(limit)-byte limit"
        case .emptyFrame: "TWS frame with no payload"
        case .unterminatedField: "TWS payload does not end with a NUL field terminator"
        case .tooManyFields(let limit): "TWS message has more than \(limit) fields"
        case .invalidText(let field): "TWS field \(field) is not valid UTF-8"
        case .missingField(let field, let message): "TWS \(message) ends before field \(field)"
        case .notANumber(let field, let text): "TWS field \(field) is not a number: '\(text.prefix(40))'"
        case .badCount(let field, let count): "TWS field \(field) holds an impossible count \(count)"
        case .trailingFields(let message, let count): "TWS \(message) has \(count) unexpected trailing fields"
        case .unknownMessage(let id): "TWS message id \(id) is unknown"
        case .badHandshake(let why): "TWS handshake reply is malformed: \(why)"
        }
    }
}

/// Why a request could not be encoded: the value has no faithful text form in the protocol.
public enum TWSEncodeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A text field holding a NUL byte, which would shift every following field.
    case nulInField(String)
    /// A price the official client's `String.valueOf(double)` would not print as a plain decimal.
    case priceOutOfRange(String)
    /// A value the request cannot carry (a zero quantity, a bracket whose prices are inverted...).
    case invalid(String)

    public var description: String {
        switch self {
        case .nulInField(let name): "TWS field \(name) holds a NUL byte"
        case .priceOutOfRange(let price): "price \(price) is outside 0.001..<10,000,000, which TWS text cannot carry exactly"
        case .invalid(let why): why
        }
    }
}

/// Framing: a 4-byte big-endian length, then that many bytes of NUL-terminated fields.
public enum TWSWire {
    /// IB's own ceiling for a message (`MAX_MSG_LEN`, 16 MiB - 1).
    public static let maxPayloadLength = 0xFF_FFFF
    /// Most fields a message may have: openOrder, the longest AST reads, has about 200.
    public static let maxFields = 4096

    /// `payload` behind its length prefix.
    public static func frame(_ payload: [UInt8]) -> [UInt8] {
        let n = UInt32(truncatingIfNeeded: payload.count)
        return [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + payload
    }

    /// A payload's fields. Every field ends with a NUL, so the payload must end with one.
    public static func fields(_ payload: [UInt8]) throws(TWSDecodeError) -> [String] {
        guard !payload.isEmpty else { throw .emptyFrame }
        guard payload.last == 0 else { throw .unterminatedField }
        var fields: [String] = []
        var start = 0
        for i in payload.indices where payload[i] == 0 {
            guard fields.count < maxFields else { throw .tooManyFields(limit: maxFields) }
            guard let text = String(validating: payload[start..<i], as: UTF8.self) else {
                throw .invalidText(field: fields.count)
            }
            fields.append(text)
            start = i + 1
        }
        return fields
    }
}

/// Splits a byte stream into frame payloads, refusing an oversized length as soon as its prefix
/// is read. Pure: the shell appends what the socket delivered and takes frames out.
public struct TWSFrameDecoder: Sendable {
    public let maxPayloadLength: Int
    private var buffer: [UInt8] = []
    private var start = 0

    public init(maxPayloadLength: Int = TWSWire.maxPayloadLength) {
        self.maxPayloadLength = maxPayloadLength
    }

    /// Bytes received and not yet returned in a frame.
    public var bufferedCount: Int { buffer.count - start }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0, start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete payload, `nil` if more bytes are needed, or an error (after which the
    /// connection must be closed: the stream is no longer aligned on frames).
    public mutating func next() throws(TWSDecodeError) -> [UInt8]? {
        guard buffer.count - start >= 4 else { return nil }
        let length =
            UInt32(buffer[start]) << 24 | UInt32(buffer[start + 1]) << 16 | UInt32(buffer[start + 2]) << 8
            | UInt32(buffer[start + 3])
        guard Int(length) <= maxPayloadLength else { throw .frameTooLong(length: length, limit: maxPayloadLength) }
        guard length > 0 else { throw .emptyFrame }
        let end = start + 4 + Int(length)
        guard buffer.count >= end else { return nil }
        let payload = Array(buffer[(start + 4)..<end])
        start = end
        return payload
    }
}

/// A number TWS sent as text (a price, a size, an amount), validated but kept as IB wrote it:
/// IB's doubles and decimals become AST's fixed-point values only where that is exact.
public struct TWSNumber: Hashable, Sendable, CustomStringConvertible {
    public let text: String

    /// Accepts `-?digits[.digits][E[+-]digits]` of at most 64 characters, as Java's and Python's
    /// number printers produce.
    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= 64 else { return nil }
        var bytes = text.utf8[...]
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        func digits(_ b: inout Substring.UTF8View.SubSequence) -> Int {
            var n = 0
            while let c = b.first, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                b = b.dropFirst()
                n += 1
            }
            return n
        }
        var count = digits(&bytes)
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            count += digits(&bytes)
        }
        guard count > 0 else { return nil }
        if let e = bytes.first, e == UInt8(ascii: "E") || e == UInt8(ascii: "e") {
            bytes = bytes.dropFirst()
            if let s = bytes.first, s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            guard digits(&bytes) > 0 else { return nil }
        }
        guard bytes.isEmpty else { return nil }
        self.text = text
    }

    public var description: String { text }

    /// The value as a double (for statistics only; money goes through ``fixedPoint``).
    public var double: Double? { Double(text) }

    /// IB's "unset" double (`Double.MAX_VALUE`), which its clients print in full.
    public var isUnsetSentinel: Bool { double == Double.greatestFiniteMagnitude }

    /// The exact value in 1/10,000 units when it has at most four decimals and no exponent.
    public var fixedPointUnits: Int64? { Price(text)?.units }

    /// The exact whole number (a share count), accepting a zero fraction (`"100.0"`).
    public var wholeNumber: Int64? {
        guard let units = fixedPointUnits, units % Price.unitsPerDollar == 0 else { return nil }
        return units / Price.unitsPerDollar
    }
}

/// Builds one message's fields; every field is NUL-terminated.
public struct TWSFieldWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// A text field; a NUL inside it would shift every later field, so it is refused.
    public mutating func add(_ text: String, _ name: String) throws(TWSEncodeError) {
        guard !text.utf8.contains(0) else { throw .nulInField(name) }
        bytes.append(contentsOf: text.utf8)
        bytes.append(0)
    }

    /// A field the official client writes with a fixed value (an empty string, a flag, a count).
    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(0)
    }

    public mutating func add(_ value: Int) {
        bytes.append(contentsOf: String(value).utf8)
        bytes.append(0)
    }

    public mutating func add(_ value: Int32) { add(Int(value)) }

    /// A boolean as the official client writes it: `1` or `0`.
    public mutating func add(_ value: Bool) { raw(value ? "1" : "0") }

    /// A price as Java's `String.valueOf(double)` prints it for values in 0.001..<10^7: the
    /// decimal with its trailing zeros removed but at least one decimal (`150.0`, `150.25`).
    public mutating func add(price: Price) throws(TWSEncodeError) {
        let units = price.units
        guard units >= 10, units < 10_000_000 * Price.unitsPerDollar else { throw .priceOutOfRange(price.description) }
        var fraction = String(units % Price.unitsPerDollar)
        fraction = String(repeating: "0", count: 4 - fraction.count) + fraction
        while fraction.count > 1, fraction.last == "0" { fraction.removeLast() }
        bytes.append(contentsOf: "\(units / Price.unitsPerDollar).\(fraction)".utf8)
        bytes.append(0)
    }

    /// An optional price the way the official client's `sendMax` writes an unset one: empty.
    public mutating func addMax(price: Price?) throws(TWSEncodeError) {
        if let price { try add(price: price) } else { raw("") }
    }
}

/// Reads one message's fields in order, with the official client's conversions (an empty field
/// reads as 0 for an int, as unset for a `Max` read), refusing what Java would throw on.
public struct TWSFieldReader: Sendable {
    public let message: String
    private let fields: [String]
    private var index = 0

    public init(_ fields: [String], message: String) {
        self.fields = fields
        self.message = message
    }

    /// The index of the next field.
    public var position: Int { index }
    /// Fields not read yet.
    public var remaining: Int { fields.count - index }

    public mutating func string() throws(TWSDecodeError) -> String {
        guard index < fields.count else { throw .missingField(field: index, message: message) }
        defer { index += 1 }
        return fields[index]
    }

    public mutating func skip(_ count: Int = 1) throws(TWSDecodeError) {
        for _ in 0..<count { _ = try string() }
    }

    /// A 32-bit integer (Java's `readInt`: empty reads as 0).
    public mutating func int() throws(TWSDecodeError) -> Int32 {
        let at = index
        let text = try string()
        if text.isEmpty { return 0 }
        guard let v = Int32(text) else { throw .notANumber(field: at, text: text) }
        return v
    }

    /// A 64-bit integer (Java's `readLong`: empty reads as 0).
    public mutating func int64() throws(TWSDecodeError) -> Int64 {
        let at = index
        let text = try string()
        if text.isEmpty { return 0 }
        guard let v = Int64(text) else { throw .notANumber(field: at, text: text) }
        return v
    }

    /// A 32-bit integer or unset (Java's `readIntMax`: empty reads as unset).
    public mutating func intMax() throws(TWSDecodeError) -> Int32? {
        let at = index
        let text = try string()
        if text.isEmpty { return nil }
        guard let v = Int32(text) else { throw .notANumber(field: at, text: text) }
        return v
    }

    /// A flag sent as an integer (Java's `readBoolFromInt`: empty is false).
    public mutating func bool() throws(TWSDecodeError) -> Bool { try int() != 0 }

    /// A number (Java's `readDouble` or `readDecimal`); empty reads as `nil`, like an unset value.
    public mutating func number() throws(TWSDecodeError) -> TWSNumber? {
        let at = index
        let text = try string()
        if text.isEmpty { return nil }
        guard let n = TWSNumber(text) else { throw .notANumber(field: at, text: text) }
        return n
    }

    /// A list count, bounded by the fields left (each entry takes at least `fieldsPerEntry`).
    public mutating func count(fieldsPerEntry: Int) throws(TWSDecodeError) -> Int {
        let at = index
        let n = Int(try int())
        guard n >= 0, n <= remaining / max(fieldsPerEntry, 1) else { throw .badCount(field: at, count: n) }
        return n
    }

    /// Refuses fields left after a message decoded whole.
    public func finish() throws(TWSDecodeError) {
        guard remaining == 0 else { throw .trailingFields(message: message, count: remaining) }
    }
}
