import ASTCore
import Testing

@testable import ASTIndicators

/// Every indicator's O(1) incremental form must equal its independently written batch form,
/// bar for bar, over long random series (10,000 bars: trends, crashes, flat bars), including
/// the exact bar where warm-up ends.
@Suite struct IncrementalEqualsBatch {
    static let specs = [
        "sma:1", "sma:20", "sma:200", "ema:1", "ema:10", "ema:50", "rsi:2", "rsi:14", "macd:12,26,9",
        "macd:3,10,16", "atr:1", "atr:14", "bb:20,2", "bb:50,2.5", "adx:14", "adx:5", "supertrend:10,3",
        "supertrend:7,1.5", "kdj:9,3,3", "kdj:5,1,1",
    ]

    @Test(arguments: specs, [UInt64(1), 0xDEAD_BEEF])
    func incrementalMatchesBatchOverLongRandomSeries(spec text: String, seed: UInt64) throws {
        let spec = try IndicatorSpec(parsing: text)
        let bars = randomBars(count: 10_000, seed: seed)
        let mismatch = Self.check(spec, bars)
        #expect(mismatch == nil, "\(text): \(mismatch ?? "")")
    }

    @Test(arguments: specs)
    func registryMatchesBatch(spec text: String) throws {
        let spec = try IndicatorSpec(parsing: text)
        let bars = randomBars(count: 2_000, seed: 7)
        var engine = IndicatorEngine(plan: IndicatorPlan([spec, .ema(period: 12), .sma(period: 20)]))
        let fromEngine = bars.map { engine.update($0)![spec] }
        let fromBatch = Self.batchColumns(spec, bars)
        for i in bars.indices {
            let ok: Bool =
                switch (fromEngine[i], fromBatch[i]) {
                case (nil, nil): true
                case (let a?, let b?): a.count == b.count && zip(a, b).allSatisfy { close($0, $1) }
                default: false
                }
            #expect(ok, "\(text) bar \(i): engine \(String(describing: fromEngine[i])) batch \(String(describing: fromBatch[i]))")
            if !ok { break }
        }
    }

    /// The first difference between the incremental and the batch form, or `nil`.
    static func check(_ spec: IndicatorSpec, _ bars: [Bar]) -> String? {
        switch spec {
        case .sma(let n): compare(SMA(period: n), bars)
        case .ema(let n): compare(EMA(period: n), bars)
        case .rsi(let n): compare(RSI(period: n), bars)
        case .macd(let f, let s, let g): compare(MACD(fast: f, slow: s, signal: g), bars)
        case .atr(let n): compare(ATR(period: n), bars)
        case .bollinger(let n, let k): compare(BollingerBands(period: n, multiplier: k), bars)
        case .adx(let n): compare(ADX(period: n), bars)
        case .supertrend(let n, let k): compare(SuperTrend(period: n, multiplier: k), bars)
        case .kdj(let n, let a, let b): compare(KDJ(period: n, kSmoothing: a, dSmoothing: b), bars)
        }
    }

    static func batchColumns(_ spec: IndicatorSpec, _ bars: [Bar]) -> [[Double]?] {
        func cols<I: Indicator>(_ i: I) -> [[Double]?] { i.batch(bars).map { $0?.columnValues } }
        return switch spec {
        case .sma(let n): cols(SMA(period: n))
        case .ema(let n): cols(EMA(period: n))
        case .rsi(let n): cols(RSI(period: n))
        case .macd(let f, let s, let g): cols(MACD(fast: f, slow: s, signal: g))
        case .atr(let n): cols(ATR(period: n))
        case .bollinger(let n, let k): cols(BollingerBands(period: n, multiplier: k))
        case .adx(let n): cols(ADX(period: n))
        case .supertrend(let n, let k): cols(SuperTrend(period: n, multiplier: k))
        case .kdj(let n, let a, let b): cols(KDJ(period: n, kSmoothing: a, dSmoothing: b))
        }
    }

    static func compare<I: Indicator>(_ indicator: I, _ bars: [Bar]) -> String? {
        let inc = incremental(indicator, bars)
        let bat = indicator.batch(bars)
        guard inc.count == bars.count, bat.count == bars.count else { return "length" }
        for i in bars.indices {
            switch (inc[i], bat[i]) {
            case (nil, nil):
                if i >= indicator.warmUp - 1 { return "bar \(i): no value after a warm-up of \(indicator.warmUp)" }
            case (let a?, let b?):
                if i < indicator.warmUp - 1 { return "bar \(i): a value before a warm-up of \(indicator.warmUp)" }
                if !zip(a.columnValues, b.columnValues).allSatisfy({ close($0, $1) }) {
                    return "bar \(i): incremental \(a) batch \(b)"
                }
            default:
                return "bar \(i): incremental \(String(describing: inc[i])) batch \(String(describing: bat[i]))"
            }
        }
        return nil
    }
}
