import ASTCore

/// One bar of KDJ.
public struct KDJValue: IndicatorOutput {
    public var k: Double
    public var d: Double
    /// 3K − 2D.
    public var j: Double

    public init(k: Double, d: Double, j: Double) {
        self.k = k
        self.d = d
        self.j = j
    }

    public var columnValues: [Double] { [k, d, j] }
}

/// KDJ, the stochastic oscillator as Chinese charting software defines it (通达信/同花顺 formula
/// `RSV:=(C−LLV(L,N))/(HHV(H,N)−LLV(L,N))·100; K:SMA(RSV,M1,1); D:SMA(K,M2,1); J:3K−2D`, with
/// the textbook seeding K = D = 50 before the first RSV):
/// RSV over the last `period` bars (highest high, lowest low), K = ((M1−1)·K′ + RSV)/M1,
/// D = ((M2−1)·D′ + K)/M2, J = 3K − 2D. RSV is 50 when the window's high equals its low.
/// With the usual 9,3,3: K = ⅔K′ + ⅓RSV and D = ⅔D′ + ⅓K.
///
/// Warm-up: `period` bars.
public struct KDJ: Indicator {
    public let period: Int
    public let kSmoothing: Int
    public let dSmoothing: Int
    private var highest: RollingExtremum
    private var lowest: RollingExtremum
    private var seen = 0
    private var k = 50.0
    private var d = 50.0

    public init(period: Int, kSmoothing: Int, dSmoothing: Int) {
        precondition(kSmoothing >= 1 && dSmoothing >= 1, "KDJ smoothing must be at least 1")
        self.period = period
        self.kSmoothing = kSmoothing
        self.dSmoothing = dSmoothing
        highest = RollingExtremum(period: period, maximum: true)
        lowest = RollingExtremum(period: period, maximum: false)
    }

    public var warmUp: Int { period }

    public mutating func update(_ bar: Bar) -> KDJValue? {
        let hh = highest.push(bar.high.units), ll = lowest.push(bar.low.units)
        seen += 1
        guard seen >= period else { return nil }
        let rsv = Self.rsv(
            close: bar.close.indicatorValue,
            highest: Price(units: hh).indicatorValue, lowest: Price(units: ll).indicatorValue)
        k = (Double(kSmoothing - 1) * k + rsv) / Double(kSmoothing)
        d = (Double(dSmoothing - 1) * d + k) / Double(dSmoothing)
        return KDJValue(k: k, d: d, j: 3 * k - 2 * d)
    }

    static func rsv(close: Double, highest: Double, lowest: Double) -> Double {
        highest == lowest ? 50 : 100 * (close - lowest) / (highest - lowest)
    }

    public func batch(_ bars: [Bar]) -> [KDJValue?] {
        var out = [KDJValue?](repeating: nil, count: bars.count)
        var k = 50.0, d = 50.0
        for i in bars.indices where i >= period - 1 {
            let w = bars[(i - period + 1)...i]
            let hh = w.map(\.high.indicatorValue).max()!, ll = w.map(\.low.indicatorValue).min()!
            let rsv = Self.rsv(close: bars[i].close.indicatorValue, highest: hh, lowest: ll)
            k = (Double(kSmoothing - 1) * k + rsv) / Double(kSmoothing)
            d = (Double(dSmoothing - 1) * d + k) / Double(dSmoothing)
            out[i] = KDJValue(k: k, d: d, j: 3 * k - 2 * d)
        }
        return out
    }
}
