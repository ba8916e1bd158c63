import ASTCore
import Testing

@testable import ASTMarketData

/// Polygon's answers go through ASTCore's one JSON parser (shared with the Alpaca core) with
/// Polygon's own bounds.
@Suite struct PolygonJSONTests {
    @Test func anAnswerNamingAMemberTwiceIsRefusedNotReadByItsLastValue() {
        let body = Array(#"{"status":"ERROR","status":"OK","results":[]}"#.utf8)
        guard case .failure(.malformed(let why)) = PolygonJSONAnswer.interpret(httpStatus: 200, retryAfter: nil, body: body) else {
            Issue.record("an ambiguous answer was read")
            return
        }
        #expect(why.contains("not JSON") && why.contains("duplicate"))
    }

    @Test func aWholeMarketDayFitsPolygonsBoundsThoughNotAlpacasPage() throws {
        // ~12,000 tickers of grouped daily bars: more values than an Alpaca answer may hold.
        let row = #"{"T":"AAA","v":1000,"vw":10.5,"o":10,"c":11,"h":12,"l":9,"t":1735880400000,"n":10}"#
        let body = Array((#"{"status":"OK","results":["# + Array(repeating: row, count: 12_000).joined(separator: ",") + "]}").utf8)
        #expect(throws: JSONError.self) { try JSONParser.parse(body) }
        guard case .json(let json) = PolygonJSONAnswer.interpret(httpStatus: 200, retryAfter: nil, body: body) else {
            Issue.record("a whole market's day was refused")
            return
        }
        #expect(json["results"]?.arrayValue?.count == 12_000)
    }
}
