import ASTCalendar
import ASTCore
import Logging

// What the 09:00 scan needs from Polygon besides the day's bars: the regime's volatility index
// (Polygon's indices aggregates), the sectors of the universe (the SIC code of Polygon's ticker
// overview, mapped by ``SICSectors``) and, when configured, marks from the full-market snapshot.
// Every reader is written from Polygon's documentation and validates each outside value
// (checked conversions, ``PolygonNumbers``) before anything is stored or published.

/// The SIC code of a company (SEC Standard Industrial Classification) as one of the sectors the
/// system uses (the GICS sector names; the bundled data uses eight of them). The one place this
/// mapping lives: ranges of four-digit SIC codes, the first matching row wins, so the narrow
/// rows come before the wide ones. A code in no row (public administration 9100–9729,
/// non-classifiable 9900–9999, an unknown code) has no sector: the risk gate then blocks entries
/// in the symbol (`REFERENCE_DATA_MISSING`) instead of guessing one.
public enum SICSectors {
    /// The sector names a lookup can give.
    public static let sectors = [
        "Communication Services", "Consumer Discretionary", "Consumer Staples", "Energy", "Financials", "Healthcare",
        "Industrials", "Materials", "Real Estate", "Technology", "Utilities",
    ]

    /// `(first code, last code, sector)`, narrow rows first.
    public static let table: [(ClosedRange<Int>, String)] = [
        // Narrow rows inside the wide ones below.
        (1200...1299, "Energy"),  // coal mining
        (1300...1399, "Energy"),  // oil and gas extraction
        (2830...2836, "Healthcare"),  // drugs, biologicals
        (2840...2844, "Consumer Staples"),  // soap, detergents, cosmetics
        (3570...3579, "Technology"),  // computers and office equipment
        (3630...3639, "Consumer Discretionary"),  // household appliances
        (3710...3716, "Consumer Discretionary"),  // motor vehicles
        (3840...3851, "Healthcare"),  // medical instruments and supplies
        (5120...5122, "Healthcare"),  // drug wholesale
        (5140...5149, "Consumer Staples"),  // grocery wholesale
        (5400...5499, "Consumer Staples"),  // food stores
        (5910...5912, "Consumer Staples"),  // drug stores
        (6798...6798, "Real Estate"),  // real estate investment trusts
        (7310...7319, "Communication Services"),  // advertising
        (7370...7379, "Technology"),  // computer programming, software, data processing
        (7800...7899, "Communication Services"),  // motion pictures
        // Divisions and major groups.
        (100...299, "Consumer Staples"),  // agricultural production
        (700...999, "Materials"),  // agricultural services, forestry, fishing
        (1000...1499, "Materials"),  // metal and non-metallic mining
        (1500...1799, "Industrials"),  // construction
        (2000...2199, "Consumer Staples"),  // food, tobacco
        (2200...2399, "Consumer Discretionary"),  // textiles, apparel
        (2400...2499, "Materials"),  // lumber and wood
        (2500...2599, "Consumer Discretionary"),  // furniture
        (2600...2699, "Materials"),  // paper
        (2700...2799, "Communication Services"),  // printing and publishing
        (2800...2899, "Materials"),  // chemicals
        (2900...2999, "Energy"),  // petroleum refining
        (3000...3099, "Materials"),  // rubber and plastics
        (3100...3199, "Consumer Discretionary"),  // leather
        (3200...3399, "Materials"),  // stone, glass, primary metals
        (3400...3599, "Industrials"),  // fabricated metal, industrial machinery
        (3600...3699, "Technology"),  // electronic equipment, semiconductors
        (3700...3799, "Industrials"),  // aircraft, ships, railroad equipment
        (3800...3899, "Technology"),  // measuring instruments, photographic equipment
        (3900...3999, "Consumer Discretionary"),  // miscellaneous manufacturing (jewelry, toys)
        (4000...4799, "Industrials"),  // transportation
        (4800...4899, "Communication Services"),  // communications
        (4900...4999, "Utilities"),  // electric, gas, sanitary services
        (5000...5199, "Industrials"),  // wholesale
        (5200...5999, "Consumer Discretionary"),  // retail
        (6000...6499, "Financials"),  // banks, credit, brokers, insurance
        (6500...6599, "Real Estate"),  // real estate
        (6700...6799, "Financials"),  // holding and investment offices
        (7000...7299, "Consumer Discretionary"),  // hotels, personal services
        (7300...7399, "Industrials"),  // business services
        (7500...7699, "Consumer Discretionary"),  // auto repair, miscellaneous repair
        (7900...7999, "Consumer Discretionary"),  // amusement and recreation
        (8000...8099, "Healthcare"),  // health services
        (8200...8299, "Consumer Discretionary"),  // educational services
        (8100...8999, "Industrials"),  // legal, engineering, management and other services
    ]

