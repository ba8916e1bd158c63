import ASTCalendar
import ASTCore

/// The `adjustment` of Alpaca's historical bars that AST asks for: `raw` (as traded) or
/// `split` (every bar before a split divided by its ratio, volumes multiplied). Alpaca also
/// offers `dividend` and `all`; AST adjusts dividends itself from its own corporate actions.
public enum AlpacaBarAdjustment: String, Sendable, Equatable, CaseIterable {
    case raw, split
}

/// The `feed` of Alpaca's market data: `iex` (one exchange; what the free plan may query for
/// recent dates) or `sip` (every U.S. exchange; recent data needs a paid plan).
public enum AlpacaDataFeed: String, Sendable, Equatable, CaseIterable {
    case iex, sip
}

/// Daily bars of some symbols over a date range, as one paged query of
/// `GET /v2/stocks/bars` (Alpaca's market-data API, `https://data.alpaca.markets`).
public struct AlpacaBarsQuery: Sendable, Equatable {
    public var symbols: [Symbol]
    public var from: LocalDate
    public var to: LocalDate
    public var adjustment: AlpacaBarAdjustment
    public var feed: AlpacaDataFeed
    /// Bars a page at most (Alpaca: 1 ... 10,000, default 1,000).
    public var limit: Int

    public init(
        symbols: [Symbol], from: LocalDate, to: LocalDate, adjustment: AlpacaBarAdjustment = .raw, feed: AlpacaDataFeed = .iex,
        limit: Int = AlpacaMarketDataRequests.maxLimit
    ) {
        self.symbols = symbols
        self.from = from
        self.to = to
        self.adjustment = adjustment
        self.feed = feed
        self.limit = limit
    }
}

/// One page of the answer: each symbol's daily bars in the page's order, and the token of the
/// next page (nil on the last one).
public struct AlpacaBarPage: Sendable, Equatable {
    public var bars: [Symbol: [Bar]]
    public var nextPageToken: String?

    public init(bars: [Symbol: [Bar]], nextPageToken: String?) {
        self.bars = bars
        self.nextPageToken = nextPageToken
    }
}

/// Requests and answers of Alpaca's historical daily bars, written from Alpaca's market-data
/// documentation (docs.alpaca.markets, "Historical API" and the stock bars reference): the
/// multi-symbol endpoint, `timeframe=1Day`, `start`/`end` inclusive, results sorted by symbol
/// then time, `next_page_token` to pass back as `page_token` with every other parameter
/// unchanged. Each bar is `{"t": RFC 3339, "o", "h", "l", "c": numbers, "v": shares, "n", "vw"}`;
/// a daily bar's `t` is midnight in New York. Pure.
public enum AlpacaMarketDataRequests {
    /// Alpaca's `limit` cap.
    public static let maxLimit = 10_000
    /// Symbols a query at most (AST's bound on the URL's length; a longer list is split by the caller).
    public static let maxSymbols = 100
    /// The longest `next_page_token` accepted (an opaque text; Alpaca's are short base64).
    public static let maxPageTokenLength = 1_024

    /// `GET /v2/stocks/bars?symbols=…&timeframe=1Day&start=…&end=…&adjustment=…&feed=…&limit=…&sort=asc[&page_token=…]`.
    public static func dailyBars(_ q: AlpacaBarsQuery, pageToken: String?) throws(AlpacaRequestError) -> AlpacaRequest {
        guard !q.symbols.isEmpty, q.symbols.count <= maxSymbols else {
            throw AlpacaRequestError("\(q.symbols.count) symbols: a query asks for 1 ... \(maxSymbols)")
        }
        guard Set(q.symbols).count == q.symbols.count else { throw AlpacaRequestError("a symbol is named twice") }
        guard q.from <= q.to else { throw AlpacaRequestError("start \(q.from) is after end \(q.to)") }
        guard (1...maxLimit).contains(q.limit) else { throw AlpacaRequestError("limit \(q.limit) is not in 1...\(maxLimit)") }
        var query = [
            "symbols=" + AlpacaRequests.percentEncode(q.symbols.map(\.rawValue).joined(separator: ",")), "timeframe=1Day",
            "start=\(q.from)", "end=\(q.to)", "adjustment=\(q.adjustment.rawValue)", "feed=\(q.feed.rawValue)", "limit=\(q.limit)",
            "sort=asc",
        ]
        if let pageToken {
            guard isPageToken(pageToken) else { throw AlpacaRequestError("page token \(AlpacaRequests.show(pageToken)) is not one") }
            query.append("page_token=" + AlpacaRequests.percentEncode(pageToken))
        }
        return AlpacaRequest(method: .get, path: "/v2/stocks/bars?" + query.joined(separator: "&"))
    }

