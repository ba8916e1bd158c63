import ASTCalendar
import ASTCore
import Foundation

/// The texts of the backtest's files (trades.csv, equity.csv, summary.json, report.md): pure
/// functions of the result, so the same run gives the same bytes.
public enum BacktestFiles {
    /// A number with `digits` decimals (`%.*f`, the C library's rounding), `-0` as `0`; "" when
    /// not finite.
    public static func number(_ x: Double, _ digits: Int = 6) -> String {
        guard x.isFinite else { return "" }
        let s = String(format: "%.\(digits)f", x)
        return s.hasPrefix("-") && s.dropFirst().allSatisfy { $0 == "0" || $0 == "." } ? String(s.dropFirst()) : s
    }

    /// trades.csv: one row per trade, by entry date.
    public static func tradesCSV(_ r: BacktestResult) -> String {
        var out = "symbol,side,entry_date,entry_price,exit_date,exit_price,quantity,pnl,return_pct,bars_held,exit_reason,commission\n"
        for t in r.trades {
            out += "\(t.symbol),\(t.side == .buy ? "long" : "short"),\(t.entryDate),\(t.entryPrice),\(t.exitDate),\(t.exitPrice),"
            out += "\(t.quantity),\(t.pnl),\(number(t.returnFraction * 100, 4)),\(t.barsHeld),\(t.exitReason.rawValue),\(t.commission)\n"
        }
        return out
    }

