import ASTCalendar
import ASTCore

/// report.html: one self-contained page (inline CSS and SVG drawn here; no script, font, image
/// or address from elsewhere): the statistics, equity against buy and hold of the benchmark,
/// the drawdown, the monthly returns and price charts with the trades marked.
public enum BacktestHTML {
    static let width = 900.0, height = 260.0, left = 70.0, right = 20.0, top = 16.0, bottom = 28.0

    public static func report(_ r: BacktestResult, _ s: BacktestStatistics) -> String {
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Backtest report</title>
            <style>
            body{font-family:sans-serif;margin:24px;color:#222;background:#fff;max-width:960px}
            h1{font-size:22px}h2{font-size:17px;margin-top:28px}
            table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px}
            td.n{text-align:right}svg{display:block;background:#fafafa;border:1px solid #ddd}
            .legend span{display:inline-block;margin-right:16px;font-size:13px}
            </style></head><body>
            <h1>Backtest report</h1>

            """
        let period = "\(r.days.first.map(\.date.description) ?? "-") to \(r.days.last.map(\.date.description) ?? "-")"
        h += "<p>\(escape(period)), \(s.sessions) sessions. "
        h += r.parameters.map { "\(escape($0.0)): <code>\(escape($0.1))</code>" }.joined(separator: "; ") + "</p>\n"
        h += "<h2>Statistics</h2>\n<table>\n"
        for row in BacktestFiles.rows(s) { h += "<tr><td>\(escape(row.label))</td><td class=\"n\">\(escape(row.text))</td></tr>\n" }
        h += "</table>\n"
        h += "<h2>Equity</h2>\n" + equityChart(r)
        h += "<h2>Drawdown</h2>\n" + drawdownChart(r)
        h += "<h2>Monthly returns</h2>\n" + monthlyChart(r)
        for series in r.charts {
            h +=
                "<h2>\(escape(series.symbol.rawValue)): price and trades</h2>\n"
                + priceChart(series, r.trades.filter { $0.symbol == series.symbol })
        }
        h += "</body></html>\n"
        return h
    }

    static func escape(_ s: String) -> String { HTMLText.escape(s) }

    /// `x` with one decimal, fast (no `String(format:)`: a chart has thousands of points).
    static func f1(_ x: Double) -> String {
        guard x.isFinite else { return "0" }
        let t = Int((min(max(x, -1e15), 1e15) * 10).rounded())  // an absurd value must not trap
        let a = t.magnitude
        return (t < 0 ? "-" : "") + String(a / 10) + "." + String(a % 10)
    }

    /// Maps values to the plot area.
    struct Scale {
        var lo: Double, hi: Double, n: Int
        func x(_ i: Int) -> Double { left + (n > 1 ? Double(i) / Double(n - 1) : 0.5) * (width - left - right) }
        func y(_ v: Double) -> Double { top + (hi > lo ? (hi - v) / (hi - lo) : 0.5) * (height - top - bottom) }
    }

    static func frame(_ sc: Scale, dates: [LocalDate], label: (Double) -> String) -> String {
        var g = "<svg width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\">\n"
        for k in 0...4 {
            let v = sc.lo + (sc.hi - sc.lo) * Double(k) / 4, y = sc.y(v)
            g += "<line x1=\"\(f1(left))\" y1=\"\(f1(y))\" x2=\"\(f1(width - right))\" y2=\"\(f1(y))\" stroke=\"#e2e2e2\"/>"
            g += "<text x=\"\(f1(left - 6))\" y=\"\(f1(y + 4))\" font-size=\"11\" text-anchor=\"end\">\(escape(label(v)))</text>\n"
        }
        if let a = dates.first, let b = dates.last {
            g += "<text x=\"\(f1(left))\" y=\"\(f1(height - 8))\" font-size=\"11\">\(a)</text>"
            g += "<text x=\"\(f1(width - right))\" y=\"\(f1(height - 8))\" font-size=\"11\" text-anchor=\"end\">\(b)</text>\n"
        }
        return g
    }

    /// The indices of `values` a chart draws: all of them when there are at most four per pixel
    /// column of the plot (1 px of its width from `left`), else per column the first, lowest,
    /// highest and last point, in their order (M4 aggregation: a line through these covers the
    /// same pixels as a line through every point, since within a column it only moves between
    /// them), so that a 60,000-bar chart is about 3,200 points, not 60,000.
    static func drawn(_ values: [Double], _ sc: Scale) -> [Int] {
        let n = values.count
        guard n > 4 * Int(width - left - right) else { return Array(0..<n) }
        var out: [Int] = []
        out.reserveCapacity(4 * Int(width - left - right) + 4)
        var i = 0
        while i < n {
            let column = Int(sc.x(i) - left)
            var j = i, lo = i, hi = i
            while j + 1 < n, Int(sc.x(j + 1) - left) == column {
                j += 1
                if values[j] < values[lo] { lo = j }
                if values[j] > values[hi] { hi = j }
            }
            for k in [i, min(lo, hi), max(lo, hi), j] where out.last != k { out.append(k) }
            i = j + 1
        }
        return out
    }

    static func polyline(_ values: [Double], _ sc: Scale, color: String, width w: Double = 1.5) -> String {
        var pts = ""
        let indices = drawn(values, sc)
        pts.reserveCapacity(indices.count * 12)
        for i in indices {
            if !pts.isEmpty { pts += " " }
            pts += f1(sc.x(i)) + "," + f1(sc.y(values[i]))
        }
        return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(w)\" points=\"\(pts)\"/>\n"
    }

    static func range(_ xs: [Double]) -> (Double, Double) {
        var lo = Double.infinity, hi = -Double.infinity
        for x in xs where x.isFinite {
            lo = min(lo, x)
            hi = max(hi, x)
        }
        guard lo.isFinite else { return (0, 1) }
        let pad = hi > lo ? (hi - lo) * 0.05 : max(abs(hi) * 0.05, 1)
        return (lo - pad, hi + pad)
    }

    static func money(_ v: Double) -> String {
        let a = abs(v)
        if a >= 1_000_000 { return "$" + f1(v / 1_000_000) + "M" }
        if a >= 10_000 { return "$" + f1(v / 1_000) + "k" }
        return "$" + f1(v)
    }

    /// The benchmark's closes on the run's sessions (the last known close on a missing day),
    /// scaled so that it starts at the capital (bought at its first open).
    static func benchmarkLine(_ r: BacktestResult) -> [Double]? {
        guard let b = r.benchmark, let open = b.opens.first, open.units > 0, !b.dates.isEmpty else { return nil }
        var out: [Double] = []
        out.reserveCapacity(r.days.count)
        var j = 0, last = Double(open.units)
        let capital = BacktestStatistics.dollars(r.capital)
        for d in r.days {
            while j < b.dates.count, b.dates[j] <= d.date {
                last = Double(b.closes[j].units)
                j += 1
            }
            out.append(capital * last / Double(open.units))
        }
        return out
    }

    static func equityChart(_ r: BacktestResult) -> String {
        guard !r.days.isEmpty else { return "<p>No sessions.</p>\n" }
        let equity = r.days.map { BacktestStatistics.dollars($0.equity) }
        let bench = benchmarkLine(r)
        let (lo, hi) = range(equity + (bench ?? []))
        let sc = Scale(lo: lo, hi: hi, n: equity.count)
        var g = frame(sc, dates: r.days.map(\.date), label: money)
        if let bench { g += polyline(bench, sc, color: "#999999") }
        g += polyline(equity, sc, color: "#1f5fbf", width: 2) + "</svg>\n"
        g += "<p class=\"legend\"><span style=\"color:#1f5fbf\">&#9632; equity</span>"
        if let b = r.benchmark, bench != nil {
            g += "<span style=\"color:#999999\">&#9632; buy and hold \(escape(b.symbol.rawValue))</span>"
        }
        return g + "</p>\n"
    }

    static func drawdownChart(_ r: BacktestResult) -> String {
        guard !r.days.isEmpty else { return "" }
        var peak = BacktestStatistics.dollars(r.capital)
        let dd = r.days.map { d -> Double in
            let e = BacktestStatistics.dollars(d.equity)
            peak = max(peak, e)
            return peak > 0 ? -(peak - e) / peak * 100 : 0
        }
        let low = min(dd.min() ?? 0, -1)
        let sc = Scale(lo: low * 1.05, hi: 0, n: dd.count)
        var g = frame(sc, dates: r.days.map(\.date)) { f1($0) + "%" }
        var pts = "\(f1(sc.x(0))),\(f1(sc.y(0)))"
        for i in drawn(dd, sc) { pts += " " + f1(sc.x(i)) + "," + f1(sc.y(dd[i])) }
        pts += " \(f1(sc.x(dd.count - 1))),\(f1(sc.y(0)))"
        g += "<polygon fill=\"#d9534f\" fill-opacity=\"0.45\" stroke=\"#b52b27\" points=\"\(pts)\"/>\n</svg>\n"
        return g
    }

    /// Month by month: the last equity of a month over the last of the month before (the
    /// capital before the first), as a year × month grid.
    static func monthlyReturns(_ r: BacktestResult) -> [(year: Int, month: Int, value: Double)] {
        var out: [(year: Int, month: Int, value: Double)] = []
        var base = BacktestStatistics.dollars(r.capital)
        var i = 0
        while i < r.days.count {
            let y = r.days[i].date.year, m = r.days[i].date.month
            var j = i
            while j + 1 < r.days.count, r.days[j + 1].date.year == y, r.days[j + 1].date.month == m { j += 1 }
            let end = BacktestStatistics.dollars(r.days[j].equity)
            out.append((y, m, base > 0 ? end / base - 1 : 0))
            base = end
            i = j + 1
        }
        return out
    }

    static func monthlyChart(_ r: BacktestResult) -> String {
        let months = monthlyReturns(r)
        guard let firstYear = months.first?.year, let lastYear = months.last?.year else { return "<p>No sessions.</p>\n" }
        let cell = 62.0, rowH = 22.0, x0 = 50.0
        let rows = lastYear - firstYear + 1
        let h = 24 + Double(rows) * rowH + 6
        var g = "<svg width=\"\(Int(x0 + 12 * cell + 10))\" height=\"\(Int(h))\" role=\"img\">\n"
        let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        for (k, n) in names.enumerated() {
            g += "<text x=\"\(f1(x0 + Double(k) * cell + cell / 2))\" y=\"16\" font-size=\"11\" text-anchor=\"middle\">\(n)</text>"
        }
        g += "\n"
        for y in firstYear...lastYear {
            g +=
                "<text x=\"\(f1(x0 - 6))\" y=\"\(f1(24 + Double(y - firstYear) * rowH + 15))\" font-size=\"11\" text-anchor=\"end\">\(y)</text>"
        }
        g += "\n"
        for m in months {
            let x = x0 + Double(m.month - 1) * cell, y = 24 + Double(m.year - firstYear) * rowH
            let strength = min(abs(m.value) / 0.1, 1)
            let shade = Int(235 - 135 * strength)
            let color = m.value >= 0 ? "rgb(\(shade),235,\(shade))" : "rgb(245,\(shade),\(shade))"
            g += "<rect x=\"\(f1(x + 1))\" y=\"\(f1(y + 1))\" width=\"\(f1(cell - 2))\" height=\"\(f1(rowH - 2))\" fill=\"\(color)\"/>"
            g +=
                "<text x=\"\(f1(x + cell / 2))\" y=\"\(f1(y + 15))\" font-size=\"11\" text-anchor=\"middle\">\(f1(m.value * 100))%</text>\n"
        }
        return g + "</svg>\n"
    }

    static func priceChart(_ p: PriceSeries, _ trades: [BacktestTrade]) -> String {
        guard !p.closes.isEmpty else { return "<p>No prices.</p>\n" }
        let closes = p.closes.map { Double($0.units) / 10_000 }
        let marks = trades.flatMap { [Double($0.entryPrice.units) / 10_000, Double($0.exitPrice.units) / 10_000] }
        let (lo, hi) = range(closes + marks)
        let sc = Scale(lo: lo, hi: hi, n: closes.count)
        var g = frame(sc, dates: p.dates, label: money)
        g += polyline(closes, sc, color: "#444444", width: 1.2)
        func index(_ d: LocalDate) -> Int {
            var lo = 0, hi = p.dates.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if p.dates[mid] < d { lo = mid + 1 } else { hi = mid }
            }
            return min(lo, p.dates.count - 1)
        }
        for t in trades {
            let xe = sc.x(index(t.entryDate)), ye = sc.y(Double(t.entryPrice.units) / 10_000)
            let xx = sc.x(index(t.exitDate)), yx = sc.y(Double(t.exitPrice.units) / 10_000)
            let color = t.pnl.units >= 0 ? "#2e8b57" : "#c0392b"
            g += "<line x1=\"\(f1(xe))\" y1=\"\(f1(ye))\" x2=\"\(f1(xx))\" y2=\"\(f1(yx))\" stroke=\"\(color)\" stroke-dasharray=\"3,2\"/>"
            g += "<path d=\"M\(f1(xe)),\(f1(ye - 1))l-5,9h10z\" fill=\"#2e8b57\"/>"
            g += "<path d=\"M\(f1(xx)),\(f1(yx + 1))l-5,-9h10z\" fill=\"#c0392b\"/>\n"
        }
        g += "</svg>\n<p class=\"legend\"><span style=\"color:#2e8b57\">&#9650; entry</span>"
        g += "<span style=\"color:#c0392b\">&#9660; exit</span><span>\(trades.count) trades</span></p>\n"
        return g
    }
}
