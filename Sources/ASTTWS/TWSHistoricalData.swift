import ASTCalendar
import ASTCore

// Historical daily bars (reqHistoricalData, historicalData, historicalDataEnd) for server versions
// 190...200, written from IB's API documentation and the official client's field order (EClient,
// EDecoder: read to understand, nothing copied); IB's historical-data pacing; and the download of
// a date range as a pure state machine with time as input.

/// What a historical request shows: IB's `whatToShow`.
public enum TWSWhatToShow: String, Hashable, Sendable, CaseIterable {
    /// Prices as traded (not adjusted).
    case trades = "TRADES"
    /// Prices adjusted by IB for splits and dividends.
    case adjustedLast = "ADJUSTED_LAST"
}

/// A day as IB writes a daily bar's date and a request's end: `yyyyMMdd`, exactly eight digits.
extension LocalDate {
    /// The real date of the years 1900...2999 that eight ASCII digits name, or `nil` (a static
    /// function, not an initialiser, so that `LocalDate.init` stays the ISO text's).
    public static func twsDay(_ text: String) -> LocalDate? {
        let b = Array(text.utf8)
        guard b.count == 8, b.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        func n(_ r: Range<Int>) -> Int { b[r].reduce(0) { $0 * 10 + Int($1 - 0x30) } }
        guard (1900...2999).contains(n(0..<4)) else { return nil }
        return LocalDate(year: n(0..<4), month: n(4..<6), day: n(6..<8))
    }

    /// `yyyyMMdd`.
    public var twsDay: String {
        func pad(_ v: Int, _ w: Int) -> String { String(repeating: "0", count: max(0, w - String(v).count)) + String(v) }
        return pad(year, 4) + pad(month, 2) + pad(day, 2)
    }
}

/// What reqHistoricalData asks for, as AST asks it: one stock, daily bars, regular trading hours.
public struct TWSHistoricalQuery: Hashable, Sendable {
    public var contract: TWSContract
    /// `yyyyMMdd HH:mm:ss US/Eastern`: the end of the period asked for.
    public var endDateTime: String
    /// `N D` (days) or `N Y`.
    public var duration: String
    public var barSize: String
    public var whatToShow: TWSWhatToShow
    public var regularHoursOnly: Bool

    public init(
        contract: TWSContract, endDateTime: String, duration: String, barSize: String = "1 day", whatToShow: TWSWhatToShow = .trades,
        regularHoursOnly: Bool = true
    ) {
        self.contract = contract
        self.endDateTime = endDateTime
        self.duration = duration
        self.barSize = barSize
        self.whatToShow = whatToShow
        self.regularHoursOnly = regularHoursOnly
    }

    /// IB's "same contract, exchange and tick type" for the pacing rules.
    var pacingGroup: String {
        [contract.symbol, String(contract.conId), contract.exchange, contract.primaryExchange, contract.currency, whatToShow.rawValue]
            .joined(separator: "\u{1}")
    }

    /// Everything that makes two requests identical for IB's 15-second rule.
    var identity: String { [pacingGroup, endDateTime, duration, barSize, regularHoursOnly ? "1" : "0"].joined(separator: "\u{1}") }
}

extension TWSRequest {
    /// reqHistoricalData at server versions 190...200 (all above SYNT_REALTIME_BARS 124, so no
    /// version field, and above TRADING_CLASS 68 and LINKING 70): the official client's order.
    static func encodeHistorical(_ w: inout TWSFieldWriter, reqId: Int32, query q: TWSHistoricalQuery) throws(TWSEncodeError) {
        guard reqId >= 0 else { throw .invalid("historical request id must not be negative (got \(reqId))") }
        w.add(TWSOutgoingId.reqHistoricalData.rawValue)
        w.add(reqId)
        w.add(q.contract.conId)
        try w.add(q.contract.symbol, "symbol")
        w.raw("STK")
        w.raw("")  // lastTradeDateOrContractMonth
        w.raw("0.0")  // strike (send of a double 0.0)
        w.raw("")  // right
        w.raw("")  // multiplier
        try w.add(q.contract.exchange, "exchange")
        try w.add(q.contract.primaryExchange, "primaryExch")
        try w.add(q.contract.currency, "currency")
        w.raw("")  // localSymbol
        w.raw("")  // tradingClass
        w.add(false)  // includeExpired
        try w.add(q.endDateTime, "endDateTime")
        try w.add(q.barSize, "barSizeSetting")
        try w.add(q.duration, "durationStr")
        w.add(q.regularHoursOnly)  // useRTH
        w.raw(q.whatToShow == .trades ? "TRADES" : "ADJUSTED_LAST")
        w.add(1)  // formatDate: yyyyMMdd for daily bars
        w.add(false)  // keepUpToDate: one answer, no historicalDataUpdate
        w.raw("")  // chartOptions
    }
}

