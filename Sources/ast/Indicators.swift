import ASTCalendar
import ASTCore
import ASTIndicators
import ASTMarketData
import ArgumentParser
import Foundation
import Glibc

/// `ast indicators --csv FILE --indicator SPEC...`: AST's indicator values for every bar of a CSV,
/// as CSV, to check against a charting tool.
struct IndicatorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "indicators", abstract: "Compute indicators over a CSV of daily bars and print them as CSV.",
        discussion: """
            The input is a Yahoo, Stooq or Stooq bulk CSV (detected from the header); indicators use its \
            raw Open/High/Low/Close (not Adj Close). Output: a header `date,<columns>` (rsi_14, macd_12_26_9, \
            macd_signal_12_26_9, macd_hist_12_26_9, ...), then one row per input bar in file order; a cell \
            is empty while its indicator warms up. Numbers are printed with six decimals (`%.6f`, rounded \
            to nearest; -0 printed as 0), the same on every machine. Specs: \
            \(IndicatorSpec.catalog.map { "\($0.name):\($0.parameters)" }.joined(separator: ", ")).
            """)

    @Option(help: "The CSV of daily bars.")
    var csv: String
    @Option(name: .customLong("indicator"), help: "An indicator spec such as rsi:14 or macd:12,26,9 (repeat for more).")
    var indicators: [String] = []
    @Option(help: "The ticker, when the file name is not one.")
    var symbol: String?

    func run() throws {
        guard !indicators.isEmpty else { throw failure("give at least one --indicator (e.g. --indicator rsi:14)", ExitStatus.usage) }
        var specs: [IndicatorSpec] = []
        for text in indicators {
            do { specs.append(try IndicatorSpec(parsing: text)) } catch { throw failure("\(error)", ExitStatus.usage) }
        }
        var ticker: Symbol?
        if let symbol {
            guard let s = Symbol(validating: symbol.uppercased()) else {
                throw failure("--symbol '\(symbol)' is not a ticker", ExitStatus.usage)
            }
            ticker = s
        }
        let text: String
        if let fast = Self.readUTF8(csv) {
            text = fast
        } else {
            // The slow path only to report the failure in Foundation's words, as before.
            do { text = try String(contentsOfFile: csv, encoding: .utf8) } catch {
                throw failure("cannot read \(csv): \(error.localizedDescription)", ExitStatus.other)
            }
        }
        let parsed: ParsedCSV
        do {
            // Without a ticker in the name or --symbol, any placeholder will do: it names nothing in the output.
            parsed = try CSVBarParser.parse(text, file: csv, symbol: ticker ?? CSVBarParser.symbolFromFileName(csv) ?? "CSV")
        } catch {
            throw failure("\(error)", ExitStatus.badData)
        }
        if !parsed.issues.isEmpty {
            throw failure(
                "\(csv) has unreadable rows, no output:\n" + parsed.issues.map(\.description).joined(separator: "\n"), ExitStatus.badData)
        }
        let bytes = try IndicatorTable.csv(parsed.bars, specs: specs, file: csv)
        guard StandardOutput.write(bytes) else { throw failure("cannot write to standard output", ExitStatus.other) }
    }

    /// The file's bytes as a `String` when they are readable UTF-8; nil otherwise (the caller
    /// then reports why).
    static func readUTF8(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return data.withUnsafeBytes { String(validating: $0.bindMemory(to: UInt8.self), as: UTF8.self) }
    }
}

/// The CSV `ast indicators` prints. Pure.
enum IndicatorTable {
    /// The header and one row per bar, each line ending in a newline; bars must go forward in
    /// time (the engine would ignore a bar that does not, so such a file is refused instead of
    /// printed with holes). Built in one byte buffer: no `String` per row or cell.
    static func csv(_ bars: [SourcedBar], specs: [IndicatorSpec], file: String) throws -> [UInt8] {
        let plan = IndicatorPlan(specs)
        var engine = IndicatorEngine(plan: plan)
        var out: [UInt8] = []
        out.reserveCapacity(64 + bars.count * (11 + 12 * plan.columns.count))
        out.append(contentsOf: Array((["date"] + plan.columns).joined(separator: ",").utf8))
        out.append(UInt8(ascii: "\n"))
        var row: [Double?] = []
        for sourced in bars {
            let bar = sourced.bar
            guard engine.update(bar, columns: &row) else {
                let at = sourced.line.map { "\(file):\($0)" } ?? file
                throw failure(
                    "\(at): \(NewYorkTime.local(bar.start).date) does not come after the previous row; sort the file by date",
                    ExitStatus.badData)
            }
            appendDate(NewYorkTime.local(bar.start).date, to: &out)
            for cell in row {
                out.append(UInt8(ascii: ","))
                if let cell { FixedDecimalText.appendSixDecimals(cell, to: &out) }
            }
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// `YYYY-MM-DD`, as ``LocalDate/description`` writes it (years 1...9999).
    static func appendDate(_ d: LocalDate, to out: inout [UInt8]) {
        func two(_ v: Int) {
            out.append(UInt8(ascii: "0") + UInt8(v / 10))
            out.append(UInt8(ascii: "0") + UInt8(v % 10))
        }
        two(d.year / 100)
        two(d.year % 100)
        out.append(UInt8(ascii: "-"))
        two(d.month)
        out.append(UInt8(ascii: "-"))
        two(d.day)
    }
}

/// Standard output as one file descriptor, written without Foundation's buffering.
enum StandardOutput {
    /// Writes all of `bytes` to descriptor 1, retrying after a partial write or EINTR; false on
    /// an error (a closed pipe, a full disk).
    static func write(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(1, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }
}
