import Testing

@testable import ASTIndicators

@Suite struct IndicatorSpecParsing {
    @Test(arguments: [
        ("sma:20", IndicatorSpec.sma(period: 20)), ("ema:10", .ema(period: 10)), ("rsi:14", .rsi(period: 14)),
        ("rsi", .rsi(period: 14)), ("RSI:7", .rsi(period: 7)), (" macd : 12, 26, 9 ", .macd(fast: 12, slow: 26, signal: 9)),
        ("macd", .macd(fast: 12, slow: 26, signal: 9)), ("atr", .atr(period: 14)), ("bb:20,2", .bollinger(period: 20, multiplier: 2)),
        ("bb:10,1.5", .bollinger(period: 10, multiplier: 1.5)), ("adx:14", .adx(period: 14)),
        ("supertrend", .supertrend(period: 10, multiplier: 3)), ("kdj", .kdj(period: 9, kSmoothing: 3, dSmoothing: 3)),
        ("kdj:14,3,3", .kdj(period: 14, kSmoothing: 3, dSmoothing: 3)),
    ])
    func parsesNamesParametersAndDefaults(text: String, expected: IndicatorSpec) throws {
        #expect(try IndicatorSpec(parsing: text) == expected)
    }

    @Test(arguments: ["sma:50", "macd:12,26,9", "bb:20,2", "bb:20,2.5", "supertrend:10,3", "kdj:9,3,3", "adx:14"])
    func canonicalTextParsesBackToTheSameSpec(text: String) throws {
        let spec = try IndicatorSpec(parsing: text)
        #expect(spec.description == text)
        #expect(try IndicatorSpec(parsing: spec.description) == spec)
    }

    @Test func columnNamesFollowTheCommandLineConvention() throws {
        #expect(try IndicatorSpec(parsing: "rsi:14").columns == ["rsi_14"])
        #expect(
            try IndicatorSpec(parsing: "macd:12,26,9").columns
                == ["macd_12_26_9", "macd_signal_12_26_9", "macd_hist_12_26_9"])
        #expect(try IndicatorSpec(parsing: "bb:20,2").columns == ["bb_middle_20_2", "bb_upper_20_2", "bb_lower_20_2"])
        #expect(try IndicatorSpec(parsing: "bb:20,2.5").columns[0] == "bb_middle_20_2.5")
        #expect(try IndicatorSpec(parsing: "adx:14").columns == ["adx_14", "plus_di_14", "minus_di_14"])
        #expect(try IndicatorSpec(parsing: "supertrend:10,3").columns == ["supertrend_10_3", "supertrend_dir_10_3"])
        #expect(try IndicatorSpec(parsing: "kdj:9,3,3").columns == ["kdj_k_9_3_3", "kdj_d_9_3_3", "kdj_j_9_3_3"])
    }

    @Test(arguments: [
        ("rsi:0", "indicator 'rsi:0': period must be a whole number from 1 to 10000 (got '0')"),
        ("macd:26,12,9", "indicator 'macd:26,12,9': fast period must be shorter than slow period (got 26 and 12)"),
        ("macd:12,12,9", "indicator 'macd:12,12,9': fast period must be shorter than slow period (got 12 and 12)"),
        ("foo:3", "indicator 'foo:3': unknown indicator 'foo'; known: sma, ema, rsi, macd, atr, bb, adx, supertrend, kdj"),
        ("sma", "indicator 'sma': expected sma:period"),
        ("macd:12,26", "indicator 'macd:12,26': expected macd:fast,slow,signal"),
        ("rsi:", "indicator 'rsi:': period must be a whole number from 1 to 10000 (got '')"),
        ("rsi:14,", "indicator 'rsi:14,': expected rsi:period"),
        ("ema:-3", "indicator 'ema:-3': period must be a whole number from 1 to 10000 (got '-3')"),
        ("sma:2.5", "indicator 'sma:2.5': period must be a whole number from 1 to 10000 (got '2.5')"),
        ("sma:20000", "indicator 'sma:20000': period must be a whole number from 1 to 10000 (got '20000')"),
        ("bb:20,0", "indicator 'bb:20,0': multiplier must be a number above 0 (got '0')"),
        ("bb:20,nan", "indicator 'bb:20,nan': multiplier must be a number above 0 (got 'nan')"),
        ("supertrend:10,inf", "indicator 'supertrend:10,inf': multiplier must be a number above 0 (got 'inf')"),
        ("", "indicator '': unknown indicator ''; known: sma, ema, rsi, macd, atr, bb, adx, supertrend, kdj"),
    ])
    func rejectsBadSpecsWithAMessageThatSaysWhatIsExpected(text: String, message: String) {
        #expect {
            _ = try IndicatorSpec(parsing: text)
        } throws: { error in
            (error as? IndicatorSpecError)?.description == message
        }
    }

    @Test func warmUpIsTheBarCountBeforeTheFirstValue() throws {
        let expected: [String: Int] = [
            "sma:20": 20, "ema:10": 10, "rsi:14": 15, "macd:12,26,9": 34, "atr:14": 15, "bb:20,2": 20,
            "adx:14": 28, "supertrend:10,3": 11, "kdj:9,3,3": 9,
        ]
        for (text, warmUp) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(try IndicatorSpec(parsing: text).warmUp == warmUp, "\(text)")
        }
    }
}
