import ASTCalendar
import ASTCore
import ASTRuntime
import ASTTWS
import ASTTWSClient
import Foundation
import Logging

/// `ast ingest --ibkr`: IB's daily bars as a second source. IB's `whatToShow` for the ingest's
/// `--adjustment`: `raw` asks TRADES (prices as traded), `all` asks ADJUSTED_LAST (IB adjusts for
/// splits and dividends). IB has no split-only adjustment, so `split` (Alpaca's) is refused.
enum IBKRIngestAdjustment: String, CaseIterable {
    case raw, all

    var whatToShow: TWSWhatToShow { self == .raw ? .trades : .adjustedLast }
}

/// Fetches daily bars from TWS / IB Gateway for the ingest: one read-only API connection (host,
/// port and client id from the `ibkr:` section or the options), each symbol's range split into
/// requests of at most a year, paced by IB's historical-data rules. Any failure is a thrown exit
/// (nothing stored by the caller); no credential exists to print (the API trusts the host).
struct IBKRIngestSource {
    var host: String
    var port: Int
    var clientId: Int32
    var exchange: String
    var requestTimeout: Duration = .seconds(120)

    /// The `ibkr:` section with the options over it, checked.
    static func from(config: ASTConfig, host: String?, port: Int?, clientId: Int?) throws -> IBKRIngestSource {
        let ibkr = config.ibkr ?? .standard
        let h = host ?? ibkr.host
        let p = port ?? ibkr.port
        let id = clientId ?? ibkr.clientId
        guard (1...65_535).contains(p), (0...Int(Int32.max)).contains(id), !h.isEmpty else {
            throw failure("--ibkr-port must be 1...65535, --ibkr-client-id 0...\(Int32.max), the host not empty", ExitStatus.usage)
        }
        return IBKRIngestSource(host: h, port: p, clientId: Int32(id), exchange: ibkr.exchange.isEmpty ? "SMART" : ibkr.exchange)
    }

    /// Each symbol's bars, or a thrown exit saying why nothing can be stored.
    func dailyBars(_ symbols: [Symbol], from: LocalDate, to: LocalDate, adjustment: IBKRIngestAdjustment, logger: Logger) async throws
        -> [Symbol: [Bar]]
    {
        guard (1900...2999).contains(from.year), (1900...2999).contains(to.year) else {
            throw failure("--from and --to must lie in 1900...2999 for IB", ExitStatus.usage)
        }
        var unique: [Symbol] = []
        for s in symbols where !unique.contains(s) { unique.append(s) }
        let chunks = unique.flatMap {
            TWSHistoryChunk.plan(
                contract: TWSContract(symbol: $0.rawValue, exchange: exchange), from: from, to: to, whatToShow: adjustment.whatToShow)
        }
        logger.info(
            "ibkr ingest",
            metadata: ["symbols": "\(unique.count)", "requests": "\(chunks.count)", "what": "\(adjustment.whatToShow.rawValue)"])
        let outcome = await TWSHistoryClient.run(
            host: host, port: port, settings: TWSConnectionSettings(clientId: clientId),
            download: TWSHistoryDownload(chunks: chunks, requestTimeout: requestTimeout), clock: SystemClock(), logger: logger)
        let series: [TWSHistorySeries]
        switch outcome {
        case .success(let s): series = s
        case .failure(let e):
            logger.error("ibkr ingest abandoned, nothing stored", metadata: ["error": "\(e)"])
            throw failure("data source failed, nothing stored: \(e) (TWS at \(host):\(port), client id \(clientId))", ExitStatus.other)
        }
        var out: [Symbol: [Bar]] = [:]
        for s in series {
            guard let symbol = Symbol(validating: s.symbol) else { continue }
            out[symbol, default: []] += s.bars.compactMap { b in
                guard let date = LocalDate(year: b.day.year, month: b.day.month, day: b.day.day) else { return nil }
                return Bar(
                    symbol: symbol, resolution: .day, start: NewYorkTime.timestamp(date, TradingCalendar.regularOpen), open: b.open,
                    high: b.high, low: b.low, close: b.close, volume: b.volume)
            }
        }
        return out
    }
}
