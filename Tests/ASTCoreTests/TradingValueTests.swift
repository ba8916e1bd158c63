import Foundation
import Testing

@testable import ASTCore

@Suite struct FixedPointTextTests {
    @Test(arguments: [
        ("123.4567", Int64(1_234_567)),
        ("0", 0),
        ("-0", 0),
        ("0.00", 0),
        ("1.5", 15_000),
        ("100", 1_000_000),
        ("0.0001", 1),
        ("-0.0001", -1),
        ("-5.5", -55_000),
        ("1.23450", 12_345),
        ("1.2345000000", 12_345),
        ("007.10", 71_000),
        ("922337203685477.5807", Int64.max),
        ("-922337203685477.5808", Int64.min),
    ])
    func parsesExactDecimals(text: String, units: Int64) {
        #expect(Price(text)?.units == units)
        #expect(Money(text)?.units == units)
    }

    @Test(arguments: [
        "", "-", ".", "1.", ".5", "-.5", "+1", "1.23456", "1.00001", "1e3", " 1", "1 ", "1,000.00", "1_000",
        "922337203685477.5808", "-922337203685477.5809", "99999999999999999999", "abc", "1.2.3", "--1", "1-",
        "\u{0661}", "0x10", "NaN", "inf",
    ])
    func refusesAnythingInexactOrMalformed(text: String) {
        #expect(Price(text) == nil)
        #expect(Money(text) == nil)
    }

    @Test(arguments: [
        (Int64(1_234_567), "123.4567"),
        (1_000_000, "100.00"),
        (15_000, "1.50"),
        (12_340, "1.234"),
        (1, "0.0001"),
        (-1, "-0.0001"),
        (0, "0.00"),
        (-50_000, "-5.00"),
        (Int64.max, "922337203685477.5807"),
        (Int64.min, "-922337203685477.5808"),
    ])
    func printsCanonicalText(units: Int64, text: String) {
        #expect(Money(units: units).description == text)
        #expect(Price(units: units).description == text)
    }

    /// print(parse(x)) == x for canonical text, and parse(print(u)) == u for any units.
    @Test(arguments: 0..<20)
    func printParseRoundTripsExactly(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for _ in 0..<500 {
            let magnitude = Int.random(in: 0...4, using: &rng)
            let units: Int64 =
                switch magnitude {
                case 0: Int64.random(in: -100...100, using: &rng)
                case 1: Int64.random(in: -10_000_000...10_000_000, using: &rng)
                case 2: Int64.random(in: Int64.min...Int64.max, using: &rng)
                case 3: [Int64.min, Int64.max, Int64.min + 1, Int64.max - 1, 0][Int.random(in: 0..<5, using: &rng)]
                default: Int64.random(in: -1_000_000...1_000_000, using: &rng) * 10_000
                }
            let text = Money(units: units).description
            #expect(Money(text)?.units == units, "units \(units) printed as \(text)")
            #expect(Money(text)?.description == text)

            // A canonical string built digit by digit.
            var whole = String(Int.random(in: 1...9, using: &rng))
            for _ in 0..<Int.random(in: 0...9, using: &rng) { whole += String(Int.random(in: 0...9, using: &rng)) }
            if Bool.random(using: &rng) { whole = "0" }
            var fraction = (0..<4).map { _ in String(Int.random(in: 0...9, using: &rng)) }.joined()
            while fraction.count > 2, fraction.last == "0" { fraction.removeLast() }
            let sign = Bool.random(using: &rng) && (whole != "0" || fraction != "00") ? "-" : ""
            let canonical = "\(sign)\(whole).\(fraction)"
            #expect(Price(canonical)?.description == canonical)
        }
    }

    @Test func pricesAndMoneyAreJSONStrings() throws {
        let price = Price("123.4567")!
        let data = try JSONEncoder().encode([price])
        #expect(String(decoding: data, as: UTF8.self) == #"["123.4567"]"#)
        #expect(try JSONDecoder().decode([Price].self, from: data) == [price])
        #expect(try JSONDecoder().decode([Money].self, from: Data(#"["-0.50"]"#.utf8)) == [Money(units: -5000)])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([Money].self, from: Data("[1.5]".utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([Money].self, from: Data(#"["1.23456"]"#.utf8)) }
    }
}

@Suite struct MoneyArithmeticTests {
    @Test func priceTimesQuantityIsExact() throws {
        #expect(try Price("123.4567")!.notional(300) == Money("37037.01")!)
        #expect(try Price("0.0001")!.notional(-7) == Money("-0.0007")!)
        #expect(Price("10.25")! * Quantity(4) == Money("41.00")!)
    }

