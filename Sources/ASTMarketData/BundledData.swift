import ASTCalendar
import ASTCore
import Foundation
import Logging

/// The default data set shipped in code: the ``UniverseGenerator``'s standard universe, so that
/// a demo, a test or a fresh install runs with no network and no files.
public enum BundledData {
    /// The reference files beside the bars (read by ``MarketDataIngest/ingestDirectory(_:into:mode:policy:calendar:logger:)``).
    public static let referenceFiles = ["metadata.csv", "corporate_actions.csv", "events.csv"]

    /// The standard universe (generated on each call: about 40,000 bars, well under a second).
    public static func universe(_ configuration: UniverseGenerator.Configuration = .standard) -> GeneratedUniverse {
        UniverseGenerator.generate(configuration)
    }

    /// Writes the universe's bars, metadata, corporate actions and events into `store` in one
    /// transaction. The generated bars are validated first like any other ingest; the standard
    /// universe has no errors, so this only fails if the store does.
    @discardableResult
    public static func install(
        into store: BarStore, configuration: UniverseGenerator.Configuration = .standard, logger: Logger
    ) throws(IngestError) -> IngestReport {
        let u = universe(configuration)
        let inputs = zip(u.symbols, u.series).map { info, bars in
            (source: "bundled:\(info.symbol)", symbol: info.symbol, bars: bars.map { SourcedBar($0) }, parseIssues: [ValidationIssue]())
        }
        let extra = StoreBatch(actions: u.actions, symbols: u.symbols, events: u.events)
        return try MarketDataIngest.commit(
            inputs, into: store, mode: .strict, policy: .standard, calendar: .nyse, extra: extra, logger: logger)
    }

    /// Writes the universe's files (see ``GeneratedUniverse/files()``) under `directory`.
    public static func write(into directory: String, configuration: UniverseGenerator.Configuration = .standard) throws(IngestError) {
        do {
            try FileManager.default.createDirectory(atPath: "\(directory)/bars", withIntermediateDirectories: true)
            for (name, contents) in universe(configuration).files() {
                try Data(contents.utf8).write(to: URL(fileURLWithPath: "\(directory)/\(name)"), options: .atomic)
            }
        } catch {
            throw .io(path: directory, reason: "\(error.localizedDescription)")
        }
    }
}

/// Reading the reference files of a data-set directory. Pure.
public enum ReferenceCSV {
    /// `symbol,name,sector,exchange,is_index`.
    public static func symbols(_ text: String, file: String) throws(CSVError) -> [SymbolInfo] {
        try rows(text, file: file, header: ["symbol", "name", "sector", "exchange", "is_index"]).map { (line, f) throws(CSVError) in
            guard let s = Symbol(validating: String(f[0])) else {
                throw CSVError(file: file, line: line, reason: "column symbol: \"\(f[0])\" is not a ticker")
            }
            guard f[4] == "0" || f[4] == "1" else {
                throw CSVError(file: file, line: line, reason: "column is_index: \"\(f[4])\" is not 0 or 1")
            }
            return SymbolInfo(symbol: s, name: String(f[1]), exchange: String(f[3]), sector: String(f[2]), isIndex: f[4] == "1")
        }
    }

    /// `symbol,ex_date,kind,ratio,amount`: `NVX,2025-06-16,split,2:1,` or `PWRG,2024-02-20,dividend,,0.72`.
    public static func actions(_ text: String, file: String) throws(CSVError) -> [CorporateAction] {
        try rows(text, file: file, header: ["symbol", "ex_date", "kind", "ratio", "amount"]).map { (line, f) throws(CSVError) in
            guard let s = Symbol(validating: String(f[0])) else {
                throw CSVError(file: file, line: line, reason: "column symbol: \"\(f[0])\" is not a ticker")
            }
            guard let d = LocalDate(String(f[1])) else {
                throw CSVError(file: file, line: line, reason: "column ex_date: \"\(f[1])\" is not a date")
            }
            switch f[2] {
            case "split":
                let r = f[3].split(separator: ":")
                guard r.count == 2, let n = Int64(r[0]), let o = Int64(r[1]), n > 0, o > 0 else {
                    throw CSVError(file: file, line: line, reason: "column ratio: \"\(f[3])\" is not NEW:OLD")
                }
                return CorporateAction(symbol: s, exDate: d, kind: .split(newShares: n, oldShares: o))
            case "dividend":
                guard let u = DecimalText.units(f[4]), u > 0 else {
                    throw CSVError(file: file, line: line, reason: "column amount: \"\(f[4])\" is not a positive price")
                }
                return CorporateAction(symbol: s, exDate: d, kind: .dividend(Price(units: u)))
            default:
                throw CSVError(file: file, line: line, reason: "column kind: \"\(f[2])\" is neither split nor dividend")
            }
        }
    }

    /// `date,symbol,kind` with kind `earnings`, `split` or `dividend`.
    public static func events(_ text: String, file: String) throws(CSVError) -> [MarketEvent] {
        try rows(text, file: file, header: ["date", "symbol", "kind"]).map { (line, f) throws(CSVError) in
            guard let d = LocalDate(String(f[0])) else {
                throw CSVError(file: file, line: line, reason: "column date: \"\(f[0])\" is not a date")
            }
            guard let s = Symbol(validating: String(f[1])) else {
                throw CSVError(file: file, line: line, reason: "column symbol: \"\(f[1])\" is not a ticker")
            }
            guard let k = MarketEvent.Kind(rawValue: String(f[2])) else {
                throw CSVError(file: file, line: line, reason: "column kind: \"\(f[2])\" is not an event kind")
            }
            return MarketEvent(symbol: s, date: d, kind: k)
        }
    }

    static func rows(_ text: String, file: String, header: [String]) throws(CSVError) -> [(Int, [Substring])] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        guard let first = lines.first, CSVBarParser.fields(first).map({ CSVLayout.normalize(String($0)) }) == header else {
            throw CSVError(file: file, line: 1, reason: "header must be \(header.joined(separator: ","))")
        }
        var out: [(Int, [Substring])] = []
        for (i, l) in lines.enumerated().dropFirst() where !l.trimmingSpaces().isEmpty {
            let f = CSVBarParser.fields(l)
            guard f.count == header.count else {
                throw CSVError(file: file, line: i + 1, reason: "\(f.count) fields where the header has \(header.count)")
            }
            out.append((i + 1, f))
        }
        return out
    }
}
