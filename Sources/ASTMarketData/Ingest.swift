import ASTCalendar
import ASTCore
import Foundation
import Logging

/// What ingest does with bad rows.
public enum IngestMode: String, Sendable, Equatable {
    /// Any error refuses the whole input: nothing is stored (the default).
    case strict
    /// Rows with errors are dropped, each one reported; the rest is stored.
    case lenient
}

/// What happened to one input (a file or a symbol's API answer).
public struct SourceReport: Sendable, Equatable, CustomStringConvertible {
    /// The file, or `polygon:SYMBOL`.
    public var source: String
    public var symbol: Symbol?
    /// Bars that passed and are (or, when the ingest was refused, would have been) stored.
    public var accepted: Int
    /// Every problem found, errors and warnings, in input order.
    public var report: ValidationReport
    /// The rows dropped in lenient mode (their issues are in `report`).
    public var dropped: Int

    public var description: String {
        "\(source): \(accepted) bars accepted, \(dropped) dropped, \(report.errors.count) errors, \(report.warnings.count) warnings"
            + (report.issues.isEmpty ? "" : "\n" + report.description)
    }
}

/// The outcome of one ingest: every input's report, and what was stored.
public struct IngestReport: Sendable, Equatable, CustomStringConvertible {
    public var mode: IngestMode
    public var sources: [SourceReport]
    /// Bars written (0 when refused).
    public var storedBars: Int
    public var refused: Bool

    public var hasErrors: Bool { sources.contains { $0.report.hasErrors } }
    public var issues: [ValidationIssue] { sources.flatMap(\.report.issues) }

    public var description: String {
        (refused ? "ingest refused, nothing stored" : "ingest stored \(storedBars) bars") + "\n"
            + sources.map(\.description).joined(separator: "\n")
    }
}

/// Why an ingest stored nothing.
public enum IngestError: Error, Sendable, CustomStringConvertible {
    /// Validation found errors (strict mode): nothing stored; the report names every one.
    case refused(IngestReport)
    /// A file that cannot be used at all (no header, unknown layout, missing column).
    case unreadable(CSVError)
    /// A file or directory that cannot be read.
    case io(path: String, reason: String)
    /// The data source failed (Polygon): nothing stored, the last good data stays.
    case source(PolygonError)
    /// The store refused the write: nothing stored.
    case store(BarStoreError)

    public var description: String {
        switch self {
        case .refused(let r): "\(r)"
        case .unreadable(let e): "unreadable CSV: \(e)"
        case .io(let path, let reason): "cannot read \(path): \(reason)"
        case .source(let e): "data source failed, nothing stored: \(e)"
        case .store(let e): "\(e)"
        }
    }
}

/// Validation and the all-or-nothing decision, shared by every source. Pure.
public enum IngestCore {
    /// Validates each input's bars and decides what to store: in strict mode nothing if any input
    /// has an error; in lenient mode every row without an error.
    public static func decide(
        _ inputs: [(source: String, symbol: Symbol, bars: [SourcedBar], parseIssues: [ValidationIssue])],
        mode: IngestMode, policy: ValidationPolicy = .standard, calendar: TradingCalendar = .nyse
    ) -> (report: IngestReport, bars: [Bar]) {
        var sources: [SourceReport] = []
        var keep: [Bar] = []
        for input in inputs {
            let file = input.source
            var report = BarValidator.validate(input.bars, symbol: input.symbol, file: file, calendar: calendar, policy: policy)
            if input.bars.isEmpty, !input.parseIssues.isEmpty { report.issues.removeAll { $0.kind == .empty } }
            // By line; within a line, in the order found (row checks before the gap ending there).
            report.issues = (input.parseIssues + report.issues).enumerated()
                .sorted { ($0.element.line ?? Int.max, $0.offset) < ($1.element.line ?? Int.max, $1.offset) }.map(\.element)
            let kept = mode == .lenient ? BarValidator.keep(input.bars, report: report) : input.bars
            let droppedRows = input.bars.count - kept.count + input.parseIssues.count
            sources.append(
                SourceReport(
                    source: file, symbol: input.symbol, accepted: kept.count, report: report,
                    dropped: mode == .lenient ? droppedRows : 0))
            keep += kept.map(\.bar)
        }
        let refuse = mode == .strict && sources.contains { $0.report.hasErrors }
        let report = IngestReport(mode: mode, sources: sources, storedBars: refuse ? 0 : keep.count, refused: refuse)
        return (report, refuse ? [] : keep)
    }
}