/// One bar of a historicalData message, as sent (validated numbers, not yet AST values).
public struct TWSHistoricalBar: Hashable, Sendable {
    public var date: String
    public var open: TWSNumber?
    public var high: TWSNumber?
    public var low: TWSNumber?
    public var close: TWSNumber?
    public var volume: TWSNumber?
    public var wap: TWSNumber?
    public var barCount: Int32

    public init(
        date: String, open: TWSNumber?, high: TWSNumber?, low: TWSNumber?, close: TWSNumber?, volume: TWSNumber?, wap: TWSNumber?,
        barCount: Int32
    ) {
        (self.date, self.open, self.high, self.low, self.close) = (date, open, high, low, close)
        (self.volume, self.wap, self.barCount) = (volume, wap, barCount)
    }
}

/// historicalData: the bars of one request. Below server version 196 the message also carries the
/// period and ends the answer (`period` set); from 196 a historicalDataEnd message follows.
public struct TWSHistoricalData: Hashable, Sendable {
    public var reqId: Int32
    public var bars: [TWSHistoricalBar]
    /// Start and end of the period (before 196 only).
    public var period: TWSHistoricalPeriod?
}

/// The period a historical answer covers, as IB writes it.
public struct TWSHistoricalPeriod: Hashable, Sendable {
    public var start: String
    public var end: String
}

extension TWSMessage {
    /// historicalData: no version field (from 124); the period before 196; each bar's date, open,
    /// high, low, close, volume, WAP and bar count.
    static func decodeHistoricalData(_ r: inout TWSFieldReader, version: TWSServerVersion) throws(TWSDecodeError) -> TWSHistoricalData {
        let reqId = try r.int()
        var period: TWSHistoricalPeriod?
        if !version.supports(.historicalDataEnd) { period = TWSHistoricalPeriod(start: try r.string(), end: try r.string()) }
        let n = try r.count(fieldsPerEntry: 8)
        var bars: [TWSHistoricalBar] = []
        bars.reserveCapacity(n)
        for _ in 0..<n {
            bars.append(
                TWSHistoricalBar(
                    date: try r.string(), open: try r.number(), high: try r.number(), low: try r.number(), close: try r.number(),
                    volume: try r.number(), wap: try r.number(), barCount: try r.int()))
        }
        return TWSHistoricalData(reqId: reqId, bars: bars, period: period)
    }
}

/// A daily bar from IB, checked: a real date, prices as exact fixed-point values (more than four
/// decimals rounded half away from zero, as every source is), a whole volume. Whether the prices
/// make a bar (positive, high over low) and the date a session is the bar validator's job.
public struct TWSDailyBar: Hashable, Sendable {
    public var day: LocalDate
    public var open: Price
    public var high: Price
    public var low: Price
    public var close: Price
    public var volume: Int64

    /// `bar` checked, or why not.
    public init(_ bar: TWSHistoricalBar) throws(TWSHistoryFailure) {
        guard let day = LocalDate.twsDay(bar.date) else { throw .malformedBar("date '\(bar.date.prefix(40))' is not yyyyMMdd") }
        func price(_ n: TWSNumber?, _ name: String) throws(TWSHistoryFailure) -> Price {
            guard let n, let units = TWSDailyBar.roundedUnits(n.text) else {
                throw .malformedBar("\(day) \(name) '\(n?.text.prefix(40) ?? "")' is not a plain decimal price")
            }
            return Price(units: units)
        }
        guard let v = bar.volume, let volume = TWSDailyBar.wholeNumber(v.text) else {
            throw .malformedBar("\(day) volume '\(bar.volume?.text.prefix(40) ?? "")' is not a whole number of shares")
        }
        self.day = day
        open = try price(bar.open, "open")
        high = try price(bar.high, "high")
        low = try price(bar.low, "low")
        close = try price(bar.close, "close")
        self.volume = volume
    }

