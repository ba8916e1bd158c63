import ASTCore
import Testing

@testable import ASTRisk

/// One row: a book, marks, one intent group, and what the gate must decide.
struct RuleCase: Sendable, CustomTestStringConvertible {
    var name: String
    var limits: RiskLimits = .cautiousDefaults
    var portfolio: PortfolioSnapshot? = snapshot()
    var marks: [Symbol: String] = ["AAPL": "100.00"]
    /// How long after the marks the intent arrives.
    var delay: Duration = .seconds(1)
    var intent: IntentGroup
    var expected: Verdict

    var testDescription: String { "\(name) -> \(expected)" }
}

/// Nine tech positions of 95 shares at 100.00 each in distinct names.
let techBook = [Holding("MSFT", 95), Holding("NVDA", 95), Holding("GOOG", 95)]
let tenNames: [Symbol] = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"]

let ruleCases: [RuleCase] = [
    // NOTIONAL_EXCEEDS_MAX_PER_ORDER: 5 % of 100,000 = 5,000 = 50 shares at 100.00.
    RuleCase(name: "notional at the limit", intent: intent(quantity: 50), expected: .approve),
    RuleCase(name: "notional one share over", intent: intent(quantity: 51), expected: .downgrade(50, .notionalExceedsMaxPerOrder)),
    RuleCase(
        name: "notional over by a fraction of a cent", intent: intent(quantity: 50, limit: "100.0001"),
        expected: .downgrade(49, .notionalExceedsMaxPerOrder)),
    RuleCase(
        name: "one share over the notional", marks: ["BIG": "6000.00"], intent: intent("i-1", "BIG", .buy, 1, stop: "5900.00"),
        expected: .block(.notionalExceedsMaxPerOrder)),
    // MAX_CONCENTRATION: 10 % = 10,000.
    RuleCase(
        name: "concentration up to the limit", portfolio: snapshot([Holding("AAPL", 60)]), intent: intent(quantity: 40),
        expected: .approve),
    RuleCase(
        name: "concentration one share over", portfolio: snapshot([Holding("AAPL", 60)]), intent: intent(quantity: 41),
        expected: .downgrade(40, .maxConcentration)),
    RuleCase(
        name: "concentration already at the limit", portfolio: snapshot([Holding("AAPL", 100)]), intent: intent(quantity: 1),
        expected: .block(.maxConcentration)),
    RuleCase(
        name: "a flip counts the closing shares", limits: RiskLimits.cautiousDefaults.with { $0.maxOrderNotionalPct = 1000 },
        portfolio: snapshot([Holding("AAPL", -30)]), intent: intent(quantity: 130), expected: .approve),
    RuleCase(
        name: "a flip past the concentration", limits: RiskLimits.cautiousDefaults.with { $0.maxOrderNotionalPct = 1000 },
        portfolio: snapshot([Holding("AAPL", -30)]), intent: intent(quantity: 131), expected: .downgrade(130, .maxConcentration)),
    // MAX_SECTOR_CONCENTRATION: 30 % = 30,000; the book holds 28,500 of tech.
    RuleCase(name: "sector up to the limit", portfolio: snapshot(techBook), intent: intent(quantity: 15), expected: .approve),
    RuleCase(
        name: "sector one share over", portfolio: snapshot(techBook), intent: intent(quantity: 16),
        expected: .downgrade(15, .maxSectorConcentration)),
    RuleCase(
        name: "another sector is not counted", portfolio: snapshot(techBook), intent: intent(quantity: 16, sector: "energy"),
        expected: .approve),
    RuleCase(
        name: "a held symbol without a sector blocks entries: never computed as an unknown sector",
        portfolio: snapshot([Holding("MSFT", 95, "100.00", nil), Holding("NVDA", 95, "100.00", nil), Holding("GOOG", 95, "100.00", nil)]),
        intent: intent(quantity: 16), expected: .block(.referenceDataMissing)),
    RuleCase(
        name: "an intent without a sector is blocked as missing reference data",
        portfolio: snapshot(techBook), intent: intent(quantity: 1, sector: nil), expected: .block(.referenceDataMissing)),
    RuleCase(
        name: "an intent with an empty sector is missing reference data, not a sector named \"\"",
        portfolio: snapshot(techBook), intent: intent(quantity: 1, sector: ""), expected: .block(.referenceDataMissing)),
    RuleCase(
        name: "an intent whose sector is only whitespace is missing reference data",
        portfolio: snapshot(techBook), intent: intent(quantity: 1, sector: " \t"), expected: .block(.referenceDataMissing)),
    RuleCase(
        name: "held symbols with an empty sector block entries as missing reference data",
        portfolio: snapshot([Holding("MSFT", 95, "100.00", ""), Holding("NVDA", 95, "100.00", "")]),
        intent: intent(quantity: 1, sector: "energy"), expected: .block(.referenceDataMissing)),
    // MAX_LEVERAGE at 12 %: 10,000 held elsewhere.
    RuleCase(
        name: "leverage up to the limit", limits: RiskLimits.cautiousDefaults.with { $0.maxGrossLeveragePct = 12 },
        portfolio: snapshot([Holding("MSFT", 100, "100.00", "software")]), intent: intent(quantity: 20), expected: .approve),
    RuleCase(
        name: "leverage one share over", limits: RiskLimits.cautiousDefaults.with { $0.maxGrossLeveragePct = 12 },
        portfolio: snapshot([Holding("MSFT", 100, "100.00", "software")]), intent: intent(quantity: 21),
        expected: .downgrade(20, .maxLeverage)),
    RuleCase(
        name: "leverage full", limits: RiskLimits.cautiousDefaults.with { $0.maxGrossLeveragePct = 10 },
        portfolio: snapshot([Holding("MSFT", 100, "100.00", "software")]), intent: intent(quantity: 1),
        expected: .block(.maxLeverage)),
    // DAILY_LOSS_LIMIT at 2 % of 100,000: 1,000 lost, 1,000 left, 10.00 risk a share to the stop.
    RuleCase(
        name: "risk to the stop fits the day's budget", limits: loose.with { $0.dailyLossLimitPct = 2 },
        portfolio: snapshot(equity: "99000.00", startOfDay: "100000.00"), intent: intent(quantity: 100, stop: "90.00"),
        expected: .approve),
    RuleCase(
        name: "risk to the stop one share over the day's budget", limits: loose.with { $0.dailyLossLimitPct = 2 },
        portfolio: snapshot(equity: "99000.00", startOfDay: "100000.00"), intent: intent(quantity: 101, stop: "90.00"),
        expected: .downgrade(100, .dailyLossLimit)),
    RuleCase(
        name: "the day's budget used up exactly", limits: loose.with { $0.dailyLossLimitPct = 2 },
        portfolio: snapshot(equity: "98000.00", startOfDay: "100000.00"), intent: intent(quantity: 1, stop: "90.00"),
        expected: .block(.dailyLossLimit)),
    RuleCase(
        name: "without a stop the whole notional is at risk", limits: loose.with { $0.dailyLossLimitPct = 2 },
        portfolio: snapshot(equity: "99000.00", startOfDay: "100000.00"), intent: intent(quantity: 11, stop: nil),
        expected: .downgrade(10, .dailyLossLimit)),
    // MAX_DRAWDOWN at 10 % of a 110,000 peak: 10,000 down, 1,000 left.
    RuleCase(
        name: "risk to the stop fits the drawdown budget", limits: loose.with { $0.maxDrawdownPct = 10 },
        portfolio: snapshot(equity: "100000.00", peak: "110000.00"), intent: intent(quantity: 100, stop: "90.00"),
        expected: .approve),
    RuleCase(
        name: "risk to the stop one share over the drawdown budget", limits: loose.with { $0.maxDrawdownPct = 10 },
        portfolio: snapshot(equity: "100000.00", peak: "110000.00"), intent: intent(quantity: 101, stop: "90.00"),
        expected: .downgrade(100, .maxDrawdown)),
    // MAX_OPEN_POSITIONS: 10.
    RuleCase(
        name: "the tenth position", portfolio: snapshot(tenNames.prefix(9).map { Holding($0, 10) }), intent: intent(quantity: 10),
        expected: .approve),
    RuleCase(
        name: "working entries count as positions",
        portfolio: snapshot(tenNames.prefix(9).map { Holding($0, 10) }, openOrders: 1), intent: intent(quantity: 10),
        expected: .block(.maxOpenPositions)),
    RuleCase(
        name: "an eleventh position", portfolio: snapshot(tenNames.map { Holding($0, 10) }), intent: intent(quantity: 10),
        expected: .block(.maxOpenPositions)),
    RuleCase(
        name: "adding to a held symbol at the limit",
        portfolio: snapshot(tenNames.prefix(9).map { Holding($0, 10) } + [Holding("AAPL", 10)]), intent: intent(quantity: 10),
        expected: .approve),
    // MISSING_PROTECTIVE_STOP.
    RuleCase(name: "an entry without a stop", intent: intent(quantity: 10, stop: nil), expected: .block(.missingProtectiveStop)),
    RuleCase(
        name: "an entry without a stop when none is required",
        limits: RiskLimits.cautiousDefaults.with { $0.requireProtectiveStop = false }, intent: intent(quantity: 10, stop: nil),
        expected: .approve),
    // PRICE_OUT_OF_BAND: 5 % around 100.00.
    RuleCase(name: "limit at the top of the band", intent: intent(quantity: 10, limit: "105.00"), expected: .approve),
    RuleCase(
        name: "limit just above the band", intent: intent(quantity: 10, limit: "105.0001"), expected: .block(.priceOutOfBand)),
    RuleCase(
        name: "limit at the bottom of the band", intent: intent(quantity: 10, limit: "95.00", stop: "90.00"), expected: .approve),
    RuleCase(
        name: "limit just below the band", intent: intent(quantity: 10, limit: "94.9999", stop: "90.00"),
        expected: .block(.priceOutOfBand)),
    // STALE_MARKET_DATA: 300 s; NO_MARKET_DATA.
    RuleCase(name: "a mark exactly 300 s old", delay: .seconds(300), intent: intent(quantity: 10), expected: .approve),
    RuleCase(
        name: "a mark 300 s and 1 ns old", delay: .seconds(300) + .nanoseconds(1), intent: intent(quantity: 10),
        expected: .block(.staleMarketData)),
    RuleCase(name: "no mark at all", marks: [:], intent: intent(quantity: 10), expected: .block(.noMarketData)),
    RuleCase(
        name: "a snapshot's valuation is not market data", portfolio: snapshot([Holding("AAPL", 10)]), marks: [:],
        intent: intent(quantity: 10), expected: .block(.noMarketData)),
    // INVALID_BRACKET.
    RuleCase(name: "zero quantity", intent: intent(quantity: 0), expected: .block(.invalidBracket)),
    RuleCase(name: "negative quantity", intent: intent(quantity: -5), expected: .block(.invalidBracket)),
    RuleCase(name: "buy stop at the mark", intent: intent(quantity: 10, stop: "100.00"), expected: .block(.invalidBracket)),
    RuleCase(name: "buy stop above the mark", intent: intent(quantity: 10, stop: "101.00"), expected: .block(.invalidBracket)),
    RuleCase(
        name: "short entry stop below the mark", intent: intent("i-1", "AAPL", .sell, 10, stop: "99.00"),
        expected: .block(.invalidBracket)),
    RuleCase(
        name: "short entry with its stop above", intent: intent("i-1", "AAPL", .sell, 10, stop: "105.00", target: "90.00"),
        expected: .approve),
    RuleCase(
        name: "buy take profit below the entry", intent: intent(quantity: 10, limit: "100.00", target: "99.00"),
        expected: .block(.invalidBracket)),
    RuleCase(
        name: "stop above the take profit", intent: intent(quantity: 10, stop: "110.00", target: "105.00"),
        expected: .block(.invalidBracket)),
    RuleCase(name: "zero limit price", intent: intent(quantity: 10, limit: "0"), expected: .block(.invalidBracket)),
    RuleCase(
        name: "buy stop above its limit", intent: intent(quantity: 10, limit: "100.00", stop: "100.50"),
        expected: .block(.invalidBracket)),
    RuleCase(
        name: "notional that does not fit in 64 bits", limits: loose,
        marks: ["AAPL": "100.00"], intent: intent(quantity: Int64.max / 100, stop: nil), expected: .block(.invalidBracket)),
    // NO_PORTFOLIO.
    RuleCase(name: "no snapshot yet", portfolio: nil, intent: intent(quantity: 1), expected: .block(.noPortfolio)),
]

