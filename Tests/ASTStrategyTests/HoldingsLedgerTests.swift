import ASTCalendar
import ASTCore
import ASTMessages
import Foundation
import Testing

@testable import ASTStrategy

/// The record of each holding's entry that both drivers keep (``HoldingsLedger``): opened by the
/// first buy fill of an entry leg, its stop from the scan's intents, ended when flat; a position
/// whose record is missing or disagrees with the portfolio is unknown, never a fresh entry.
@Suite struct HoldingsLedgerTests {
    /// Friday 2026-02-13, the session before Presidents' Day (Monday 2026-02-16, NYSE closed).
    static let entryDay = d("2026-02-13")
    static let intent: IntentID = "2026-02-13.ma_crossover.AAA"

    func fill(
        _ order: String, _ side: Side, _ shares: Int64, on date: LocalDate = entryDay, symbol: Symbol = "AAA", id: String = "x"
    ) -> Fill {
        Fill(
            executionID: ExecutionID(id), clientOrderID: ClientOrderID(stringLiteral: order), symbol: symbol, side: side,
            quantity: Quantity(shares), price: px(100), commission: .zero, at: NewYorkTime.timestamp(date, LocalTime(hour: 9, minute: 30)))
    }

    func entryStops(_ date: LocalDate = entryDay, stop: Double = 96) -> HoldingsLedger.EntryStops {
        let buy = IntentGroup(
            id: Self.intent, symbol: "AAA", side: .buy, quantity: 100, entry: .market, stopLoss: px(stop),
            createdAt: Timestamp(nanoseconds: 0))
        // Sells (exits) carry no stop and are not noted.
        let sell = IntentGroup(
            id: "2026-02-13.exit-time_stop.BBB", symbol: "BBB", side: .sell, quantity: 10, entry: .market, stopLoss: nil,
            createdAt: Timestamp(nanoseconds: 0))
        return HoldingsLedger.EntryStops(intents: [sell, buy], date: date)
    }

    func held(_ shares: Int64) -> PortfolioSnapshot {
        portfolio(positions: ["AAA": PositionSnapshot(quantity: Quantity(shares), averagePrice: px(100), lastMark: px(100))])
    }

    @Test func anEntryFillOpensARecordWithItsStopAndFurtherFillsMoveIt() throws {
        var ledger = HoldingsLedger()
        ledger.note(entryStops())
        #expect(entryStops().stops == [.init(intent: Self.intent, stop: px(96))])
        // A sell or a protective leg of a symbol without a record opens nothing.
        ledger.apply(fill("2026-02-13.ma_crossover.AAA.S", .sell, 10))
        ledger.apply(fill("2026-02-13.ma_crossover.AAA.T", .buy, 10))
        #expect(ledger.records.isEmpty)
        // The entry fills in two parts: 60 then 40.
        ledger.apply(fill("2026-02-13.ma_crossover.AAA.E", .buy, 60))
        ledger.apply(fill("2026-02-13.ma_crossover.AAA.E", .buy, 40, id: "y"))
        var r = try #require(ledger.records["AAA"])
        #expect(r.intent == Self.intent && r.entryDate == Self.entryDay && r.initialQuantity == 100 && r.held == 100)
        #expect(r.initialStop == px(96))
        // Another intent's buy adds shares, not initial ones; a sale takes them away.
        ledger.apply(fill("2026-02-20.ma_crossover.AAA.E", .buy, 20, on: d("2026-02-20")))
        ledger.apply(fill("2026-02-23.exit-staged_take_profit.AAA.E", .sell, 50, on: d("2026-02-23")))
        r = try #require(ledger.records["AAA"])
        #expect(r.initialQuantity == 100 && r.held == 70 && r.entryDate == Self.entryDay)
        // Flat ends the record; the next entry opens a new one (no stop noted: R unknown).
        ledger.apply(fill("2026-02-13.ma_crossover.AAA.S", .sell, 70, on: d("2026-02-24")))
        #expect(ledger.records.isEmpty)
        ledger.apply(fill("2026-02-25.platform_breakout.AAA.E", .buy, 30, on: d("2026-02-25")))
        #expect(ledger.records["AAA"]?.initialStop == nil && ledger.records["AAA"]?.entryDate == d("2026-02-25"))
    }

    /// Sessions held count NYSE sessions after the entry's through the scan's: from Friday
    /// 2026-02-13 to Monday 2026-03-02 that is 10 (Presidents' Day and the weekends are none).
    @Test func theViewCountsSessionsAndNamesEveryPositionWithoutAnAgreeingRecord() throws {
        var ledger = HoldingsLedger()
        ledger.note(entryStops())
        ledger.apply(fill("2026-02-13.ma_crossover.AAA.E", .buy, 100))
        let view = ledger.view(portfolio: held(100), date: scanDate, calendar: .nyse)
        #expect(view.holdings["AAA"] == Holding(entryDate: Self.entryDay, sessionsHeld: 10, initialQuantity: 100, initialStop: px(96)))
        #expect(view.unknown.isEmpty)
        #expect(ledger.view(portfolio: held(100), date: d("2026-02-17"), calendar: .nyse).holdings["AAA"]?.sessionsHeld == 1)
        // The portfolio disagrees (a fill the strategy did not hear of): unknown, with both counts.
        let disagree = ledger.view(portfolio: held(150), date: scanDate, calendar: .nyse)
        #expect(disagree.holdings.isEmpty)
        #expect(disagree.unknown["AAA"]?.contains("accounts for 100 shares, the portfolio holds 150") == true, "\(disagree.unknown)")
        // A long without any record: unknown, not a fresh entry.
        var other = held(100)
        other.positions["ZZZ"] = PositionSnapshot(quantity: 5, averagePrice: px(10), lastMark: px(10))
        let missing = ledger.view(portfolio: other, date: scanDate, calendar: .nyse)
        #expect(missing.holdings.keys.sorted() == ["AAA"])
        #expect(missing.unknown["ZZZ"]?.hasPrefix("no entry record") == true)
    }