    /// A plain decimal (`-?digits[.digits]`, at most 12 integer digits) in 1/10,000 units, rounded
    /// half away from zero; `nil` for anything else (an exponent, IB's unset value, a long number).
    static func roundedUnits(_ text: String) -> Int64? {
        var b = Array(text.utf8)[...]
        let negative = b.first == UInt8(ascii: "-")
        if negative { b = b.dropFirst() }
        let int = b.prefix { $0 >= 0x30 && $0 <= 0x39 }
        b = b.dropFirst(int.count)
        var frac: ArraySlice<UInt8> = []
        if b.first == UInt8(ascii: ".") {
            b = b.dropFirst()
            frac = b.prefix { $0 >= 0x30 && $0 <= 0x39 }
            b = b.dropFirst(frac.count)
        }
        guard b.isEmpty, !int.isEmpty, int.count <= 12, frac.count <= 40 else { return nil }
        var units: Int64 = 0
        for d in int { units = units * 10 + Int64(d - 0x30) }
        let digits = Array(frac) + [UInt8](repeating: 0x30, count: 5)
        for d in digits[0..<4] { units = units * 10 + Int64(d - 0x30) }
        if digits[4] >= 0x35 { units += 1 }
        return negative ? -units : units
    }

    /// `-?digits` with an optional all-zero fraction, at most 18 digits.
    static func wholeNumber(_ text: String) -> Int64? {
        var t = Substring(text)
        if let dot = t.firstIndex(of: ".") {
            guard t[t.index(after: dot)...].allSatisfy({ $0 == "0" }) else { return nil }
            t = t[..<dot]
        }
        let digits = t.hasPrefix("-") ? t.dropFirst() : t
        guard !digits.isEmpty, digits.count <= 18, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int64(t)
    }
}

/// IB's historical-data pacing, as its documentation states it: no identical request within
/// 15 s; no six or more requests for the same contract, exchange and tick type within 2 s; no more
/// than 60 requests in any 10 minutes (error 162 otherwise). Pure: time is an input. The windows
/// default to a little longer than IB's, so that delays on the way to IB never squeeze two sends
/// into one of its windows.
public struct TWSHistoricalPacer: Hashable, Sendable {
    /// The three limits.
    public struct Limits: Hashable, Sendable {
        public var identicalWindow: Duration
        public var sameContractWindow: Duration
        public var sameContractMax: Int
        public var totalWindow: Duration
        public var totalMax: Int

        public init(identicalWindow: Duration, sameContractWindow: Duration, sameContractMax: Int, totalWindow: Duration, totalMax: Int) {
            self.identicalWindow = identicalWindow
            self.sameContractWindow = sameContractWindow
            self.sameContractMax = max(1, sameContractMax)
            self.totalWindow = totalWindow
            self.totalMax = max(1, totalMax)
        }

        /// IB's documented numbers, exactly.
        public static let ib = Limits(
            identicalWindow: .seconds(15), sameContractWindow: .seconds(2), sameContractMax: 5, totalWindow: .seconds(600), totalMax: 60)
        /// What AST keeps to: IB's counts in windows 0.5 s (2 s rule), 1 s (15 s) and 10 s (10 min) longer.
        public static let standard = Limits(
            identicalWindow: .seconds(16), sameContractWindow: .milliseconds(2500), sameContractMax: 5, totalWindow: .seconds(610),
            totalMax: 60)
    }

    public let limits: Limits
    private var sent: [(group: String, identity: String, at: Timestamp)] = []

    public init(limits: Limits = .standard) { self.limits = limits }

    public static func == (a: Self, b: Self) -> Bool {
        a.limits == b.limits && a.sent.elementsEqual(b.sent) { $0.group == $1.group && $0.identity == $1.identity && $0.at == $1.at }
    }

    public func hash(into h: inout Hasher) {
        h.combine(limits)
        h.combine(sent.count)
    }

    /// The earliest time at or after `now` when `query` may be sent.
    public func nextSlot(for query: TWSHistoricalQuery, now: Timestamp) -> Timestamp {
        var t = now
        func notBefore(_ x: Timestamp) { if x > t { t = x } }
        let identity = query.identity
        let group = query.pacingGroup
        if let last = sent.last(where: { $0.identity == identity }) { notBefore(last.at.advanced(by: limits.identicalWindow)) }
        let same = sent.filter { $0.group == group }
        if same.count >= limits.sameContractMax {
            notBefore(same[same.count - limits.sameContractMax].at.advanced(by: limits.sameContractWindow))
        }
        if sent.count >= limits.totalMax { notBefore(sent[sent.count - limits.totalMax].at.advanced(by: limits.totalWindow)) }
        return t
    }

