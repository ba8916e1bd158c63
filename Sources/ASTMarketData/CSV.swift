import ASTCalendar
import ASTCore

/// How a CSV file of daily bars is laid out: which header names hold which field, and how dates
/// are written. Header names match case-insensitively, surrounding spaces ignored.
public struct CSVLayout: Sendable, Equatable {
    /// How the date column is written.
    public enum DateFormat: String, Sendable, Equatable {
        /// `2024-01-02` (also `2024-01-02 00:00:00-05:00`: the time is ignored).
        case iso
        /// `20240102`.
        case compact
        /// `01/02/2024` (U.S. month first).
        case monthDayYear
    }

    /// A name for reports: `yahoo`, `stooq`, `custom` ...
    public var name: String
    public var date: String
    public var open: String
    public var high: String
    public var low: String
    public var close: String
    /// nil: the file has no volume (indexes); volume is 0.
    public var volume: String?
    /// Read and checked, not stored: the store derives adjusted series from corporate actions.
    public var adjClose: String?
    /// A column naming the ticker of each row (Stooq's bulk files); nil: one symbol per file.
    public var ticker: String?
    public var dateFormat: DateFormat

    public init(
        name: String = "custom", date: String, open: String, high: String, low: String, close: String,
        volume: String?, adjClose: String? = nil, ticker: String? = nil, dateFormat: DateFormat = .iso
    ) {
        self.name = name
        self.date = date
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.adjClose = adjClose
        self.ticker = ticker
        self.dateFormat = dateFormat
    }

    /// Yahoo Finance's download: `Date,Open,High,Low,Close,Adj Close,Volume`. (Yahoo's Close is
    /// already split-adjusted; record its splits as corporate actions only for raw data.)
    public static let yahoo = CSVLayout(
        name: "yahoo", date: "Date", open: "Open", high: "High", low: "Low", close: "Close",
        volume: "Volume", adjClose: "Adj Close")
    /// Stooq's per-symbol download: `Date,Open,High,Low,Close,Volume` (indexes without Volume).
    public static let stooq = CSVLayout(
        name: "stooq", date: "Date", open: "Open", high: "High", low: "Low", close: "Close",
        volume: "Volume")
    /// Stooq's bulk files (`aapl.us.txt`):
    /// `<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>`, dates `20240102`,
    /// tickers `AAPL.US` (read as `AAPL`). Only `<PER>` `D` (daily) rows are accepted.
    public static let stooqBulk = CSVLayout(
        name: "stooq-bulk", date: "<DATE>", open: "<OPEN>", high: "<HIGH>", low: "<LOW>",
        close: "<CLOSE>", volume: "<VOL>", ticker: "<TICKER>", dateFormat: .compact)

    /// The headers the presets accept, for a message that refuses another.
    public static let acceptedHeaders =
        "Yahoo Date,Open,High,Low,Close,Adj Close,Volume; Stooq Date,Open,High,Low,Close,Volume (Volume optional, for indexes); "
        + "Stooq bulk <TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>"

    /// The preset whose columns the header has, most specific first; nil if none fits.
    public static func detect(header: [String]) -> CSVLayout? {
        let names = Set(header.map(normalize))
        if names.contains("<ticker>") && names.contains("<date>") { return .stooqBulk }
        if names.contains("adj close") && yahoo.required.allSatisfy({ names.contains(normalize($0)) }) { return .yahoo }
        if stooq.required.allSatisfy({ names.contains(normalize($0)) }) {
            return names.contains("volume")
                ? .stooq
                : CSVLayout(
                    name: "stooq", date: "Date", open: "Open", high: "High", low: "Low",
                    close: "Close", volume: nil)
        }
        return nil
    }

    var required: [String] { [date, open, high, low, close] }

    static func normalize(_ s: String) -> String {
        var t = Substring(s)
        if t.hasPrefix("\u{FEFF}") { t = t.dropFirst() }
        return t.trimmingSpaces().lowercased()
    }
}

/// A file whose layout cannot be used at all (nothing of it is read).
public struct CSVError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var reason: String

    public init(file: String, line: Int? = nil, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(reason)" }
}

/// The bars read from one CSV file, with the rows that could not be read as issues.
public struct ParsedCSV: Sendable, Equatable {
    public var file: String
    public var symbol: Symbol
    public var layout: CSVLayout
    /// Every readable row, in file order, with its line number.
    public var bars: [SourcedBar]
    /// Rows that could not be read (bad number, bad date, wrong column count): errors.
    public var issues: [ValidationIssue]
}

