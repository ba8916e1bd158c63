import ASTCalendar
import ASTCore
import Foundation
import Testing

@testable import ASTProcessKit
@testable import ASTRuntime

/// The market-data keys of M10: `polygon` is what production runs, `bundled` (fictional
/// tickers) and a shifted clock are refused there at load (astd exits 78 on any such refusal).
@Suite struct MarketDataConfigTests {
    static let shipped = ConfigLoaderTests.shippedDirectory

    /// The shipped files, copied, plus `overlays` (file name -> text).
    static func withShipped<R>(_ overlays: [String: String], _ body: (ConfigTestDirectory) throws -> R) throws -> R {
        try ConfigTestDirectory.with { dir in
            for name in ["ast.yaml", "ast.production.yaml"] {
                try dir.write(name, try String(contentsOfFile: shipped + "/" + name, encoding: .utf8))
            }
            for (name, text) in overlays { try dir.write(name, text) }
            return try body(dir)
        }
    }

    @Test func productionRunsOnPolygonByDefaultAndEveryOtherEnvironmentOnTheBundledSet() throws {
        let production = try ConfigLoader(directory: Self.shipped, environment: "production", variables: [:]).load(ASTConfig.self)
        #expect(production.marketdata?.source == .polygon)
        #expect(production.marketdata?.liveSettings == .standard, "etc/ast.yaml ships the live feed's standard values")
        #expect(production.marketdata?.liveSettings.fetchTime == LocalTime(hour: 16, minute: 10))
        let test = try ConfigLoader(directory: Self.shipped, environment: "test", variables: [:]).load(ASTConfig.self)
        #expect(test.marketdata?.source == .bundled)
    }

    @Test func bundledDataIsRefusedInProduction() throws {
        let text = try Self.withShipped(["ast.local.yaml": "marketdata:\n  source: bundled\n"]) { $0.errorText(environment: "production") }
        let error = try #require(text, "bundled data loaded in production")
        #expect(error.contains("marketdata.source must not be bundled in production"), "\(error)")
        // The same file outside production loads.
        #expect(try Self.withShipped(["ast.local.yaml": "marketdata:\n  source: bundled\n"]) { $0.errorText(environment: "test") } == nil)
    }

    @Test func aClockOffsetIsAcceptedInTestsAndRefusedInProductionOrWithTheReplayClock() throws {
        let offset = "clock:\n  mode: wall\n  offset_seconds: -3600\n"
        let loaded = try Self.withShipped(["ast.local.yaml": offset]) { try $0.loader(environment: "test").load(ASTConfig.self) }
        #expect(loaded.clock == ClockConfig(mode: .wall, offsetSeconds: -3600))
        let production = try Self.withShipped(["ast.local.yaml": offset]) { $0.errorText(environment: "production") }
        #expect(production?.contains("clock.offset_seconds must be 0 in production") == true, "\(production ?? "loaded")")
        let replay = try Self.withShipped(["ast.local.yaml": "clock:\n  mode: replay\n  offset_seconds: 5\n"]) {
            $0.errorText(environment: "test")
        }
        #expect(replay?.contains("clock.offset_seconds must be 0 unless mode is wall") == true, "\(replay ?? "loaded")")
    }

    @Test func liveKeysAreChecked() throws {
        let bad = "marketdata:\n  live:\n    fetch_at: \"15:30\"\n    validation: loose\n"
        let text = try #require(try Self.withShipped(["ast.local.yaml": bad]) { $0.errorText(environment: "test") })
        #expect(text.contains("marketdata.live.fetch_at must be at or after the 16:00 close"), "\(text)")
        #expect(text.contains("marketdata.live.validation must be strict or lenient"), "\(text)")
    }

    @Test func liveInputKeysShipTheirDefaultsAndAreChecked() throws {
        let shipped = try ConfigLoader(directory: Self.shipped, environment: "production", variables: [:]).load(ASTConfig.self)
        #expect(shipped.marketdataInEffect.liveSettings.inputsInEffect == .standard, "etc/ast.yaml ships the standard inputs")
        #expect(LiveInputsConfig.standard.indexSymbol == "SPY" && LiveInputsConfig.standard.volatilityIndex == "I:VIX")
        let bad = """
            marketdata:
              live:
                inputs:
                  index: "spy!"
                  volatility_index: VIX
                  sector_refresh_days: 0
                  sector_max_per_round: 0
                  marks: quotes

            """
        let text = try #require(try Self.withShipped(["ast.local.yaml": bad]) { $0.errorText(environment: "test") })
        for key in ["index", "volatility_index", "sector_refresh_days", "sector_max_per_round", "marks"] {
            #expect(text.contains("marketdata.live.inputs.\(key) must"), "\(key): \(text)")
        }
        #expect(text.contains("must be a Polygon indices ticker such as I:VIX"), "\(text)")
        let snapshot = "marketdata:\n  live:\n    inputs:\n      marks: snapshot\n      volatility_index: \"I:VIX1D\"\n"
        let loaded = try Self.withShipped(["ast.local.yaml": snapshot]) { try $0.loader(environment: "test").load(ASTConfig.self) }
        #expect(loaded.marketdataInEffect.liveSettings.inputsInEffect.marks == "snapshot")
        #expect(loaded.marketdataInEffect.liveSettings.inputsInEffect.volatilityIndex == "I:VIX1D")
    }