@Suite struct RuleTests {
    @Test(arguments: ruleCases)
    func ruleDecidesAtAndAroundItsLimit(_ row: RuleCase) throws {
        var desk = try Desk(row.limits)
        if let p = row.portfolio { desk.send(.portfolio(p)) }
        for s in row.marks.keys.sorted() { desk.mark([s], row.marks[s]!) }
        #expect(desk.gate.state == .active, "the book itself must not be over a limit")
        desk.advance(row.delay)
        let decision = desk.decide(row.intent)
        #expect(Verdict(decision) == row.expected, "\(decision)")
    }

    @Test func aDowngradeKeepsTheBracketAndExplainsItself() throws {
        var desk = try Desk.ready()
        let decision = desk.decide(intent("swing-7", "AAPL", .buy, 80, stop: "95.00", target: "110.00"))
        guard case .downgrade(let a, let rule, let detail) = decision else {
            Issue.record("expected a downgrade, got \(decision)")
            return
        }
        #expect(rule == .notionalExceedsMaxPerOrder)
        #expect(a.id == "appr-swing-7" && a.intent == "swing-7")
        #expect(a.quantity == 50 && a.requestedQuantity == 80)
        #expect(a.stopLoss == price("95.00") && a.takeProfit == price("110.00") && a.entry == .market)
        #expect(a.state == .active && a.at == desk.now)
        #expect(detail == "notional 8000.00 (80 x 100.00) is over 5% of equity 100000.00 = 5000.00; downgraded from 80 to 50 shares")
    }

