import ASTCore
import ASTWeb
import Testing

@Suite struct WebAccessTests {
    let access = WebAccess(token: "s3cret-token")

    @Test func theRightBearerTokenFromThisOriginIsAllowed() {
        #expect(access.check(authorization: "Bearer s3cret-token", origin: nil, fetchSite: nil, host: "127.0.0.1:8787") == nil)
        #expect(
            access.check(
                authorization: "Bearer s3cret-token", origin: "http://127.0.0.1:8787", fetchSite: "same-origin", host: "127.0.0.1:8787")
                == nil)
    }

    @Test(arguments: [
        nil, "", "Bearer", "Bearer ", "Bearer s3cret-toke", "Bearer s3cret-token2", "Basic s3cret-token", "bearer s3cret-token",
    ])
    func noOrAWrongTokenIsUnauthorized(_ header: String?) {
        #expect(access.check(authorization: header, origin: nil, fetchSite: nil, host: "127.0.0.1:8787") == .unauthorized)
    }

    @Test func anotherOriginIsRefusedEvenWithTheToken() {
        let r = access.check(authorization: "Bearer s3cret-token", origin: "http://evil.example", fetchSite: nil, host: "127.0.0.1:8787")
        #expect(r == .crossOrigin("http://evil.example") && r?.status == 403)
        #expect(access.check(authorization: "Bearer s3cret-token", origin: "null", fetchSite: nil, host: "127.0.0.1:8787") != nil)
        #expect(access.check(authorization: "Bearer s3cret-token", origin: nil, fetchSite: "cross-site", host: "127.0.0.1:8787") != nil)
        #expect(access.check(authorization: "Bearer s3cret-token", origin: nil, fetchSite: "same-site", host: "127.0.0.1:8787") != nil)
    }

    @Test func withoutAConfiguredTokenTheDashboardIsReadOnly() {
        for token in [nil, ""] as [String?] {
            let readOnly = WebAccess(token: token)
            #expect(!readOnly.actionsEnabled)
            #expect(readOnly.check(authorization: "Bearer ", origin: nil, fetchSite: nil, host: nil) == .readOnly)
        }
    }
}

@Suite struct WebViewTests {
    @Test func equityPointsCarryTheRunningDrawdown() {
        let points = EquityPoint.series([
            ("2025-07-01", Money(units: 100_000 * Money.unitsPerDollar)), ("2025-07-02", Money(units: 110_000 * Money.unitsPerDollar)),
            ("2025-07-03", Money(units: 99_000 * Money.unitsPerDollar)), ("2025-07-07", Money(units: 120_000 * Money.unitsPerDollar)),
        ])
        #expect(points.map(\.drawdownPct) == [0, 0, 10, 0])
        #expect(points.map(\.date) == ["2025-07-01", "2025-07-02", "2025-07-03", "2025-07-07"])
    }

    @Test func theEquityChartIsAnSVGWithOnePointPerDayAndNoInlineStyle() {
        let points = EquityPoint.series((1...5).map { ("2025-07-0\($0)", Money(units: Int64(100 + $0 % 3) * Money.unitsPerDollar)) })
        let svg = EquityChart.svg(points)
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>"))
        let line = svg.split(separator: "id=\"equity-line\" points=\"")[1].split(separator: "\"")[0]
        #expect(line.split(separator: " ").count == 5)
        #expect(!svg.contains("style=") && !svg.contains("<script"))
        #expect(EquityChart.svg([]).contains("no end-of-day equity yet"))
    }

    @Test func peerTextIsEscapedInPages() {
        #expect(Html.escape("<script>alert('x')</script> & \"") == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;")
    }
}
