// ast: the research command line. Unlike astctl, which operates a running tree, it works on
// files and the bar store directly: `ingest` loads bars, `scan` shows what the 09:00 scan would
// do on a date (without trading), `indicators` prints AST's indicator values for a CSV, and
// `calendar` lists NYSE sessions with the daily schedule, `engine` runs the in-process engine and
// `backtest` backtests it (or one symbol's CSV) into trades, equity, statistics and reports.
//
// Exit codes: 0 success, 64 bad usage (arguments, an indicator spec), 65 bad data (an ingest
// refused, an unreadable CSV), 1 anything else (configuration, an unreadable store, a failing
// data source).
import ASTRuntime
import ArgumentParser
import Foundation
import Logging

@main
struct AST: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ast",
        abstract: "AST's research command line: ingest bars, scan a date, compute indicators, list NYSE sessions, backtest.",
        subcommands: [
            IngestCommand.self, ScanCommand.self, IndicatorsCommand.self, CalendarCommand.self, EngineCommand.self, BacktestCommand.self,
            SweepCommand.self, IBKRCommand.self,
        ])
}

/// The exit codes of `ast` (sysexits.h where one fits).
enum ExitStatus {
    static let usage: Int32 = 64
    static let badData: Int32 = 65
    static let other: Int32 = 1
}

/// Writes `ast: <message>` to stderr and returns the exit to throw.
func failure(_ message: String, _ code: Int32) -> ExitCode {
    FileHandle.standardError.write(Data("ast: \(message)\n".utf8))
    return ExitCode(code)
}

/// Options of the commands that use the bar store and the configuration.
struct StoreOptions: ParsableArguments {
    @Option(help: "The bar store (SQLite); default: marketdata.store from the configuration, else <state_dir>/marketdata/bars.sqlite.")
    var store: String?

    @Flag(help: "Log the libraries' progress and warnings to stderr.")
    var verbose = false

    /// The layered configuration (`ConfigLoader.discover`: $AST_CONFIG_DIR, ./etc in a checkout, else /etc/ast), or exit 1 with its error.
    func loadConfig() throws -> ASTConfig {
        do {
            return try ConfigLoader.discover().load(ASTConfig.self)
        } catch {
            throw failure("\(error)", ExitStatus.other)
        }
    }

    /// `--store`, else the configuration's store path.
    func storePath(_ config: ASTConfig) -> String {
        store ?? (config.marketdata ?? .standard).storePath(stateDir: config.stateDir)
    }

    /// A logger to stderr: warnings and above with `--verbose`, otherwise only critical failures
    /// (the commands print their own reports).
    func logger() -> Logger {
        Logger(label: "ast") { [verbose] label in StderrLogHandler(label: label, level: verbose ? .info : .critical) }
    }
}