/// Reads daily bars from CSV text. Pure: text in, bars and issues out.
public enum CSVBarParser {
    /// Parses `text` (the content of `file`, a name used for messages and, without `symbol`, for
    /// the ticker: `AAPL.csv` and Stooq's `aapl.us.txt` are `AAPL`). `layout` nil: detected from
    /// the header. Throws only when the file as a whole is unusable (no header, unknown layout, a
    /// missing column, no ticker); a bad row is an issue of the result.
    public static func parse(_ text: String, file: String, symbol: Symbol? = nil, layout: CSVLayout? = nil) throws(CSVError) -> ParsedCSV {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        while let last = lines.last, last.trimmingSpaces().isEmpty { lines.removeLast() }
        guard let headerLine = lines.first else { throw CSVError(file: file, line: 1, reason: "empty file: no header") }
        let header = fields(headerLine).map(String.init)
        guard let layout = layout ?? CSVLayout.detect(header: header) else {
            throw CSVError(
                file: file, line: 1,
                reason: "unknown layout: header \(header.joined(separator: ",")) is none of the accepted ones: "
                    + CSVLayout.acceptedHeaders + " (names match case-insensitively), nor a configured mapping")
        }
        var index: [String: Int] = [:]
        for (i, h) in header.enumerated() where index[CSVLayout.normalize(h)] == nil { index[CSVLayout.normalize(h)] = i }
        func column(_ name: String?) throws(CSVError) -> Int? {
            guard let name else { return nil }
            guard let i = index[CSVLayout.normalize(name)] else {
                throw CSVError(file: file, line: 1, reason: "missing column \"\(name)\" of layout \(layout.name)")
            }
            return i
        }
        let cDate = try column(layout.date)!, cOpen = try column(layout.open)!, cHigh = try column(layout.high)!
        let cLow = try column(layout.low)!, cClose = try column(layout.close)!
        let cVolume = try column(layout.volume), cAdj = try column(layout.adjClose), cTicker = try column(layout.ticker)
        let cPeriod = layout == .stooqBulk ? index["<per>"] : nil

        var fileSymbol = symbol ?? (cTicker == nil ? symbolFromFileName(file) : nil)
        var bars: [SourcedBar] = []
        var issues: [ValidationIssue] = []
        for (offset, raw) in lines.enumerated().dropFirst() {
            let lineNumber = offset + 1
            func bad(_ column: String?, _ reason: String, date: LocalDate? = nil) {
                issues.append(
                    ValidationIssue(
                        severity: .error, kind: .unreadable(column: column, reason: reason), symbol: fileSymbol,
                        file: file, line: lineNumber, date: date))
            }
            if raw.trimmingSpaces().isEmpty {
                bad(nil, "empty line")
                continue
            }
            let f = fields(raw)
            guard f.count == header.count else {
                bad(nil, "\(f.count) fields where the header has \(header.count)")
                continue
            }
            if let cTicker {
                guard let s = stooqTicker(f[cTicker]) else {
                    bad(layout.ticker, "\"\(f[cTicker])\" is not a ticker")
                    continue
                }
                if symbol == nil {
                    if fileSymbol == nil { fileSymbol = s }
                    if let fs = fileSymbol, fs != s {
                        throw CSVError(file: file, line: lineNumber, reason: "ticker \(s) in a file of \(fs): one symbol per file")
                    }
                }
            }
            if let cPeriod, f[cPeriod].trimmingSpaces() != "D" {
                bad("<PER>", "period \"\(f[cPeriod])\" is not daily (D)")
                continue
            }
            guard let date = parseDate(f[cDate].trimmingSpaces(), layout.dateFormat) else {
                bad(layout.date, "\"\(f[cDate])\" is not a date (\(layout.dateFormat.rawValue))")
                continue
            }
            guard date >= Self.earliestDate, date <= Self.latestDate else {
                bad(layout.date, "\(date) is outside the dates bars may have (\(Self.earliestDate) ... \(Self.latestDate))", date: date)
                continue
            }
            var prices: [Price] = []
            var ok = true
            for (name, c) in [(layout.open, cOpen), (layout.high, cHigh), (layout.low, cLow), (layout.close, cClose)] {
                guard let units = DecimalText.units(f[c].trimmingSpaces()) else {
                    bad(name, "\"\(f[c])\" is not a price", date: date)
                    ok = false
                    break
                }
                prices.append(Price(units: units))
            }
            guard ok else { continue }
            if let cAdj, DecimalText.units(f[cAdj].trimmingSpaces()) == nil {
                bad(layout.adjClose, "\"\(f[cAdj])\" is not a price", date: date)
                continue
            }
            var volume: Int64 = 0
            if let cVolume {
                guard let v = DecimalText.integer(f[cVolume].trimmingSpaces()) else {
                    bad(layout.volume, "\"\(f[cVolume])\" is not a whole number of shares", date: date)
                    continue
                }
                volume = v
            }
            guard let s = fileSymbol else {
                throw CSVError(file: file, reason: "no ticker: the file name is not a ticker and none was given")
            }
            guard let start = NewYorkTime.checkedTimestamp(date, TradingCalendar.regularOpen) else {
                bad(layout.date, "\(date) has no timestamp (nanoseconds since 1970 overflow)", date: date)
                continue
            }
            bars.append(
                SourcedBar(
                    Bar(
                        symbol: s, resolution: .day, start: start, open: prices[0], high: prices[1], low: prices[2],
                        close: prices[3], volume: volume), line: lineNumber))
        }
        guard let s = fileSymbol else { throw CSVError(file: file, reason: "no ticker: the file name is not a ticker and none was given") }
        for i in issues.indices where issues[i].symbol == nil { issues[i].symbol = s }
        return ParsedCSV(file: file, symbol: s, layout: layout, bars: bars, issues: issues)
    }

