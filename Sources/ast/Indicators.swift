import ASTCalendar
import ASTCore
import ASTIndicators
import ASTMarketData
import ArgumentParser
import Foundation

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
        do { text = try String(contentsOfFile: csv, encoding: .utf8) } catch {
            throw failure("cannot read \(csv): \(error.localizedDescription)", ExitStatus.other)
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
        let rows = try IndicatorTable.rows(parsed.bars.map(\.bar), specs: specs, file: csv, lines: parsed.bars.map(\.line))
        print(rows.joined(separator: "\n"))
    }
}

/// The CSV `ast indicators` prints. Pure.
enum IndicatorTable {
    /// The header and one row per bar; bars must go forward in time (the engine would ignore a
    /// bar that does not, so such a file is refused instead of printed with holes).
    static func rows(_ bars: [Bar], specs: [IndicatorSpec], file: String, lines: [Int?]) throws -> [String] {
        let plan = IndicatorPlan(specs)
        var engine = IndicatorEngine(plan: plan)
        var out = [(["date"] + plan.columns).joined(separator: ",")]
        for (i, bar) in bars.enumerated() {
            guard let values = engine.update(bar) else {
                let at = lines[i].map { "\(file):\($0)" } ?? file
                throw failure(
                    "\(at): \(NewYorkTime.local(bar.start).date) does not come after the previous row; sort the file by date",
                    ExitStatus.badData)
            }
            out.append(([NewYorkTime.local(bar.start).date.description] + values.row.map { $0.map(format) ?? "" }).joined(separator: ","))
        }
        return out
    }

    /// Six decimals, rounded to nearest by the C library; `-0.000000` becomes `0.000000`.
    static func format(_ x: Double) -> String {
        guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf") }
        let s = String(format: "%.6f", x)
        return s == "-0.000000" ? "0.000000" : s
    }
}