    /// The sector of SIC code `sic`, or nil when no row has it.
    public static func sector(sic: Int) -> String? {
        table.first { $0.0.contains(sic) }?.1
    }
}

/// One sector lookup of a symbol, as stored: its SIC code (nil: Polygon has none, or does not
/// know the ticker), the sector it maps to (nil: none), and when it was looked up.
public struct SectorLookup: Sendable, Equatable {
    public var symbol: Symbol
    public var sicCode: Int?
    public var sector: String?
    public var checkedAt: Timestamp

    public init(symbol: Symbol, sicCode: Int?, sector: String?, checkedAt: Timestamp) {
        self.symbol = symbol
        self.sicCode = sicCode
        self.sector = sector
        self.checkedAt = checkedAt
    }
}

/// The regime's inputs as the store holds them: the market index (a stock/ETF ticker stored under
/// its own symbol, flagged as an index) and the volatility index (a Polygon indices ticker,
/// stored as ``volatilitySymbol``, the symbol the scan reads it under).
public struct RegimeInputs: Sendable, Equatable {
    /// The symbol the scan reads the volatility index under (the bundled data's name for it).
    public static let volatilitySymbol: Symbol = UniverseGenerator.volatilityIndex

    public var index: Symbol
    /// Polygon's ticker of the volatility index (`I:VIX`).
    public var volatilityTicker: String
    public var volatilitySymbol: Symbol { Self.volatilitySymbol }

    public init(index: Symbol, volatilityTicker: String) {
        self.index = index
        self.volatilityTicker = volatilityTicker
    }

    /// The symbols of both inputs.
    public var symbols: [Symbol] { [index, volatilitySymbol] }

    /// The store's reference rows that flag both inputs as indexes (so that neither is traded).
    public func symbolInfo(indexName: String?) -> [SymbolInfo] {
        [
            SymbolInfo(
                symbol: index, name: indexName ?? "\(index) (market index of the regime)", exchange: "INDEX", sector: "", isIndex: true),
            SymbolInfo(
                symbol: volatilitySymbol, name: "\(volatilityTicker) (volatility index of the regime)", exchange: "INDEX", sector: "",
                isIndex: true),
        ]
    }
}

/// The regime-input gate before the 09:00 scan, beside the ``FreshnessGate``: both the index and
/// the volatility index must have a bar of the session before the scan date, or the scan does
/// nothing and says why (a regime decided on missing data is no regime). Pure.
public enum RegimeInputGate {
    /// `indexLast`/`volatilityLast`: the dates of the newest stored bar of each (nil: none).
    public static func decide(
        scanDate: LocalDate, inputs: RegimeInputs, indexLast: LocalDate?, volatilityLast: LocalDate?, calendar: TradingCalendar = .nyse
    ) -> FreshnessGate.Decision {
        guard let expected = calendar.sessions(from: scanDate.adding(days: -10), to: scanDate.adding(days: -1)).last?.date else {
            return .degraded(reason: "the NYSE calendar knows no session before \(scanDate)")
        }
        var problems: [String] = []
        for (what, last) in [
            ("market index \(inputs.index)", indexLast),
            ("volatility index \(inputs.volatilityTicker) (stored as \(inputs.volatilitySymbol))", volatilityLast),
        ] {
            if let last {
                if last < expected { problems.append("the \(what) is stale: its newest bar is of \(last), the scan needs \(expected)") }
            } else {
                problems.append("no bars of the \(what)")
            }
        }
        guard problems.isEmpty else {
            return .degraded(reason: "regime input missing: " + problems.joined(separator: "; ") + " (the regime cannot be decided)")
        }
        return .fresh(lastSession: expected)
    }

    /// Reads both gates from `store`: the reason the scan of `scanDate` must not run, or nil.
    public static func problem(store: BarStore, scanDate: LocalDate, inputs: RegimeInputs?) throws(BarStoreError) -> String? {
        if case .degraded(let reason) = FreshnessGate.decide(scanDate: scanDate, lastStored: try store.lastDailyDate()) { return reason }
        guard let inputs else { return nil }
        let indexLast = try store.lastBar(inputs.index)?.date
        let volatilityLast = try store.lastBar(inputs.volatilitySymbol)?.date
        if case .degraded(let reason) = decide(scanDate: scanDate, inputs: inputs, indexLast: indexLast, volatilityLast: volatilityLast) {
            return reason
        }
        return nil
    }
}

