import ASTCalendar
import ASTCore

/// A bar together with where it came from, so that a problem can name its line.
public struct SourcedBar: Sendable, Equatable {
    public var bar: Bar
    /// The 1-based line of the CSV file (the header is line 1), or nil for an API result.
    public var line: Int?

    public init(_ bar: Bar, line: Int? = nil) {
        self.bar = bar
        self.line = line
    }
}

/// How bad a problem is.
public enum Severity: String, Sendable, Equatable, Comparable {
    /// Worth knowing; the data is used.
    case warning
    /// The data is wrong: the input is refused (or, in lenient mode, the row is dropped).
    case error

    public static func < (a: Severity, b: Severity) -> Bool { a == .warning && b == .error }
}

/// One problem found in market data, precise enough for an operator to find it in the file.
public struct ValidationIssue: Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public enum Kind: Sendable, Equatable {
        /// NYSE sessions with no bar between two bars (`from` … `to`, `count` sessions).
        case gap(from: LocalDate, to: LocalDate, count: Int)
        /// A price that is zero or negative (`field`: open, high, low, close).
        case nonPositivePrice(field: String, value: Price)
        case highBelowLow(high: Price, low: Price)
        /// `field` (open or close) outside [low, high].
        case outsideRange(field: String, value: Price, low: Price, high: Price)
        case negativeVolume(Int64)
        /// A second bar with the same start as the bar on `firstLine` (nil when not from a file).
        case duplicate(firstLine: Int?, identical: Bool)
        /// A bar that starts before the bar on the previous row.
        case outOfOrder(previous: LocalDate)
        /// A daily bar on a day NYSE did not trade; `why` says why (``ASTCalendar/TradingCalendar/whyNoSession(on:)``:
        /// a weekend day, a holiday or closure by name, a date outside the calendar's years).
        case notASession(why: String)
        /// The last bar is older than the freshness limit allows.
        case stale(last: LocalDate, asOf: LocalDate, sessionsBehind: Int)
        /// The row could not be read (`column` names the column, when one is at fault).
        case unreadable(column: String?, reason: String)
        /// No bar at all.
        case empty
    }

    public var severity: Severity
    public var kind: Kind
    public var symbol: Symbol?
    /// The file the data came from, when it came from one.
    public var file: String?
    /// The 1-based line in `file`.
    public var line: Int?
    /// The trading date of the bar concerned.
    public var date: LocalDate?

    public init(severity: Severity, kind: Kind, symbol: Symbol?, file: String? = nil, line: Int? = nil, date: LocalDate? = nil) {
        self.severity = severity
        self.kind = kind
        self.symbol = symbol
        self.file = file
        self.line = line
        self.date = date
    }

    /// `error bad.csv:14 XYZ 2024-03-05: high 10.00 is below low 11.00`.
    public var description: String {
        var place = [file.map { f in line.map { "\(f):\($0)" } ?? f } ?? line.map { "line \($0)" }, symbol?.rawValue, date?.description]
            .compactMap { $0 }.joined(separator: " ")
        if !place.isEmpty { place += ": " }
        return "\(severity.rawValue) \(place)\(what)"
    }

    /// The problem in words, without its place.
    public var what: String {
        switch kind {
        case .gap(let from, let to, let count):
            count == 1 ? "gap: no bar for the session of \(from)" : "gap: no bars for \(count) sessions \(from) … \(to)"
        case .nonPositivePrice(let field, let value): "\(field) \(value) is not positive"
        case .highBelowLow(let high, let low): "high \(high) is below low \(low)"
        case .outsideRange(let field, let value, let low, let high): "\(field) \(value) is outside the bar's range [\(low), \(high)]"
        case .negativeVolume(let v): "volume \(v) is negative"
        case .duplicate(let first, let identical):
            "duplicate bar for the same session\(first.map { " as line \($0)" } ?? "")\(identical ? " (identical)" : " with different values")"
        case .outOfOrder(let previous): "out of order: comes after a bar of \(previous)"
        case .notASession(let why): "not an NYSE session (\(why))"
        case .stale(let last, let asOf, let behind): "stale: last bar \(last) is \(behind) sessions behind \(asOf)"
        case .unreadable(let column, let reason): "\(column.map { "column \($0): " } ?? "")\(reason)"
        case .empty: "no bars"
        }
    }
}

