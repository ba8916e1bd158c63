import ASTCalendar
import ASTCore

/// Which corporate actions an adjusted series accounts for.
public enum Adjustment: String, Sendable, Equatable, CaseIterable {
    /// Prices as traded.
    case none
    /// Splits only (what Yahoo's Close column shows).
    case splits
    /// Splits and cash dividends (what Yahoo's Adj Close shows): total-return prices.
    case splitsAndDividends = "splits_and_dividends"
}

/// Back-adjustment of a raw daily series for splits and cash dividends. Pure.
///
/// The method is the multiplicative one of CRSP and of Yahoo's Adj Close: the newest bar keeps
/// its raw prices, and every bar before an action's ex-date is multiplied by that action's factor
///
/// - split of `new` for `old` shares: `old / new` (a 2:1 split halves earlier prices);
/// - cash dividend `D`: `1 − D / C`, where `C` is the raw close of the last bar before the ex-date
///   (a dividend with no earlier bar, or not below `C`, is ignored);
///
/// so a bar's factor is the product of the factors of every action after it. Volumes are
/// divided by the split factors only (a 2:1 split doubles earlier volumes). Split factors are
/// applied exactly (integer ratio, rounded once); dividend factors are ratios of prices and are
/// applied in `Double`. Adjusted prices are analysis values rounded half away from zero to the
/// nearest 1/10,000 — orders and fills use the raw prices.
public enum BackAdjustment {
    /// `bars` (one symbol, ascending by start) adjusted for `actions` of that symbol.
    public static func apply(_ bars: [Bar], actions: [CorporateAction], mode: Adjustment) -> [Bar] {
        guard mode != .none, !bars.isEmpty else { return bars }
        let relevant = actions.filter { a in
            if case .dividend = a.kind { return mode == .splitsAndDividends }
            return true
        }.sorted { CorporateAction.sortKey($0) < CorporateAction.sortKey($1) }
        guard !relevant.isEmpty else { return bars }
        let dates = bars.map(\.date)
        // Each action's factor: a split as a ratio (num/den), a dividend as a Double.
        struct Factor {
            var exDate: LocalDate
            var num: Int64 = 1
            var den: Int64 = 1
            var dividend: Double = 1
        }
        var factors: [Factor] = []
        for a in relevant {
            switch a.kind {
            case .split(let new, let old):
                guard new > 0, old > 0 else { continue }
                factors.append(Factor(exDate: a.exDate, num: old, den: new))
            case .dividend(let amount):
                // The last bar strictly before the ex-date.
                guard let i = lastIndex(before: a.exDate, in: dates) else { continue }
                let c = bars[i].close.units
                guard amount.units > 0, amount.units < c else { continue }
                factors.append(Factor(exDate: a.exDate, dividend: 1 - Double(amount.units) / Double(c)))
            }
        }
        // Walk from the newest bar back, accumulating the factors of actions after each bar.
        var out = bars
        var num: Int64 = 1, den: Int64 = 1
        var dividend = 1.0
        var next = factors.count - 1
        for i in stride(from: bars.count - 1, through: 0, by: -1) {
            while next >= 0, factors[next].exDate > dates[i] {
                num *= factors[next].num
                den *= factors[next].den
                dividend *= factors[next].dividend
                next -= 1
            }
            guard num != den || dividend != 1 else { continue }
            func adjust(_ p: Price) -> Price { Price(units: scale(p.units, num, den, dividend)) }
            out[i].open = adjust(bars[i].open)
            out[i].high = adjust(bars[i].high)
            out[i].low = adjust(bars[i].low)
            out[i].close = adjust(bars[i].close)
            out[i].volume = scale(bars[i].volume, den, num, 1)
        }
        return out
    }

    /// `value × num / den × factor`, rounded half away from zero; exact when `factor` is 1.
    static func scale(_ value: Int64, _ num: Int64, _ den: Int64, _ factor: Double) -> Int64 {
        if factor == 1 {
            let p = Int128(value) * Int128(num)
            let d = Int128(den)
            let q = p / d, r = p % d
            let rounded = 2 * (r.magnitude) >= d.magnitude ? q + (p < 0 ? -1 : 1) : q
            return Int64(clamping: rounded)
        }
        let v = (Double(value) * Double(num) / Double(den) * factor).rounded(.toNearestOrAwayFromZero)
        return Int64(v)
    }

    static func lastIndex(before date: LocalDate, in dates: [LocalDate]) -> Int? {
        var lo = 0, hi = dates.count  // first index with dates[i] >= date
        while lo < hi {
            let mid = (lo + hi) / 2
            if dates[mid] < date { lo = mid + 1 } else { hi = mid }
        }
        return lo > 0 ? lo - 1 : nil
    }
}
