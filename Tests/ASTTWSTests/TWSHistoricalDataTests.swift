import ASTCalendar
import ASTCore
import Testing

@testable import ASTTWS

/// reqHistoricalData / historicalData / historicalDataEnd at both ends of the supported range,
/// hostile answers, IB's historical-data pacing and the download state machine. The fixtures are
/// written field by field from the official client's order (EClient.reqHistoricalData,
/// EDecoder.processHistoricalDataMsg / processHistoricalDataEndMsg) for server versions 190...200.
@Suite struct TWSHistoricalDataTests {
    let spy = TWSHistoricalQuery(
        contract: TWSContract(symbol: "SPY"), endDateTime: "20241231 23:59:59 US/Eastern", duration: "365 D", whatToShow: .trades)

    func day(_ text: String) -> LocalDate { LocalDate.twsDay(text)! }

    // MARK: - Encoding

    @Test(arguments: [v190, v200])
    func reqHistoricalDataIsByteExactAtBothEndsOfTheRange(version: TWSServerVersion) throws {
        let bytes = try TWSRequest.reqHistoricalData(reqId: 7, query: spy).encode(at: version)
        // id, reqId, conId, symbol, secType, expiry, strike, right, multiplier, exchange, primaryExch, currency,
        // localSymbol, tradingClass, includeExpired, endDateTime, barSize, duration, useRTH, whatToShow,
        // formatDate, keepUpToDate, chartOptions (no version field from 124; nothing gated inside 190...200).
        #expect(
            bytes
                == payload([
                    "20", "7", "0", "SPY", "STK", "", "0.0", "", "", "SMART", "", "USD", "", "", "0", "20241231 23:59:59 US/Eastern",
                    "1 day", "365 D", "1", "TRADES", "1", "0", "",
                ]))
        var adjusted = spy
        adjusted.whatToShow = .adjustedLast
        adjusted.contract.primaryExchange = "ARCA"
        let a = try TWSWire.fields(try TWSRequest.reqHistoricalData(reqId: 8, query: adjusted).encode(at: version))
        #expect(a[10] == "ARCA" && a[19] == "ADJUSTED_LAST")
    }

    @Test(arguments: [v190, v200])
    func cancelHistoricalDataCarriesItsVersionAndTheRequestId(version: TWSServerVersion) throws {
        #expect(try TWSRequest.cancelHistoricalData(reqId: 7).encode(at: version) == payload(["25", "1", "7"]))
    }

    @Test func aNulInsideAFieldIsRefusedNotSent() {
        var q = spy
        q.endDateTime = "20241231\u{0}x"
        #expect(throws: TWSEncodeError.nulInField("endDateTime")) { try TWSRequest.reqHistoricalData(reqId: 1, query: q).encode(at: v200) }
    }

    // MARK: - Decoding

    let barFields = ["20240102", "472.16", "473.67", "470.49", "472.65", "123182512", "472.1", "664612"]

    @Test func before196TheBarsCarryThePeriodAndEndTheAnswer() throws {
        let m = try TWSMessage.decode(
            payload(["17", "3", "20240101  00:00:00", "20240103  23:59:59", "1"] + barFields), at: v190)
        guard case .historicalData(let d) = m else {
            Issue.record("\(m)")
            return
        }
        #expect(d.reqId == 3 && d.period == TWSHistoricalPeriod(start: "20240101  00:00:00", end: "20240103  23:59:59"))
        #expect(d.bars.count == 1 && d.bars[0].date == "20240102" && d.bars[0].close?.text == "472.65" && d.bars[0].barCount == 664_612)
        // 108 does not exist below 196: an unknown id, and the connection closes.
        #expect(throws: TWSDecodeError.unknownMessage(id: 108)) { try TWSMessage.decode(payload(["108", "3", "a", "b"]), at: v190) }
    }

    @Test func from196TheEndIsAMessageOfItsOwn() throws {
        let m = try TWSMessage.decode(payload(["17", "3", "1"] + barFields), at: v200)
        guard case .historicalData(let d) = m else {
            Issue.record("\(m)")
            return
        }
        #expect(d.period == nil && d.bars.count == 1 && d.bars[0].volume?.text == "123182512")
        #expect(
            try TWSMessage.decode(payload(["108", "3", "20240101  00:00:00", "20240103  23:59:59"]), at: v200)
                == .historicalDataEnd(reqId: 3, start: "20240101  00:00:00", end: "20240103  23:59:59"))
    }

    @Test func hostileHistoricalFramesAreBoundedRefusals() {
        // A count larger than the fields could hold, negative, or not a number.
        #expect(throws: TWSDecodeError.badCount(field: 2, count: 1_000_000)) {
            try TWSMessage.decode(payload(["17", "3", "1000000"] + barFields), at: v200)
        }
        #expect(throws: TWSDecodeError.badCount(field: 2, count: -1)) { try TWSMessage.decode(payload(["17", "3", "-1"]), at: v200) }
        #expect(throws: TWSDecodeError.notANumber(field: 2, text: "x")) { try TWSMessage.decode(payload(["17", "3", "x"]), at: v200) }
        // A price that is not a number; a bar count over 32 bits; a field left over.
        var bad = barFields
        bad[3] = "12,5"
        #expect(throws: TWSDecodeError.notANumber(field: 6, text: "12,5")) {
            try TWSMessage.decode(payload(["17", "3", "1"] + bad), at: v200)
        }
        bad = barFields
        bad[7] = "99999999999"
        #expect(throws: TWSDecodeError.notANumber(field: 10, text: "99999999999")) {
            try TWSMessage.decode(payload(["17", "3", "1"] + bad), at: v200)
        }
        #expect(throws: TWSDecodeError.trailingFields(message: "historicalData", count: 1)) {
            try TWSMessage.decode(payload(["17", "3", "1"] + barFields + ["extra"]), at: v200)
        }
        // The period fields at 200 shift everything: refused, never read as bars.
        #expect(throws: (any Error).self) {
            try TWSMessage.decode(payload(["17", "3", "20240101  00:00:00", "20240103  23:59:59", "1"] + barFields), at: v200)
        }
    }

    // MARK: - Checked bars

    func bar(_ date: String = "20240102", o: String = "10", h: String = "11", l: String = "9", c: String = "10.5", v: String = "1000")
        -> TWSHistoricalBar
    {
        TWSHistoricalBar(
            date: date, open: TWSNumber(o), high: TWSNumber(h), low: TWSNumber(l), close: TWSNumber(c), volume: TWSNumber(v), wap: nil,
            barCount: 1)
    }

    @Test func pricesRoundHalfAwayFromZeroToFourDecimals() throws {
        let b = try TWSDailyBar(bar(o: "37.84315", h: "37.843149999", l: "0.00005", c: "-1.00005", v: "1200.0"))
        #expect(b.open.units == 378_432 && b.high.units == 378_431 && b.low.units == 1 && b.close.units == -10_001)
        #expect(b.volume == 1200 && b.day == LocalDate(year: 2024, month: 1, day: 2))
    }

    @Test(arguments: [
        ("2024-01-02", "10", "1000"), ("20240230", "10", "1000"), ("202401021", "10", "1000"),
        ("20240102", "1.7976931348623157E308", "1000"),
        ("20240102", "5.0E-4", "1000"), ("20240102", "1234567890123.5", "1000"), ("20240102", "10", "12.5"),
        ("20240102", "10", "1.2E7"), ("20240102", "10", "9999999999999999999"),
    ])
    func aBarThatIsNotAPlainDailyBarIsRefused(date: String, open: String, volume: String) {
        #expect(throws: TWSHistoryFailure.self) { try TWSDailyBar(bar(date, o: open, v: volume)) }
    }

    @Test func aMissingPriceOrVolumeIsRefused() {
        let b = TWSHistoricalBar(date: "20240102", open: nil, high: nil, low: nil, close: nil, volume: nil, wap: nil, barCount: 0)
        #expect(throws: TWSHistoryFailure.self) { try TWSDailyBar(b) }
    }

    @Test func daysRoundTripThroughTheirDayNumbers() {
        #expect(LocalDate(year: 1970, month: 1, day: 1)?.daysSinceEpoch == 0)
        #expect(LocalDate(year: 2024, month: 2, day: 29)?.daysSinceEpoch == 19_782)
        var d = LocalDate(year: 1999, month: 12, day: 25)!
        for _ in 0..<1000 {
            let next = LocalDate(daysSinceEpoch: d.daysSinceEpoch + 1)
            #expect(next > d && LocalDate.twsDay(next.twsDay) == next)
            d = next
        }
        #expect(LocalDate.twsDay("20230229") == nil && LocalDate.twsDay("18991231") == nil && LocalDate.twsDay("30000101") == nil)
        #expect(
            LocalDate.twsDay("2024012") == nil && LocalDate.twsDay("2024-1-02") == nil && LocalDate.twsDay("29991231")?.twsDay == "29991231"
        )
    }

    // MARK: - Planning

    @Test func aLongRangeIsSplitIntoYearsOldestFirst() {
        let chunks = TWSHistoryChunk.plan(
            contract: TWSContract(symbol: "SPY"), from: day("20200101"), to: day("20221231"), whatToShow: .trades)
        #expect(chunks.map(\.first.twsDay) == ["20200101", "20201231", "20211231", "20221231"])
        #expect(chunks.map(\.last.twsDay) == ["20201230", "20211230", "20221230", "20221231"])
        #expect(chunks.map(\.query.duration) == ["365 D", "365 D", "365 D", "1 D"])
        #expect(chunks[0].query.endDateTime == "20201230 23:59:59 US/Eastern")
        // Every day is asked once: the chunks tile the range.
        #expect(chunks.map(\.days).reduce(0, +) == day("20221231").daysSinceEpoch - day("20200101").daysSinceEpoch + 1)
        #expect(
            TWSHistoryChunk.plan(contract: TWSContract(symbol: "SPY"), from: day("20200102"), to: day("20200101"), whatToShow: .trades)
                .isEmpty)
    }

    // MARK: - Pacing

    /// A request as IB's rules see it: its contract and tick type, everything else, its time.
    typealias Sent = (group: String, identity: String, at: Timestamp)

    /// IB's three rules checked independently, with IB's numbers: whether sending `q` at `t` after
    /// `before` breaks one (the oracle for the pacer).
    func breaksIB(_ before: [Sent], _ q: TWSHistoricalQuery, at t: Timestamp) -> Bool {
        let (group, identity) = (q.pacingGroup, q.identity)
        var same = 1
        var total = 1
        for s in before {
            let age = t.duration(since: s.at)
            if s.identity == identity, age < .seconds(15) { return true }
            if s.group == group, age < .seconds(2) { same += 1 }
            if age < .seconds(600) { total += 1 }
        }
        return same >= 6 || total > 60
    }

    func query(_ symbol: String, end: Int, what: TWSWhatToShow = .trades) -> TWSHistoricalQuery {
        TWSHistoricalQuery(
            contract: TWSContract(symbol: symbol), endDateTime: "2024010\(end % 10) 23:59:59 US/Eastern", duration: "\(end) D",
            whatToShow: what)
    }

    @Test func anIdenticalRequestWaitsFifteenSecondsAtIBsNumbers() {
        var p = TWSHistoricalPacer(limits: .ib)
        p.record(spy, at: ts(100))
        #expect(p.nextSlot(for: spy, now: ts(101)) == ts(115))
        #expect(p.nextSlot(for: spy, now: ts(116)) == ts(116))
        #expect(p.nextSlot(for: query("SPY", end: 3), now: ts(101)) == ts(101), "a different request is not identical")
        #expect(TWSHistoricalPacer().nextSlot(for: spy, now: ts(0)) == ts(0))
        var s = TWSHistoricalPacer()
        s.record(spy, at: ts(100))
        #expect(s.nextSlot(for: spy, now: ts(101)) == ts(116), "AST keeps a second more")
    }

    @Test func theSixthRequestForOneContractAndTickTypeWaitsOutTheTwoSecondWindow() {
        var p = TWSHistoricalPacer(limits: .ib)
        for i in 1...5 { p.record(query("SPY", end: i), at: ts(10 + Double(i) * 0.1)) }
        #expect(p.nextSlot(for: query("SPY", end: 6), now: ts(10.6)) == ts(12.1))
        #expect(p.nextSlot(for: query("QQQ", end: 6), now: ts(10.6)) == ts(10.6), "another contract is not held back")
        #expect(p.nextSlot(for: query("SPY", end: 6, what: .adjustedLast), now: ts(10.6)) == ts(10.6), "nor another tick type")
        var s = TWSHistoricalPacer()
        for i in 1...5 { s.record(query("SPY", end: i), at: ts(10 + Double(i) * 0.1)) }
        #expect(s.nextSlot(for: query("SPY", end: 6), now: ts(10.6)) == ts(12.6))
    }

    @Test func theSixtyFirstRequestInTenMinutesWaitsForTheOldestToLeaveTheWindow() {
        var p = TWSHistoricalPacer(limits: .ib)
        for i in 0..<60 { p.record(query("S\(i)", end: 1), at: ts(Double(i))) }
        #expect(p.nextSlot(for: query("NEW", end: 1), now: ts(60)) == ts(600))
        p.record(query("NEW", end: 1), at: ts(600))
        #expect(p.nextSlot(for: query("NEW2", end: 1), now: ts(600)) == ts(601))
        #expect(TWSHistoricalPacer().limits.totalWindow > TWSHistoricalPacer.Limits.ib.totalWindow)
    }

    /// Many request streams (one contract, a few, many; repeats; arrivals at any time): sending each
    /// at the pacer's slot never breaks one of IB's rules, and the pacer never waits when no rule asks it to.
    @Test(arguments: [1, 2, 3, 7, 70])
    func sendingAtThePacersSlotsNeverBreaksIBsRules(contracts: Int) {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(contracts)
        func random(_ n: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(n))
        }
        for limits in [TWSHistoricalPacer.Limits.ib, .standard] {
            var p = TWSHistoricalPacer(limits: limits)
            var sends: [Sent] = []
            var now = ts(1000)
            for _ in 0..<200 {
                now = now.advanced(by: .milliseconds(random(3000)))
                let q = query("C\(random(contracts))", end: 1 + random(4), what: random(5) == 0 ? .adjustedLast : .trades)
                let slot = p.nextSlot(for: q, now: now)
                #expect(slot >= now)
                if slot > now {
                    // Waiting was needed: sending a millisecond earlier would break a rule at IB's numbers.
                    if limits == .ib { #expect(breaksIB(sends, q, at: slot.advanced(by: .milliseconds(-1)))) }
                }
                #expect(!breaksIB(sends, q, at: slot))
                p.record(q, at: slot)
                sends.append((q.pacingGroup, q.identity, slot))
                now = slot
            }
        }
    }

    // MARK: - The download

    func chunks(_ symbols: [String], from: String, to: String) -> [TWSHistoryChunk] {
        symbols.flatMap {
            TWSHistoryChunk.plan(contract: TWSContract(symbol: $0), from: day(from), to: day(to), whatToShow: .trades, maxDays: 3)
        }
    }

    func barsMessage(_ reqId: Int32, _ dates: [String]) -> TWSMessage {
        .historicalData(TWSHistoricalData(reqId: reqId, bars: dates.map { bar($0) }, period: nil))
    }

    @Test func chunksAreFetchedOneAtATimeAndMergedInOrder() {
        var d = TWSHistoryDownload(chunks: chunks(["AAA", "BBB"], from: "20240102", to: "20240106"))
        var now = ts(0)
        var answered: [String] = []
        loop: while true {
            switch d.next(now: now) {
            case .send(.reqHistoricalData(let id, let q)):
                let first = q.endDateTime.prefix(8) == "20240104" ? ["20240102", "20240103", "20240104"] : ["20240105"]
                d.receive(barsMessage(id, first))
                d.receive(.historicalDataEnd(reqId: id, start: "", end: ""))
                answered.append("\(q.contract.symbol) \(q.endDateTime.prefix(8)) \(q.duration)")
            case .wait(let until): now = until
            case .finished(let series):
                #expect(series.map(\.symbol) == ["AAA", "BBB"])
                #expect(series.allSatisfy { $0.bars.map(\.day.twsDay) == ["20240102", "20240103", "20240104", "20240105"] })
                break loop
            default:
                Issue.record("unexpected")
                break loop
            }
        }
        #expect(answered == ["AAA 20240104 3 D", "AAA 20240106 2 D", "BBB 20240104 3 D", "BBB 20240106 2 D"])
    }

    @Test func aBarOutsideTheRequestedDaysFailsTheDownload() {
        var d = TWSHistoryDownload(chunks: chunks(["AAA"], from: "20240102", to: "20240104"))
        guard case .send(.reqHistoricalData(let id, _)) = d.next(now: ts(0)) else {
            Issue.record("no request")
            return
        }
        d.receive(barsMessage(id, ["20240102", "20240105"]))
        d.receive(.historicalDataEnd(reqId: id, start: "", end: ""))
        #expect(
            d.next(now: ts(1))
                == .failed(.outsideRange(symbol: "AAA", day: day("20240105"), first: day("20240102"), last: day("20240104"))))
        #expect(d.next(now: ts(2)) == d.next(now: ts(3)), "the failure is final")
    }

    @Test func moreBarsThanDaysFailTheDownload() {
        var d = TWSHistoryDownload(chunks: chunks(["AAA"], from: "20240102", to: "20240104"))
        guard case .send(.reqHistoricalData(let id, _)) = d.next(now: ts(0)) else { return }
        d.receive(barsMessage(id, ["20240102", "20240103", "20240104", "20240104"]))
        #expect(d.next(now: ts(1)) == .failed(.tooManyBars(symbol: "AAA", count: 4, days: 3)))
    }

    @Test func anErrorAboutTheRequestFailsItAndNoticesDoNot() {
        var d = TWSHistoryDownload(chunks: chunks(["AAA"], from: "20240102", to: "20240104"))
        guard case .send(.reqHistoricalData(let id, _)) = d.next(now: ts(0)) else { return }
        d.error(
            TWSErrorMessage(id: -1, code: 2106, message: "HMDS data farm connection is OK:ushmds", advancedOrderRejectJson: "", time: 0))
        d.error(TWSErrorMessage(id: id, code: 2174, message: "Warning: time zone", advancedOrderRejectJson: "", time: 0))
        d.error(TWSErrorMessage(id: id + 1, code: 162, message: "not ours", advancedOrderRejectJson: "", time: 0))
        guard case .wait = d.next(now: ts(1)) else {
            Issue.record("a notice failed the download")
            return
        }
        let pacing = "Historical Market Data Service error message:Historical data request pacing violation"
        d.error(TWSErrorMessage(id: id, code: 162, message: pacing, advancedOrderRejectJson: "", time: 0))
        let outcome = d.next(now: ts(2))
        #expect(outcome == .failed(.refused(symbol: "AAA", code: 162, message: pacing)))
        if case .failed(let f) = outcome { #expect(f.description.contains("pacing violation")) }
    }

    @Test func silenceTimesOutAndALostConnectionFails() {
        var d = TWSHistoryDownload(chunks: chunks(["AAA"], from: "20240102", to: "20240104"), requestTimeout: .seconds(30))
        _ = d.next(now: ts(0))
        #expect(d.next(now: ts(10)) == .wait(until: ts(30)))
        #expect(d.next(now: ts(30)) == .failed(.timedOut(symbol: "AAA", after: .seconds(30))))
        var e = TWSHistoryDownload(chunks: chunks(["AAA"], from: "20240102", to: "20240104"))
        _ = e.next(now: ts(0))
        e.disconnected("TWS closed the connection")
        #expect(e.next(now: ts(1)) == .failed(.disconnected("TWS closed the connection")))
        var f = TWSHistoryDownload(chunks: chunks(["AAA"], from: "20240102", to: "20240104"))
        _ = f.next(now: ts(0))
        f.error(
            TWSErrorMessage(
                id: -1, code: 1100, message: "Connectivity between IB and TWS has been lost.", advancedOrderRejectJson: "", time: 0))
        #expect(f.next(now: ts(1)) == .failed(.disconnected("TWS lost its connection to IB (1100)")))
    }

    @Test func before196TheBarsMessageEndsTheRequest() {
        var d = TWSHistoryDownload(chunks: chunks(["AAA"], from: "20240102", to: "20240104"))
        guard case .send(.reqHistoricalData(let id, _)) = d.next(now: ts(0)) else { return }
        d.receive(.historicalData(TWSHistoricalData(reqId: id, bars: [bar("20240103")], period: TWSHistoricalPeriod(start: "", end: ""))))
        #expect(d.next(now: ts(1)) == .finished([TWSHistorySeries(symbol: "AAA", bars: [try! TWSDailyBar(bar("20240103"))])]))
    }
}