/// Everything found in one input (a file, a symbol's API answer), errors and warnings.
public struct ValidationReport: Sendable, Equatable, CustomStringConvertible {
    public var issues: [ValidationIssue]

    public init(issues: [ValidationIssue] = []) { self.issues = issues }

    public var errors: [ValidationIssue] { issues.filter { $0.severity == .error } }
    public var warnings: [ValidationIssue] { issues.filter { $0.severity == .warning } }
    public var hasErrors: Bool { issues.contains { $0.severity == .error } }

    /// One issue per line.
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// How strict validation is.
public struct ValidationPolicy: Sendable, Equatable {
    /// Missing sessions are errors instead of warnings. Off by default: real feeds have trading
    /// halts and late listings, and a gap does not make the bars around it wrong; the report
    /// names every gap so that an operator decides.
    public var gapsAreErrors: Bool
    /// Volume 0 is fine for indexes; bars of stocks with zero volume are accepted too (halted days).
    public init(gapsAreErrors: Bool = false) { self.gapsAreErrors = gapsAreErrors }

    public static let standard = ValidationPolicy()
}

/// Checks the bars of one symbol against the rules of a daily NYSE bar. Pure.
///
/// Errors (the data is wrong): a non-positive price, high below low, open or close outside
/// [low, high], negative volume, two bars for the same session, a row that goes back in time, a
/// daily bar on a day NYSE did not trade. Warnings: gaps (missing sessions between the first
/// and the last bar), unless the policy makes them errors. Staleness is checked separately by
/// ``freshness(lastBar:asOf:maxSessionsBehind:calendar:)``, because an old file is not a wrong one.
public enum BarValidator {
    /// The issues of `bars`, in the order given (file order), for `symbol`.
    public static func validate(
        _ bars: [SourcedBar], symbol: Symbol, file: String? = nil, calendar: TradingCalendar = .nyse, policy: ValidationPolicy = .standard
    ) -> ValidationReport {
        var issues: [ValidationIssue] = []
        func add(_ s: Severity, _ k: ValidationIssue.Kind, _ b: SourcedBar?) {
            issues.append(ValidationIssue(severity: s, kind: k, symbol: symbol, file: file, line: b?.line, date: b?.bar.date))
        }
        guard !bars.isEmpty else {
            add(.error, .empty, nil)
            return ValidationReport(issues: issues)
        }
        var seen: [Int64: SourcedBar] = [:]
        seen.reserveCapacity(bars.count)
        var previous: SourcedBar?
        for sb in bars {
            let b = sb.bar
            // Field by field in a fixed order, without an array per bar (ingest checks every bar).
            if b.open.units <= 0 { add(.error, .nonPositivePrice(field: "open", value: b.open), sb) }
            if b.high.units <= 0 { add(.error, .nonPositivePrice(field: "high", value: b.high), sb) }
            if b.low.units <= 0 { add(.error, .nonPositivePrice(field: "low", value: b.low), sb) }
            if b.close.units <= 0 { add(.error, .nonPositivePrice(field: "close", value: b.close), sb) }
            if b.high < b.low {
                add(.error, .highBelowLow(high: b.high, low: b.low), sb)
            } else {
                if b.open < b.low || b.open > b.high {
                    add(.error, .outsideRange(field: "open", value: b.open, low: b.low, high: b.high), sb)
                }
                if b.close < b.low || b.close > b.high {
                    add(.error, .outsideRange(field: "close", value: b.close, low: b.low, high: b.high), sb)
                }
            }
            if b.volume < 0 { add(.error, .negativeVolume(b.volume), sb) }
            if b.resolution == .day, let why = calendar.whyNoSession(on: b.date) { add(.error, .notASession(why: why), sb) }
            if let first = seen[b.start.nanoseconds] {
                add(.error, .duplicate(firstLine: first.line, identical: first.bar == b), sb)
            } else {
                seen[b.start.nanoseconds] = sb
                if let p = previous, b.start < p.bar.start { add(.error, .outOfOrder(previous: p.bar.date), sb) }
            }
            if previous.map({ b.start > $0.bar.start }) ?? true { previous = sb }
        }
        if bars.first?.bar.resolution == .day {
            issues += gaps(in: bars, symbol: symbol, file: file, calendar: calendar, severity: policy.gapsAreErrors ? .error : .warning)
        }
        return ValidationReport(issues: issues)
    }

