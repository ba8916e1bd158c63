import Testing

@testable import ASTCore

@Suite struct TimeTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (Int64(1_700_000_000_123_456_789), "2023-11-14T22:13:20.123Z"),
        (Int64(951_782_400_000_000_000), "2000-02-29T00:00:00.000Z"),
        (Int64(-1_000_000), "1969-12-31T23:59:59.999Z"),
    ])
    func timestampPrintsUTCISO8601(ns: Int64, expected: String) {
        #expect(Timestamp(nanoseconds: ns).description == expected)
    }

    @Test func durationArithmeticIsExactInNanoseconds() {
        let t = Timestamp(nanoseconds: 1_000)
        #expect(t.advanced(by: .milliseconds(2)).nanoseconds == 2_001_000)
        #expect(t.advanced(by: .seconds(1)).duration(since: t) == .seconds(1))
    }
}

@Suite struct IdentityTests {
    @Test func parsesRoleAndInstance() {
        #expect(ProcessIdentity(parsing: "broker@paper") == ProcessIdentity(role: .broker, instance: "paper"))
        #expect(ProcessIdentity(parsing: "risk") == ProcessIdentity(role: .risk, instance: "main"))
        #expect(ProcessIdentity(parsing: "broker@paper")?.description == "broker@paper")
    }

    @Test(arguments: ["", "@x", "risk@", "Risk", "a b", "risk@pa/per"])
    func refusesMalformedNames(text: String) {
        #expect(ProcessIdentity(parsing: text) == nil)
    }
}
