import ASTCalendar
import ASTCore
import Foundation
import NIOHTTP1
import Synchronization

/// The market-data side of ``FakeAlpacaServer``: `GET /v2/stocks/bars`, Alpaca's historical
/// bars for several symbols, daily timeframe only. For tests only.
///
/// Written from Alpaca's public market-data documentation (docs.alpaca.markets: "Historical API",
/// the stock bars reference and its example answer), not from any client's code; it is no
/// evidence of how the real service behaves. What the fake does:
/// - parameters: `symbols` (comma-separated, required), `timeframe` (`1Day`/`1D`, the only one the
///   fake serves), `start`/`end` (inclusive; `YYYY-MM-DD` or RFC 3339), `limit` (1 ... 10,000,
///   default 1,000), `adjustment` (`raw` default, `split`; `dividend`/`all` are documented but not
///   served here: 422), `feed` (`iex`, `sip`), `sort` (`asc` only), `page_token`. A bad value is a
///   400 with `{"message": …}` (the exact texts are UNCONFIRMED).
/// - the answer: `{"bars": {"SYM": [{"t","o","h","l","c","v","n","vw"}, …]}, "next_page_token": …}`,
///   sorted by symbol then time, at most `limit` bars a page; `t` is midnight New York time in UTC
///   (`2022-02-28T05:00:00Z`), prices are JSON numbers, the token is opaque (here: the offset in
///   hex behind a prefix) and only valid with the same other parameters.
/// - `split`: every bar before a split's date divided by its ratio (rounded to 1/10,000), its
///   volume multiplied.
/// - the same keys as the trading endpoints (401 otherwise) and the same 200/min budget (429);
///   ``scriptBars(_:)`` makes the next answers 429s or 5xx, ``corruptBar(symbol:date:)`` serves
///   a bar whose high is below its low.
public struct FakeAlpacaBars: Sendable {
    /// One daily bar as the fake holds it (raw prices).
    public struct Day: Sendable, Equatable {
        public var date: LocalDate
        public var open: Price
        public var high: Price
        public var low: Price
        public var close: Price
        public var volume: Int64

        public init(date: LocalDate, open: Price, high: Price, low: Price, close: Price, volume: Int64) {
            self.date = date
            self.open = open
            self.high = high
            self.low = low
            self.close = close
            self.volume = volume
        }
    }

    /// How the fake answers one bars request.
    public enum Behaviour: Sendable, Equatable {
        case normal
        /// 429 with `Retry-After: seconds` (and the rate-limit headers every answer carries).
        case rateLimited
        case serverError(status: Int)
        /// 200 with a body that is not JSON.
        case garbage
    }

    var days: [String: [Day]] = [:]
    var splits: [String: [(date: LocalDate, ratio: Int64)]] = [:]
    var script: [Behaviour] = []
    var queries: [String] = []
}

extension FakeAlpacaServer {
    /// Serves `days` (raw, any order) as `symbol`'s daily bars, replacing what it had.
    public func setBars(_ symbol: String, _ days: [FakeAlpacaBars.Day]) {
        barsState.withLock { $0.days[symbol] = days.sorted { $0.date < $1.date } }
    }

    /// A `ratio`:1 split of `symbol` effective on `date` (bars before it are divided by `split`).
    public func addSplit(_ symbol: String, date: LocalDate, ratio: Int64) {
        barsState.withLock { $0.splits[symbol, default: []].append((date, ratio)) }
    }

    /// The next bars requests are answered, in order, as `behaviours` say; then normally.
    public func scriptBars(_ behaviours: [FakeAlpacaBars.Behaviour]) { barsState.withLock { $0.script += behaviours } }

    /// The query string of every bars request received, in order.
    public var barsQueries: [String] { barsState.withLock { $0.queries } }

    /// Generated bars: `count` NYSE sessions of `symbol` from `from`, a steady walk from `start`.
    public func generateBars(_ symbol: String, from: LocalDate, sessions count: Int, start: Price = Price("100.00")!) {
        var days: [FakeAlpacaBars.Day] = []
        var date = from
        var close = start.units
        while days.count < count {
            if TradingCalendar.nyse.session(on: date) != nil {
                let open = close + 500
                days.append(
                    .init(
                        date: date, open: Price(units: open), high: Price(units: open + 20_000), low: Price(units: open - 15_000),
                        close: Price(units: open + 2_500), volume: 1_000_000 + Int64(days.count)))
                close = open + 2_500
            }
            date = date.adding(days: 1)
        }
        setBars(symbol, days)
    }

    /// Makes `symbol`'s bar on `date` invalid: its high under its low.
    public func corruptBar(symbol: String, date: LocalDate) {
        barsState.withLock { s in
            guard var days = s.days[symbol], let i = days.firstIndex(where: { $0.date == date }) else { return }
            days[i].high = Price(units: days[i].low.units - 10_000)
            s.days[symbol] = days
        }
    }