    /// equity.csv: one row per session: equity, cash, exposure (the positions' market value),
    /// drawdown from the running peak (the capital is the first peak) in dollars and in percent
    /// (exact: four decimals, rounded half away from zero). Written byte by byte: it has a row
    /// per bar.
    public static func equityCSV(_ r: BacktestResult) -> String {
        var out: [UInt8] = Array("date,equity,cash,exposure,drawdown,drawdown_pct\n".utf8)
        out.reserveCapacity(80 * (r.days.count + 1))
        var peak = r.capital.units
        for d in r.days {
            peak = max(peak, d.equity.units)
            let wide = Int128(peak) - Int128(d.equity.units)  // an absurd equity must not trap
            let dd = Int64(clamping: wide)
            appendDate(d.date, &out)
            out.append(44)
            appendFixed(d.equity.units, &out)
            out.append(44)
            appendFixed(d.cash.units, &out)
            out.append(44)
            appendFixed(d.exposure.units, &out)
            out.append(44)
            appendFixed(dd, &out)
            out.append(44)
            // dd / peak × 100 with four decimals = dd × 10^6 / peak in units of 10^-4 percent.
            let pct = peak > 0 ? TradeLedger.divide(wide * 1_000_000, Int128(peak)) : 0
            appendDecimal(pct, digits: 4, minDigits: 4, &out)
            out.append(10)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `YYYY-MM-DD`.
    static func appendDate(_ d: LocalDate, _ out: inout [UInt8]) {
        appendPadded(d.year, 4, &out)
        out.append(45)
        appendPadded(d.month, 2, &out)
        out.append(45)
        appendPadded(d.day, 2, &out)
    }

    static func appendPadded(_ v: Int, _ width: Int, _ out: inout [UInt8]) {
        var digits: (UInt8, UInt8, UInt8, UInt8) = (48, 48, 48, 48)
        var x = v.magnitude
        withUnsafeMutableBytes(of: &digits) { b in
            var i = 3
            while i >= 0 {
                b[i] = 48 + UInt8(x % 10)
                x /= 10
                i -= 1
            }
        }
        withUnsafeBytes(of: &digits) { b in out.append(contentsOf: b[(4 - min(width, 4))...]) }
    }

    /// A money or price amount as ``ASTCore/Money``'s description prints it (at least two decimals,
    /// trailing zeros beyond them dropped), without building a `String`.
    static func appendFixed(_ units: Int64, _ out: inout [UInt8]) { appendDecimal(units, digits: 4, minDigits: 2, &out) }

    /// `value / 10^digits` in decimal, with at least `minDigits` decimals.
    static func appendDecimal(_ value: Int64, digits: Int, minDigits: Int, _ out: inout [UInt8]) {
        if value < 0 { out.append(45) }
        var scale: UInt64 = 1
        for _ in 0..<digits { scale *= 10 }
        let m = value.magnitude
        appendUnsigned(m / scale, &out)
        var t = m % scale, n = digits
        while n > minDigits, t % 10 == 0 {
            t /= 10
            n -= 1
        }
        guard n > 0 else { return }
        out.append(46)
        var p: UInt64 = 1
        for _ in 1..<n { p *= 10 }
        while p > 0 {
            out.append(48 + UInt8(t / p % 10))
            p /= 10
        }
    }

    static func appendUnsigned(_ v: UInt64, _ out: inout [UInt8]) {
        if v < 10 {
            out.append(48 + UInt8(v))
            return
        }
        appendUnsigned(v / 10, &out)
        out.append(48 + UInt8(v % 10))
    }

    /// The statistics as ordered (key, value, JSON value) rows: what summary.json and the reports show.
    static func rows(_ s: BacktestStatistics) -> [(key: String, label: String, text: String, json: String)] {
        func pct(_ x: Double?) -> (String, String) { x.map { (number($0 * 100, 2) + "%", number($0, 6)) } ?? ("n/a", "null") }
        func num(_ x: Double?, _ d: Int = 2) -> (String, String) { x.map { (number($0, d), number($0, 6)) } ?? ("n/a", "null") }
        func usd(_ x: Double?) -> (String, String) {
            x.map { (($0 < 0 ? "-$" : "$") + number(abs($0), 2), number($0, 4)) } ?? ("n/a", "null")
        }
        let table: [(String, String, (String, String))] = [
            ("sessions", "Sessions", ("\(s.sessions)", "\(s.sessions)")),
            ("starting_capital", "Starting capital", usd(s.startingCapital)),
            ("final_equity", "Final equity", usd(s.finalEquity)),
            ("total_return", "Total return", pct(s.totalReturn)),
            ("cagr", "CAGR", pct(s.cagr)),
            ("volatility", "Volatility (annualised)", pct(s.volatility)),
            ("sharpe", "Sharpe ratio", num(s.sharpe)),
            ("sortino", "Sortino ratio", num(s.sortino)),
            ("calmar", "Calmar ratio", num(s.calmar)),
            ("max_drawdown", "Max drawdown", pct(s.maxDrawdown)),
            ("max_drawdown_duration", "Max drawdown duration (sessions)", ("\(s.maxDrawdownDuration)", "\(s.maxDrawdownDuration)")),
            ("trades", "Trades", ("\(s.trades)", "\(s.trades)")),
            ("win_rate", "Win rate", pct(s.winRate)),
            ("profit_factor", "Profit factor", num(s.profitFactor)),
            ("expectancy", "Expectancy (per trade)", usd(s.expectancy)),
            ("average_win", "Average win", usd(s.averageWin)),
            ("average_loss", "Average loss", usd(s.averageLoss)),
            ("exposure_time", "Exposure (sessions holding a position)", pct(s.exposureTime)),
            ("average_exposure", "Average exposure (of equity)", pct(s.averageExposure)),
            ("average_bars_held", "Average hold (sessions)", num(s.averageBarsHeld)),
            ("commissions", "Commissions", usd(s.commissions)),
            ("benchmark_return", "Benchmark return (buy and hold)", pct(s.benchmarkReturn)),
        ]
        return table.map { ($0.0, $0.1, $0.2.0, $0.2.1) }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    /// summary.json: the parameters, the period and the statistics (fractions, dollars), keys in
    /// a fixed order.
    public static func summaryJSON(_ r: BacktestResult, _ s: BacktestStatistics) -> String {
        var out = "{\n  \"parameters\": {\n"
        out += r.parameters.map { "    \(jsonString($0.0)): \(jsonString($0.1))" }.joined(separator: ",\n")
        out += "\n  },\n"
        out += "  \"from\": \(r.days.first.map { jsonString($0.date.description) } ?? "null"),\n"
        out += "  \"to\": \(r.days.last.map { jsonString($0.date.description) } ?? "null"),\n"
        out += "  \"benchmark\": \(r.benchmark.map { jsonString($0.symbol.rawValue) } ?? "null"),\n"
        out += "  \"statistics\": {\n"
        out += rows(s).map { "    \(jsonString($0.key)): \($0.json)" }.joined(separator: ",\n")
        out += "\n  }\n}\n"
        return out
    }

    /// report.md: the parameters, the statistics table and the trades.
    public static func reportMarkdown(_ r: BacktestResult, _ s: BacktestStatistics, maxTrades: Int = 200) -> String {
        var out = "# Backtest report\n\n"
        let period = "\(r.days.first.map(\.date.description) ?? "-") to \(r.days.last.map(\.date.description) ?? "-")"
        out += "Period: \(period), \(s.sessions) sessions.\n\n"
        for (k, v) in r.parameters { out += "- \(k): `\(v)`\n" }
        out += "\n## Statistics\n\n| Statistic | Value |\n|---|---:|\n"
        for row in rows(s) { out += "| \(row.label) | \(row.text) |\n" }
        if let b = r.benchmark { out += "\nBenchmark: \(b.symbol), bought at the first session's open and held.\n" }
        out += "\n## Trades\n\n"
        if r.trades.isEmpty { return out + "No trades.\n" }
        out += "| Symbol | Side | Entry | Price | Exit | Price | Qty | P&L | Return | Bars | Exit reason |\n"
        out += "|---|---|---|---:|---|---:|---:|---:|---:|---:|---|\n"
        for t in r.trades.prefix(maxTrades) {
            out += "| \(t.symbol) | \(t.side == .buy ? "long" : "short") | \(t.entryDate) | \(t.entryPrice) | \(t.exitDate) | "
            out += "\(t.exitPrice) | \(t.quantity) | \(t.pnl) | \(number(t.returnFraction * 100, 2))% | \(t.barsHeld) | "
            out += "\(t.exitReason.rawValue) |\n"
        }
        if r.trades.count > maxTrades { out += "\n\(r.trades.count - maxTrades) more trades in trades.csv.\n" }
        return out
    }
}
