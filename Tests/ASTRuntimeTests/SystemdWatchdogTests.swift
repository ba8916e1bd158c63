import ASTRuntime
import Glibc
import Testing

extension SystemdEnvironmentTests {
    @Suite
    struct SystemdWatchdogTests {
        @Test
        func noWatchdogWithoutWatchdogUsec() throws {
            try withEnvironment(["WATCHDOG_USEC": nil, "WATCHDOG_PID": nil]) {
                let settings = try WatchdogSettings.current()
                #expect(settings == nil)
            }
        }

        @Test
        func watchdogUsecGivesTheIntervalAndHalfOfItAsPingInterval() throws {
            try withEnvironment(["WATCHDOG_USEC": "3000000", "WATCHDOG_PID": nil]) {
                let settings = try #require(try WatchdogSettings.current())
                #expect(settings.interval == .seconds(3))
                #expect(settings.pingInterval == .milliseconds(1500))
            }
        }

        @Test
        func watchdogForThisPIDIsEnabled() throws {
            try withEnvironment(["WATCHDOG_USEC": "250000", "WATCHDOG_PID": String(getpid())]) {
                let settings = try WatchdogSettings.current()
                #expect(settings == WatchdogSettings(interval: .milliseconds(250)))
            }
        }

        @Test
        func watchdogForAnotherPIDIsIgnored() throws {
            // An inherited WATCHDOG_USEC meant for the parent must not make this process ping.
            try withEnvironment(["WATCHDOG_USEC": "3000000", "WATCHDOG_PID": String(getpid() + 1)]) {
                let settings = try WatchdogSettings.current()
                #expect(settings == nil)
            }
        }

        @Test(arguments: ["soon", "0", "-5", ""])
        func malformedWatchdogUsecIsAnError(value: String) {
            withEnvironment(["WATCHDOG_USEC": value, "WATCHDOG_PID": nil]) {
                #expect(throws: SystemdError.self) { try WatchdogSettings.current() }
            }
        }

        @Test
        func readingTheWatchdogLeavesTheEnvironmentAsItIs() throws {
            try withEnvironment(["WATCHDOG_USEC": "3000000", "WATCHDOG_PID": String(getpid())]) {
                _ = try WatchdogSettings.current()
                #expect(environmentValue("WATCHDOG_USEC") == "3000000")
                #expect(environmentValue("WATCHDOG_PID") == String(getpid()))
            }
        }
    }
}

struct WatchdogSettingsTests {
    @Test
    func pingIntervalIsHalfTheInterval() {
        #expect(WatchdogSettings(interval: .seconds(30)).pingInterval == .seconds(15))
        #expect(WatchdogSettings(interval: .microseconds(3)).pingInterval == .nanoseconds(1500))
    }
}