    /// Answers `GET /v2/stocks/bars` (see ``FakeAlpacaBars``).
    func barsAnswer(rawQuery: String, query: [String: String]) -> Answer {
        let behaviour = barsState.withLock { s in
            s.queries.append(rawQuery)
            return s.script.isEmpty ? FakeAlpacaBars.Behaviour.normal : s.script.removeFirst()
        }
        func bad(_ m: String) -> Answer { Answer(status: .badRequest, body: #"{"message":\#(Self.quote(m))}"#) }
        switch behaviour {
        case .rateLimited:
            var a = Answer(status: .tooManyRequests, body: #"{"message":"too many requests."}"#)
            a.headers = [("Retry-After", "3")]
            return a
        case .serverError(let status): return Answer(status: HTTPResponseStatus(statusCode: status), body: #"{"message":"internal error"}"#)
        case .garbage: return Answer(status: .ok, body: "<html>gateway</html>")
        case .normal: break
        }
        guard let list = query["symbols"], !list.isEmpty else { return bad("missing symbols") }
        let symbols = list.split(separator: ",").map(String.init)
        guard query["timeframe"] == "1Day" || query["timeframe"] == "1D" else { return bad("invalid timeframe") }
        func date(_ key: String) -> LocalDate?? {
            guard let text = query[key] else { return .some(nil) }
            if let d = LocalDate(text) { return d }
            guard let ns = Self.parseTime(text) else { return nil }
            return .some(NewYorkTime.local(Timestamp(nanoseconds: ns)).date)
        }
        guard let start = date("start"), let end = date("end") else { return bad("invalid start or end") }
        let limit = query["limit"].map { Int($0) ?? -1 } ?? 1_000
        guard (1...10_000).contains(limit) else { return bad("invalid limit: must be between 1 and 10000") }
        let adjustment = query["adjustment"] ?? "raw"
        guard ["raw", "split", "dividend", "all"].contains(adjustment) else { return bad("invalid adjustment") }
        guard adjustment == "raw" || adjustment == "split" else {
            return Answer(status: HTTPResponseStatus(statusCode: 422), body: #"{"message":"adjustment not served by the fake"}"#)
        }
        guard ["iex", "sip"].contains(query["feed"] ?? "sip") else { return bad("invalid feed") }
        guard (query["sort"] ?? "asc") == "asc" else { return bad("the fake serves sort=asc only") }
        var offset = 0
        if let token = query["page_token"] {
            guard token.hasPrefix("ZmFrZQ."), let o = Int(token.dropFirst(7), radix: 16), o >= 0 else { return bad("invalid page token") }
            offset = o
        }
        let rows: [(String, FakeAlpacaBars.Day)] = barsState.withLock { s in
            symbols.sorted().flatMap { symbol in
                (s.days[symbol] ?? []).filter { d in start.map { d.date >= $0 } ?? true && end.map { d.date <= $0 } ?? true }
                    .map { d in (symbol, adjustment == "split" ? Self.splitAdjusted(d, s.splits[symbol] ?? []) : d) }
            }
        }
        let page = rows.dropFirst(offset).prefix(limit)
        var grouped: [(String, [String])] = []
        for (symbol, d) in page {
            let t = NewYorkTime.timestamp(d.date, LocalTime(hour: 0, minute: 0))
            let vw = Price(units: (d.high.units + d.low.units + d.close.units) / 3)
            let item =
                #"{"t":"\#(Self.format(t.nanoseconds).prefix(19))Z","o":\#(Self.number(d.open)),"h":\#(Self.number(d.high)),"l":\#(Self.number(d.low)),"c":\#(Self.number(d.close)),"v":\#(d.volume),"n":\#(d.volume / 100),"vw":\#(Self.number(vw))}"#
            if grouped.last?.0 == symbol { grouped[grouped.count - 1].1.append(item) } else { grouped.append((symbol, [item])) }
        }
        let next = offset + page.count < rows.count ? #""ZmFrZQ.\#(String(offset + page.count, radix: 16))""# : "null"
        let bars = grouped.map { #""\#($0.0)":[\#($0.1.joined(separator: ","))]"# }.joined(separator: ",")
        return Answer(status: .ok, body: #"{"bars":{\#(bars)},"next_page_token":\#(next)}"#)
    }

    /// A price as a JSON number without trailing zeros (`163.02`, `814.7075`, `12`).
    static func number(_ p: Price) -> String {
        var text = "\(p)"
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }

    static func splitAdjusted(_ d: FakeAlpacaBars.Day, _ splits: [(date: LocalDate, ratio: Int64)]) -> FakeAlpacaBars.Day {
        var out = d
        for split in splits where d.date < split.date && split.ratio > 0 {
            func div(_ p: Price) -> Price {
                let (q, r) = p.units.quotientAndRemainder(dividingBy: split.ratio)
                return Price(units: q + (2 * r >= split.ratio ? 1 : 0))
            }
            out.open = div(out.open)
            out.high = div(out.high)
            out.low = div(out.low)
            out.close = div(out.close)
            out.volume *= split.ratio
        }
        return out
    }
}
