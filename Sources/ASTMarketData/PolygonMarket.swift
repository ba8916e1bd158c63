import ASTCalendar
import ASTCore
import AsyncHTTPClient
import Foundation
import Logging

/// What one HTTP answer of any Polygon endpoint means, before its body is read. Pure.
///
/// 429 and 5xx are retried; other non-2xx answers, a body that is not JSON, a missing `status`
/// or a status other than `OK`/`DELAYED` are failures (the documented error body is
/// `{"status":"ERROR","request_id":…,"error":…}`).
enum PolygonJSONAnswer: Sendable, Equatable {
    case json(JSONValue)
    case retry(after: Duration?, reason: String)
    case failure(PolygonError)

    static func interpret(httpStatus: Int, retryAfter: String?, body: [UInt8]) -> PolygonJSONAnswer {
        let parsed = Result { () throws(JSONError) in try JSONParser.parse(body, limits: .polygon) }
        let json = try? parsed.get()
        let message = json?["error"]?.stringValue ?? json?["message"]?.stringValue ?? ""
        switch httpStatus {
        case 429:
            let seconds = retryAfter.flatMap { Int($0.trimmingSpaces()) }.map { Duration.seconds(max(0, $0)) }
            return .retry(after: seconds, reason: "HTTP 429 Too Many Requests\(message.isEmpty ? "" : ": \(message)")")
        case 500...:
            return .retry(after: nil, reason: "HTTP \(httpStatus)\(message.isEmpty ? "" : ": \(message)")")
        case 200..<300:
            break
        default:
            return .failure(.refused(status: httpStatus, message: message.isEmpty ? "no error text" : message))
        }
        guard let json else {
            if case .failure(let e) = parsed { return .failure(.malformed("HTTP \(httpStatus) body is not JSON: \(e)")) }
            return .failure(.malformed("HTTP \(httpStatus) body is not JSON"))
        }
        guard let status = json["status"]?.stringValue else { return .failure(.malformed("no \"status\" field")) }
        guard status == "OK" || status == "DELAYED" else {
            return .failure(.refused(status: httpStatus, message: "status \(status)\(message.isEmpty ? "" : ": \(message)")"))
        }
        return .json(json)
    }
}

/// One session of the whole market as Polygon's grouped daily endpoint gives it.
public struct GroupedDay: Sendable, Equatable {
    public var date: LocalDate
    /// One bar per ticker (raw prices), in Polygon's order.
    public var bars: [SourcedBar]
    /// Tickers that are not AST symbols (`Symbol` rules: e.g. lowercase or `.WS.A` forms),
    /// left out and counted, never guessed at.
    public var skippedTickers: [String]

    public init(date: LocalDate, bars: [SourcedBar], skippedTickers: [String] = []) {
        self.date = date
        self.bars = bars
        self.skippedTickers = skippedTickers
    }
}

/// Readers of the JSON of Polygon's market-wide endpoints, written from Polygon's documentation.
/// Pure: bytes in, values or a ``PolygonError`` out.
public enum PolygonMarketJSON {
    /// `GET /v2/aggs/grouped/locale/us/market/stocks/{date}`: `results[]` of `T` (ticker), `o`,
    /// `h`, `l`, `c`, `v`, `t` (ms, start of the day in New York; `vw`, `n` ignored). Every
    /// result must be for `date`; a missing or non-numeric field refuses the whole answer.
    public static func groupedDaily(_ bytes: [UInt8], date: LocalDate) -> Result<GroupedDay, PolygonError> {
        let json: JSONValue
        switch PolygonJSONAnswer.interpret(httpStatus: 200, retryAfter: nil, body: bytes) {
        case .json(let j): json = j
        case .failure(let e): return .failure(e)
        case .retry(_, let reason): return .failure(.malformed(reason))
        }
        return groupedDaily(json, date: date)
    }

