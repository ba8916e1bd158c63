import CSystemd

/// The watchdog the manager runs on this process (`WATCHDOG_USEC`, and `WATCHDOG_PID` when set), as
/// `sd_watchdog_enabled(3)`: a process that sends no `WATCHDOG=1` within `interval` is killed.
public struct WatchdogSettings: Sendable, Equatable {
    /// How long the manager waits for a keep-alive before it acts.
    public let interval: Duration

    /// How often to send `WATCHDOG=1`: half the interval, as systemd recommends, so one late ping
    /// is not fatal.
    public var pingInterval: Duration { interval / 2 }

    /// Creates settings for a known interval.
    public init(interval: Duration) {
        self.interval = interval
    }

    /// The watchdog the manager expects of this process, or nil when there is none (no
    /// `WATCHDOG_USEC`, or `WATCHDOG_PID` names another process). The environment is left as is.
    public static func current() throws(SystemdError) -> WatchdogSettings? {
        var microseconds: UInt64 = 0
        let returned = sd_watchdog_enabled(0, &microseconds)
        guard returned >= 0 else {
            throw SystemdError(
                function: "sd_watchdog_enabled", returned: returned,
                hint: "the parent passed a malformed WATCHDOG_USEC or WATCHDOG_PID"
                    + " (WATCHDOG_USEC must be a positive number of microseconds)")
        }
        guard returned > 0 else { return nil }
        return WatchdogSettings(interval: .microseconds(Int64(clamping: microseconds)))
    }
}
