import ASTAlpaca
import ASTAlpacaClient
import ASTCalendar
import ASTCore
import ASTMarketData
import ASTRuntime
import ArgumentParser
import Foundation
import Logging

/// `ast ingest`: CSV files, a data-set directory, the bundled data set or Polygon into the bar
/// store, validated; prints the ingest report. A refused ingest stores nothing and exits 65.
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Load daily bars into the bar store (CSV, a directory, the bundled data set, Polygon, Alpaca or IB).",
        discussion: """
            Exactly one source: --csv FILE... (Yahoo, Stooq or Stooq bulk, detected from the header; \
            the ticker from the file name), --dir DIR (bars/*.csv plus metadata.csv, corporate_actions.csv, \
            events.csv), --bundled (the generated data set), or --polygon SYMBOL... with --from and --to \
            (API key: the secret polygon_api_key), or --alpaca SYMBOL... with --from and --to (Alpaca's \
            market data, daily bars, --adjustment raw or split; keys: the secrets alpaca_key_id and \
            alpaca_secret_key), or --ibkr SYMBOL... with --from and --to (daily bars from TWS / IB Gateway, \
            host, port and client id from the ibkr section or --ibkr-host, --ibkr-port, --ibkr-client-id; \
            --adjustment raw or all, IB's TRADES or ADJUSTED_LAST; paced by IB's historical-data rules). Strict by default: any error stores nothing (exit 65); \
            --lenient drops bad rows and stores the rest. Every issue is printed with its file and line.
            """)

    @Option(name: .customLong("csv"), parsing: .upToNextOption, help: "CSV files of daily bars, one symbol each.")
    var csvFiles: [String] = []
    @Option(name: .customLong("dir"), help: "A data-set directory.")
    var directory: String?
    @Flag(help: "The bundled, seeded data set (50 stocks, IDX, VOLX, 2024–2026).")
    var bundled = false
    @Option(name: .customLong("polygon"), parsing: .upToNextOption, help: "Symbols to fetch from Polygon.")
    var polygonSymbols: [String] = []
    @Option(name: .customLong("alpaca"), parsing: .upToNextOption, help: "Symbols to fetch from Alpaca's market data.")
    var alpacaSymbols: [String] = []
    @Option(name: .customLong("ibkr"), parsing: .upToNextOption, help: "Symbols to fetch from TWS / IB Gateway (read-only).")
    var ibkrSymbols: [String] = []
    @Option(name: .customLong("ibkr-host"), help: "TWS / IB Gateway host for --ibkr (default: ibkr.host).")
    var ibkrHost: String?
    @Option(name: .customLong("ibkr-port"), help: "API port for --ibkr (default: ibkr.port).")
    var ibkrPort: Int?
    @Option(name: .customLong("ibkr-client-id"), help: "API client id for --ibkr (default: ibkr.client_id, in use while broker@ibkr runs).")
    var ibkrClientId: Int?
    @Option(help: "First date to fetch from Polygon, Alpaca or IB (YYYY-MM-DD).")
    var from: String?
    @Option(help: "Last date to fetch from Polygon, Alpaca or IB (YYYY-MM-DD).")
    var to: String?
    @Option(
        help:
            "Price adjustment: raw (as traded, the default); split with --alpaca; all with --ibkr (IB's ADJUSTED_LAST: splits and dividends)."
    )
    var adjustment: String?
    @Option(help: "The symbol of the one --csv file (instead of the ticker its file name or rows give).")
    var symbol: String?
    @Flag(help: "Drop rows with errors (each reported) and store the rest, instead of refusing the whole ingest.")
    var lenient = false
    @OptionGroup var options: StoreOptions

    enum Source {
        case csv([String]), directory(String), bundled, polygon([Symbol], from: LocalDate, to: LocalDate)
        case alpaca([Symbol], from: LocalDate, to: LocalDate, adjustment: AlpacaBarAdjustment)
        case ibkr([Symbol], from: LocalDate, to: LocalDate, adjustment: IBKRIngestAdjustment)
    }

    func validate() throws {
        let chosen = [!csvFiles.isEmpty, directory != nil, bundled, !polygonSymbols.isEmpty, !alpacaSymbols.isEmpty, !ibkrSymbols.isEmpty]
            .filter { $0 }.count
        guard chosen == 1 else {
            throw ValidationError(
                "give exactly one source: --csv FILE..., --dir DIR, --bundled, --polygon SYMBOL..., --alpaca SYMBOL... or --ibkr SYMBOL...")
        }
        let api = !polygonSymbols.isEmpty ? "--polygon" : !alpacaSymbols.isEmpty ? "--alpaca" : !ibkrSymbols.isEmpty ? "--ibkr" : nil
        if let api {
            guard let from, let f = LocalDate(from) else { throw ValidationError("\(api) needs --from YYYY-MM-DD") }
            guard let to, let t = LocalDate(to) else { throw ValidationError("\(api) needs --to YYYY-MM-DD") }
            guard f <= t else { throw ValidationError("--from \(from) is after --to \(to)") }
            for s in polygonSymbols + alpacaSymbols + ibkrSymbols where Symbol(validating: s.uppercased()) == nil {
                throw ValidationError("'\(s)' is not a ticker")
            }
        } else {
            guard from == nil, to == nil else { throw ValidationError("--from and --to go with --polygon, --alpaca or --ibkr only") }
        }
        if ibkrSymbols.isEmpty, ibkrHost != nil || ibkrPort != nil || ibkrClientId != nil {
            throw ValidationError("--ibkr-host, --ibkr-port and --ibkr-client-id go with --ibkr only")
        }
        if let adjustment, !ibkrSymbols.isEmpty {
            guard IBKRIngestAdjustment(rawValue: adjustment) != nil else {
                throw ValidationError("--adjustment with --ibkr must be raw or all (got '\(adjustment)'; IB has no split-only adjustment)")
            }
        } else if let adjustment {
            guard !alpacaSymbols.isEmpty else { throw ValidationError("--adjustment goes with --alpaca or --ibkr only") }
            guard AlpacaBarAdjustment(rawValue: adjustment) != nil else {
                throw ValidationError("--adjustment must be raw or split (got '\(adjustment)')")
            }
        }
        if bundled, lenient { throw ValidationError("--lenient has no meaning with --bundled") }
        if let symbol {
            guard csvFiles.count == 1 else { throw ValidationError("--symbol names the symbol of one --csv file") }
            guard Symbol(validating: symbol.uppercased()) != nil else { throw ValidationError("--symbol '\(symbol)' is not a ticker") }
        }
    }

    var source: Source {
        if !csvFiles.isEmpty { return .csv(csvFiles) }
        if let directory { return .directory(directory) }
        if bundled { return .bundled }
        if !ibkrSymbols.isEmpty {
            return .ibkr(
                ibkrSymbols.map { Symbol(validating: $0.uppercased())! }, from: LocalDate(from!)!, to: LocalDate(to!)!,
                adjustment: adjustment.flatMap(IBKRIngestAdjustment.init(rawValue:)) ?? .raw)
        }
        if !alpacaSymbols.isEmpty {
            return .alpaca(
                alpacaSymbols.map { Symbol(validating: $0.uppercased())! }, from: LocalDate(from!)!, to: LocalDate(to!)!,
                adjustment: adjustment.flatMap(AlpacaBarAdjustment.init(rawValue:)) ?? .raw)
        }
        return .polygon(polygonSymbols.map { Symbol(validating: $0.uppercased())! }, from: LocalDate(from!)!, to: LocalDate(to!)!)
    }

    func run() async throws {
        let config = try options.loadConfig()
        let path = options.storePath(config)
        let logger = options.logger()
        let mode: IngestMode = lenient ? .lenient : .strict
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        } catch {
            throw failure("cannot create the directory of the bar store \(path): \(error.localizedDescription)", ExitStatus.other)
        }
        // An ingest that stores nothing leaves no new store behind (nor its WAL files).
        let isNew = !FileManager.default.fileExists(atPath: path)
        let store: BarStore
        do { store = try BarStore(path: path, logger: logger) } catch {
            throw failure("cannot open the bar store \(path): \(error)", ExitStatus.other)
        }
        var closed = false
        defer { if !closed { try? store.close() } }
        func discard() {
            try? store.close()
            closed = true
            guard isNew else { return }
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let report: IngestReport
        do {
            switch source {
            case .csv(let files):
                report = try MarketDataIngest.ingestCSV(
                    files: files, into: store, symbol: symbol.flatMap { Symbol(validating: $0.uppercased()) }, mode: mode, logger: logger)
            case .directory(let dir):
                report = try MarketDataIngest.ingestDirectory(dir, into: store, mode: mode, logger: logger)
            case .bundled:
                report = try BundledData.install(into: store, logger: logger)
            case .polygon(let symbols, let from, let to):
                let client = try polygonClient(config, logger: logger)
                do {
                    report = try await MarketDataIngest.ingestPolygon(
                        client: client, symbols: symbols, from: from, to: to, into: store,
                        mode: mode, logger: logger)
                    await client.shutdown()
                } catch {
                    await client.shutdown()
                    throw error
                }
            case .alpaca(let symbols, let from, let to, let adjustment):
                let client = try alpacaClient(config)
                let bars: [Symbol: [Bar]]
                do {
                    bars = try await client.dailyBars(symbols, from: from, to: to, adjustment: adjustment)
                    await client.shutdown()
                } catch {
                    await client.shutdown()
                    logger.error("alpaca ingest abandoned, nothing stored", metadata: ["error": "\(error)"])
                    throw failure("data source failed, nothing stored: \(error)", ExitStatus.other)
                }
                report = try MarketDataIngest.ingestFetched(
                    symbols.map { ("alpaca:\($0)", $0, bars[$0] ?? []) }, into: store, mode: mode, logger: logger)
            case .ibkr(let symbols, let from, let to, let adjustment):
                let source = try IBKRIngestSource.from(config: config, host: ibkrHost, port: ibkrPort, clientId: ibkrClientId)
                let bars = try await source.dailyBars(symbols, from: from, to: to, adjustment: adjustment, logger: logger)
                var unique: [Symbol] = []
                for s in symbols where !unique.contains(s) { unique.append(s) }
                report = try MarketDataIngest.ingestFetched(
                    unique.map { ("ibkr:\($0)", $0, bars[$0] ?? []) }, into: store, mode: mode, logger: logger)
            }
        } catch let error as IngestError {
            discard()
            switch error {
            case .refused(let r):
                print(r)
                throw failure(
                    "ingest refused: \(r.issues.filter { $0.severity == .error }.count) errors, nothing stored in \(path)",
                    ExitStatus.badData)
            case .unreadable, .io:
                throw failure("\(error); nothing stored", ExitStatus.badData)
            default:
                throw failure("\(error)", ExitStatus.other)
            }
        } catch {
            discard()
            throw error
        }
        if lenient, report.storedBars == 0 {
            print(report)
            discard()
            throw failure("nothing stored: every row had an error (--lenient dropped them all)", ExitStatus.badData)
        }
        print(report)
        print("store: \(path)")
    }

    /// The Alpaca market-data client from `marketdata.alpaca` and the secrets `alpaca_key_id` and
    /// `alpaca_secret_key` (broker@alpaca's); neither is ever printed.
    func alpacaClient(_ config: ASTConfig) throws -> AlpacaMarketDataClient {
        let credentials: AlpacaCredentials
        do {
            credentials = try AlpacaCredentials.from(SecretStore.fromEnvironment(secretsFile: config.secretsFile))
        } catch {
            throw failure("\(error) (Alpaca needs the secrets alpaca_key_id and alpaca_secret_key)", ExitStatus.other)
        }
        let c = (config.marketdata ?? .standard).alpacaSettings
        let settings = AlpacaMarketDataSettings(
            baseURL: c.baseURL, feed: AlpacaDataFeed(rawValue: c.feed) ?? .iex, caFile: c.caFile.isEmpty ? nil : c.caFile)
        do {
            return try AlpacaMarketDataClient(settings: settings, credentials: credentials, clock: SystemClock())
        } catch {
            throw failure("\(error)", ExitStatus.other)
        }
    }

    /// The Polygon client from the configuration and the secret `polygon_api_key`; the key is
    /// never printed.
    func polygonClient(_ config: ASTConfig, logger: Logger) throws -> PolygonClient {
        let secret: Secret
        do {
            secret = try SecretStore.fromEnvironment(secretsFile: config.secretsFile).secret("polygon_api_key")
        } catch {
            throw failure("\(error) (Polygon needs the secret polygon_api_key)", ExitStatus.other)
        }
        let settings = PolygonSettings(baseURL: (config.marketdata ?? .standard).polygonSettings.baseURL)
        do {
            return try secret.withValue { value throws(PolygonError) in
                try PolygonClient(apiKey: PolygonAPIKey(value), settings: settings, logger: logger)
            }
        } catch {
            throw failure("\(error)", ExitStatus.other)
        }
    }
}