    @Test func blockDetailsNameTheNumbers() throws {
        var desk = try Desk.ready(marks: ["AAPL": "100.00"])
        desk.advance(.seconds(600))
        guard case .block(.staleMarketData, let detail) = desk.decide(intent(quantity: 1)) else {
            Issue.record("expected STALE_MARKET_DATA")
            return
        }
        #expect(detail.hasSuffix("601 s old (max 300 s)"))
    }

    @Test func theRateLimitCountsApprovalsInARollingWindow() throws {
        var desk = try Desk.ready()
        for i in 0..<10 {
            #expect(Verdict(desk.decide(intent(IntentID(validating: "r-\(i)")!, quantity: 1))) == .approve)
        }
        let start = desk.now
        desk.now = start.advanced(by: .seconds(60) - .nanoseconds(1))
        #expect(Verdict(desk.decide(intent("r-10", quantity: 1))) == .block(.rateLimitExceeded))
        #expect(Verdict(desk.decide(intent("r-11", quantity: 1))) == .block(.rateLimitExceeded))
        desk.now = start.advanced(by: .seconds(60))
        desk.mark(["AAPL"])
        #expect(Verdict(desk.decide(intent("r-12", quantity: 1))) == .approve)
    }

    /// A long session keeps the rate rule's memory to about two windows of approvals, so a
    /// decision costs the same after a week as after a minute.
    @Test func theRateLimitForgetsApprovalsOlderThanTwoWindows() throws {
        var desk = try Desk.ready()
        for i in 0..<200 {
            desk.advance(.seconds(30))
            desk.mark(["AAPL"])
            #expect(Verdict(desk.decide(intent(IntentID(validating: "long-\(i)")!, quantity: 1))) == .approve)
            desk.send(.portfolio(snapshot([], asOf: desk.now)))
        }
        #expect(desk.gate.approvalTimes.count <= 5, "\(desk.gate.approvalTimes.count) approvals remembered")
    }

