import ASTCalendar
import ASTCore

/// The synthetic universe: symbols, raw daily bars, corporate actions and events.
public struct GeneratedUniverse: Sendable, Equatable {
    /// Every symbol's metadata, stocks by ticker, then the index and the volatility index.
    public var symbols: [SymbolInfo]
    /// Raw (unadjusted) daily bars, one series per symbol in ``symbols`` order, ascending.
    public var series: [[Bar]]
    /// Splits and dividends, by symbol then ex-date.
    public var actions: [CorporateAction]
    /// Earnings, splits and dividends, by date then symbol.
    public var events: [MarketEvent]

    /// Every bar, by symbol then start.
    public var allBars: [Bar] { series.flatMap { $0 } }

    /// The bars of `symbol`.
    public func bars(of symbol: Symbol) -> [Bar] {
        symbols.firstIndex { $0.symbol == symbol }.map { series[$0] } ?? []
    }

    /// The data set as files, in a fixed order: `metadata.csv`, `corporate_actions.csv`,
    /// `events.csv`, then `bars/<SYMBOL>.csv` in ``symbols`` order (layout
    /// `Date,Open,High,Low,Close,Volume`). Line ends are `\n`; prices print as ``Price`` does.
    public func files() -> [(name: String, contents: String)] {
        var out: [(String, String)] = []
        var meta = "symbol,name,sector,exchange,is_index\n"
        for s in symbols { meta += "\(s.symbol),\(s.name),\(s.sector ?? ""),\(s.exchange),\(s.isIndex ? 1 : 0)\n" }
        out.append(("metadata.csv", meta))
        var actionsText = "symbol,ex_date,kind,ratio,amount\n"
        for a in actions {
            switch a.kind {
            case .split(let n, let o): actionsText += "\(a.symbol),\(a.exDate),split,\(n):\(o),\n"
            case .dividend(let p): actionsText += "\(a.symbol),\(a.exDate),dividend,,\(p)\n"
            }
        }
        out.append(("corporate_actions.csv", actionsText))
        var eventsText = "date,symbol,kind\n"
        for e in events { eventsText += "\(e.date),\(e.symbol),\(e.kind.rawValue)\n" }
        out.append(("events.csv", eventsText))
        for (info, bars) in zip(symbols, series) { out.append(("bars/\(info.symbol).csv", CSVBarWriter.text(bars))) }
        return out
    }
}

/// A deterministic generator of a realistic daily universe (pure: a seed in, the same bytes out).
///
/// Fifty fictional stocks in eight sectors, an index (`IDX`) and a volatility index (`VOLX`),
/// over every NYSE session of a date range. The market moves through regimes (trending up,
/// trending down, choppy) of 25 to 90 sessions with their own drift and volatility; each stock
/// is beta × market + its sector's factor + its own noise, with overnight gaps (small every day,
/// occasional large ones, large on earnings days every ~63 sessions), intraday ranges around
/// open and close, and volume that rises with the size of the move. `VOLX` rises when `IDX`
/// falls and reverts towards a level set by the regime's volatility. One stock (`NVX`) splits
/// 2:1 (prices halve, volume doubles, a corporate action and an event record it); eleven pay a
/// quarterly cash dividend (the open drops by it on the ex-date).
///
/// Only `+ − × ÷` and rounding on `Double` are used (no `log`, `exp`, `sin`), so the output is
/// the same on every IEEE-754 machine; prices are rounded to whole cents.
public enum UniverseGenerator {
    /// What to generate.
    public struct Configuration: Sendable, Equatable {
        public var seed: UInt64
        public var from: LocalDate
        public var to: LocalDate
        /// The stock that splits, its ratio and the first date on which it may happen.
        public var split: (symbol: Symbol, newShares: Int64, oldShares: Int64, onOrAfter: LocalDate)

        public init(
            seed: UInt64 = 3, from: LocalDate = LocalDate(year: 2024, month: 1, day: 2)!,
            to: LocalDate = LocalDate(year: 2026, month: 12, day: 31)!,
            split: (symbol: Symbol, newShares: Int64, oldShares: Int64, onOrAfter: LocalDate) =
                ("NVX", 2, 1, LocalDate(year: 2025, month: 6, day: 16)!)
        ) {
            self.seed = seed
            self.from = from
            self.to = to
            self.split = split
        }