/// One mark from Polygon's snapshot: the last trade (or, without one, the day's close so far).
public struct SnapshotMark: Sendable, Equatable {
    public var price: Price
    public var at: Timestamp
}

extension PolygonMarketJSON {
    /// `GET /v2/aggs/ticker/{indicesTicker}/range/1/day/{from}/{to}` (indices): `results[]` of
    /// `o`, `h`, `l`, `c`, `t` (ms, the start of the day in New York); an index has no volume
    /// (`v` absent: 0). Every bar must lie in `[from, to]`; a missing or non-numeric field
    /// refuses the whole answer. The bars are stored as `symbol`.
    static func indexAggregates(_ json: JSONValue, symbol: Symbol, from: LocalDate, to: LocalDate) -> Result<[SourcedBar], PolygonError> {
        if let r = json["results"], r != .null, r.arrayValue == nil { return .failure(.malformed("\"results\" is not a list")) }
        var bars: [SourcedBar] = []
        for (i, r) in (json["results"]?.arrayValue ?? []).enumerated() {
            var p: [Int64] = []
            for k in ["o", "h", "l", "c"] {
                guard let text = r[k]?.numberText, let u = DecimalText.units(Substring(text)) else {
                    return .failure(.malformed("results[\(i)] has no decimal \"\(k)\" that fits"))
                }
                p.append(u)
            }
            var volume: Int64 = 0
            if let v = r["v"], v != .null {
                guard let text = v.numberText, let u = DecimalText.units(Substring(text)) else {
                    return .failure(.malformed("results[\(i)].v is not a decimal that fits"))
                }
                volume = PolygonNumbers.wholeShares(units: u)
            }
            guard let tText = r["t"]?.numberText, let ms = Int64(tText), let ns = PolygonNumbers.nanoseconds(milliseconds: ms) else {
                return .failure(.malformed("results[\(i)] has no whole-millisecond \"t\""))
            }
            let date = NewYorkTime.local(Timestamp(nanoseconds: ns)).date
            guard date >= from && date <= to else {
                return .failure(.malformed("results[\(i)] is for \(date), outside the requested \(from) … \(to)"))
            }
            bars.append(
                SourcedBar(
                    Bar(
                        symbol: symbol, resolution: .day, start: NewYorkTime.timestamp(date, TradingCalendar.regularOpen),
                        open: Price(units: p[0]), high: Price(units: p[1]), low: Price(units: p[2]), close: Price(units: p[3]),
                        volume: volume)))
        }
        return .success(bars)
    }

    /// `GET /v3/reference/tickers/{ticker}` (ticker overview): `results` with `ticker` (must be
    /// the one asked for) and `sic_code` (documented as a string of digits; a number is read too;
    /// absent: no SIC code, e.g. an ETF). A SIC code that is not 0…9999 refuses the answer.
    static func tickerOverview(_ json: JSONValue, ticker: Symbol) -> Result<Int?, PolygonError> {
        guard let results = json["results"], case .object = results else { return .failure(.malformed("no \"results\" object")) }
        guard let t = results["ticker"]?.stringValue else { return .failure(.malformed("results has no string \"ticker\"")) }
        guard t == ticker.rawValue else { return .failure(.malformed("results is for \(t.prefix(16)), the request was for \(ticker)")) }
        guard let sic = results["sic_code"], sic != .null else { return .success(nil) }
        let text = sic.stringValue ?? sic.numberText ?? ""
        guard (1...4).contains(text.count), text.utf8.allSatisfy({ (48...57).contains($0) }), let code = Int(text) else {
            return .failure(.malformed("results.sic_code of \(ticker) is not a SIC code (got \(String(text.prefix(16))))"))
        }
        return .success(code)
    }