    @Test func approvalsCountUntilASnapshotShowsThem() throws {
        var desk = try Desk.ready(.cautiousDefaults, snapshot([Holding("AAPL", 60)]))
        #expect(Verdict(desk.decide(intent("a-1", quantity: 30))) == .approve)
        // 60 held + 30 approved: 10 more reach the 10 % concentration.
        #expect(Verdict(desk.decide(intent("a-2", quantity: 30))) == .downgrade(10, .maxConcentration))
        // A snapshot after both shows 100 held: the approvals are in it and count once.
        desk.advance(.seconds(1))
        desk.send(.portfolio(snapshot([Holding("AAPL", 100)], asOf: desk.now)))
        #expect(Verdict(desk.decide(intent("a-3", quantity: 1))) == .block(.maxConcentration))
        // An older snapshot is ignored.
        desk.send(.portfolio(snapshot([Holding("AAPL", 0)], asOf: t0)))
        #expect(Verdict(desk.decide(intent("a-4", quantity: 1))) == .block(.maxConcentration))
    }

    @Test func aResentIntentGetsTheSameDecisionOnce() throws {
        var desk = try Desk.ready(.cautiousDefaults, snapshot([Holding("AAPL", 60)]))
        let first = desk.decide(intent("dup", quantity: 40))
        #expect(Verdict(first) == .approve)
        desk.advance(.seconds(1))
        #expect(desk.decide(intent("dup", quantity: 40)) == first)
        #expect(Verdict(desk.decide(intent("dup", quantity: 41))) == .block(.invalidBracket))
        // Counted once: exactly at the limit, so one more share is refused.
        #expect(Verdict(desk.decide(intent("next", quantity: 1))) == .block(.maxConcentration))
    }