    /// Records `query` as sent at `now` (the caller sends only at or after ``nextSlot(for:now:)``).
    public mutating func record(_ query: TWSHistoricalQuery, at now: Timestamp) {
        let keep = max(limits.identicalWindow, limits.sameContractWindow, limits.totalWindow)
        sent.removeAll { now.duration(since: $0.at) >= keep }
        sent.append((query.pacingGroup, query.identity, now))
    }
}

/// Why a historical download failed. Each is final: the ingest stores nothing.
public enum TWSHistoryFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// A bar that is not a daily bar AST can read.
    case malformedBar(String)
    /// A bar dated outside the days its request asked for.
    case outsideRange(symbol: String, day: LocalDate, first: LocalDate, last: LocalDate)
    /// More bars than the request's days could hold.
    case tooManyBars(symbol: String, count: Int, days: Int)
    /// IB answered the request with an error (162: a pacing violation or no data; 200: no such
    /// stock; 354: no market data permission; ...).
    case refused(symbol: String, code: Int32, message: String)
    /// No complete answer within the time allowed.
    case timedOut(symbol: String, after: Duration)
    /// TWS lost its connection to IB (1100) or the API connection ended.
    case disconnected(String)
    /// The request could not be encoded.
    case unencodable(String)

    public var description: String {
        switch self {
        case .malformedBar(let why): "IB sent a malformed bar: \(why)"
        case .outsideRange(let s, let d, let f, let l): "IB sent a \(s) bar for \(d), outside the requested \(f) … \(l)"
        case .tooManyBars(let s, let n, let d): "IB sent \(n) \(s) bars for a request of \(d) days"
        case .refused(let s, let code, let m):
            "IB refused the \(s) request with error \(code): \(m.prefix(200))"
                + (code == 162 && m.lowercased().contains("pacing") ? " (a historical-data pacing violation)" : "")
        case .timedOut(let s, let d): "no complete \(s) answer from TWS within \(d.components.seconds) s"
        case .disconnected(let why): "TWS connection lost: \(why.prefix(200))"
        case .unencodable(let why): "request not encodable: \(why)"
        }
    }
}

/// One request of a download: a symbol's days `first ... last` (at most a year).
public struct TWSHistoryChunk: Hashable, Sendable {
    public var first: LocalDate
    public var last: LocalDate
    public var query: TWSHistoricalQuery

    /// The days a chunk may span: IB takes durations in days up to a year ("365 D").
    public static let maxDays = 365

    /// `from ... to` split into consecutive requests of at most `maxDays` days, oldest first, each
    /// ending at 23:59:59 New York time on its last day.
    public static func plan(
        contract: TWSContract, from: LocalDate, to: LocalDate, whatToShow: TWSWhatToShow, maxDays: Int = TWSHistoryChunk.maxDays
    ) -> [TWSHistoryChunk] {
        guard from <= to, maxDays >= 1 else { return [] }
        var out: [TWSHistoryChunk] = []
        var start = from.daysSinceEpoch
        let end = to.daysSinceEpoch
        while start <= end {
            let last = min(start + maxDays - 1, end)
            let (f, l) = (LocalDate(daysSinceEpoch: start), LocalDate(daysSinceEpoch: last))
            let q = TWSHistoricalQuery(
                contract: contract, endDateTime: "\(l.twsDay) 23:59:59 US/Eastern", duration: "\(last - start + 1) D",
                whatToShow: whatToShow)
            out.append(TWSHistoryChunk(first: f, last: l, query: q))
            start = last + 1
        }
        return out
    }

    var days: Int { last.daysSinceEpoch - first.daysSinceEpoch + 1 }
}

/// A symbol's bars, oldest first.
public struct TWSHistorySeries: Hashable, Sendable {
    public var symbol: String
    public var bars: [TWSDailyBar]
}

/// Downloads chunks one request at a time, paced, as a pure state machine: the shell sends what it
/// is told, feeds it the messages and errors that arrive, and asks ``next(now:)`` again after each
/// and when a wait ends. All or nothing: the first failure is final.
public struct TWSHistoryDownload: Sendable {
    /// What the shell must do.
    public enum Action: Hashable, Sendable {
        case send(TWSRequest)
        /// Call ``next(now:)`` again at this time (or when a message arrives).
        case wait(until: Timestamp)
        case finished([TWSHistorySeries])
        case failed(TWSHistoryFailure)
    }

