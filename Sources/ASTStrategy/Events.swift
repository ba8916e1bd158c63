import ASTCalendar
import ASTCore

/// The kinds of corporate event the event guard keeps entries away from.
public enum CorporateEventKind: String, Sendable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    case earnings
    case split
    case dividend

    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// One scheduled earnings report, split or dividend (ex-date) of a symbol.
public struct CorporateEvent: Sendable, Equatable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var symbol: Symbol
    public var date: LocalDate
    public var kind: CorporateEventKind

    public init(symbol: Symbol, date: LocalDate, kind: CorporateEventKind) {
        self.symbol = symbol
        self.date = date
        self.kind = kind
    }

    /// By date, then symbol, then kind.
    public static func < (a: Self, b: Self) -> Bool { (a.date, a.symbol, a.kind) < (b.date, b.symbol, b.kind) }

    public var description: String { "\(kind) of \(symbol) on \(date)" }
}

/// One bad line of an events file.
public struct EventLineProblem: Sendable, Equatable, CustomStringConvertible {
    /// 1-based line number.
    public var line: Int
    public var message: String
    public var description: String { "line \(line): \(message)" }
}

/// Why an events file was refused, with every bad line (not only the first), in line order.
public struct EventCalendarError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file name for messages (`etc/events.csv`).
    public var source: String
    public var problems: [EventLineProblem]

    public var description: String {
        problems.map { "\(source) line \($0.line): \($0.message)" }.joined(separator: "\n")
    }
}

/// The events calendar file: a pure parser for `symbol,date,kind` lines.
///
/// Format: one event per line, `AAPL,2026-04-30,earnings`; kinds `earnings`, `split`, `dividend`
/// (case-insensitive); the date is `YYYY-MM-DD` (an ex-date for a dividend). Blank lines and lines
/// starting with `#` are skipped, spaces around fields are trimmed, and a first line
/// `symbol,date,kind` is taken as a header. Exact duplicates collapse to one event. The result is
/// sorted by date, symbol and kind. Any bad line refuses the whole file: an events file that is
/// half read would let entries through around the events it lost.
public enum EventCalendar {
    public static func parse(_ text: String, source: String = "events.csv") throws(EventCalendarError) -> [CorporateEvent] {
        var events: [CorporateEvent] = []
        var problems: [EventLineProblem] = []
        var lineNumber = 0
        var sawContent = false
        // "\r\n" is one Character in Swift, and a newline: CRLF files split like LF files.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            let trimmed = trim(line)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { trim($0) }
            if !sawContent {
                sawContent = true
                if fields.map({ $0.lowercased() }) == ["symbol", "date", "kind"] { continue }
            }
            guard fields.count == 3 else {
                problems.append(.init(line: lineNumber, message: "expected 3 fields symbol,date,kind (got \(fields.count)): '\(trimmed)'"))
                continue
            }
            var lineProblems: [String] = []
            let symbol = Symbol(validating: fields[0])
            if symbol == nil { lineProblems.append("'\(fields[0])' is not a valid ticker (uppercase, e.g. AAPL or BRK.B)") }
            let date = LocalDate(fields[1])
            if date == nil { lineProblems.append("'\(fields[1])' is not a date YYYY-MM-DD") }
            let kind = CorporateEventKind(rawValue: fields[2].lowercased())
            if kind == nil {
                lineProblems.append("unknown event kind '\(fields[2])' (expected earnings, split or dividend)")
            }
            if let symbol, let date, let kind {
                events.append(CorporateEvent(symbol: symbol, date: date, kind: kind))
            } else {
                problems.append(.init(line: lineNumber, message: lineProblems.joined(separator: "; ")))
            }
        }
        guard problems.isEmpty else { throw EventCalendarError(source: source, problems: problems) }
        events.sort()
        var unique: [CorporateEvent] = []
        unique.reserveCapacity(events.count)
        for e in events where unique.last != e { unique.append(e) }
        return unique
    }

    private static func trim(_ s: Substring) -> String {
        String(s.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
