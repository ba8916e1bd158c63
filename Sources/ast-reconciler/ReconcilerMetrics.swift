import ASTCore
import ASTMessages
import CoreMetrics

/// The reconciler's metrics (README, "Metrics"), from each portfolio snapshot it publishes: equity,
/// cash, today's P&L, peak equity, gross and net exposure in dollars, positions and open entries.
/// Doubles here are only for display: the book stays exact (Money, Price and Percent share one scale).
enum ReconcilerMetrics {
    static func published(_ s: PortfolioSnapshot) {
        let dollars: (Int64) -> Double = { Double($0) / Double(Percent.unitsPerWhole) }
        Gauge(label: "ast_equity_dollars").record(dollars(s.equity.units))
        Gauge(label: "ast_cash_dollars").record(dollars(s.cash.units))
        Gauge(label: "ast_peak_equity_dollars").record(dollars(s.peakEquity.units))
        Gauge(label: "ast_pnl_today_dollars").record(dollars(s.equity.units) - dollars(s.startOfDayEquity.units))
        var gross = 0.0
        var net = 0.0
        for p in s.positions.values {
            let value = Double(p.quantity.shares) * dollars(p.lastMark.units)
            gross += abs(value)
            net += value
        }
        Gauge(label: "ast_gross_exposure_dollars").record(gross)
        Gauge(label: "ast_net_exposure_dollars").record(net)
        Gauge(label: "ast_positions").record(s.positions.count)
        Gauge(label: "ast_open_entry_orders").record(s.openOrders)
    }
}
