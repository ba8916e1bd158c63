// The TWS protocol core's encode and decode speed, built with -O by scripts/bench-tws (ASTCore and
// ASTTWS compiled into one module with this file: no package build needed).

func fields(_ f: [String]) -> [UInt8] { f.flatMap { Array($0.utf8) + [0] } }

@inline(never) func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }

func measure(_ name: String, count: Int, messagesPerRun: Int = 1, _ body: () throws -> Void) rethrows {
    var best = Double.infinity
    for _ in 0..<5 {
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<count { try body() }
        let d = clock.now - start
        let s = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        best = min(best, s)
    }
    let messages = Double(count * messagesPerRun)
    let each = Int(best / messages * 1e9)
    print("\(name): \(Int(messages / best)) messages/s (\(each) ns each, best of 5 runs of \(count * messagesPerRun))")
}

@main struct BenchTWS {
    static func main() throws {
        let version = TWSServerVersion.highest
        let legs = try TWSBracket.placements(
            parentId: 1001, side: .buy, quantity: 100, entry: Price("150.25")!, stop: Price("145.50")!, target: Price("160.00")!,
            clientOrderId: "ig-20261207-AAPL-1", account: "DU1234567")
        let contract = TWSContract(symbol: "AAPL", conId: 265598)
        try measure("encode placeOrder (one bracket leg, framed)", count: 200_000) {
            let request = TWSRequest.placeOrder(orderId: legs[2].orderId, contract: contract, order: legs[2].order)
            blackHole(TWSWire.frame(try request.encode(at: version)))
        }
        let status = fields(["3", "1001", "Submitted", "40", "60", "150.25", "1234567890123", "0", "150.25", "7", "", "0"])
        let execution = fields([
            "11", "3", "1001", "265598", "AAPL", "STK", "", "0", "", "", "ISLAND", "USD", "AAPL", "NMS", "0000e0d5.67a1b2c3.01.01",
            "20261207 09:30:01 US/Eastern", "DU1234567", "ISLAND", "BOT", "60", "150.25", "1234567890123", "7", "0", "60", "150.25",
            "ig-20261207-AAPL-1.E", "", "", "", "1", "0", "ast",
        ])
        let openOrder = fields(
            [
                "5", "1001", "265598", "AAPL", "STK", "", "0", "", "", "SMART", "USD", "AAPL", "NMS", "BUY", "100", "LMT", "150.25", "",
                "GTC", "", "DU1234567", "", "0", "ig-20261207-AAPL-1.E", "7", "1234567890123", "0", "0", "0", "", "", "", "", "", "", "",
                "", "", "", "0",
                "", "-1", "0", "", "", "", "", "", "0", "0", "0", "0", "", "0", "0", "0", "", "0", "0",
            ] + Array(repeating: "", count: 120) + ["Submitted"])
        try measure("decode orderStatus", count: 500_000) { blackHole(try TWSMessage.decode(status, at: version)) }
        try measure("decode execDetails", count: 300_000) { blackHole(try TWSMessage.decode(execution, at: version)) }
        try measure("decode openOrder (~180 fields)", count: 100_000) { blackHole(try TWSMessage.decode(openOrder, at: version)) }
        var stream: [UInt8] = []
        for _ in 0..<1000 { stream += TWSWire.frame(status) + TWSWire.frame(execution) }
        try measure("frame + decode a stream fed in 1,460-byte segments", count: 1, messagesPerRun: 200_000) {
            for _ in 0..<100 {
                var d = TWSFrameDecoder()
                var offset = 0
                while offset < stream.count {
                    let end = min(stream.count, offset + 1460)  // one TCP segment at a time
                    d.append(stream[offset..<end])
                    offset = end
                    while let p = try d.next() { blackHole(try TWSMessage.decode(p, at: version)) }
                }
            }
        }
    }
}