    /// Printable ASCII without spaces, 1 ... ``maxPageTokenLength`` bytes.
    public static func isPageToken(_ text: String) -> Bool {
        let b = text.utf8
        return (1...maxPageTokenLength).contains(b.count) && b.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// Reads one page of `GET /v2/stocks/bars`. Refused (never guessed at): a symbol that was not
    /// asked for, a bar whose `t` is not midnight in New York, a price that is not a plain decimal
    /// (more than four decimals are rounded half away from zero, as every source is), a volume
    /// that is not whole shares. Prices are not checked here: the store's validation does that.
    public static func decodePage(_ json: AlpacaJSON, requested: Set<Symbol>) throws(AlpacaDecodeError) -> AlpacaBarPage {
        guard case .object = json else { throw AlpacaDecodeError("the bars answer is not a JSON object") }
        var out: [Symbol: [Bar]] = [:]
        switch json["bars"] {
        case .none, .some(.null): break
        case .some(.object(let members)):
            for (name, value) in members {
                guard let symbol = Symbol(validating: name), requested.contains(symbol) else {
                    throw AlpacaDecodeError("bars for \(AlpacaRequests.show(name)), which was not asked for")
                }
                guard let items = value.arrayValue else { throw AlpacaDecodeError("bars.\(symbol) is not an array") }
                var bars: [Bar] = []
                bars.reserveCapacity(items.count)
                for (i, item) in items.enumerated() {
                    bars.append(try bar(item, symbol: symbol, what: "bars.\(symbol)[\(i)]"))
                }
                out[symbol] = bars
            }
        default: throw AlpacaDecodeError("bars is not an object of symbols")
        }
        var next: String? = nil
        switch json["next_page_token"] {
        case .none, .some(.null): break
        case .some(.string(let t)):
            guard isPageToken(t) else { throw AlpacaDecodeError("next_page_token is not a page token") }
            next = t
        default: throw AlpacaDecodeError("next_page_token is not a string")
        }
        return AlpacaBarPage(bars: out, nextPageToken: next)
    }

    static func bar(_ json: AlpacaJSON, symbol: Symbol, what: String) throws(AlpacaDecodeError) -> Bar {
        guard case .object = json else { throw AlpacaDecodeError("\(what) is not an object") }
        guard let text = json["t"]?.stringValue, let t = AlpacaTime.parse(text) else {
            throw AlpacaDecodeError("\(what).t is not an RFC 3339 time")
        }
        let local = NewYorkTime.local(t)
        guard local.time == LocalTime(hour: 0, minute: 0) else {
            throw AlpacaDecodeError("\(what).t \(AlpacaRequests.show(text)) is not midnight in New York (not a daily bar)")
        }
        func decimal(_ key: String) throws(AlpacaDecodeError) -> AlpacaDecimal {
            guard case .number(let n) = json[key], let d = AlpacaDecimal(n) else {
                throw AlpacaDecodeError("\(what).\(key) is not a decimal number")
            }
            return d
        }
        func price(_ key: String) throws(AlpacaDecodeError) -> Price {
            guard let p = try decimal(key).roundedPrice else { throw AlpacaDecodeError("\(what).\(key) does not fit a price") }
            return p
        }
        guard let volume = try decimal("v").wholeShares else { throw AlpacaDecodeError("\(what).v is not whole shares") }
        return Bar(
            symbol: symbol, resolution: .day, start: NewYorkTime.timestamp(local.date, TradingCalendar.regularOpen),
            open: try price("o"), high: try price("h"), low: try price("l"), close: try price("c"), volume: volume.shares)
    }
}