        public static func == (a: Configuration, b: Configuration) -> Bool {
            a.seed == b.seed && a.from == b.from && a.to == b.to && a.split.symbol == b.split.symbol
                && a.split.newShares == b.split.newShares && a.split.oldShares == b.split.oldShares
                && a.split.onOrAfter == b.split.onOrAfter
        }

        /// Three years, 2024-01-02 through 2026-12-31 (753 sessions), seed 3: of the first
        /// seeds tried, one whose market both falls about 30 % and recovers, so that the demo
        /// strategy meets rallies, sell-offs and chop.
        public static let standard = Configuration()
    }

    /// One stock of the universe: ticker, name, sector, exchange, first price (dollars), beta,
    /// daily idiosyncratic volatility, typical daily volume, quarterly dividend (cents, 0: none).
    struct Spec {
        var ticker: Symbol
        var name: String
        var sector: String
        var exchange: String
        var price: Double
        var beta: Double
        var vol: Double
        var volume: Double
        var dividendCents: Int64
    }

    static let sectors = [
        "Technology", "Healthcare", "Financials", "Energy", "Industrials", "Consumer Discretionary", "Consumer Staples", "Utilities",
    ]

    static let stocks: [Spec] = [
        // Technology
        Spec(
            ticker: "NVX", name: "Novix Semiconductor", sector: "Technology", exchange: "NASDAQ", price: 412, beta: 1.6, vol: 0.020,
            volume: 9_000_000, dividendCents: 0),
        Spec(
            ticker: "QBTL", name: "Qubitline Systems", sector: "Technology", exchange: "NASDAQ", price: 58, beta: 1.4, vol: 0.024,
            volume: 6_500_000, dividendCents: 0),
        Spec(
            ticker: "CLDG", name: "Cloudridge Software", sector: "Technology", exchange: "NYSE", price: 131, beta: 1.2, vol: 0.017,
            volume: 3_200_000, dividendCents: 0),
        Spec(
            ticker: "DTWL", name: "Datawell Analytics", sector: "Technology", exchange: "NASDAQ", price: 77, beta: 1.3, vol: 0.019,
            volume: 2_800_000, dividendCents: 0),
        Spec(
            ticker: "SYNQ", name: "Synchra Networks", sector: "Technology", exchange: "NASDAQ", price: 44, beta: 1.1, vol: 0.016,
            volume: 4_100_000, dividendCents: 22),
        Spec(
            ticker: "PXFG", name: "Pixelforge Devices", sector: "Technology", exchange: "NYSE", price: 189, beta: 1.25, vol: 0.015,
            volume: 2_100_000, dividendCents: 0),
        Spec(
            ticker: "LUMN", name: "Luminar Optics", sector: "Technology", exchange: "NASDAQ", price: 23, beta: 1.5, vol: 0.028,
            volume: 8_700_000, dividendCents: 0),
        // Healthcare
        Spec(
            ticker: "GENV", name: "Genevo Therapeutics", sector: "Healthcare", exchange: "NASDAQ", price: 36, beta: 0.9, vol: 0.026,
            volume: 3_900_000, dividendCents: 0),
        Spec(
            ticker: "MDCR", name: "Medicore Health", sector: "Healthcare", exchange: "NYSE", price: 142, beta: 0.7, vol: 0.012,
            volume: 1_800_000, dividendCents: 95),
        Spec(
            ticker: "BIOQ", name: "Bioquant Labs", sector: "Healthcare", exchange: "NASDAQ", price: 67, beta: 0.95, vol: 0.021,
            volume: 2_200_000, dividendCents: 0),
        Spec(
            ticker: "CARX", name: "Caremax Devices", sector: "Healthcare", exchange: "NYSE", price: 98, beta: 0.8, vol: 0.013,
            volume: 1_500_000, dividendCents: 0),
        Spec(
            ticker: "PHRM", name: "Pharmora Group", sector: "Healthcare", exchange: "NYSE", price: 54, beta: 0.6, vol: 0.011,
            volume: 5_100_000, dividendCents: 41),
        Spec(
            ticker: "VTLS", name: "Vitalis Diagnostics", sector: "Healthcare", exchange: "NASDAQ", price: 29, beta: 1.0, vol: 0.022,
            volume: 1_200_000, dividendCents: 0),
        // Financials
        Spec(
            ticker: "BKNR", name: "Banknorth Financial", sector: "Financials", exchange: "NYSE", price: 48, beta: 1.1, vol: 0.013,
            volume: 7_400_000, dividendCents: 30),
        Spec(
            ticker: "CPTL", name: "Capitolo Holdings", sector: "Financials", exchange: "NYSE", price: 121, beta: 1.2, vol: 0.014,
            volume: 2_600_000, dividendCents: 0),
        Spec(
            ticker: "INSR", name: "Insurewell Corp", sector: "Financials", exchange: "NYSE", price: 83, beta: 0.8, vol: 0.011,
            volume: 1_900_000, dividendCents: 52),
        Spec(
            ticker: "PAYQ", name: "Payquick Inc", sector: "Financials", exchange: "NASDAQ", price: 64, beta: 1.3, vol: 0.019,
            volume: 4_300_000, dividendCents: 0),
        Spec(
            ticker: "TRSX", name: "Trustex Asset Management", sector: "Financials", exchange: "NYSE", price: 37, beta: 1.15, vol: 0.015,
            volume: 2_000_000, dividendCents: 0),
        Spec(
            ticker: "LNDR", name: "Lendria Credit", sector: "Financials", exchange: "NASDAQ", price: 19, beta: 1.4, vol: 0.023,
            volume: 3_300_000, dividendCents: 0),
        // Energy
        Spec(
            ticker: "PTRX", name: "Petrix Energy", sector: "Energy", exchange: "NYSE", price: 72, beta: 0.9, vol: 0.018, volume: 6_000_000,
            dividendCents: 68),
        Spec(
            ticker: "SOLR", name: "Solaris Power Systems", sector: "Energy", exchange: "NASDAQ", price: 41, beta: 1.4, vol: 0.027,
            volume: 5_200_000, dividendCents: 0),
        Spec(
            ticker: "DRLX", name: "Drillex Services", sector: "Energy", exchange: "NYSE", price: 26, beta: 1.2, vol: 0.022,
            volume: 4_600_000, dividendCents: 0),
        Spec(
            ticker: "GASN", name: "Gasnova Midstream", sector: "Energy", exchange: "NYSE", price: 33, beta: 0.7, vol: 0.012,
            volume: 3_100_000, dividendCents: 0),
        Spec(
            ticker: "WNDQ", name: "Windquest Renewables", sector: "Energy", exchange: "NASDAQ", price: 17, beta: 1.3, vol: 0.025,
            volume: 2_900_000, dividendCents: 0),
        Spec(
            ticker: "RFNX", name: "Refinex Partners", sector: "Energy", exchange: "NYSE", price: 88, beta: 0.85, vol: 0.016,
            volume: 1_700_000, dividendCents: 0),
        // Industrials
        Spec(
            ticker: "AERX", name: "Aerox Aerospace", sector: "Industrials", exchange: "NYSE", price: 156, beta: 1.05, vol: 0.015,
            volume: 2_300_000, dividendCents: 0),
        Spec(
            ticker: "MCHN", name: "Machinex Industries", sector: "Industrials", exchange: "NYSE", price: 94, beta: 1.0, vol: 0.014,
            volume: 1_600_000, dividendCents: 0),
        Spec(
            ticker: "RAIL", name: "Railmark Logistics", sector: "Industrials", exchange: "NYSE", price: 203, beta: 0.9, vol: 0.012,
            volume: 1_100_000, dividendCents: 110),
        Spec(
            ticker: "BLDX", name: "Buildex Materials", sector: "Industrials", exchange: "NYSE", price: 61, beta: 1.15, vol: 0.017,
            volume: 2_400_000, dividendCents: 0),
        Spec(
            ticker: "ROBO", name: "Robotica Automation", sector: "Industrials", exchange: "NASDAQ", price: 47, beta: 1.35, vol: 0.021,
            volume: 3_000_000, dividendCents: 0),
        Spec(
            ticker: "FRTX", name: "Freightex Carriers", sector: "Industrials", exchange: "NASDAQ", price: 38, beta: 1.1, vol: 0.018,
            volume: 1_400_000, dividendCents: 0),
        // Consumer Discretionary
        Spec(
            ticker: "SHPX", name: "Shoplex Retail", sector: "Consumer Discretionary", exchange: "NASDAQ", price: 112, beta: 1.25,
            vol: 0.019, volume: 4_800_000, dividendCents: 0),
        Spec(
            ticker: "AUTX", name: "Autonex Motors", sector: "Consumer Discretionary", exchange: "NASDAQ", price: 236, beta: 1.7, vol: 0.029,
            volume: 11_000_000, dividendCents: 0),
        Spec(
            ticker: "TRVL", name: "Travelia Holdings", sector: "Consumer Discretionary", exchange: "NASDAQ", price: 52, beta: 1.3,
            vol: 0.020, volume: 2_700_000, dividendCents: 0),
        Spec(
            ticker: "HOMX", name: "Homex Furnishings", sector: "Consumer Discretionary", exchange: "NYSE", price: 34, beta: 1.1, vol: 0.018,
            volume: 1_300_000, dividendCents: 0),
        Spec(
            ticker: "GAMR", name: "Gamerion Interactive", sector: "Consumer Discretionary", exchange: "NASDAQ", price: 71, beta: 1.2,
            vol: 0.023, volume: 3_500_000, dividendCents: 0),
        Spec(
            ticker: "APRL", name: "Apparelo Brands", sector: "Consumer Discretionary", exchange: "NYSE", price: 28, beta: 1.05, vol: 0.017,
            volume: 2_100_000, dividendCents: 0),
        Spec(
            ticker: "DINE", name: "Dinewell Restaurants", sector: "Consumer Discretionary", exchange: "NYSE", price: 145, beta: 0.9,
            vol: 0.013, volume: 900_000, dividendCents: 0),
        // Consumer Staples
        Spec(
            ticker: "FOODQ", name: "Foodquest Brands", sector: "Consumer Staples", exchange: "NYSE", price: 63, beta: 0.5, vol: 0.010,
            volume: 2_500_000, dividendCents: 47),
        Spec(
            ticker: "BVRG", name: "Beverago Company", sector: "Consumer Staples", exchange: "NYSE", price: 59, beta: 0.55, vol: 0.009,
            volume: 3_800_000, dividendCents: 0),
        Spec(
            ticker: "HSHD", name: "Househeld Products", sector: "Consumer Staples", exchange: "NYSE", price: 154, beta: 0.45, vol: 0.009,
            volume: 1_700_000, dividendCents: 0),
        Spec(
            ticker: "GRCR", name: "Grocera Markets", sector: "Consumer Staples", exchange: "NYSE", price: 46, beta: 0.6, vol: 0.012,
            volume: 2_000_000, dividendCents: 0),
        Spec(
            ticker: "PRSN", name: "Personna Care", sector: "Consumer Staples", exchange: "NYSE", price: 81, beta: 0.5, vol: 0.011,
            volume: 1_000_000, dividendCents: 0),
        Spec(
            ticker: "TBCO", name: "Tobaccor International", sector: "Consumer Staples", exchange: "NYSE", price: 97, beta: 0.4, vol: 0.010,
            volume: 2_400_000, dividendCents: 0),
        // Utilities
        Spec(
            ticker: "PWRG", name: "Powergrid Utilities", sector: "Utilities", exchange: "NYSE", price: 68, beta: 0.4, vol: 0.009,
            volume: 2_900_000, dividendCents: 72),
        Spec(
            ticker: "WATR", name: "Waterline Services", sector: "Utilities", exchange: "NYSE", price: 125, beta: 0.35, vol: 0.008,
            volume: 800_000, dividendCents: 0),
        Spec(
            ticker: "ELCX", name: "Electrix Energy Delivery", sector: "Utilities", exchange: "NYSE", price: 42, beta: 0.45, vol: 0.010,
            volume: 3_400_000, dividendCents: 0),
        Spec(
            ticker: "NUCL", name: "Nuclearis Generation", sector: "Utilities", exchange: "NYSE", price: 57, beta: 0.7, vol: 0.016,
            volume: 2_200_000, dividendCents: 0),
        Spec(
            ticker: "GRDX", name: "Gridex Transmission", sector: "Utilities", exchange: "NASDAQ", price: 31, beta: 0.5, vol: 0.011,
            volume: 1_100_000, dividendCents: 0),
        Spec(
            ticker: "HYDR", name: "Hydrora Power", sector: "Utilities", exchange: "NYSE", price: 24, beta: 0.55, vol: 0.013,
            volume: 1_500_000, dividendCents: 0),
    ]

