import ASTCalendar
import ASTCore
import ASTTestKit
import Foundation
import GRDB
import Testing

@testable import ASTMarketData

/// What the scan needs from Polygon besides the day's bars: the volatility index (indices
/// aggregates), sectors (ticker overview's SIC code, mapped by ``SICSectors``), snapshot marks,
/// and the regime-input gate that stops a scan without them. JSON written from Polygon's docs.
@Suite struct PolygonInputsTests {
    static func d(_ s: String) -> LocalDate { LocalDate(s)! }
    static func ms(_ date: String) -> Int64 { NewYorkTime.timestamp(d(date), LocalTime(hour: 0, minute: 0)).nanoseconds / 1_000_000 }
    static func json(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8), limits: .polygon) }

    // MARK: SIC -> sector

    @Test(arguments: [
        (3571, "Technology"), (3674, "Technology"), (7372, "Technology"), (2834, "Healthcare"), (3841, "Healthcare"),
        (8062, "Healthcare"), (6022, "Financials"), (6211, "Financials"), (1311, "Energy"), (2911, "Energy"),
        (3711, "Consumer Discretionary"),
        (5812, "Consumer Discretionary"), (2080, "Consumer Staples"), (5411, "Consumer Staples"), (2844, "Consumer Staples"),
        (4911, "Utilities"), (3721, "Industrials"), (4512, "Industrials"), (2821, "Materials"), (4813, "Communication Services"),
        (6798, "Real Estate"), (6512, "Real Estate"),
    ])
    func aSICCodeMapsToTheSectorOfItsRow(sic: Int, sector: String) {
        #expect(SICSectors.sector(sic: sic) == sector)
    }

    @Test func aCodeInNoRowHasNoSectorAndEveryRowNamesAKnownSector() {
        for code in [0, 50, 9100, 9721, 9995, 10_000, -1] { #expect(SICSectors.sector(sic: code) == nil, "\(code)") }
        for (_, sector) in SICSectors.table { #expect(SICSectors.sectors.contains(sector), "\(sector)") }
        // The bundled data's sectors are among them, so live and bundled sectors compare equal.
        for sector in Set(BundledData.universe().symbols.filter { !$0.isIndex }.map(\.sector)) {
            #expect(sector.map(SICSectors.sectors.contains) == true, "\(sector ?? "no sector")")
        }
    }

    // MARK: Indices aggregates

    @Test func indexBarsHaveNoVolumeAndAreStoredUnderTheConfiguredSymbol() throws {
        let j = try Self.json(
            #"{"ticker":"I:VIX","status":"OK","results":[{"o":17.1,"h":18.25,"l":16.9,"c":17.5,"t":\#(Self.ms("2026-12-01"))},"#
                + #"{"o":17.5,"h":19,"l":17,"c":18.75,"t":\#(Self.ms("2026-12-02"))}]}"#)
        let bars = try PolygonMarketJSON.indexAggregates(j, symbol: "VOLX", from: Self.d("2026-11-20"), to: Self.d("2026-12-02")).get()
        #expect(bars.map(\.bar.symbol) == ["VOLX", "VOLX"])
        #expect(bars.map(\.bar.volume) == [0, 0])
        #expect(bars[1].bar.close == Price(units: 187_500) && bars[1].bar.date == Self.d("2026-12-02"))
    }

    @Test func anIndexAnswerOutsideTheRangeOrWithABadFieldIsRefusedWhole() throws {
        let outside = try Self.json(#"{"status":"OK","results":[{"o":1,"h":1,"l":1,"c":1,"t":\#(Self.ms("2026-12-03"))}]}"#)
        #expect(throws: PolygonError.self) {
            try PolygonMarketJSON.indexAggregates(outside, symbol: "VOLX", from: Self.d("2026-11-20"), to: Self.d("2026-12-02")).get()
        }
        for bad in [
            #"{"status":"OK","results":[{"o":1,"h":1,"l":1,"c":"x","t":\#(Self.ms("2026-12-01"))}]}"#,
            #"{"status":"OK","results":[{"o":1,"h":1,"l":1,"c":1,"t":9223372036854775807}]}"#,
            #"{"status":"OK","results":[{"o":1e400,"h":1,"l":1,"c":1,"t":\#(Self.ms("2026-12-01"))}]}"#,
            #"{"status":"OK","results":{"o":1}}"#,
        ] {
            #expect(throws: PolygonError.self, "\(bad)") {
                try PolygonMarketJSON.indexAggregates(
                    try Self.json(bad), symbol: "VOLX", from: Self.d("2026-11-20"), to: Self.d("2026-12-02")
                )
                .get()
            }
        }
    }

    // MARK: Ticker overview

    @Test func theOverviewsSICCodeIsReadAsDocumentedAndAbsentForAnETF() throws {
        let doc = try Self.json(
            #"{"request_id":"x","status":"OK","results":{"ticker":"AAPL","name":"Apple Inc.","sic_code":"3571","sic_description":"ELECTRONIC COMPUTERS"}}"#
        )
        #expect(try PolygonMarketJSON.tickerOverview(doc, ticker: "AAPL").get() == 3571)
        let number = try Self.json(#"{"status":"OK","results":{"ticker":"AAPL","sic_code":3571}}"#)
        #expect(try PolygonMarketJSON.tickerOverview(number, ticker: "AAPL").get() == 3571)
        let etf = try Self.json(#"{"status":"OK","results":{"ticker":"SPY","type":"ETF"}}"#)
        #expect(try PolygonMarketJSON.tickerOverview(etf, ticker: "SPY").get() == nil)
    }

    @Test func anOverviewOfAnotherTickerOrWithABadSICCodeIsRefused() throws {
        for bad in [
            #"{"status":"OK","results":{"ticker":"MSFT","sic_code":"7372"}}"#,
            #"{"status":"OK","results":{"ticker":"AAPL","sic_code":"35X1"}}"#,
            #"{"status":"OK","results":{"ticker":"AAPL","sic_code":"123456"}}"#,
            #"{"status":"OK","results":{"ticker":"AAPL","sic_code":-5}}"#,
            #"{"status":"OK","results":{"ticker":"AAPL","sic_code":3.5}}"#,
            #"{"status":"OK","results":[]}"#,
            #"{"status":"OK"}"#,
        ] {
            #expect(throws: PolygonError.self, "\(bad)") { try PolygonMarketJSON.tickerOverview(try Self.json(bad), ticker: "AAPL").get() }
        }
    }

    // MARK: Snapshot

    @Test func snapshotMarksAreTheLastTradeElseTheDaysCloseAndBadEntriesAreSkipped() throws {
        let now = NewYorkTime.timestamp(Self.d("2026-12-02"), LocalTime(hour: 10, minute: 30))
        let t = now.nanoseconds - 5_000_000_000
        let future = now.nanoseconds + 3_600_000_000_000
        let j = try Self.json(
            #"{"status":"OK","count":5,"tickers":["#
                + #"{"ticker":"ABC","day":{"c":12.3},"lastTrade":{"p":12.34,"s":100,"t":\#(t),"x":4},"updated":\#(t)},"#
                + #"{"ticker":"XYZ","day":{"c":56.78},"updated":\#(t)},"#
                + #"{"ticker":"FUT","day":{"c":1},"lastTrade":{"p":2,"t":\#(future)},"updated":\#(future)},"#
                + #"{"ticker":"NEG","day":{"c":-1},"lastTrade":{"p":0,"t":\#(t)},"updated":\#(t)},"#
                + #"{"ticker":"bad.ticker","day":{"c":1},"updated":\#(t)}]}"#)
        let r = try PolygonMarketJSON.snapshot(j, now: now).get()
        #expect(r.marks["ABC"] == SnapshotMark(price: Price(units: 123_400), at: Timestamp(nanoseconds: t)))
        #expect(r.marks["XYZ"] == SnapshotMark(price: Price(units: 567_800), at: Timestamp(nanoseconds: t)))
        #expect(r.marks["FUT"] == nil && r.marks["NEG"] == nil)
        #expect(r.skipped == 3)
        for bad in [#"{"status":"OK","tickers":{"ticker":"ABC"}}"#, #"{"status":"OK","tickers":[1]}"#] {
            #expect(throws: PolygonError.self, "\(bad)") { try PolygonMarketJSON.snapshot(try Self.json(bad), now: now).get() }
        }
        #expect(try PolygonMarketJSON.snapshot(try Self.json(#"{"status":"OK"}"#), now: now).get().marks.isEmpty)
    }

    // MARK: Regime-input gate

    static let inputs = RegimeInputs(index: "SPY", volatilityTicker: "I:VIX")

    @Test func theScanNeedsBothRegimeInputsOfThePreviousSession() {
        let scan = Self.d("2026-12-07")  // a Monday: the previous session is Friday 12-04
        let fresh = RegimeInputGate.decide(
            scanDate: scan, inputs: Self.inputs, indexLast: Self.d("2026-12-04"), volatilityLast: Self.d("2026-12-04"))
        #expect(fresh == .fresh(lastSession: Self.d("2026-12-04")))
        guard
            case .degraded(let noVol) = RegimeInputGate.decide(
                scanDate: scan, inputs: Self.inputs, indexLast: Self.d("2026-12-04"), volatilityLast: nil)
        else {
            Issue.record("a scan without the volatility index ran")
            return
        }
        #expect(noVol.contains("no bars of the volatility index I:VIX (stored as VOLX)") && !noVol.contains("market index SPY"), "\(noVol)")
        guard
            case .degraded(let stale) = RegimeInputGate.decide(
                scanDate: scan, inputs: Self.inputs, indexLast: Self.d("2026-12-03"), volatilityLast: Self.d("2026-12-04"))
        else {
            Issue.record("a scan with a stale index ran")
            return
        }
        #expect(stale.contains("market index SPY is stale: its newest bar is of 2026-12-03, the scan needs 2026-12-04"), "\(stale)")
    }

    @Test func theGateReadsTheStoreAndNamesWhatIsMissing() throws {
        let f = try StoreFixture()
        try f.store.write(
            StoreBatch(bars: [bar("ABC", "2026-12-04", "10", "11", "9", "10"), bar("SPY", "2026-12-04", "600", "601", "599", "600")]))
        let reason = try RegimeInputGate.problem(store: f.store, scanDate: Self.d("2026-12-07"), inputs: Self.inputs)
        #expect(reason?.contains("regime input missing: no bars of the volatility index I:VIX") == true, "\(reason ?? "fresh")")
        try f.store.write(StoreBatch(bars: [bar("VOLX", "2026-12-04", "17", "18", "16", "17", 0)]))
        #expect(try RegimeInputGate.problem(store: f.store, scanDate: Self.d("2026-12-07"), inputs: Self.inputs) == nil)
        // Without live inputs (bundled, CSV) only the freshness gate applies; a stale store still stops the scan.
        #expect(
            try RegimeInputGate.problem(store: f.store, scanDate: Self.d("2026-12-09"), inputs: nil)?.contains("stale market data") == true)
    }

    // MARK: Sectors

    @Test func theSectorRefreshTakesTheMostLiquidMissingOrOldOnesUpToItsMaximum() {
        let now = NewYorkTime.timestamp(Self.d("2026-12-04"), LocalTime(hour: 16, minute: 20))
        let bars = [
            bar("AAA", "2026-12-04", "10", "11", "9", "10", 1_000_000),  // $10M
            bar("BBB", "2026-12-04", "50", "51", "49", "50", 1_000_000),  // $50M
            bar("CCC", "2026-12-04", "20", "21", "19", "20", 1_000_000),  // $20M, looked up yesterday
            bar("DDD", "2026-12-04", "30", "31", "29", "30", 1_000_000),  // $30M, looked up 40 days ago
            bar("TINY", "2026-12-04", "1", "1", "1", "1", 10),  // illiquid
            bar("SPY", "2026-12-04", "600", "601", "599", "600", 1_000_000),  // the regime's index
        ]
        let day: Int64 = 86_400_000_000_000
        let lookups: [Symbol: Timestamp] = [
            "CCC": Timestamp(nanoseconds: now.nanoseconds - day), "DDD": Timestamp(nanoseconds: now.nanoseconds - 40 * day),
        ]
        let due = SectorRefresh.due(
            lastBars: bars, lookups: lookups, exclude: ["SPY", "VOLX"], minDollarVolume: 1_000_000, refreshDays: 30, max: 10, now: now)
        #expect(due == ["BBB", "DDD", "AAA"])
        #expect(
            SectorRefresh.due(
                lastBars: bars, lookups: lookups, exclude: ["SPY"], minDollarVolume: 1_000_000, refreshDays: 30, max: 2, now: now)
                == ["BBB", "DDD"])
    }

    @Test func aLookedUpSectorIsTheSymbolsSectorUnlessItsReferenceRowHasOne() throws {
        let f = try StoreFixture()
        try f.store.write(
            StoreBatch(symbols: [
                SymbolInfo(symbol: "ABC", name: "ABC", exchange: "NYSE", sector: ""),
                SymbolInfo(symbol: "XYZ", name: "XYZ", exchange: "NYSE", sector: ""),
                SymbolInfo(symbol: "OWN", name: "Own", exchange: "NYSE", sector: "Utilities"),
            ]))
        let at = Timestamp(nanoseconds: 1_000)
        try f.store.writeSectors([
            SectorLookup(symbol: "ABC", sicCode: 3571, sector: "Technology", checkedAt: at),
            SectorLookup(symbol: "XYZ", sicCode: nil, sector: nil, checkedAt: at),
            SectorLookup(symbol: "OWN", sicCode: 6022, sector: "Financials", checkedAt: at),
        ])
        // The live feed's reference rows come again with no sector: the lookup stays.
        try f.store.write(StoreBatch(symbols: [SymbolInfo(symbol: "ABC", name: "ABC Corp", exchange: "NASDAQ", sector: "")]))
        let info = Dictionary(uniqueKeysWithValues: try f.store.symbolInfo().map { ($0.symbol, $0) })
        #expect(info["ABC"]?.sector == "Technology" && info["ABC"]?.exchange == "NASDAQ")
        #expect(info["XYZ"].map { $0.sector == nil } == true, "no sector stays none, never a guessed one (nor an empty name)")
        #expect(info["OWN"]?.sector == "Utilities")
        #expect(try f.store.sectorLookups().map(\.sicCode) == [3571, 6022, nil])
    }

    @Test func aStoreOfTheFirstSchemaGainsTheSectorsTableAndKeepsItsBars() throws {
        let dir = try TemporaryDirectory(prefix: "ast-md-v1")
        defer { dir.remove() }
        let path = dir.path + "/v1.sqlite"
        let db = try DatabaseQueue(path: path)
        try db.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE bars (symbol TEXT NOT NULL, resolution TEXT NOT NULL, start INTEGER NOT NULL, open INTEGER NOT NULL,
                        high INTEGER NOT NULL, low INTEGER NOT NULL, close INTEGER NOT NULL, volume INTEGER NOT NULL,
                        PRIMARY KEY (symbol, resolution, start)) WITHOUT ROWID;
                    CREATE TABLE corporate_actions (symbol TEXT NOT NULL, ex_date TEXT NOT NULL, kind TEXT NOT NULL, split_new INTEGER,
                        split_old INTEGER, dividend INTEGER, PRIMARY KEY (symbol, ex_date, kind)) WITHOUT ROWID;
                    CREATE TABLE symbols (symbol TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, exchange TEXT NOT NULL,
                        sector TEXT NOT NULL, is_index INTEGER NOT NULL) WITHOUT ROWID;
                    CREATE TABLE events (symbol TEXT NOT NULL, date TEXT NOT NULL, kind TEXT NOT NULL,
                        PRIMARY KEY (symbol, date, kind)) WITHOUT ROWID;
                    INSERT INTO bars VALUES ('ABC', 'day', 1, 10, 11, 9, 10, 5);
                    INSERT INTO symbols VALUES ('ABC', 'ABC', 'NYSE', '', 0);
                    PRAGMA user_version = 1;
                    """)
        }
        try db.close()
        let store = try BarStore(path: path, logger: quiet)
        defer { try? store.close() }
        #expect(try store.barCount() == 1)
        try store.writeSectors([SectorLookup(symbol: "ABC", sicCode: 4911, sector: "Utilities", checkedAt: Timestamp(nanoseconds: 5))])
        #expect(try store.symbolInfo().first?.sector == "Utilities")
    }
}
