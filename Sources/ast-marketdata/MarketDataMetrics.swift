import ASTCalendar
import ASTCore
import CoreMetrics

/// Market data's metrics (README, "Metrics"): how fresh the bars the tree trades on are.
enum MarketDataMetrics {
    /// `ast_marketdata_newest_session_close_timestamp_seconds`: the close (Unix seconds) of the newest
    /// session whose bars are stored (wall clock: the post-close fetch) or published (replay). The
    /// stale-data alert compares it with the time: a fetch that keeps failing leaves it behind.
    static func newestSession(closingAt close: Timestamp) {
        Gauge(label: "ast_marketdata_newest_session_close_timestamp_seconds").record(close.nanoseconds / 1_000_000_000)
    }

    /// The same for a stored session's date (nothing when the calendar has no session that day).
    static func newestSession(_ date: LocalDate) {
        if let session = TradingCalendar.nyse.session(on: date) { newestSession(closingAt: session.close) }
    }
}