    /// Missing NYSE sessions between consecutive (by date) bars, one issue per run of missing
    /// sessions, placed at the bar after the gap.
    static func gaps(in bars: [SourcedBar], symbol: Symbol, file: String?, calendar: TradingCalendar, severity: Severity)
        -> [ValidationIssue]
    {
        // Each date's first bar in file order, in date order (one New York date per bar, no
        // hashing), merged with the sessions: what a by-date dictionary gave, at ingest's rate.
        let barDates = bars.map(\.bar.date)
        let order = bars.indices.sorted { (barDates[$0], $0) < (barDates[$1], $1) }
        var firsts: [Int] = []
        firsts.reserveCapacity(order.count)
        for i in order where firsts.last.map({ barDates[$0] != barDates[i] }) ?? true { firsts.append(i) }
        guard let first = firsts.first.map({ barDates[$0] }), let last = firsts.last.map({ barDates[$0] }) else { return [] }
        var issues: [ValidationIssue] = []
        var run: [LocalDate] = []
        var k = 0
        for s in calendar.sessions(from: first, to: last) {
            while k < firsts.count, barDates[firsts[k]] < s.date { k += 1 }
            if k < firsts.count, barDates[firsts[k]] == s.date {
                let b = bars[firsts[k]]
                if let a = run.first, let z = run.last {
                    issues.append(
                        ValidationIssue(
                            severity: severity, kind: .gap(from: a, to: z, count: run.count), symbol: symbol,
                            file: file, line: b.line, date: b.bar.date))
                }
                run = []
            } else {
                run.append(s.date)
            }
        }
        return issues
    }

    /// Whether the newest bar is recent enough to act on at `asOf`: the number of NYSE sessions
    /// after the last bar's date up to and including `asOf`'s previous session. A daily bar of
    /// yesterday is 0 sessions behind in the morning; `maxSessionsBehind` 1 tolerates one
    /// missed day.
    public static func freshness(
        lastBar: Bar?, symbol: Symbol, asOf: LocalDate, maxSessionsBehind: Int, calendar: TradingCalendar = .nyse
    ) -> Freshness {
        guard let lastBar else { return .noData(symbol) }
        let last = lastBar.date
        let behind = last >= asOf ? 0 : calendar.sessions(from: last.adding(days: 1), to: asOf.adding(days: -1)).count
        guard behind <= maxSessionsBehind else {
            return .stale(
                ValidationIssue(severity: .error, kind: .stale(last: last, asOf: asOf, sessionsBehind: behind), symbol: symbol, date: last))
        }
        return .fresh(lastBar)
    }

    /// The rows to keep in lenient mode: every row with an error is dropped (for a duplicate:
    /// the later row when identical, every row of the session when they differ).
    static func keep(_ bars: [SourcedBar], report: ValidationReport) -> [SourcedBar] {
        var badLines = Set<Int>()
        var badIndices = Set<Int>()
        var conflicting = Set<Int64>()
        let errors = report.errors.filter { if case .gap = $0.kind { false } else { true } }
        for issue in errors {
            if case .duplicate(_, let identical) = issue.kind, !identical, let d = issue.date {
                for b in bars where b.bar.date == d { conflicting.insert(b.bar.start.nanoseconds) }
            }
            if let l = issue.line { badLines.insert(l) }
        }
        // Issues without a line (API data): match by date.
        let badDates = Set(errors.filter { $0.line == nil }.compactMap(\.date))
        for (i, b) in bars.enumerated() {
            if let l = b.line, badLines.contains(l) { badIndices.insert(i) }
            if b.line == nil, badDates.contains(b.bar.date) { badIndices.insert(i) }
            if conflicting.contains(b.bar.start.nanoseconds) { badIndices.insert(i) }
        }
        return bars.enumerated().filter { !badIndices.contains($0.offset) }.map(\.element)
    }
}

/// Whether a symbol's data may be acted on now.
public enum Freshness: Sendable, Equatable {
    /// The last bar is recent enough.
    case fresh(Bar)
    /// The last bar is too old: the pipeline does nothing for this symbol.
    case stale(ValidationIssue)
    /// No bar at all: the pipeline does nothing for this symbol.
    case noData(Symbol)

    public var isUsable: Bool { if case .fresh = self { true } else { false } }
}
