import ASTCore
import Logging
import Testing

@testable import ASTProcessKit
@testable import ASTRuntime

/// `AST_FAULT_CRASH_AFTER_INPUT`: refused in LIVE; names inputs by their enum case.
@Suite struct FaultCrashAfterInputTests {
    enum Input { case intent(Int, String), mark(Int), startDay }

    @Test func anInputIsNamedByItsCase() {
        #expect(CrashAfterInputFault.caseName(Input.intent(1, "x")) == "intent")
        #expect(CrashAfterInputFault.caseName(Input.mark(2)) == "mark")
        #expect(CrashAfterInputFault.caseName(Input.startDay) == "startDay")
    }

    @Test func theSwitchIsRefusedInLiveModeAndIgnoredWhenUnset() throws {
        var config = try ConfigLoader(directory: ConfigLoaderTests.shippedDirectory, variables: [:]).load(ASTConfig.self)
        config.trading = TradingConfig(mode: .live, liveEnabled: true)
        #expect(throws: CrashAfterInputFaultError.self) {
            try CrashAfterInputFault.arm(
                config: config, process: "risk@main", logger: Logger(label: "test"),
                environment: [CrashAfterInputFault.variable: "risk.input:intent"])
        }
        // Unset: nothing is armed, in any mode.
        try CrashAfterInputFault.arm(config: config, process: "risk@main", logger: Logger(label: "test"), environment: [:])
        #expect(CrashAfterInputFault.armed.withLock { $0 } == nil)
    }
}