    @Test func aPortfolioThatNoLongerHoldsTheSymbolEndsItsRecord() {
        var ledger = HoldingsLedger()
        ledger.apply(fill("2026-02-13.ma_crossover.AAA.E", .buy, 100))
        ledger.apply(fill("2026-02-13.ma_crossover.BBB.E", .buy, 10, symbol: "BBB"))
        ledger.reconcile(with: held(100))  // BBB closed without the strategy hearing of the fill
        #expect(ledger.records.keys.sorted() == ["AAA"])
        ledger.reconcile(with: portfolio())
        #expect(ledger.records.isEmpty)
    }

    @Test func stopsAreForgottenAfterAMonthAndTheLedgerEncodesTheSameBytesItDecodesFrom() throws {
        var ledger = HoldingsLedger()
        ledger.note(entryStops())
        ledger.note(HoldingsLedger.EntryStops(intents: [], date: Self.entryDay.adding(days: HoldingsLedger.stopMemoryDays)))
        ledger.apply(fill("2026-02-13.ma_crossover.AAA.E", .buy, 100))
        #expect(ledger.records["AAA"]?.initialStop == px(96), "kept for 31 days")
        ledger.note(HoldingsLedger.EntryStops(intents: [], date: Self.entryDay.adding(days: HoldingsLedger.stopMemoryDays + 1)))
        ledger.apply(fill("2026-02-13.ma_crossover.AAA.E", .buy, 10, symbol: "CCC"))
        #expect(ledger.records["CCC"] != nil && ledger.records["CCC"]?.initialStop == nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let bytes = try encoder.encode(ledger)
        let back = try JSONDecoder().decode(HoldingsLedger.self, from: bytes)
        #expect(back == ledger)
        #expect(try encoder.encode(back) == bytes)
    }

    /// Shares beyond Int64 cannot be a real position: the record ends (unknown), no trap.
    @Test func anOverflowingFillEndsTheRecordInsteadOfTrapping() {
        var ledger = HoldingsLedger()
        ledger.apply(fill("2026-02-13.ma_crossover.AAA.E", .buy, Int64.max - 5))
        ledger.apply(fill("2026-02-13.ma_crossover.AAA.E", .buy, 10, id: "y"))
        #expect(ledger.records.isEmpty)
    }

    /// A held long whose entry is unknown: the rules needing it hold and the scan's notes say why;
    /// the rules that do not need it still act.
    @Test func theScanNamesAHeldLongWhoseEntryIsUnknownAndItsRulesHold() {
        var c = PipelineConfig()
        c.exits = [
            PluginConfig(name: "time_stop", params: ["max_sessions": .number(1)]),
            PluginConfig(name: "trailing_stop"),
        ]
        let bars = series("AAA", closes: Array(repeating: 100.0, count: 300))
        let position = PositionSnapshot(quantity: 100, averagePrice: px(100), sector: "Technology", lastMark: px(100))
        var input = ScanInput(
            date: scanDate, universe: [SymbolHistory(info: info("AAA"), bars: bars)],
            index: series("IDX", closes: trend(from: 100, count: 300, stepPct: 0.1)),
            volatilityIndex: [], portfolio: portfolio(positions: ["AAA": position]))
        input.unknownHoldings = ["AAA": "no entry record (test)"]
        let r = PipelineRun(config: c).scan(input)
        #expect(!r.intents.contains { $0.id.rawValue.contains(".exit-") })
        #expect(r.notes.contains("unknown entry: time_stop, trailing_stop do not act on AAA: no entry record (test)"), "\(r.notes)")
        // Known: the time stop closes it, no note.
        input.holdings = ["AAA": Holding(entryDate: d("2026-02-27"), sessionsHeld: 1, initialQuantity: 100, initialStop: px(96))]
        let known = PipelineRun(config: c).scan(input)
        #expect(known.intents.contains { $0.id.rawValue == "\(scanDate).exit-time_stop.AAA" })
        #expect(!known.notes.contains { $0.hasPrefix(ExitIntents.unknownEntryNote) })
        // stop_loss needs no entry: no note without a record.
        c.exits = [PluginConfig(name: "stop_loss")]
        input.holdings = [:]
        #expect(!PipelineRun(config: c).scan(input).notes.contains { $0.hasPrefix(ExitIntents.unknownEntryNote) })
    }
}