    @Test func aResentApprovalIsNotRepeatedInAStricterState() throws {
        var desk = try Desk.ready()
        let group = intent("resend", quantity: 10)
        #expect(Verdict(desk.decide(group)) == .approve)
        desk.send(.lifecycle(lifecycle(.exited, reason: "killed by signal 9 (SIGKILL)", onCrash: .halt)))
        guard case .block(.tradingHalted, let detail) = desk.decide(group) else {
            Issue.record("a re-sent intent must not be approved while HALTED")
            return
        }
        #expect(detail == "appr-resend was given while ACTIVE; a re-sent intent is not approved again while HALTED")
        desk.send(.reconciliation(.clean))
        desk.send(.lifecycle(lifecycle(.ready)))
        desk.send(.command(.resume(to: .reducing)))
        #expect(Verdict(desk.decide(group)) == .block(.tradingStateReducing))
        desk.send(.command(.resume(to: .active)))
        #expect(Verdict(desk.decide(group)) == .approve)  // the same approval again, counted once
    }

    /// SAFE_REDUCING with AAPL long 100 and MSFT short 100.
    static let reducingCases: [(String, IntentGroup, Verdict)] = [
        ("sell part of a long", intent("x", "AAPL", .sell, 50, stop: nil), .approve),
        ("sell all of a long", intent("x", "AAPL", .sell, 100, stop: nil), .approve),
        ("sell more than the long is a flip", intent("x", "AAPL", .sell, 101, stop: nil), .block(.reduceOnlyWouldIncreasePosition)),
        ("buy more of a long", intent("x", "AAPL", .buy, 1), .block(.reduceOnlyWouldIncreasePosition)),
        ("buy back part of a short", intent("x", "MSFT", .buy, 50, stop: nil), .approve),
        ("buy back more than the short", intent("x", "MSFT", .buy, 101, stop: nil), .block(.reduceOnlyWouldIncreasePosition)),
        ("sell more short", intent("x", "MSFT", .sell, 1, stop: "105.00"), .block(.reduceOnlyWouldIncreasePosition)),
        ("an entry from flat", intent("x", "NVDA", .buy, 10), .block(.tradingStateReducing)),
        ("an exit with a limit in the band", intent("x", "AAPL", .sell, 50, limit: "101.00", stop: nil), .approve),
        ("an exit with a limit out of the band", intent("x", "AAPL", .sell, 50, limit: "90.00", stop: nil), .block(.priceOutOfBand)),
    ]

