import ASTCore
import Foundation
import Testing

@testable import ASTPaperBroker

/// Draws over ASTCore's seeded generator, so the random sequences are the same on every run.
struct Draws {
    var rng: SplitMix64
    init(seed: UInt64) { rng = SplitMix64(seed: seed) }
    mutating func int(_ range: ClosedRange<Int64>) -> Int64 {
        range.lowerBound + Int64(rng.next() % UInt64(range.upperBound - range.lowerBound + 1))
    }
    mutating func chance(_ percent: Int64) -> Bool { int(1...100) <= percent }
    mutating func pick<T>(_ items: [T]) -> T { items[Int(int(0...Int64(items.count - 1)))] }
}

/// Replay, snapshots and the invariants they rest on.
@Suite struct DeterminismTests {
    /// A random but reproducible day-by-day sequence of every kind of input, in time order.
    static func inputs(seed: UInt64, days: Int64 = 40) -> [(PaperInput, Timestamp)] {
        var rng = Draws(seed: seed)
        var result: [(PaperInput, Timestamp)] = []
        var level: [Symbol: Int64] = ["AAPL": 100 * 10_000, "MSFT": 300 * 10_000]
        var ids: [ClientOrderID] = []
        var brackets: [BracketOrder] = []
        let symbols: [Symbol] = ["AAPL", "MSFT"]
        func price(_ units: Int64) -> String { Price(units: max(1, units)).description }
        for day in 0..<days {
            var minute = preMarket
            func at() -> Timestamp {
                minute += 1
                return t(day, minute)
            }
            for n in 0..<rng.int(0...3) {
                if rng.chance(10), let old = brackets.isEmpty ? nil : rng.pick(brackets) {
                    result.append((.submit(old), at()))  // a duplicate
                    continue
                }
                let symbol = rng.pick(symbols)
                let mid = level[symbol]!
                let intent = IntentID(validating: "d\(day)n\(n)")!
                let side: Side = rng.chance(70) ? .buy : .sell
                let type = rng.pick(OrderType.allCases)
                let offset = rng.int(-300_000...300_000)
                let e = entry(
                    intent, side: side, quantity: rng.chance(3) ? 0 : rng.int(1...400), type: type,
                    limit: type == .limit || type == .stopLimit ? price(mid + offset) : nil,
                    stop: type == .stop || type == .stopLimit ? price(mid - offset) : nil,
                    tif: rng.chance(50) ? .day : .gtc, symbol: symbol)
                let risk = rng.int(10_000...80_000)
                let dir: Int64 = side == .buy ? 1 : -1
                let b = BracketOrder(
                    intent: intent, entry: e,
                    stopLoss: rng.chance(70)
                        ? child(
                            of: e, .stopLoss, type: rng.chance(80) ? .stop : .stopLimit,
                            limit: price(mid - dir * (risk + 5_000)), stop: price(mid - dir * risk)) : nil,
                    takeProfit: rng.chance(60) ? child(of: e, .takeProfit, type: .limit, limit: price(mid + dir * 2 * risk)) : nil)
                // stop children of type .stop must carry no limit price
                var fixed = b
                if fixed.stopLoss?.type == .stop { fixed.stopLoss?.limitPrice = nil }
                brackets.append(fixed)
                ids.append(contentsOf: fixed.legs.map(\.clientOrderID))
                result.append((.submit(fixed), at()))
            }
            if rng.chance(15) {
                let injection: PaperInjection
                switch rng.int(0...4) {
                case 0: injection = .rejectNext(reason: "drill: rejected")
                case 1: injection = .dropNextAcknowledgement
                case 2: injection = .disconnect(seconds: Int(rng.int(0...200_000)))
                case 3: injection = ids.isEmpty ? .dropNextAcknowledgement : .brokerCancel(rng.pick(ids))
                default: injection = ids.isEmpty ? .dropNextAcknowledgement : .brokerCancelSilently(rng.pick(ids))
                }
                result.append((.inject(injection), at()))
            }
            if rng.chance(20), !ids.isEmpty {
                result.append((.cancel(rng.pick(ids), reason: "strategy cancel"), at()))
            }
            for symbol in symbols where rng.chance(90) {
                let open = max(10_000, level[symbol]! + rng.int(-40_000...40_000))
                let close = max(10_000, open + rng.int(-60_000...60_000))
                let high = max(open, close) + rng.int(0...50_000)
                let low = max(1, min(open, close) - rng.int(0...50_000))
                level[symbol] = close
                let b = Bar(
                    symbol: symbol, start: t(day, sessionOpen), open: Price(units: open), high: Price(units: high),
                    low: Price(units: low), close: Price(units: close), volume: rng.int(0...6_000))
                result.append((.bar(b), t(day, afterClose + 1)))
                if rng.chance(5) { result.append((.bar(b), t(day, afterClose + 2))) }  // a stale duplicate
            }
            result.append((.sessionClose(t(day, 20 * 60)), t(day, afterClose + 3)))
            if rng.chance(30) { result.append((.tick, t(day, afterClose + 4))) }
        }
        return result
    }

    static func run(_ inputs: [(PaperInput, Timestamp)], from start: PaperExchange) -> (PaperExchange, [PaperOutcome]) {
        var exchange = start
        var outcomes: [PaperOutcome] = []
        for (input, now) in inputs {
            outcomes.append(exchange.handle(input, now: now))
        }
        return (exchange, outcomes)
    }

