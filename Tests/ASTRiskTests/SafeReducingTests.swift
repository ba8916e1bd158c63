import ASTCore
import Testing

@testable import ASTRisk

/// The 14:30 safe-reducing core: which reduce-only orders bring the book back within its limits.
struct SafeReducingTests {
    /// Tight exposure limits, loose everything else.
    static let tight = loose.with {
        $0.maxSymbolConcentrationPct = 10
        $0.maxSectorConcentrationPct = 30
        $0.maxGrossLeveragePct = 100
    }

    func plan(_ s: PortfolioSnapshot, _ limits: RiskLimits = tight, state: TradingState = .safeReducing, marks: [Symbol: Price] = [:])
        -> ReductionPlan
    {
        SafeReducing.plan(state: state, portfolio: s, marks: marks, limits: limits)
    }

    /// (symbol, side, quantity) of each proposal, in order.
    func orders(_ p: ReductionPlan) -> [String] { p.proposals.map { "\($0.symbol) \($0.side) \($0.quantity)" } }

    @Test(arguments: [TradingState.active, .halted])
    func proposesNothingOutsideSafeReducing(_ state: TradingState) {
        let p = plan(snapshot([Holding("AAPL", 500)]), state: state)
        #expect(p.proposals.isEmpty && p.unreducible.isEmpty)
        #expect(p.intents(day: "2026-01-05", createdAt: t0, expiresAt: nil).isEmpty)
    }

    @Test func aSymbolOverItsLimitIsCutToTheLargestWholeQuantityWithinIt() {
        // 100,000 equity, 10 % = 10,000: at 33.33 at most 300 shares (9,999.00).
        let p = plan(snapshot([Holding("AAPL", 400, "33.33"), Holding("XOM", 10, "50.00", "energy")]))
        #expect(orders(p) == ["AAPL sell 100"])
        #expect(p.proposals.first?.code == .maxConcentration)
        #expect(p.proposals.first?.reason.contains("MAX_CONCENTRATION: AAPL exposure 13332.00") == true, "\(p.proposals)")
        #expect(p.unreducible.isEmpty)
    }

    @Test func aShortIsBoughtBackNeverTurnedLong() {
        let p = plan(snapshot([Holding("AAPL", -150, "100.00")]))
        #expect(orders(p) == ["AAPL buy 50"])
        // A limit of 0 % asks for the whole position, and no share more.
        let all = plan(snapshot([Holding("AAPL", -150, "100.00")]), Self.tight.with { $0.maxSymbolConcentrationPct = 0 })
        #expect(orders(all) == ["AAPL buy 150"])
    }

    @Test func aSectorOverItsLimitIsCutFromItsLargestPositionTiesBySymbol() {
        // tech: 3 x 9,000 + 8,000 = 35,000 > 30,000: cut 5,000 from the largest, ties by symbol: MSFT before NVDA.
        let book = snapshot([
            Holding("NVDA", 90, "100.00"), Holding("MSFT", 90, "100.00"), Holding("AAPL", 80, "100.00"),
            Holding("ORCL", 90, "100.00"), Holding("XOM", 50, "100.00", "energy"),
        ])
        let p = plan(book, Self.tight.with { $0.maxSectorConcentrationPct = 30 })
        #expect(orders(p) == ["MSFT sell 50"], "\(p.summary)")
        #expect(p.proposals.first?.code == .maxSectorConcentration)
        // More than one position's worth: the largest goes whole, then the next.
        let deep = plan(book, Self.tight.with { $0.maxSectorConcentrationPct = 20 })
        #expect(orders(deep) == ["MSFT sell 90", "NVDA sell 60"], "\(deep.summary)")
    }

    @Test func theLargestViolationIsHandledFirstAndOneOrderPerSymbol() {
        // AAPL 25 % (15 over), MSFT 12 % (2 over), tech 37 % (7 over the 30 % sector limit).
        let book = snapshot([Holding("AAPL", 250, "100.00"), Holding("MSFT", 120, "100.00"), Holding("XOM", 50, "100.00", "energy")])
        let p = plan(book)
        #expect(orders(p) == ["AAPL sell 150", "MSFT sell 20"], "\(p.summary)")
        #expect(p.proposals.map(\.code) == [.maxConcentration, .maxConcentration])
    }

