import ASTCalendar
import Foundation

/// The fake TWS's historical daily bars: what a test scripted, what the client asked, and IB's
/// historical-data pacing rules as IB's documentation states them, checked on the fake's side with
/// IB's exact numbers: no identical request within 15 s, no six or more requests for the same
/// contract, exchange and tick type within 2 s, no more than 60 requests in any 10 minutes. A
/// violation is answered with error 162, as IB answers it. Written from the documentation and the
/// official client's field order (reqHistoricalData, historicalData, historicalDataEnd); it shares
/// no code with AST's client.
public struct FakeTWSHistory: Sendable {
    /// One scripted daily bar; prices and volume are sent as written.
    public struct Bar: Sendable, Equatable {
        public var date: LocalDate
        public var open, high, low, close, volume: String

        public init(date: LocalDate, open: String, high: String, low: String, close: String, volume: String) {
            (self.date, self.open, self.high, self.low, self.close, self.volume) = (date, open, high, low, close, volume)
        }
    }

    /// One reqHistoricalData the fake received.
    public struct Request: Sendable, Equatable {
        public var reqId: String
        public var symbol: String
        public var exchange: String
        public var endDateTime: String
        public var duration: String
        public var barSize: String
        public var whatToShow: String
        public var useRTH: String
        public var at: Date
    }

    /// Bars by "SYMBOL WHATTOSHOW".
    var bars: [String: [Bar]] = [:]
    /// Errors scripted for a symbol: every request for it is answered with this error.
    var refusals: [String: (code: Int, message: String)] = [:]
    /// Extra bars sent with every answer for a symbol (hostile answers: dates outside the range ...).
    var extra: [String: [Bar]] = [:]
    var requests: [Request] = []
    var pacingViolations = 0
}

extension FakeTWSServer {
    /// Serves `bars` for `symbol` and `whatToShow` (`TRADES` or `ADJUSTED_LAST`).
    public func scriptHistory(_ symbol: String, whatToShow: String = "TRADES", bars: [FakeTWSHistory.Bar]) {
        state.withLock { $0.history.bars["\(symbol) \(whatToShow)"] = bars.sorted { $0.date < $1.date } }
    }

    /// Answers every historical request for `symbol` with error `code` (162 "HMDS query returned no data", 200, 354...).
    public func refuseHistory(_ symbol: String, code: Int, message: String) {
        state.withLock { $0.history.refusals[symbol] = (code, message) }
    }

    /// Adds `bars` to every answer for `symbol`, whatever the period asked (a hostile or broken TWS).
    public func appendToHistory(_ symbol: String, bars: [FakeTWSHistory.Bar]) {
        state.withLock { $0.history.extra[symbol] = bars }
    }

    /// The historical requests received, in order.
    public var historyRequests: [FakeTWSHistory.Request] { state.withLock { $0.history.requests } }
    /// Requests that broke one of IB's historical-data pacing rules (each answered with error 162).
    public var historyPacingViolations: Int { state.withLock { $0.history.pacingViolations } }

    /// reqHistoricalData from server version 124 on (no version field): reqId 1, conId 2, symbol 3,
    /// secType 4, ..., exchange 9, primaryExch 10, currency 11, localSymbol 12, tradingClass 13,
    /// includeExpired 14, endDateTime 15, barSize 16, duration 17, useRTH 18, whatToShow 19,
    /// formatDate 20, keepUpToDate 21, chartOptions 22.
    func historical(_ f: [String], now: Date, _ s: inout State) -> [[String]] {
        let v = s.negotiatedVersion ?? 0
        guard f.count == 23, let reqId = Int(f[1]) else {
            return [Self.error(id: -1, code: 320, "Error reading request: reqHistoricalData is malformed", version: v)]
        }
        let r = FakeTWSHistory.Request(
            reqId: f[1], symbol: f[3], exchange: f[9], endDateTime: f[15], duration: f[17], barSize: f[16], whatToShow: f[19],
            useRTH: f[18], at: now)
        let earlier = s.history.requests
        s.history.requests.append(r)
        func group(_ q: FakeTWSHistory.Request) -> [String] { [q.symbol, q.exchange, q.whatToShow] }
        func identity(_ q: FakeTWSHistory.Request) -> [String] { group(q) + [q.endDateTime, q.duration, q.barSize, q.useRTH] }
        let identical = earlier.contains { identity($0) == identity(r) && now.timeIntervalSince($0.at) < 15 }
        let sameContract = earlier.filter { group($0) == group(r) && now.timeIntervalSince($0.at) < 2 }.count + 1
        let total = earlier.filter { now.timeIntervalSince($0.at) < 600 }.count + 1
        if identical || sameContract >= 6 || total > 60 {
            s.history.pacingViolations += 1
            return [
                Self.error(
                    id: reqId, code: 162, "Historical Market Data Service error message:Historical data request pacing violation",
                    version: v)
            ]
        }
        if let refusal = s.history.refusals[r.symbol] { return [Self.error(id: reqId, code: refusal.code, refusal.message, version: v)] }
        // endDateTime "yyyyMMdd HH:mm:ss US/Eastern"; duration "N D".
        let parts = r.duration.split(separator: " ")
        guard r.barSize == "1 day", parts.count == 2, parts[1] == "D", let days = Int(parts[0]), days > 0,
            let end = Self.day(String(r.endDateTime.prefix(8))), r.endDateTime.hasSuffix(" 23:59:59 US/Eastern")
        else {
            return [
                Self.error(id: reqId, code: 321, "Error validating request:-'bP' : cause - the fake serves daily bars only", version: v)
            ]
        }
        let start = LocalDate(daysSinceEpoch: end.daysSinceEpoch - days + 1)
        let served =
            (s.history.bars["\(r.symbol) \(r.whatToShow)"] ?? []).filter { $0.date >= start && $0.date <= end }
            + (s.history.extra[r.symbol] ?? [])
        var fields: [String] = []
        for b in served {
            let text = String(format: "%04d%02d%02d", b.date.year, b.date.month, b.date.day)
            fields += [text, b.open, b.high, b.low, b.close, b.volume, b.close, "100"]
        }
        let startText = String(format: "%04d%02d%02d  00:00:00", start.year, start.month, start.day)
        let endText = String(format: "%04d%02d%02d  23:59:59", end.year, end.month, end.day)
        if v >= 196 {
            return [["17", f[1], String(served.count)] + fields, ["108", f[1], startText, endText]]
        }
        return [["17", f[1], startText, endText, String(served.count)] + fields]
    }

    static func day(_ text: String) -> LocalDate? {
        guard text.count == 8, text.allSatisfy(\.isASCII), let n = Int(text) else { return nil }
        return LocalDate(year: n / 10000, month: n / 100 % 100, day: n % 100)
    }
}