    @Test(arguments: reducingCases)
    func safeReducingApprovesOnlyReductions(name: String, group: IntentGroup, expected: Verdict) throws {
        var desk = try Desk(in: .safeReducing)
        desk.send(.portfolio(snapshot([Holding("AAPL", 100), Holding("MSFT", -100, "100.00", "software")])))
        desk.mark(["AAPL", "MSFT", "NVDA"])
        desk.advance(.seconds(1))
        #expect(Verdict(desk.decide(group)) == expected, "\(name)")
    }

    @Test func safeReducingCountsEarlierApprovedExits() throws {
        var desk = try Desk(in: .safeReducing)
        desk.send(.portfolio(snapshot([Holding("AAPL", 100)])))
        desk.mark(["AAPL"])
        #expect(Verdict(desk.decide(intent("x-1", "AAPL", .sell, 60, stop: nil))) == .approve)
        #expect(Verdict(desk.decide(intent("x-2", "AAPL", .sell, 60, stop: nil))) == .block(.reduceOnlyWouldIncreasePosition))
        #expect(Verdict(desk.decide(intent("x-3", "AAPL", .sell, 40, stop: nil))) == .approve)
        #expect(Verdict(desk.decide(intent("x-4", "AAPL", .sell, 1, stop: nil))) == .block(.tradingStateReducing))
    }

    @Test func haltedBlocksEverythingWithTheCause() throws {
        var desk = try Desk.ready()
        desk.send(.command(.halt(reason: "fat finger at 10:02")))
        for group in [intent("h-1", quantity: 1), intent("h-2", "AAPL", .sell, 1, stop: "105.00")] {
            guard case .block(.tradingHalted, let detail) = desk.decide(group) else {
                Issue.record("expected TRADING_HALTED")
                continue
            }
            #expect(detail.contains("operator halt: fat finger at 10:02"))
        }
    }
}

/// The gate validates what the broker makes reduce-only from the intent id: a reduction that
/// would not reduce, or that carries a stop or a target, is blocked in any state.
@Suite struct ReduceOnlyIntentRuleTests {
    @Test func aReduceOnlyIntentIsBlockedInActiveUnlessItReduces() throws {
        var desk = try Desk.ready()
        desk.send(.portfolio(snapshot([Holding("AAPL", 100)])))
        desk.mark(["AAPL", "NVDA"])
        desk.advance(.seconds(1))
        #expect(Verdict(desk.decide(intent("2025-03-05.safe-reduce.NVDA", "NVDA", .buy, 10))) == .block(.invalidBracket))
        #expect(
            Verdict(desk.decide(intent("2025-03-06.safe-reduce.NVDA", "NVDA", .buy, 10, stop: nil)))
                == .block(.reduceOnlyWouldIncreasePosition))
        #expect(
            Verdict(desk.decide(intent("2025-03-05.safe-reduce.AAPL", "AAPL", .sell, 101, stop: nil)))
                == .block(.reduceOnlyWouldIncreasePosition))
        #expect(Verdict(desk.decide(intent("2025-03-06.safe-reduce.AAPL", "AAPL", .sell, 40, stop: nil))) == .approve)
    }
}