    /// The index and the volatility index.
    public static let index: Symbol = "IDX"
    public static let volatilityIndex: Symbol = "VOLX"

    /// A market regime: drift and volatility of the market's daily return.
    enum Regime: CaseIterable { case trendUp, trendDown, chop }

    /// Generates the universe for `configuration`.
    public static func generate(_ configuration: Configuration = .standard, calendar: TradingCalendar = .nyse) -> GeneratedUniverse {
        let sessions = calendar.sessions(from: configuration.from, to: configuration.to)
        let n = sessions.count
        var rng = SplitMix64(seed: configuration.seed)

        // The market: regimes, daily returns and each regime's volatility.
        var market = [Double](repeating: 0, count: n)
        var regimeVol = [Double](repeating: 0, count: n)
        var t = 0
        while t < n {
            let length = rng.int(25...90)
            let u = rng.uniform()
            let regime: Regime = u < 0.42 ? .trendUp : (u < 0.67 ? .trendDown : .chop)
            let (drift, vol): (Double, Double) =
                switch regime {
                case .trendUp: (0.0011, 0.0075)
                case .trendDown: (-0.0013, 0.0140)
                case .chop: (0.0, 0.0100)
                }
            var chopLevel = 0.0
            for i in t..<min(n, t + length) {
                // Plus half the variance: the drift of the price, not of the log price.
                var r = drift + 0.5 * vol * vol + vol * rng.normal()
                if regime == .chop {
                    // Mean-reverting: a choppy market gives back what it just gained.
                    r -= 0.25 * chopLevel
                    chopLevel += r
                }
                market[i] = r
                regimeVol[i] = vol
            }
            t += length
        }
        var sectorFactor: [[Double]] = []
        for _ in sectors { sectorFactor.append((0..<n).map { _ in 0.006 * rng.normal() }) }

        var symbols: [SymbolInfo] = []
        var series: [[Bar]] = []
        var actions: [CorporateAction] = []
        var events: [MarketEvent] = []
        var indexVolume = [Int64](repeating: 0, count: n)

        for (k, spec) in stocks.enumerated() {
            var r = SplitMix64(seed: configuration.seed ^ (UInt64(k + 1) &* 0xD6E8_FEB8_6659_FD93))
            let sector = sectors.firstIndex(of: spec.sector)!
            // Earnings every ~63 sessions (±3) from a random first one.
            var earnings = Set<Int>()
            var e = r.int(5...60)
            while e < n {
                earnings.insert(e)
                events.append(MarketEvent(symbol: spec.ticker, date: sessions[e].date, kind: .earnings))
                e += 63 + r.int(-3...3)
            }
            var dividends: [Int: Int64] = [:]
            if spec.dividendCents > 0 {
                var d = r.int(15...55)
                while d < n {
                    if !earnings.contains(d) {
                        dividends[d] = spec.dividendCents
                        let action = CorporateAction(
                            symbol: spec.ticker, exDate: sessions[d].date, kind: .dividend(Price(units: spec.dividendCents * 100)))
                        actions.append(action)
                        events.append(MarketEvent(symbol: spec.ticker, date: sessions[d].date, kind: .dividend))
                    }
                    d += 63
                }
            }
            var splitAt: Int?
            if spec.ticker == configuration.split.symbol, let i = sessions.firstIndex(where: { $0.date >= configuration.split.onOrAfter }) {
                splitAt = i
                actions.append(
                    CorporateAction(
                        symbol: spec.ticker, exDate: sessions[i].date,
                        kind: .split(newShares: configuration.split.newShares, oldShares: configuration.split.oldShares)))
                events.append(MarketEvent(symbol: spec.ticker, date: sessions[i].date, kind: .split))
            }

            var bars: [Bar] = []
            bars.reserveCapacity(n)
            var prevClose = spec.price * 100  // cents
            var volumeScale = 1.0
            for i in 0..<n {
                var basis = prevClose
                if i == splitAt {
                    basis = basis * Double(configuration.split.oldShares) / Double(configuration.split.newShares)
                    volumeScale *= Double(configuration.split.newShares) / Double(configuration.split.oldShares)
                }
                if let d = dividends[i] { basis -= Double(d) }
                // Volatility drag compensated, plus a small premium: stocks drift with the market.
                let idio = 0.75 * spec.vol
                let variance = spec.beta * spec.beta * regimeVol[i] * regimeVol[i] + 0.36 * 0.006 * 0.006 + idio * idio
                var ret = 0.0001 + 0.5 * variance + spec.beta * market[i] + 0.6 * sectorFactor[sector][i] + idio * r.normal()
                var gap = 0.3 * ret + 0.003 * r.normal()
                if earnings.contains(i) {
                    let surprise = 0.045 * r.normal()
                    gap += surprise
                    ret += surprise
                } else if r.uniform() < 0.012 {
                    let shock = (0.03 + 0.05 * r.uniform()) * (r.uniform() < 0.5 ? -1 : 1)
                    gap += shock
                    ret += shock
                }
                if basis < 300 {
                    ret = abs(ret)
                    gap = abs(gap)
                }  // keep penny-stock territory out
                let open = (basis * (1 + gap)).rounded()
                let close = (basis * (1 + ret)).rounded()
                let spread = spec.vol * 0.6 + regimeVol[i] * 0.4
                let high = max(open, close, (max(open, close) * (1 + spread * abs(r.normal()))).rounded())
                let low = max(1, min(open, close, (min(open, close) * (1 - spread * abs(r.normal()))).rounded()))
                let move = abs(ret) / (spec.vol + 0.005)
                let volume = Int64(
                    (spec.volume * volumeScale * (0.6 + 0.8 * r.uniform()) * (1 + 0.35 * move) * (earnings.contains(i) ? 2.5 : 1)).rounded()
                )
                indexVolume[i] += volume
                bars.append(
                    Bar(
                        symbol: spec.ticker, resolution: .day, start: sessions[i].open, open: Price(units: Int64(open) * 100),
                        high: Price(units: Int64(high) * 100), low: Price(units: Int64(low) * 100),
                        close: Price(units: Int64(close) * 100), volume: volume))
                prevClose = close
            }
            symbols.append(SymbolInfo(symbol: spec.ticker, name: spec.name, exchange: spec.exchange, sector: spec.sector))
            series.append(bars)
        }

        // The index follows the market factor; the volatility index moves against it.
        var ir = SplitMix64(seed: configuration.seed ^ 0x1D8E_4E27_C47D_124F)
        var idx: [Bar] = []
        var volx: [Bar] = []
        var level = 400_000.0  // cents: 4,000.00
        var v = 1_600.0  // cents: 16.00
        for i in 0..<n {
            let m = market[i]
            let open = (level * (1 + 0.25 * m + 0.0008 * ir.normal())).rounded()
            let close = (level * (1 + m)).rounded()
            let range = 0.35 * regimeVol[i] + 0.002
            let high = max(open, close, (max(open, close) * (1 + range * abs(ir.normal()))).rounded())
            let low = min(open, close, (min(open, close) * (1 - range * abs(ir.normal()))).rounded())
            idx.append(
                Bar(
                    symbol: index, resolution: .day, start: sessions[i].open, open: Price(units: Int64(open) * 100),
                    high: Price(units: Int64(high) * 100), low: Price(units: Int64(low) * 100), close: Price(units: Int64(close) * 100),
                    volume: indexVolume[i]))
            level = close

            let target = regimeVol[i] * 160_000  // 0.0075 -> 12.00, 0.014 -> 22.40 (cents)
            let vOpen = max(900, (v * (1 - 2.5 * m + 0.01 * ir.normal())).rounded())
            let vClose = max(900, (v * (1 - 7 * m + 0.025 * ir.normal()) + 0.06 * (target - v)).rounded())
            let vHigh = max(vOpen, vClose, (max(vOpen, vClose) * (1 + 0.03 * abs(ir.normal()))).rounded())
            let vLow = min(vOpen, vClose, (min(vOpen, vClose) * (1 - 0.03 * abs(ir.normal()))).rounded())
            volx.append(
                Bar(
                    symbol: volatilityIndex, resolution: .day, start: sessions[i].open, open: Price(units: Int64(vOpen) * 100),
                    high: Price(units: Int64(vHigh) * 100), low: Price(units: Int64(vLow) * 100),
                    close: Price(units: Int64(vClose) * 100), volume: 0))
            v = vClose
        }
        var order = Array(symbols.indices).sorted { symbols[$0].symbol < symbols[$1].symbol }
        symbols = order.map { symbols[$0] }
        series = order.map { series[$0] }
        order = []
        symbols.append(SymbolInfo(symbol: index, name: "AST Composite Index", exchange: "INDEX", sector: "Index", isIndex: true))
        series.append(idx)
        symbols.append(SymbolInfo(symbol: volatilityIndex, name: "AST Volatility Index", exchange: "INDEX", sector: "Index", isIndex: true))
        series.append(volx)
        actions.sort { CorporateAction.sortKey($0) < CorporateAction.sortKey($1) }
        events.sort { ($0.date, $0.symbol.rawValue, $0.kind.rawValue) < ($1.date, $1.symbol.rawValue, $1.kind.rawValue) }
        return GeneratedUniverse(symbols: symbols, series: series, actions: actions, events: events)
    }
}