    static func groupedDaily(_ json: JSONValue, date: LocalDate) -> Result<GroupedDay, PolygonError> {
        if let r = json["results"], r != .null, r.arrayValue == nil { return .failure(.malformed("\"results\" is not a list")) }
        var day = GroupedDay(date: date, bars: [])
        let start = NewYorkTime.timestamp(date, TradingCalendar.regularOpen)
        for (i, r) in (json["results"]?.arrayValue ?? []).enumerated() {
            guard let ticker = r["T"]?.stringValue else { return .failure(.malformed("results[\(i)] has no string \"T\"")) }
            var numbers: [String: Int64] = [:]
            for k in ["o", "h", "l", "c", "v"] {
                guard let text = r[k]?.numberText else {
                    return .failure(.malformed("results[\(i)] (\(ticker.prefix(16))) has no number \"\(k)\""))
                }
                guard let u = DecimalText.units(Substring(text)) else {
                    return .failure(.malformed("results[\(i)].\(k) (\(ticker.prefix(16))) is not a decimal that fits"))
                }
                numbers[k] = u
            }
            guard let tText = r["t"]?.numberText, let ms = Int64(tText), let ns = PolygonNumbers.nanoseconds(milliseconds: ms) else {
                return .failure(.malformed("results[\(i)] (\(ticker.prefix(16))) has no whole-millisecond \"t\""))
            }
            let barDate = NewYorkTime.local(Timestamp(nanoseconds: ns)).date
            guard barDate == date else {
                return .failure(.malformed("results[\(i)] (\(ticker.prefix(16))) is for \(barDate), the request was for \(date)"))
            }
            guard let symbol = Symbol(validating: ticker) else {
                day.skippedTickers.append(String(ticker.prefix(32)))
                continue
            }
            let vu = numbers["v"]!
            let volume = PolygonNumbers.wholeShares(units: vu)
            day.bars.append(
                SourcedBar(
                    Bar(
                        symbol: symbol, resolution: .day, start: start, open: Price(units: numbers["o"]!),
                        high: Price(units: numbers["h"]!), low: Price(units: numbers["l"]!),
                        close: Price(units: numbers["c"]!), volume: volume)))
        }
        return .success(day)
    }

    /// `GET /v3/reference/splits`: `results[]` of `ticker`, `execution_date` (YYYY-MM-DD),
    /// `split_from`, `split_to` (numbers; 2-for-1 is from 1 to 2). Entries that cannot be an
    /// AST corporate action (unknown ticker form, a ratio that is not positive) are skipped.
    static func splits(_ json: JSONValue) -> Result<(actions: [CorporateAction], skipped: Int), PolygonError> {
        guard let results = json["results"]?.arrayValue ?? (json["results"] == nil || json["results"] == .null ? [] : nil) else {
            return .failure(.malformed("\"results\" is not a list"))
        }
        var out: [CorporateAction] = []
        var skipped = 0
        for r in results {
            guard let t = r["ticker"]?.stringValue, let symbol = Symbol(validating: t), let d = r["execution_date"]?.stringValue,
                let date = LocalDate(d),
                let from = r["split_from"]?.numberText.flatMap({ DecimalText.units(Substring($0)) }),
                let to = r["split_to"]?.numberText.flatMap({ DecimalText.units(Substring($0)) }), from > 0, to > 0
            else {
                skipped += 1
                continue
            }
            let g = gcd(from, to)
            out.append(CorporateAction(symbol: symbol, exDate: date, kind: .split(newShares: to / g, oldShares: from / g)))
        }
        return .success((out, skipped))
    }

    /// `GET /v3/reference/dividends`: `results[]` of `ticker`, `ex_dividend_date`, `cash_amount`,
    /// `currency`. Only positive U.S.-dollar cash amounts become actions; the rest are skipped.
    static func dividends(_ json: JSONValue) -> Result<(actions: [CorporateAction], skipped: Int), PolygonError> {
        guard let results = json["results"]?.arrayValue ?? (json["results"] == nil || json["results"] == .null ? [] : nil) else {
            return .failure(.malformed("\"results\" is not a list"))
        }
        var out: [CorporateAction] = []
        var skipped = 0
        for r in results {
            guard let t = r["ticker"]?.stringValue, let symbol = Symbol(validating: t), let d = r["ex_dividend_date"]?.stringValue,
                let date = LocalDate(d),
                let cash = r["cash_amount"]?.numberText.flatMap({ DecimalText.units(Substring($0)) }), cash > 0,
                (r["currency"]?.stringValue ?? "USD").uppercased() == "USD"
            else {
                skipped += 1
                continue
            }
            out.append(CorporateAction(symbol: symbol, exDate: date, kind: .dividend(Price(units: cash))))
        }
        return .success((out, skipped))
    }

    /// Polygon's `primary_exchange` (an ISO 10383 MIC) as the exchange names the universe filter
    /// uses (`NYSE`, `NASDAQ`, `AMEX`, `ARCA`, `BATS`); other MICs pass through unchanged.
    public static func exchangeName(mic: String) -> String {
        switch mic.uppercased() {
        case "XNYS": "NYSE"
        case "XNAS": "NASDAQ"
        case "XASE": "AMEX"
        case "ARCX": "ARCA"
        case "BATS": "BATS"
        default: mic.uppercased()
        }
    }

    /// `GET /v3/reference/tickers?market=stocks&active=true`: `results[]` of `ticker`, `name`,
    /// `primary_exchange`, `type` (`CS`, `ETF`, …). The sector is not in this endpoint: it is
    /// left empty (the universe filter does not need it; sector caps treat it as one sector).
    static func tickers(_ json: JSONValue) -> Result<(symbols: [SymbolInfo], skipped: Int), PolygonError> {
        guard let results = json["results"]?.arrayValue ?? (json["results"] == nil || json["results"] == .null ? [] : nil) else {
            return .failure(.malformed("\"results\" is not a list"))
        }
        var out: [SymbolInfo] = []
        var skipped = 0
        for r in results {
            guard let t = r["ticker"]?.stringValue, let symbol = Symbol(validating: t) else {
                skipped += 1
                continue
            }
            let name = String((r["name"]?.stringValue ?? "").prefix(200))
            let exchange = exchangeName(mic: String((r["primary_exchange"]?.stringValue ?? "").prefix(16)))
            out.append(SymbolInfo(symbol: symbol, name: name, exchange: exchange, sector: ""))
        }
        return .success((out, skipped))
    }

