/// Why an input from outside a process (a peer's message, an operator's command) was refused
/// before it was journaled or handled: a stable code and a detail of bounded size.
///
/// Every core's `validate` returns one of these (or nil), so that the shell, the restore at
/// start and the tests refuse exactly the same inputs.
public struct InputRefusal: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    /// Stable reason codes.
    public enum Code: String, Sendable, Codable {
        /// A number or a time outside the range the process accepts.
        case outOfRange = "INPUT_OUT_OF_RANGE"
        /// A text or a list longer than the process accepts.
        case tooLarge = "INPUT_TOO_LARGE"
        /// A value that is inconsistent in itself (a bar whose high is below its low ...).
        case invalid = "INPUT_INVALID"
        /// The process cannot take this input now (a quarantined journal entry waits for the operator).
        case notReady = "PROCESS_NOT_READY"
    }

    public var code: Code
    /// What was wrong, at most ``maxDetailBytes`` bytes of UTF-8.
    public var detail: String

    /// The most a refusal's detail costs in a journal entry, a reply or a log line.
    public static let maxDetailBytes = 300

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = InputRefusal.bounded(detail)
    }

    public var description: String { "\(code.rawValue): \(detail)" }

    /// `text` cut to at most `limit` bytes of UTF-8 on a character boundary, saying how long
    /// it was when it was cut.
    public static func bounded(_ text: String, limit: Int = maxDetailBytes) -> String {
        let size = text.utf8.count
        guard size > limit else { return text }
        var out = ""
        var used = 0
        let suffix = "... (\(size) bytes)"
        for ch in text {
            let n = ch.utf8.count
            if used + n + suffix.utf8.count > limit { break }
            out.append(ch)
            used += n
        }
        return out + suffix
    }
}

/// Range and size checks shared by every validator, each returning a refusal or nil.
public enum InputCheck {
    /// The longest free text (a reason, a detail) a process accepts from outside.
    public static let maxTextBytes = 1_000
    /// The longest identifier (an order id, a snapshot id) a process accepts from outside.
    public static let maxIdentifierBytes = 200

    /// A time between ``Timestamp/earliestAccepted`` and ``Timestamp/latestAccepted``.
    public static func time(_ t: Timestamp, _ field: String) -> InputRefusal? {
        guard t >= .earliestAccepted, t <= .latestAccepted else {
            return InputRefusal(.outOfRange, "\(field) \(t.nanoseconds) ns is outside 1970-01-01 ... 2200-01-01")
        }
        return nil
    }

    /// A text of at most `max` bytes of UTF-8.
    public static func text(_ s: String, _ field: String, max: Int = maxTextBytes) -> InputRefusal? {
        let n = s.utf8.count
        guard n <= max else { return InputRefusal(.tooLarge, "\(field) is \(n) bytes, more than \(max)") }
        return nil
    }

    /// An integer in `range`.
    public static func integer<T: BinaryInteger>(_ v: T, _ field: String, in range: ClosedRange<T>) -> InputRefusal? {
        guard range.contains(v) else {
            return InputRefusal(.outOfRange, "\(field) must be between \(range.lowerBound) and \(range.upperBound) (got \(v))")
        }
        return nil
    }

    /// A price that is positive and at most `max`.
    public static func price(_ p: Price, _ field: String, max: Price) -> InputRefusal? {
        guard p > .zero, p <= max else {
            return InputRefusal(.outOfRange, "\(field) must be positive and at most \(max) (got \(p))")
        }
        return nil
    }

    /// A bar a core can match and mark with: a time in range, prices positive and at most
    /// `maxPrice`, and a volume that is not negative. (Whether its prices agree with each other
    /// is market data's check; none of that can make a core trap.)
    public static func bar(_ bar: Bar, maxPrice: Price) -> InputRefusal? {
        if let r = time(bar.start, "bar start") { return r }
        for (p, name) in [(bar.open, "open"), (bar.high, "high"), (bar.low, "low"), (bar.close, "close")] {
            if let r = price(p, "bar \(bar.symbol) \(name)", max: maxPrice) { return r }
        }
        guard bar.volume >= 0 else { return InputRefusal(.outOfRange, "bar \(bar.symbol) volume is negative (\(bar.volume))") }
        return nil
    }
}
