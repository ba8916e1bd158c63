import ASTCalendar
import ASTCore

@testable import ASTMarketData

// The CSV bar parser and decimal reader as they were before M13 made them read bytes (String
// splitting, a Character at a time), kept only as the oracle of CSVByteParserTests: the byte
// parser must give the same bars and the same issues, word for word.

enum ReferenceCSVParser {
    static func parse(_ text: String, file: String, symbol: Symbol? = nil, layout: CSVLayout? = nil) throws(CSVError) -> ParsedCSV {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        while let last = lines.last, last.trimmingSpaces().isEmpty { lines.removeLast() }
        guard let headerLine = lines.first else { throw CSVError(file: file, line: 1, reason: "empty file: no header") }
        let header = CSVBarParser.fields(headerLine).map(String.init)
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

        var fileSymbol = symbol ?? (cTicker == nil ? CSVBarParser.symbolFromFileName(file) : nil)
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
            let f = CSVBarParser.fields(raw)
            guard f.count == header.count else {
                bad(nil, "\(f.count) fields where the header has \(header.count)")
                continue
            }
            if let cTicker {
                guard let s = CSVBarParser.stooqTicker(f[cTicker]) else {
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
            guard let date = CSVBarParser.parseDate(f[cDate].trimmingSpaces(), layout.dateFormat) else {
                bad(layout.date, "\"\(f[cDate])\" is not a date (\(layout.dateFormat.rawValue))")
                continue
            }
            guard date >= CSVBarParser.earliestDate, date <= CSVBarParser.latestDate else {
                bad(
                    layout.date, "\(date) is outside the dates bars may have (\(CSVBarParser.earliestDate) ... \(CSVBarParser.latestDate))",
                    date: date)
                continue
            }
            var prices: [Price] = []
            var ok = true
            for (name, c) in [(layout.open, cOpen), (layout.high, cHigh), (layout.low, cLow), (layout.close, cClose)] {
                guard let units = ReferenceDecimalText.units(f[c].trimmingSpaces()) else {
                    bad(name, "\"\(f[c])\" is not a price", date: date)
                    ok = false
                    break
                }
                prices.append(Price(units: units))
            }
            guard ok else { continue }
            if let cAdj, ReferenceDecimalText.units(f[cAdj].trimmingSpaces()) == nil {
                bad(layout.adjClose, "\"\(f[cAdj])\" is not a price", date: date)
                continue
            }
            var volume: Int64 = 0
            if let cVolume {
                guard let v = ReferenceDecimalText.integer(f[cVolume].trimmingSpaces()) else {
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

}

enum ReferenceDecimalText {
    static func units(_ text: Substring) -> Int64? {
        var bytes = Array(text.utf8)
        var negative = false
        if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") {
            negative = bytes.first == UInt8(ascii: "-")
            bytes.removeFirst()
        }
        var digits: [UInt8] = []
        var pointAt: Int?
        var exponent = 0
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c >= 48 && c <= 57 {
                digits.append(c - 48)
            } else if c == UInt8(ascii: "."), pointAt == nil {
                pointAt = digits.count
            } else if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                guard let e = Int(String(decoding: bytes[(i + 1)...], as: UTF8.self)), abs(e) < 40 else { return nil }
                exponent = e
                i = bytes.count
                break
            } else {
                return nil
            }
            i += 1
        }
        guard !digits.isEmpty else { return nil }
        if let p = pointAt, p == digits.count { return nil }  // "1." has no fraction digit
        // value = digits × 10^(exponent − fractionDigits); units = value × 10^4.
        let fractionDigits = digits.count - (pointAt ?? digits.count)
        let shift = exponent - fractionDigits + 4
        var whole: [UInt8]
        var dropped: [UInt8] = []
        if shift >= 0 {
            whole = digits + [UInt8](repeating: 0, count: shift)
        } else {
            let keep = max(0, digits.count + shift)
            whole = Array(digits[..<keep])
            dropped = Array(digits[keep...])
            if digits.count + shift < 0 { dropped = [UInt8](repeating: 0, count: -(digits.count + shift)) + dropped }
        }
        var value: Int64 = 0
        for d in whole {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            value = a
        }
        if let first = dropped.first, first >= 5 {
            let (a, o) = value.addingReportingOverflow(1)
            guard !o else { return nil }
            value = a
        }
        return negative ? -value : value
    }

    /// A whole number of shares: digits, optionally followed by a fraction of zeros (`1200.0`).
    static func integer(_ text: Substring) -> Int64? {
        if let v = Int64(text) { return v }
        guard let units = units(text), units % 10_000 == 0 else { return nil }
        return units / 10_000
    }
}
