import ASTCore

@testable import ASTPaperBroker

/// A price from its decimal text, for readable tests.
func p(_ text: String) -> Price { Price(text)! }
func money(_ text: String) -> Money { Money(text)! }

/// Minute `minutes` (UTC) of day `day` after an arbitrary Monday.
func t(_ day: Int64, _ minutes: Int64) -> Timestamp {
    Timestamp(nanoseconds: (1_704_067_200 / 60 + day * 1440 + minutes) * 60_000_000_000)
}
let preMarket: Int64 = 13 * 60  // 09:00 New York
let sessionOpen: Int64 = 14 * 60 + 30  // 09:30 New York, a daily bar's start
let afterClose: Int64 = 21 * 60  // 17:00 New York, when a daily bar arrives

/// No slippage, no commission, no volume cap: isolates the price rules.
let frictionless = PaperBrokerConfig(
    maxVolumeSharePercent: 100, slippageBps: 0, commissionPerShare: .zero,
    commissionMinimum: .zero, commissionMaximumPercent: 0)

func entry(
    _ intent: IntentID = "i1", side: Side = .buy, quantity: Int64 = 100, type: OrderType = .market,
    limit: String? = nil, stop: String? = nil, tif: TimeInForce = .day, symbol: Symbol = "AAPL"
) -> OrderSpec {
    OrderSpec(
        clientOrderID: ClientOrderID(intent: intent, leg: .entry), intent: intent, leg: .entry, symbol: symbol,
        side: side, quantity: Quantity(quantity), type: type, limitPrice: limit.map(p), stopPrice: stop.map(p),
        timeInForce: tif)
}

func child(
    of e: OrderSpec, _ leg: BracketLeg, type: OrderType, limit: String? = nil, stop: String? = nil,
    tif: TimeInForce = .gtc
) -> OrderSpec {
    OrderSpec(
        clientOrderID: ClientOrderID(intent: e.intent, leg: leg), intent: e.intent, leg: leg, symbol: e.symbol,
        side: e.side.opposite, quantity: e.quantity, type: type, limitPrice: limit.map(p), stopPrice: stop.map(p),
        timeInForce: tif, parent: e.clientOrderID, ocaGroup: "oca-\(e.intent)")
}

/// An entry alone.
func standalone(_ e: OrderSpec) -> BracketOrder { BracketOrder(intent: e.intent, entry: e, stopLoss: nil, takeProfit: nil) }

/// An entry with a stop order (stop loss) and a limit order (take profit), both GTC.
func bracket(_ e: OrderSpec, stop: String?, target: String?) -> BracketOrder {
    BracketOrder(
        intent: e.intent, entry: e, stopLoss: stop.map { child(of: e, .stopLoss, type: .stop, stop: $0) },
        takeProfit: target.map { child(of: e, .takeProfit, type: .limit, limit: $0) })
}

func bar(
    _ day: Int64, _ open: String, _ high: String, _ low: String, _ close: String, volume: Int64 = 1_000_000,
    symbol: Symbol = "AAPL"
) -> Bar {
    Bar(symbol: symbol, start: t(day, sessionOpen), open: p(open), high: p(high), low: p(low), close: p(close), volume: volume)
}

/// An exchange with a record of everything it said.
struct Harness {
    var exchange: PaperExchange
    var outcomes: [PaperOutcome] = []

    init(_ config: PaperBrokerConfig = frictionless) {
        exchange = PaperExchange(name: "broker@paper", config: config)
    }

    @discardableResult
    mutating func send(_ input: PaperInput, at now: Timestamp) -> PaperOutcome {
        let outcome = exchange.handle(input, now: now)
        outcomes.append(outcome)
        return outcome
    }

    @discardableResult
    mutating func submit(_ b: BracketOrder, at now: Timestamp = t(0, preMarket)) -> PaperOutcome {
        send(.submit(b), at: now)
    }

    /// Delivers `b` after the close of its day.
    @discardableResult
    mutating func deliver(_ b: Bar) -> PaperOutcome {
        send(.bar(b), at: Timestamp(nanoseconds: b.start.nanoseconds + (afterClose - sessionOpen) * 60_000_000_000))
    }

    func status(_ id: ClientOrderID) -> BrokerOrderStatus? { exchange.order(id)?.status }
    func working(_ id: ClientOrderID) -> Quantity? { exchange.order(id)?.workingQuantity }
    func filled(_ id: ClientOrderID) -> Quantity? { exchange.order(id)?.filledQuantity }
}

extension PaperOutcome {
    var fills: [Fill] {
        events.compactMap { if case .fill(let f) = $0 { f } else { nil } }
    }
}

let E1: ClientOrderID = "i1.E"
let S1: ClientOrderID = "i1.S"
let T1: ClientOrderID = "i1.T"