    @Test func overflowIsAnErrorNotAWrap() throws {
        #expect(throws: FixedPointError.self) { try Price("1000000")!.notional(Quantity(Int64.max / 100)) }
        #expect(throws: FixedPointError.self) { try Money(units: Int64.max).adding(Money(units: 1)) }
        #expect(throws: FixedPointError.self) { try Money(units: Int64.min).subtracting(Money(units: 1)) }
        #expect(throws: FixedPointError.self) { try Quantity(Int64.max).adding(1) }
        #expect(throws: FixedPointError.self) { try Money("1")!.shares(at: .zero) }
        #expect(try Money("1.25")!.adding(Money("-2")!) == Money("-0.75")!)
    }

    @Test(arguments: [
        ("100.00", "33.3333", "33.3333"),
        ("100000.00", "5", "5000.00"),
        ("0.0003", "50", "0.0001"),  // 0.00015 rounds toward zero
        ("-0.0003", "50", "-0.0001"),  // and toward zero for a negative amount too
        ("99.99", "0", "0.00"),
    ])
    func percentOfMoneyRoundsTowardZero(amount: String, percent: String, expected: String) throws {
        #expect(try Money(amount)!.percent(Percent(percent)!) == Money(expected)!)
    }

    @Test func sharesAndRatiosRoundTowardZero() throws {
        #expect(try Money("5000.00")!.shares(at: Price("123.4567")!) == 40)
        #expect(try Money("-5000.00")!.shares(at: Price("123.4567")!) == -40)
        #expect(try Money("5000.00")!.shares(at: Price("5001")!) == 0)
        #expect(try Money("1.00")!.ratio(to: Money("3.00")!) == Percent("33.3333")!)
        #expect(throws: FixedPointError.self) { try Money("1")!.ratio(to: .zero) }
    }
}

@Suite struct PercentTests {
    @Test func parsesPrintsAndDecodesExactly() throws {
        #expect(Percent("2.5")?.units == 25_000)
        #expect(Percent("2.5")?.description == "2.5")
        #expect(Percent(10).description == "10")
        #expect(Percent("0.0001")?.description == "0.0001")
        #expect(Percent("2.12345") == nil)
        let decoded = try JSONDecoder().decode([Percent].self, from: Data(#"[10, 2.5, "0.25", 0.1]"#.utf8))
        #expect(decoded == [Percent(10), Percent("2.5")!, Percent("0.25")!, Percent("0.1")!])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([Percent].self, from: Data("[2.12345]".utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([Percent].self, from: Data(#"["ten"]"#.utf8)) }
        let encoded = try JSONEncoder().encode([Percent(10), Percent("2.5")!, Percent("0.1")!])
        #expect(String(decoding: encoded, as: UTF8.self) == "[10,2.5,0.1]")
    }
}

@Suite struct QuantitySymbolIDTests {
    @Test func quantitiesAreSignedIntegers() throws {
        let short = Quantity(-300)
        #expect(short.isShort && !short.isLong && short.magnitude == 300)
        #expect(Side.buy.signed(100) == 100 && Side.sell.signed(100) == -100)
        #expect(Side.sell.opposite == .buy)
        #expect(String(decoding: try JSONEncoder().encode([short]), as: UTF8.self) == "[-300]")
    }

    @Test(arguments: ["AAPL", "BRK.B", "BF-B", "A", "X1", "ABCDEFGHIJKL"])
    func acceptsTickers(text: String) {
        #expect(Symbol(validating: text)?.rawValue == text)
    }

    @Test(arguments: ["", "aapl", "Aapl", "1ABC", "BRK..B", "BRK.", ".A", "-A", "ABCDEFGHIJKLM", "AA PL", "ÄBC", "BRK/B"])
    func refusesNonTickers(text: String) {
        #expect(Symbol(validating: text) == nil)
    }

    @Test func symbolKeyedDictionariesAreJSONObjects() throws {
        let data = try JSONEncoder().encode([Symbol("AAPL"): 1])
        #expect(String(decoding: data, as: UTF8.self) == #"{"AAPL":1}"#)
        #expect(try JSONDecoder().decode([Symbol: Int].self, from: data) == ["AAPL": 1])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([Symbol].self, from: Data(#"["aapl"]"#.utf8)) }
    }

    @Test func approvalIDsAreDerivedFromIntentIDs() throws {
        let intent: IntentID = "ma-cross:AAPL:2024-05-01"
        #expect(ApprovalID(for: intent).rawValue == "appr-ma-cross:AAPL:2024-05-01")
        #expect(ApprovalID(for: intent) == ApprovalID(for: IntentID(validating: "ma-cross:AAPL:2024-05-01")!))
        let longest = IntentID(validating: String(repeating: "x", count: IntentID.maxLength))!
        #expect(ApprovalID(validating: ApprovalID(for: longest).rawValue) != nil)
        #expect(IntentID(validating: String(repeating: "x", count: IntentID.maxLength + 1)) == nil)
        #expect(IntentID(validating: "") == nil && IntentID(validating: "a b") == nil && IntentID(validating: "a/b") == nil)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([IntentID].self, from: Data(#"[""]"#.utf8)) }
        #expect(try JSONDecoder().decode([ApprovalID].self, from: Data(#"["appr-1"]"#.utf8)) == ["appr-1"])
    }
}