    public let chunks: [TWSHistoryChunk]
    public let requestTimeout: Duration
    public private(set) var pacer: TWSHistoricalPacer
    private var index = 0
    private var nextId: Int32
    private var current: (reqId: Int32, sentAt: Timestamp, bars: [TWSHistoricalBar], complete: Bool)?
    private var series: [TWSHistorySeries] = []
    private var failure: TWSHistoryFailure?

    public init(
        chunks: [TWSHistoryChunk], pacer: TWSHistoricalPacer = TWSHistoricalPacer(), requestTimeout: Duration = .seconds(120),
        firstRequestId: Int32 = 1
    ) {
        self.chunks = chunks
        self.pacer = pacer
        self.requestTimeout = requestTimeout
        self.nextId = max(firstRequestId, 0)
    }

    /// Requests sent so far.
    public var requestsSent: Int { index + (current == nil ? 0 : 1) }

    /// The next thing to do at `now`.
    public mutating func next(now: Timestamp) -> Action {
        if let failure { return .failed(failure) }
        if let c = current {
            guard c.complete else {
                let deadline = c.sentAt.advanced(by: requestTimeout)
                if now >= deadline { return fail(.timedOut(symbol: chunks[index].query.contract.symbol, after: requestTimeout)) }
                return .wait(until: deadline)
            }
            do { try accept(c.bars, of: chunks[index]) } catch { return fail(error) }
            current = nil
            index += 1
        }
        guard index < chunks.count else { return .finished(series) }
        let q = chunks[index].query
        let slot = pacer.nextSlot(for: q, now: now)
        guard slot <= now else { return .wait(until: slot) }
        guard nextId < Int32.max else { return fail(.unencodable("request ids exhausted")) }
        let id = nextId
        nextId += 1
        pacer.record(q, at: now)
        current = (id, now, [], false)
        return .send(.reqHistoricalData(reqId: id, query: q))
    }

    /// A message from TWS: the bars and the end of the request in flight; the rest is ignored.
    public mutating func receive(_ message: TWSMessage) {
        guard failure == nil, var c = current, !c.complete else { return }
        switch message {
        case .historicalData(let d) where d.reqId == c.reqId:
            let limit = chunks[index].days
            guard c.bars.count + d.bars.count <= limit else {
                failure = .tooManyBars(symbol: chunks[index].query.contract.symbol, count: c.bars.count + d.bars.count, days: limit)
                return
            }
            c.bars += d.bars
            if d.period != nil { c.complete = true }
        case .historicalDataEnd(let reqId, _, _) where reqId == c.reqId:
            c.complete = true
        default: return
        }
        current = c
    }

    /// An error from TWS: one about the request in flight (other than a 21xx warning) fails the
    /// download, as does 1100 (TWS cut off from IB); notices (2104, 2106, 2158, ...) are ignored.
    public mutating func error(_ e: TWSErrorMessage) {
        guard failure == nil else { return }
        if e.code == 1100 || e.code == 2110 {
            failure = .disconnected("TWS lost its connection to IB (\(e.code))")
            return
        }
        guard let c = current, e.id == c.reqId, !(2100..<2200).contains(e.code) else { return }
        failure = .refused(symbol: chunks[index].query.contract.symbol, code: e.code, message: e.message)
    }

    /// The API connection ended before the download did.
    public mutating func disconnected(_ why: String) {
        if failure == nil, index < chunks.count || current != nil { failure = .disconnected(why) }
    }

    private mutating func fail(_ f: TWSHistoryFailure) -> Action {
        failure = f
        return .failed(f)
    }

    private mutating func accept(_ raw: [TWSHistoricalBar], of chunk: TWSHistoryChunk) throws(TWSHistoryFailure) {
        let symbol = chunk.query.contract.symbol
        var bars: [TWSDailyBar] = []
        bars.reserveCapacity(raw.count)
        for r in raw {
            let b = try TWSDailyBar(r)
            guard b.day >= chunk.first, b.day <= chunk.last else {
                throw .outsideRange(symbol: symbol, day: b.day, first: chunk.first, last: chunk.last)
            }
            bars.append(b)
        }
        if let i = series.lastIndex(where: { $0.symbol == symbol }) {
            series[i].bars += bars
        } else {
            series.append(TWSHistorySeries(symbol: symbol, bars: bars))
        }
    }
}