    /// The first date a bar may carry: timestamps count from the Unix epoch, and no U.S. equity
    /// data AST reads is older.
    public static let earliestDate = LocalDate(year: 1970, month: 1, day: 1)!
    /// The last date a bar may carry: nanoseconds since 1970 end in April 2262.
    public static let latestDate = LocalDate(year: 2261, month: 12, day: 31)!

    /// The ticker a file's name stands for: the last path component up to its first `.`,
    /// uppercased (`data/aapl.us.txt` → `AAPL`, `BRK-B.csv` → `BRK-B`); nil if that is no ticker.
    public static func symbolFromFileName(_ path: String) -> Symbol? {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        var stem = name
        for suffix in [".csv", ".txt", ".CSV", ".TXT"] where stem.hasSuffix(suffix) { stem = String(stem.dropLast(suffix.count)) }
        if stem.lowercased().hasSuffix(".us") { stem = String(stem.dropLast(3)) }
        return Symbol(validating: stem.uppercased())
    }

    /// `AAPL.US` → `AAPL`.
    static func stooqTicker(_ text: Substring) -> Symbol? {
        var t = text.trimmingSpaces().uppercased()
        if t.hasSuffix(".US") { t = String(t.dropLast(3)) }
        return Symbol(validating: t)
    }

    static func parseDate(_ text: Substring, _ format: CSVLayout.DateFormat) -> LocalDate? {
        switch format {
        case .iso:
            guard text.count >= 10 else { return nil }
            let head = text.prefix(10)
            if text.count > 10, let c = text.dropFirst(10).first, c != " " && c != "T" { return nil }
            return LocalDate(String(head))
        case .compact:
            guard text.count == 8, text.allSatisfy(\.isASCII), let v = Int(text) else { return nil }
            return LocalDate(year: v / 10_000, month: v / 100 % 100, day: v % 100)
        case .monthDayYear:
            let p = text.split(separator: "/")
            guard p.count == 3, p[2].count == 4, let m = Int(p[0]), let d = Int(p[1]), let y = Int(p[2]) else { return nil }
            return LocalDate(year: y, month: m, day: d)
        }
    }

    /// The fields of one line: commas separate; a field in double quotes may hold commas and
    /// `""` for a quote.
    static func fields(_ line: Substring) -> [Substring] {
        guard line.contains("\"") else { return line.split(separator: ",", omittingEmptySubsequences: false) }
        var out: [Substring] = []
        var current = ""
        var quoted = false
        var i = line.startIndex
        while i < line.endIndex {
            let c = line[i]
            if quoted {
                if c == "\"" {
                    let n = line.index(after: i)
                    if n < line.endIndex, line[n] == "\"" {
                        current.append("\"")
                        i = n
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                out.append(Substring(current))
                current = ""
            } else {
                current.append(c)
            }
            i = line.index(after: i)
        }
        out.append(Substring(current))
        return out
    }
}

/// Writes bars as `Date,Open,High,Low,Close,Volume` (the Stooq layout), one line per bar.
public enum CSVBarWriter {
    public static func text(_ bars: [Bar]) -> String {
        var out = "Date,Open,High,Low,Close,Volume\n"
        out.reserveCapacity(bars.count * 48)
        for b in bars {
            out += "\(b.date),\(b.open),\(b.high),\(b.low),\(b.close),\(b.volume)\n"
        }
        return out
    }
}

extension StringProtocol {
    func trimmingSpaces() -> Substring {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
