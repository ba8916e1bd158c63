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
    ///
    /// Lines end at `\n` (a `\r` before it is dropped); fields are split at the bytes `,` and `"`,
    /// and read from the UTF-8 bytes directly: no `String` per line or field.
    public static func parse(_ text: String, file: String, symbol: Symbol? = nil, layout: CSVLayout? = nil) throws(CSVError) -> ParsedCSV {
        var text = text
        let result: Result<ParsedCSV, CSVError> = text.withUTF8 { bytes in
            do throws(CSVError) {
                var parser = ByteParser(bytes: bytes, file: file, symbol: symbol)
                return .success(try parser.run(layout: layout))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The parser over one file's bytes; every field is a range of `bytes` (or, for a line with
    /// quotes, of the line's unquoted copy).
    struct ByteParser {
        let bytes: UnsafeBufferPointer<UInt8>
        let file: String
        let symbol: Symbol?

        init(bytes: UnsafeBufferPointer<UInt8>, file: String, symbol: Symbol?) {
            self.bytes = bytes
            self.file = file
            self.symbol = symbol
        }

        /// The lines of the file (ranges without the `\n` and a `\r` before it), trailing blank
        /// lines dropped.
        func lines() -> [Range<Int>] {
            var out: [Range<Int>] = []
            var start = 0
            var i = 0
            let n = bytes.count
            while i <= n {
                if i == n || bytes[i] == UInt8(ascii: "\n") {
                    var end = i
                    if end > start, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                    out.append(start..<end)
                    start = i + 1
                }
                i += 1
            }
            while let last = out.last, Self.trim(bytes, last).isEmpty { out.removeLast() }
            return out
        }

        static func isSpace(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }

        /// `r` without the spaces and tabs around it.
        static func trim(_ base: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Range<Int> {
            var lo = r.lowerBound, hi = r.upperBound
            while lo < hi, isSpace(base[lo]) { lo += 1 }
            while hi > lo, isSpace(base[hi - 1]) { hi -= 1 }
            return lo..<hi
        }

        static func text(_ base: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> String {
            String(decoding: UnsafeBufferPointer(rebasing: base[r]), as: UTF8.self)
        }

        /// Splits `line` at commas into `fields` (reused); false when the line has a quote (the
        /// caller then unquotes it).
        static func split(_ base: UnsafeBufferPointer<UInt8>, _ line: Range<Int>, into fields: inout [Range<Int>]) -> Bool {
            fields.removeAll(keepingCapacity: true)
            var start = line.lowerBound
            for i in line {
                let b = base[i]
                if b == UInt8(ascii: ",") {
                    fields.append(start..<i)
                    start = i + 1
                } else if b == UInt8(ascii: "\"") {
                    return false
                }
            }
            fields.append(start..<line.upperBound)
            return true
        }

        /// A line with quotes: its fields unquoted into `storage` (a field in double quotes may
        /// hold commas and `""` for a quote), their ranges into `fields`.
        static func unquote(_ base: UnsafeBufferPointer<UInt8>, _ line: Range<Int>, storage: inout [UInt8], fields: inout [Range<Int>]) {
            storage.removeAll(keepingCapacity: true)
            fields.removeAll(keepingCapacity: true)
            var start = 0
            var quoted = false
            var i = line.lowerBound
            while i < line.upperBound {
                let c = base[i]
                if quoted {
                    if c == UInt8(ascii: "\"") {
                        if i + 1 < line.upperBound, base[i + 1] == UInt8(ascii: "\"") {
                            storage.append(c)
                            i += 1
                        } else {
                            quoted = false
                        }
                    } else {
                        storage.append(c)
                    }
                } else if c == UInt8(ascii: "\"") {
                    quoted = true
                } else if c == UInt8(ascii: ",") {
                    fields.append(start..<storage.count)
                    start = storage.count
                } else {
                    storage.append(c)
                }
                i += 1
            }
            fields.append(start..<storage.count)
        }

        mutating func run(layout given: CSVLayout?) throws(CSVError) -> ParsedCSV {
            let lines = lines()
            guard let headerLine = lines.first else { throw CSVError(file: file, line: 1, reason: "empty file: no header") }
            var ranges: [Range<Int>] = []
            var storage: [UInt8] = []
            let header: [String]
            if Self.split(bytes, headerLine, into: &ranges) {
                header = ranges.map { Self.text(bytes, $0) }
            } else {
                Self.unquote(bytes, headerLine, storage: &storage, fields: &ranges)
                header = storage.withUnsafeBufferPointer { s in ranges.map { Self.text(s, $0) } }
            }
            guard let layout = given ?? CSVLayout.detect(header: header) else {
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
            var row = RowReader(
                layout: layout, headerCount: header.count,
                columns: [
                    try column(layout.date)!, try column(layout.open)!, try column(layout.high)!, try column(layout.low)!,
                    try column(layout.close)!,
                ],
                volume: try column(layout.volume), adjClose: try column(layout.adjClose), ticker: try column(layout.ticker),
                period: layout == .stooqBulk ? index["<per>"] : nil, file: file, symbol: symbol)
            row.fileSymbol = symbol ?? (row.ticker == nil ? symbolFromFileName(file) : nil)
            for (offset, line) in lines.enumerated().dropFirst() {
                let lineNumber = offset + 1
                if Self.trim(bytes, line).isEmpty {
                    row.bad(nil, "empty line", line: lineNumber)
                    continue
                }
                if Self.split(bytes, line, into: &ranges) {
                    try row.read(bytes, ranges, line: lineNumber)
                } else {
                    Self.unquote(bytes, line, storage: &storage, fields: &ranges)
                    let fields = ranges
                    try storage.withUnsafeBufferPointer { (s) throws(CSVError) in try row.read(s, fields, line: lineNumber) }
                }
            }
            guard let s = row.fileSymbol else {
                throw CSVError(file: file, reason: "no ticker: the file name is not a ticker and none was given")
            }
            for i in row.issues.indices where row.issues[i].symbol == nil { row.issues[i].symbol = s }
            return ParsedCSV(file: file, symbol: s, layout: layout, bars: row.bars, issues: row.issues)
        }
    }

    /// Reads the rows of one file into bars and issues.
    struct RowReader {
        let layout: CSVLayout
        let headerCount: Int
        /// date, open, high, low, close.
        let columns: [Int]
        let volume: Int?
        let adjClose: Int?
        let ticker: Int?
        let period: Int?
        let file: String
        let symbol: Symbol?
        var fileSymbol: Symbol?
        var bars: [SourcedBar] = []
        var issues: [ValidationIssue] = []

        init(
            layout: CSVLayout, headerCount: Int, columns: [Int], volume: Int?, adjClose: Int?, ticker: Int?, period: Int?, file: String,
            symbol: Symbol?
        ) {
            self.layout = layout
            self.headerCount = headerCount
            self.columns = columns
            self.volume = volume
            self.adjClose = adjClose
            self.ticker = ticker
            self.period = period
            self.file = file
            self.symbol = symbol
        }

        mutating func bad(_ column: String?, _ reason: String, line: Int, date: LocalDate? = nil) {
            issues.append(
                ValidationIssue(
                    severity: .error, kind: .unreadable(column: column, reason: reason), symbol: fileSymbol,
                    file: file, line: line, date: date))
        }

        mutating func read(_ base: UnsafeBufferPointer<UInt8>, _ f: [Range<Int>], line lineNumber: Int) throws(CSVError) {
            func text(_ c: Int) -> String { ByteParser.text(base, f[c]) }
            func trimmed(_ c: Int) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: base[ByteParser.trim(base, f[c])]) }
            guard f.count == headerCount else {
                bad(nil, "\(f.count) fields where the header has \(headerCount)", line: lineNumber)
                return
            }
            if let cTicker = ticker {
                guard let s = stooqTicker(Substring(text(cTicker))) else {
                    bad(layout.ticker, "\"\(text(cTicker))\" is not a ticker", line: lineNumber)
                    return
                }
                if symbol == nil {
                    if fileSymbol == nil { fileSymbol = s }
                    if let fs = fileSymbol, fs != s {
                        throw CSVError(file: file, line: lineNumber, reason: "ticker \(s) in a file of \(fs): one symbol per file")
                    }
                }
            }
            if let cPeriod = period {
                let p = trimmed(cPeriod)
                guard p.count == 1, p[0] == UInt8(ascii: "D") else {
                    bad("<PER>", "period \"\(text(cPeriod))\" is not daily (D)", line: lineNumber)
                    return
                }
            }
            let cDate = columns[0]
            guard let date = CSVBarParser.parseDate(trimmed(cDate), layout.dateFormat) else {
                bad(layout.date, "\"\(text(cDate))\" is not a date (\(layout.dateFormat.rawValue))", line: lineNumber)
                return
            }
            guard date >= CSVBarParser.earliestDate, date <= CSVBarParser.latestDate else {
                bad(
                    layout.date, "\(date) is outside the dates bars may have (\(CSVBarParser.earliestDate) ... \(CSVBarParser.latestDate))",
                    line: lineNumber, date: date)
                return
            }
            var prices: (Int64, Int64, Int64, Int64) = (0, 0, 0, 0)
            for k in 1...4 {
                guard let units = DecimalText.units(trimmed(columns[k])) else {
                    let name = k == 1 ? layout.open : k == 2 ? layout.high : k == 3 ? layout.low : layout.close
                    bad(name, "\"\(text(columns[k]))\" is not a price", line: lineNumber, date: date)
                    return
                }
                switch k {
                case 1: prices.0 = units
                case 2: prices.1 = units
                case 3: prices.2 = units
                default: prices.3 = units
                }
            }
            if let cAdj = adjClose, DecimalText.units(trimmed(cAdj)) == nil {
                bad(layout.adjClose, "\"\(text(cAdj))\" is not a price", line: lineNumber, date: date)
                return
            }
            var shares: Int64 = 0
            if let cVolume = volume {
                guard let v = DecimalText.integer(trimmed(cVolume)) else {
                    bad(layout.volume, "\"\(text(cVolume))\" is not a whole number of shares", line: lineNumber, date: date)
                    return
                }
                shares = v
            }
            guard let s = fileSymbol else {
                throw CSVError(file: file, reason: "no ticker: the file name is not a ticker and none was given")
            }
            guard let start = NewYorkTime.checkedTimestamp(date, TradingCalendar.regularOpen) else {
                bad(layout.date, "\(date) has no timestamp (nanoseconds since 1970 overflow)", line: lineNumber, date: date)
                return
            }
            bars.append(
                SourcedBar(
                    Bar(
                        symbol: s, resolution: .day, start: start, open: Price(units: prices.0), high: Price(units: prices.1),
                        low: Price(units: prices.2), close: Price(units: prices.3), volume: shares), line: lineNumber))
        }
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

    /// ``parseDate(_:_:)-(Substring,_)`` over bytes: the common forms directly, anything else
    /// through the text version.
    static func parseDate(_ b: UnsafeBufferPointer<UInt8>, _ format: CSVLayout.DateFormat) -> LocalDate? {
        func digit(_ i: Int) -> Int? { b[i] >= 48 && b[i] <= 57 ? Int(b[i] - 48) : nil }
        func number(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r {
                guard let d = digit(i) else { return nil }
                v = v * 10 + d
            }
            return v
        }
        switch format {
        case .iso:
            if b.count >= 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
                b.count == 10 || b[10] == UInt8(ascii: " ") || b[10] == UInt8(ascii: "T"),
                let y = number(0..<4), let m = number(5..<7), let d = number(8..<10)
            {
                return LocalDate(year: y, month: m, day: d)
            }
        case .compact:
            if b.count == 8, let v = number(0..<8) { return LocalDate(year: v / 10_000, month: v / 100 % 100, day: v % 100) }
        case .monthDayYear:
            break
        }
        return parseDate(Substring(String(decoding: b, as: UTF8.self)), format)
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