    static func gcd(_ a: Int64, _ b: Int64) -> Int64 {
        var (x, y) = (a, b)
        while y != 0 { (x, y) = (y, x % y) }
        return max(x, 1)
    }
}

extension PolygonClient {
    /// The whole U.S. stock market's daily bars of `date` (raw, `adjusted=false`) in one request.
    public func groupedDaily(_ date: LocalDate) async throws(PolygonError) -> GroupedDay {
        let json = try await fetchJSON(
            "\(settings.baseURL)/v2/aggs/grouped/locale/us/market/stocks/\(date)?adjusted=false", what: "grouped \(date)")
        switch PolygonMarketJSON.groupedDaily(json, date: date) {
        case .success(let d):
            logger.info(
                "polygon grouped daily fetched",
                metadata: ["date": "\(date)", "bars": "\(d.bars.count)", "skipped": "\(d.skippedTickers.count)"])
            return d
        case .failure(let e): throw Self.redacted(e, key)
        }
    }

    /// Splits executed in `[from, to]`, every page.
    public func splits(from: LocalDate, to: LocalDate) async throws(PolygonError) -> [CorporateAction] {
        var all: [CorporateAction] = []
        try await pages(
            "\(settings.baseURL)/v3/reference/splits?execution_date.gte=\(from)&execution_date.lte=\(to)&limit=1000", what: "splits"
        ) {
            (json) throws(PolygonError) in
            switch PolygonMarketJSON.splits(json) {
            case .success(let r): all += r.actions
            case .failure(let e): throw e
            }
        }
        return all
    }

    /// Cash dividends with an ex-date in `[from, to]`, every page.
    public func dividends(from: LocalDate, to: LocalDate) async throws(PolygonError) -> [CorporateAction] {
        var all: [CorporateAction] = []
        try await pages(
            "\(settings.baseURL)/v3/reference/dividends?ex_dividend_date.gte=\(from)&ex_dividend_date.lte=\(to)&limit=1000",
            what: "dividends"
        ) { (json) throws(PolygonError) in
            switch PolygonMarketJSON.dividends(json) {
            case .success(let r): all += r.actions
            case .failure(let e): throw e
            }
        }
        return all
    }

    /// Every active stock ticker's reference data, every page.
    public func tickers() async throws(PolygonError) -> [SymbolInfo] {
        var all: [SymbolInfo] = []
        try await pages("\(settings.baseURL)/v3/reference/tickers?market=stocks&active=true&limit=1000", what: "tickers") {
            (json) throws(PolygonError) in
            switch PolygonMarketJSON.tickers(json) {
            case .success(let r): all += r.symbols
            case .failure(let e): throw e
            }
        }
        return all
    }

    /// Follows `next_url` (same host only, at most `maxPages`), handing each page to `body`.
    func pages(_ first: String, what: String, _ body: (JSONValue) throws(PolygonError) -> Void) async throws(PolygonError) {
        var url: String? = first
        var count = 0
        while let next = url {
            count += 1
            guard count <= settings.maxPages else { throw .tooManyPages(settings.maxPages) }
            let json = try await fetchJSON(next, what: what)
            do { try body(json) } catch { throw Self.redacted(error, key) }
            if let n = json["next_url"]?.stringValue, !n.isEmpty {
                guard n.hasPrefix(origin + "/") else { throw .foreignNextURL(redact(n)) }
                url = n
            } else {
                url = nil
            }
        }
    }

    /// One request, with retries: 429, 5xx and transport errors are retried up to `maxAttempts`.
    func fetchJSON(_ url: String, what: String) async throws(PolygonError) -> JSONValue {
        try await get(url, subject: ("request", what)) { status, retryAfter, body in
            switch PolygonJSONAnswer.interpret(httpStatus: status, retryAfter: retryAfter, body: body) {
            case .json(let j): .done(j)
            case .retry(let after, let reason): .retry(after: after, reason: reason)
            case .failure(let e): .failure(e)
            }
        }
    }
}

extension JSONLimits {
    /// Polygon's answers: up to 64 MiB (a full-market snapshot or grouped day of ~12,000 tickers
    /// with their nested objects), 5,000,000 values, nesting 16 deep.
    static let polygon = JSONLimits(maxBytes: 64 << 20, maxDepth: 16, maxStringBytes: 1 << 16, maxElements: 5_000_000)
}