    @Test func anOffsetClockIsTheSystemClockMoved() {
        struct Fixed: WallClock { func now() -> Timestamp { Timestamp(nanoseconds: 1_000_000_000_000) } }
        #expect(OffsetClock(base: Fixed(), offsetSeconds: 60).now() == Timestamp(nanoseconds: 1_060_000_000_000))
        #expect(
            OffsetClock(base: Fixed(), offsetSeconds: .max).now().nanoseconds
                == 1_000_000_000_000 + ClockConfig.maximumOffsetSeconds * 1_000_000_000, "bounded, never an overflow")
    }

    @Test func aFasterClockNeedsItsEpochIsWallOnlyAndIsRefusedInProduction() throws {
        let fast = "clock:\n  mode: wall\n  rate: 864\n  rate_epoch: 1700000000\n"
        let loaded = try Self.withShipped(["ast.local.yaml": fast]) { try $0.loader(environment: "test").load(ASTConfig.self) }
        #expect(loaded.clock == ClockConfig(mode: .wall, rate: 864, rateEpoch: 1_700_000_000))
        let production = try Self.withShipped(["ast.local.yaml": fast]) { $0.errorText(environment: "production") }
        #expect(production?.contains("clock.rate must be 1 in production") == true, "\(production ?? "loaded")")
        let noEpoch = try Self.withShipped(["ast.local.yaml": "clock:\n  mode: wall\n  rate: 10\n"]) { $0.errorText(environment: "test") }
        #expect(noEpoch?.contains("clock.rate_epoch must be set") == true, "\(noEpoch ?? "loaded")")
        let replay = try Self.withShipped(["ast.local.yaml": "clock:\n  mode: replay\n  rate: 10\n  rate_epoch: 1\n"]) {
            $0.errorText(environment: "test")
        }
        #expect(replay?.contains("clock.rate must be 1 unless mode is wall") == true, "\(replay ?? "loaded")")
        let absurd = try Self.withShipped(["ast.local.yaml": "clock:\n  mode: wall\n  rate: 1000000\n  rate_epoch: 1\n"]) {
            $0.errorText(environment: "test")
        }
        #expect(absurd?.contains("clock.rate") == true, "\(absurd ?? "loaded")")
    }

    @Test func aScaledClockRunsRateTimesFasterFromItsEpochAndSaturates() {
        struct Fixed: WallClock {
            let seconds: Int64
            func now() -> Timestamp { Timestamp(nanoseconds: seconds * 1_000_000_000) }
        }
        let epoch: Int64 = 1_700_000_000
        // At the epoch: the system time plus the offset; 10 s later: 8,640 s of trading time later.
        #expect(
            ScaledClock(base: Fixed(seconds: epoch), offsetSeconds: 60, rate: 864, epochSeconds: epoch).now().nanoseconds == (epoch + 60)
                * 1_000_000_000)
        #expect(
            ScaledClock(base: Fixed(seconds: epoch + 10), offsetSeconds: 60, rate: 864, epochSeconds: epoch).now().nanoseconds
                == (epoch + 60 + 8_640) * 1_000_000_000)
        let config = ClockConfig(mode: .wall, offsetSeconds: 0, rate: 1_000, rateEpoch: epoch)
        #expect(config.systemInterval(.seconds(5)) == .milliseconds(20), "5 s of trading time: 5 ms, never under 20 ms")
        #expect(ClockConfig.wall.systemInterval(.seconds(5)) == .seconds(5))
        // Far from its epoch a huge product saturates instead of trapping.
        let far = ScaledClock(base: Fixed(seconds: 9_000_000_000), offsetSeconds: 0, rate: ClockConfig.maximumRate, epochSeconds: 0)
        #expect(far.now().nanoseconds == .max)
    }
}