    static let config = PaperBrokerConfig(maxVolumeSharePercent: 10)

    @Test(arguments: [1, 2, 3, 42] as [UInt64])
    func replayingTheSameInputsGivesTheSameReportsAndState(seed: UInt64) throws {
        let inputs = Self.inputs(seed: seed)
        let fresh = PaperExchange(name: "broker@paper", config: Self.config)
        let (a, outA) = Self.run(inputs, from: fresh)
        let (b, outB) = Self.run(inputs, from: fresh)
        #expect(outA == outB)
        #expect(a == b)
        // The sequence exercised the exchange.
        #expect(a.executions.count > 10)
        #expect(outA.flatMap(\.events).contains { if case .cancelled = $0 { true } else { false } })

        // Report ids are consecutive over the whole run.
        let ids = outA.flatMap(\.reports).map(\.id)
        #expect(ids == (0..<ids.count).map { "broker@paper-r\($0 + 1)" })
    }

    @Test(arguments: [7, 8] as [UInt64])
    func snapshotRoundTripsThroughJSONAndResumesIdentically(seed: UInt64) throws {
        let inputs = Self.inputs(seed: seed)
        let half = inputs.count / 2
        let fresh = PaperExchange(name: "broker@paper", config: Self.config)
        let (whole, outWhole) = Self.run(inputs, from: fresh)
        let (middle, outFirst) = Self.run(Array(inputs[..<half]), from: fresh)

        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(middle)
        let restored = try JSONDecoder().decode(PaperExchange.self, from: data)
        #expect(restored == middle)
        #expect(try encoder.encode(restored) == data)

        let (resumed, outSecond) = Self.run(Array(inputs[half...]), from: restored)
        #expect(outFirst + outSecond == outWhole)
        #expect(resumed == whole)
        #expect(try JSONDecoder().decode(PaperExchange.self, from: encoder.encode(whole)) == whole)
    }

    @Test func inputsAndOutcomesRoundTripThroughJSON() throws {
        let inputs = Self.inputs(seed: 5, days: 10)
        let (_, outcomes) = Self.run(inputs, from: PaperExchange(name: "broker@paper", config: Self.config))
        let decodedInputs = try JSONDecoder().decode([PaperInput].self, from: JSONEncoder().encode(inputs.map(\.0)))
        #expect(decodedInputs == inputs.map(\.0))
        #expect(try JSONDecoder().decode([PaperOutcome].self, from: JSONEncoder().encode(outcomes)) == outcomes)
    }

    /// Cash = starting cash − cost basis of what is held + realised P&L − commissions, exactly,
    /// after every input; no order works more than it may; ids are unique.
    @Test(arguments: [11, 12, 13] as [UInt64])
    func accountingAndOrderInvariantsHoldAfterEveryInput(seed: UInt64) {
        var exchange = PaperExchange(name: "broker@paper", config: Self.config)
        for (input, now) in Self.inputs(seed: seed) {
            _ = exchange.handle(input, now: now)
            let basis = exchange.book.reduce(Money.zero) { $0 + $1.costBasis }
            #expect(exchange.cash == Self.config.startingCash - basis + exchange.realizedPnL - exchange.commissionsPaid)
            let fromExecutions = exchange.executions.reduce(into: [Symbol: Int64]()) {
                $0[$1.symbol, default: 0] += $1.side.signed($1.quantity).shares
            }
            for position in exchange.book {
                #expect(position.quantity.shares == fromExecutions[position.symbol, default: 0])
            }
            for o in exchange.orders {
                #expect(o.filledQuantity <= o.spec.quantity)
                #expect(o.workingQuantity >= .zero)
                #expect(o.filledQuantity + o.workingQuantity <= o.spec.quantity)
                if !o.status.isOpen { #expect(o.workingQuantity == .zero) }
                if let parent = o.spec.parent, let entry = exchange.order(parent) {
                    let siblings = exchange.orders.filter { $0.spec.parent == parent }
                    #expect(siblings.reduce(Quantity.zero) { $0 + $1.filledQuantity } <= entry.filledQuantity)
                }
            }
        }
        #expect(Set(exchange.executions.map(\.executionID)).count == exchange.executions.count)
    }

    @Test func configUsesSnakeCaseKeysAndDefaultsMissingOnes() throws {
        let json = #"{"slippage_bps": 7, "both_touched": "open_proximity", "max_volume_share_percent": 2.5}"#
        let config = try JSONDecoder().decode(PaperBrokerConfig.self, from: Data(json.utf8))
        var expected = PaperBrokerConfig.standard
        expected.slippageBps = 7
        expected.bothTouched = .openProximity
        expected.maxVolumeSharePercent = Percent("2.5")!
        #expect(config == expected)
        let encoded = String(decoding: try JSONEncoder().encode(PaperBrokerConfig.standard), as: UTF8.self)
        for key in [
            "starting_cash", "both_touched", "max_volume_share_percent", "slippage_bps", "commission_per_share",
            "commission_minimum", "commission_maximum_percent",
        ] {
            #expect(encoded.contains("\"\(key)\""))
        }
        #expect(try JSONDecoder().decode(PaperBrokerConfig.self, from: JSONEncoder().encode(PaperBrokerConfig.standard)) == .standard)
        #expect(PaperBrokerConfig.standard.startingCash == money("100000"))
        #expect(PaperBrokerConfig.standard.commissionPerShare == money("0.005"))
    }
}