    /// `GET /v2/snapshot/locale/us/markets/stocks/tickers` (full market snapshot): `tickers[]` of
    /// `ticker`, `lastTrade` {`p` price, `t` SIP timestamp in ns}, `day` {`c` …}, `updated` (ns).
    /// The mark is the last trade, else the day's close at `updated`; an entry with neither, with
    /// a price that is not positive, or dated after `now` plus a minute is skipped (counted). A
    /// `tickers` that is not a list, or a ticker entry that is not an object, refuses the answer.
    static func snapshot(_ json: JSONValue, now: Timestamp) -> Result<(marks: [Symbol: SnapshotMark], skipped: Int), PolygonError> {
        guard let list = json["tickers"]?.arrayValue ?? (json["tickers"] == nil || json["tickers"] == .null ? [] : nil) else {
            return .failure(.malformed("\"tickers\" is not a list"))
        }
        let latest = now.nanoseconds.addingReportingOverflow(60_000_000_000)
        let limit = latest.overflow ? Int64.max : latest.partialValue
        var marks: [Symbol: SnapshotMark] = [:]
        var skipped = 0
        for (i, entry) in list.enumerated() {
            guard case .object = entry else { return .failure(.malformed("tickers[\(i)] is not an object")) }
            guard let t = entry["ticker"]?.stringValue, let symbol = Symbol(validating: t) else {
                skipped += 1
                continue
            }
            func price(_ v: JSONValue?) -> Price? {
                guard let text = v?.numberText, let u = DecimalText.units(Substring(text)), u > 0 else { return nil }
                return Price(units: u)
            }
            func nanos(_ v: JSONValue?) -> Int64? {
                guard let text = v?.numberText, let n = Int64(text), n > 0, n <= limit else { return nil }
                return n
            }
            if let p = price(entry["lastTrade"]?["p"]), let at = nanos(entry["lastTrade"]?["t"]) {
                marks[symbol] = SnapshotMark(price: p, at: Timestamp(nanoseconds: at))
            } else if let p = price(entry["day"]?["c"]), let at = nanos(entry["updated"]) {
                marks[symbol] = SnapshotMark(price: p, at: Timestamp(nanoseconds: at))
            } else {
                skipped += 1
            }
        }
        return .success((marks, skipped))
    }
}

extension PolygonClient {
    /// The daily bars of the Polygon indices ticker `ticker` (`I:VIX`) from `from` through `to`,
    /// every page, stored as `symbol`.
    public func indexDailyBars(_ ticker: String, as symbol: Symbol, from: LocalDate, to: LocalDate) async throws(PolygonError)
        -> [SourcedBar]
    {
        var all: [SourcedBar] = []
        try await pages("\(settings.baseURL)/v2/aggs/ticker/\(ticker)/range/1/day/\(from)/\(to)?sort=asc&limit=50000", what: ticker) {
            (json) throws(PolygonError) in
            switch PolygonMarketJSON.indexAggregates(json, symbol: symbol, from: from, to: to) {
            case .success(let bars): all += bars
            case .failure(let e): throw e
            }
        }
        logger.info("polygon index bars fetched", metadata: ["ticker": "\(ticker)", "bars": "\(all.count)"])
        return all
    }

    /// The SIC code of `ticker` from its overview (nil: none). An unknown ticker is Polygon's
    /// 404 and is thrown as ``PolygonError/refused(status:message:)`` with status 404.
    public func sicCode(_ ticker: Symbol) async throws(PolygonError) -> Int? {
        let json = try await fetchJSON("\(settings.baseURL)/v3/reference/tickers/\(ticker.rawValue)", what: "overview \(ticker)")
        switch PolygonMarketJSON.tickerOverview(json, ticker: ticker) {
        case .success(let code): return code
        case .failure(let e): throw Self.redacted(e, key)
        }
    }

    /// The whole market's snapshot as marks, in one request.
    public func snapshotMarks(now: Timestamp) async throws(PolygonError) -> (marks: [Symbol: SnapshotMark], skipped: Int) {
        let json = try await fetchJSON("\(settings.baseURL)/v2/snapshot/locale/us/markets/stocks/tickers", what: "snapshot")
        switch PolygonMarketJSON.snapshot(json, now: now) {
        case .success(let r): return r
        case .failure(let e): throw Self.redacted(e, key)
        }
    }
}

/// The plan of a sector refresh: which symbols are looked up next. Pure.
public enum SectorRefresh {
    /// The liquid stocks of `lastBars` (close × volume at least `minDollarVolume`, not in
    /// `exclude`) whose lookup is missing or older than `refreshDays`, most liquid first, at most
    /// `max`.
    public static func due(
        lastBars: [Bar], lookups: [Symbol: Timestamp], exclude: Set<Symbol>, minDollarVolume: Int64, refreshDays: Int, max: Int,
        now: Timestamp
    ) -> [Symbol] {
        let (age, o) = Int64(refreshDays).multipliedReportingOverflow(by: 86_400_000_000_000)
        let cutoff = o ? Int64.min : now.nanoseconds - age
        let liquid = LiveMarks.current(lastBars, minDollarVolume: minDollarVolume).filter { b in
            !exclude.contains(b.symbol) && (lookups[b.symbol].map { $0.nanoseconds <= cutoff } ?? true)
        }
        func dollars(_ b: Bar) -> Int64 {
            let (d, o) = b.close.units.multipliedReportingOverflow(by: b.volume)
            return o ? Int64.max : d
        }
        let ordered = liquid.sorted { (dollars($0), $1.symbol) > (dollars($1), $0.symbol) }
        return Array(ordered.prefix(Swift.max(0, max)).map(\.symbol))
    }
}