    @Test func grossLeverageIsCutFromTheLargestExposures() {
        // 40,000 equity holding 60,000 gross (150 %): cut 20,000 from the largest first.
        let book = snapshot(
            equity: "40000.00",
            [Holding("AAPL", 300, "100.00", "a"), Holding("MSFT", 200, "100.00", "b"), Holding("XOM", 100, "100.00", "c")])
        let p = plan(book, loose.with { $0.maxGrossLeveragePct = 100 })
        #expect(orders(p) == ["AAPL sell 200"], "\(p.summary)")
        #expect(p.proposals.first?.code == .maxLeverage)
    }

    @Test func lossLimitsAreReportedUnreducibleWithTheirReason() {
        let book = snapshot(equity: "80000.00", peak: "100000.00", startOfDay: "90000.00", [Holding("AAPL", 10)])
        let p = plan(
            book,
            loose.with {
                $0.maxDrawdownPct = 10
                $0.dailyLossLimitPct = 5
            })
        #expect(p.proposals.isEmpty)
        #expect(p.unreducible.map(\.code) == [.maxDrawdown, .dailyLossLimit])
        #expect(p.unreducible.allSatisfy { $0.reason.contains("does not undo") })
        var negative = snapshot([Holding("AAPL", 1000)])
        negative.equity = Money(units: -50_000)
        let broke = plan(negative)
        #expect(broke.proposals.isEmpty && broke.unreducible.first?.reason.contains("not positive") == true)
    }

    @Test func aPositionWithoutAUsableMarkFailsClosedWithAReason() {
        // AAPL is over its limit but its mark is unusable: nothing for it, and the sector and
        // leverage rules it enters are not computed either. XOM (another sector) is still cut.
        let book = snapshot([Holding("AAPL", 500, "100.00"), Holding("XOM", 200, "100.00", "energy")])
        let p = plan(book, marks: ["AAPL": .zero])
        #expect(orders(p) == ["XOM sell 100"], "\(p.summary)")
        #expect(p.unreducible.map(\.code) == [.noMarketData, .maxLeverage, .maxSectorConcentration])
        #expect(p.unreducible.first?.subject == "AAPL")
    }

    @Test func anAbsurdPositionIsRefusedNotTrapped() {
        // |Int64.min| shares do not fit 64 bits: unvalued, nothing proposed, no trap.
        var book = snapshot([Holding("XOM", 10, "1.00", "energy")])
        book.positions["AAPL"] = PositionSnapshot(
            quantity: Quantity(Int64.min), averagePrice: Price(units: 1), lastMark: Price(units: 1))
        book.positions["MSFT"] = PositionSnapshot(quantity: Quantity(Int64.max), averagePrice: price("2.00"), lastMark: price("2.00"))
        let p = plan(book)
        #expect(p.proposals.isEmpty)
        #expect(p.unreducible.map(\.subject).prefix(2) == ["AAPL", "MSFT"], "\(p.unreducible)")
    }

    @Test func freshMarksRevalueTheBookBeforePlanning() {
        // At 100.00 AAPL is within 10 %; at 150.00 it is 15,000 of 105,000 equity.
        let book = snapshot([Holding("AAPL", 100, "100.00")])
        #expect(plan(book).proposals.isEmpty)
        // 10 % of 105,000 = 10,500: at most 70 shares at 150.00.
        #expect(orders(plan(book, marks: ["AAPL": price("150.00")])) == ["AAPL sell 30"])
    }

    @Test func intentsAreReduceOnlyMarketOrdersWithDerivedIds() {
        let p = plan(snapshot([Holding("AAPL", 400, "100.00")]))
        let intents = p.intents(day: "2026-01-05", createdAt: t0, expiresAt: at(60))
        #expect(intents.count == 1)
        let i = intents[0]
        #expect(i.id.rawValue == "2026-01-05.safe-reduce.AAPL")
        #expect(i.side == .sell && i.quantity == 300 && i.entry == .market && i.stopLoss == nil && i.takeProfit == nil)
        #expect(i.expiresAt == at(60) && i.sector == "tech")
    }

