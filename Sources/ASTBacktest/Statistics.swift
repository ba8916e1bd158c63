import ASTCore

/// A backtest's statistics, computed from its daily equity and its trades by the formulas in
/// README.md ("ast backtest: statistics"). A value that is undefined (no trades, no losing trade,
/// a flat equity curve) is nil. Returns and ratios are fractions (0.12 is 12%).
public struct BacktestStatistics: Sendable, Equatable {
    public var sessions: Int
    public var startingCapital: Double
    public var finalEquity: Double
    public var totalReturn: Double
    public var cagr: Double?
    public var volatility: Double?
    public var sharpe: Double?
    public var sortino: Double?
    public var calmar: Double?
    public var maxDrawdown: Double
    /// The most consecutive sessions the equity spent below its previous peak.
    public var maxDrawdownDuration: Int
    public var trades: Int
    public var winRate: Double?
    public var profitFactor: Double?
    /// Mean P&L per trade, in dollars.
    public var expectancy: Double?
    public var averageWin: Double?
    public var averageLoss: Double?
    /// The share of sessions that ended holding a position.
    public var exposureTime: Double?
    /// Mean of |exposure| / equity over the sessions.
    public var averageExposure: Double?
    public var averageBarsHeld: Double?
    public var commissions: Double
    public var benchmarkReturn: Double?

    /// Sessions per year, for annualising.
    public static let sessionsPerYear = 252.0

    public static func dollars(_ m: Money) -> Double { Double(m.units) / 10_000 }

    /// The statistics of `result` (formulas in README.md).
    public static func compute(_ result: BacktestResult) -> BacktestStatistics {
        let capital = dollars(result.capital)
        let equity = result.days.map { dollars($0.equity) }
        let n = equity.count
        let final = equity.last ?? capital
        let total = capital > 0 ? final / capital - 1 : 0
        // Daily returns: each session's equity over the previous one's (the first over the capital).
        var returns: [Double] = []
        returns.reserveCapacity(n)
        var previous = capital
        for e in equity {
            returns.append(previous > 0 ? e / previous - 1 : 0)
            previous = e
        }
        let mean = returns.isEmpty ? 0 : returns.reduce(0, +) / Double(returns.count)
        var sd: Double?
        if returns.count >= 2 {
            let ss = returns.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
            sd = (ss / Double(returns.count - 1)).squareRoot()
        }
        let downside = returns.isEmpty ? 0 : (returns.reduce(0) { $0 + min($1, 0) * min($1, 0) } / Double(returns.count)).squareRoot()
        let annual = sessionsPerYear.squareRoot()
        let cagr: Double? = n > 0 && capital > 0 && final > 0 ? pow(final / capital, sessionsPerYear / Double(n)) - 1 : nil
        // Drawdown from the running peak (the capital counts as the first peak).
        var peak = capital, maxDD = 0.0, run = 0, longest = 0
        for e in equity {
            if e >= peak {
                peak = e
                run = 0
            } else {
                run += 1
                longest = max(longest, run)
                if peak > 0 { maxDD = max(maxDD, (peak - e) / peak) }
            }
        }
        let pnls = result.trades.map { dollars($0.pnl) }
        let wins = pnls.filter { $0 > 0 }, losses = pnls.filter { $0 < 0 }
        let grossWin = wins.reduce(0, +), grossLoss = -losses.reduce(0, +)
        let holding = result.days.filter { !$0.exposure.isZero }.count
        let avgExposure =
            n == 0
            ? nil
            : result.days.reduce(0.0) { acc, d in
                let e = dollars(d.equity)
                return acc + (e > 0 ? abs(dollars(d.exposure)) / e : 0)
            } / Double(n)
        return BacktestStatistics(
            sessions: n, startingCapital: capital, finalEquity: final, totalReturn: total, cagr: cagr,
            volatility: sd.map { $0 * annual },
            sharpe: sd.flatMap { $0 > 0 ? mean / $0 * annual : nil },
            sortino: downside > 0 ? mean / downside * annual : nil,
            calmar: maxDD > 0 ? cagr.map { $0 / maxDD } : nil,
            maxDrawdown: maxDD, maxDrawdownDuration: longest, trades: pnls.count,
            winRate: pnls.isEmpty ? nil : Double(wins.count) / Double(pnls.count),
            profitFactor: grossLoss > 0 ? grossWin / grossLoss : nil,
            expectancy: pnls.isEmpty ? nil : pnls.reduce(0, +) / Double(pnls.count),
            averageWin: wins.isEmpty ? nil : grossWin / Double(wins.count),
            averageLoss: losses.isEmpty ? nil : -grossLoss / Double(losses.count),
            exposureTime: n == 0 ? nil : Double(holding) / Double(n), averageExposure: avgExposure,
            averageBarsHeld: pnls.isEmpty ? nil : Double(result.trades.reduce(0) { $0 + $1.barsHeld }) / Double(pnls.count),
            commissions: dollars(result.commissions), benchmarkReturn: result.benchmark?.buyAndHoldReturn)
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