/// The ingest shell: reads files, asks ``IngestCore`` and writes to a ``BarStore`` in one
/// transaction.
public enum MarketDataIngest {
    /// Ingests CSV files of daily bars (one symbol per file; the layout detected from each
    /// header unless given). All files are one ingest: stored together or not at all.
    @discardableResult
    public static func ingestCSV(
        files: [String], into store: BarStore, layout: CSVLayout? = nil, symbol: Symbol? = nil, mode: IngestMode = .strict,
        policy: ValidationPolicy = .standard, calendar: TradingCalendar = .nyse, extra: StoreBatch = StoreBatch(), logger: Logger
    ) throws(IngestError) -> IngestReport {
        var inputs: [(source: String, symbol: Symbol, bars: [SourcedBar], parseIssues: [ValidationIssue])] = []
        for file in files {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
                throw .io(path: file, reason: "\(error.localizedDescription)")
            }
            // A NUL byte or bytes that are not UTF-8: not a text file at all.
            guard !data.withUnsafeBytes({ $0.contains(0) }), let text = String(data: data, encoding: .utf8) else {
                throw .unreadable(CSVError(file: file, line: nil, reason: "not a text file (binary, or not UTF-8)"))
            }
            let parsed: ParsedCSV
            do { parsed = try CSVBarParser.parse(text, file: file, symbol: symbol, layout: layout) } catch { throw .unreadable(error) }
            inputs.append((file, parsed.symbol, parsed.bars, parsed.issues))
        }
        return try commit(inputs, into: store, mode: mode, policy: policy, calendar: calendar, extra: extra, logger: logger)
    }

    /// Ingests a directory: every `*.csv` and `*.txt` file of bars (in `bars/` if there is such a
    /// subdirectory), plus `metadata.csv`, `corporate_actions.csv` and `events.csv` when present
    /// (the layout ``BundledData`` writes). One ingest: all or nothing.
    @discardableResult
    public static func ingestDirectory(
        _ directory: String, into store: BarStore, mode: IngestMode = .strict, policy: ValidationPolicy = .standard,
        calendar: TradingCalendar = .nyse, logger: Logger
    ) throws(IngestError) -> IngestReport {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        let barsDir = fm.fileExists(atPath: "\(directory)/bars", isDirectory: &isDir) && isDir.boolValue ? "\(directory)/bars" : directory
        let names: [String]
        do { names = try fm.contentsOfDirectory(atPath: barsDir).sorted() } catch {
            throw .io(path: barsDir, reason: "\(error.localizedDescription)")
        }
        let reference = Set(BundledData.referenceFiles)
        let files = names.filter { ($0.hasSuffix(".csv") || $0.hasSuffix(".txt")) && !reference.contains($0) }.map { "\(barsDir)/\($0)" }
        var extra = StoreBatch()
        func readIfPresent(_ name: String) throws(IngestError) -> String? {
            let p = "\(directory)/\(name)"
            guard fm.fileExists(atPath: p) else { return nil }
            do { return try String(contentsOfFile: p, encoding: .utf8) } catch {
                throw .io(path: p, reason: "\(error.localizedDescription)")
            }
        }
        do {
            if let t = try readIfPresent("metadata.csv") { extra.symbols = try ReferenceCSV.symbols(t, file: "\(directory)/metadata.csv") }
            if let t = try readIfPresent("corporate_actions.csv") {
                extra.actions = try ReferenceCSV.actions(t, file: "\(directory)/corporate_actions.csv")
            }
            if let t = try readIfPresent("events.csv") { extra.events = try ReferenceCSV.events(t, file: "\(directory)/events.csv") }
        } catch let e as CSVError {
            throw .unreadable(e)
        } catch let e as IngestError {
            throw e
        } catch {
            throw .io(path: directory, reason: "\(error)")
        }
        return try ingestCSV(files: files, into: store, mode: mode, policy: policy, calendar: calendar, extra: extra, logger: logger)
    }

    /// Validates `inputs`, then writes what ``IngestCore`` keeps (with `extra`) in one transaction.
    static func commit(
        _ inputs: [(source: String, symbol: Symbol, bars: [SourcedBar], parseIssues: [ValidationIssue])], into store: BarStore,
        mode: IngestMode, policy: ValidationPolicy, calendar: TradingCalendar, extra: StoreBatch, logger: Logger
    ) throws(IngestError) -> IngestReport {
        let (report, bars) = IngestCore.decide(inputs, mode: mode, policy: policy, calendar: calendar)
        for issue in report.issues {
            logger.log(level: issue.severity == .error ? .error : .warning, "market data issue", metadata: ["issue": "\(issue)"])
        }
        if report.refused {
            logger.error(
                "ingest refused, nothing stored", metadata: ["errors": "\(report.sources.map { $0.report.errors.count }.reduce(0, +))"])
            throw .refused(report)
        }
        var batch = extra
        batch.bars = bars
        do { try store.write(batch) } catch { throw .store(error) }
        return report
    }
}

extension MarketDataIngest {
    /// Validates and stores daily bars already fetched from an API (Alpaca's, IB's), each
    /// symbol's named `source` (`alpaca:SPY`) in the report; one transaction, all or nothing in
    /// strict mode, as every other ingest. A symbol asked for but absent gets an empty input
    /// (which the validation reports).
    @discardableResult
    public static func ingestFetched(
        _ fetched: [(source: String, symbol: Symbol, bars: [Bar])], into store: BarStore, mode: IngestMode = .strict,
        policy: ValidationPolicy = .standard, calendar: TradingCalendar = .nyse, logger: Logger
    ) throws(IngestError) -> IngestReport {
        try commit(
            fetched.map { ($0.source, $0.symbol, $0.bars.map { SourcedBar($0) }, []) }, into: store, mode: mode, policy: policy,
            calendar: calendar, extra: StoreBatch(), logger: logger)
    }
}