    /// Every proposal passes the gate in SAFE_REDUCING; increases, flips and entries from flat do not.
    @Test func theGateApprovesTheProposalsAndRefusesIncreasesWhileReducing() throws {
        let book = snapshot([Holding("AAPL", 250, "100.00"), Holding("MSFT", -120, "100.00")])
        var desk = try Desk(Self.tight, in: .safeReducing)
        desk.send(.portfolio(book))
        desk.mark(["AAPL", "MSFT", "XOM"])
        let p = plan(book)
        #expect(orders(p) == ["AAPL sell 150", "MSFT buy 20"])
        for i in p.intents(day: "2026-01-05", createdAt: desk.now, expiresAt: nil) {
            #expect(Verdict(desk.decide(i)) == .approve, "\(i.id)")
        }
        // What is left: AAPL long 100, MSFT short 100.
        #expect(Verdict(desk.decide(intent("more", "AAPL", .buy, 1, stop: nil))) == .block(.reduceOnlyWouldIncreasePosition))
        #expect(Verdict(desk.decide(intent("flip", "AAPL", .sell, 101, stop: nil))) == .block(.reduceOnlyWouldIncreasePosition))
        #expect(Verdict(desk.decide(intent("short", "MSFT", .sell, 1, stop: nil))) == .block(.reduceOnlyWouldIncreasePosition))
        #expect(Verdict(desk.decide(intent("cover", "MSFT", .buy, 101, stop: nil))) == .block(.reduceOnlyWouldIncreasePosition))
        #expect(Verdict(desk.decide(intent("new", "XOM", .buy, 1, stop: nil))) == .block(.tradingStateReducing))
        #expect(Verdict(desk.decide(intent("close", "AAPL", .sell, 100, stop: nil))) == .approve)
    }

    /// The gate's own violation check (``Book/violation(_:)``) finds nothing once the proposals
    /// are applied at their marks, over many random books and limits; every proposal closes
    /// part of a position and never crosses it; a single-symbol cut is the smallest whole number
    /// of shares that does it; the plan is a pure function of its inputs.
    @Test func afterThePlanNoReducibleLimitIsViolatedOverRandomBooks() throws {
        var rng = SplitMix64(seed: 0x5AFE_0001)
        let symbols: [Symbol] = ["AAPL", "AMZN", "KO", "MSFT", "NVDA", "PEP", "XOM", "CVX"]
        let sectors: [String?] = ["tech", "staples", "energy", nil]
        var proposed = 0
        for round in 0..<3000 {
            func int(_ r: ClosedRange<Int64>) -> Int64 { Int64.random(in: r, using: &rng) }
            var holdings: [Holding] = []
            for s in symbols where int(0...2) > 0 {
                let q = int(1...5000) * (int(0...4) == 0 ? -1 : 1)
                let mark = Price(units: int(100...5_000_000))
                holdings.append(Holding(s, q, mark.description, sectors[Int(int(0...3))]))
            }
            var value: Int128 = 0
            for h in holdings { value += Int128(h.quantity) * Int128(price(h.mark).units) }
            let cash = Int128(int(-2_000_000_000...20_000_000_000))
            guard cash + value > 0, let equity = Int64(exactly: cash + value) else { continue }
            var book = snapshot(holdings)
            book.cash = Money(units: equity)
            book.equity = Money(units: equity)
            book.peakEquity = Money(units: equity)
            book.startOfDayEquity = Money(units: equity)
            let limits = loose.with {
                $0.maxSymbolConcentrationPct = Percent(units: int(0...1_500_000))
                $0.maxSectorConcentrationPct = Percent(units: int(0...2_000_000))
                $0.maxGrossLeveragePct = Percent(units: int(0...3_000_000))
            }
            let p = plan(book, limits)
            #expect(p == plan(book, limits), "round \(round): not deterministic")
            #expect(p.unreducible.isEmpty, "round \(round): \(p.unreducible)")
            var after = book
            for prop in p.proposals {
                let pos = try #require(book.positions[prop.symbol]).quantity
                #expect(prop.position == pos)
                #expect(prop.side == (pos.isLong ? .sell : .buy), "round \(round): \(prop) increases \(pos)")
                #expect(prop.quantity.shares >= 1 && prop.quantity <= pos.magnitude, "round \(round): \(prop) crosses \(pos)")
                after.positions[prop.symbol]!.quantity = pos + prop.side.signed(prop.quantity)
            }
            proposed += p.proposals.count
            let violation = try #require(Book(after)).violation(limits)
            #expect(violation == nil, "round \(round): still \(violation.map { "\($0.code): \($0.detail)" } ?? "")")
            #expect((try #require(Book(book)).violation(limits) == nil) == p.proposals.isEmpty, "round \(round)")
            // Minimal when only one symbol's own limit asked: one share fewer leaves it over.
            if p.proposals.count == 1, let only = p.proposals.first, only.code == .maxConcentration, only.quantity.shares > 1 {
                var less = after
                less.positions[only.symbol]!.quantity = less.positions[only.symbol]!.quantity - only.side.signed(1)
                #expect(try #require(Book(less)).violation(limits) != nil, "round \(round): \(only) is not minimal")
            }
        }
        #expect(proposed > 1000, "the random books rarely violated anything: \(proposed) proposals")
    }
}
