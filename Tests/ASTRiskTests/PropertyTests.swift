import ASTCore
import ASTMessages
import Foundation
import Testing

@testable import ASTRisk

struct Step: Sendable, Equatable, Codable {
    var now: Timestamp
    var input: RiskInput
}

/// Random but plausible inputs, with some nonsense a buggy peer could send.
struct InputGenerator {
    var rng: SplitMix64
    var now = t0
    var step = 0
    var intentIDs: [IntentGroup] = []
    static let symbols: [Symbol] = ["AAPL", "MSFT", "NVDA", "XOM"]
    static let sectors: [Symbol: String] = ["AAPL": "tech", "MSFT": "tech", "NVDA": "tech", "XOM": "energy"]
    static let children: [ProcessIdentity] = [paper, ibkr, ProcessIdentity(role: .marketdata), ProcessIdentity(role: .strategy)]

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func int(_ range: ClosedRange<Int64>) -> Int64 { Int64.random(in: range, using: &rng) }
    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &rng) < percent }
    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &rng)] }
    /// About 100.00, give or take `spread` %.
    mutating func price(around base: Int64 = 1_000_000, spread: Int64 = 8) -> Price {
        Price(units: base + base * int(-spread * 100...spread * 100) / 10_000)
    }

    mutating func next() -> Step {
        step += 1
        now = now.advanced(by: .milliseconds(int(0...20_000)))
        let roll = Int.random(in: 0..<200, using: &rng)
        let input: RiskInput
        switch roll {
        case 0..<60: input = .intent(intent())
        case 60..<104:
            let at = chance(10) ? now.advanced(by: .seconds(-30)) : now
            input = .mark(MarketMark(symbol: pick(Self.symbols), price: chance(2) ? .zero : price(), at: at))
        case 104..<120: input = .portfolio(snapshot())
        case 120..<136:
            // Brokers come back more often than anything goes down, or the run sits in HALTED.
            let kind = pick([LifecycleKind.exited, .watchdogTimeout, .stopped, .spawned, .restarted] + Array(repeating: .ready, count: 7))
            let child = kind == .ready && chance(80) ? pick([paper, ibkr]) : pick(Self.children)
            let impact: CrashImpact? =
                kind == .exited || kind == .watchdogTimeout ? (child.role == .broker ? .halt : pick([.reduce, .noEffect])) : nil
            input = .lifecycle(LifecycleEvent(kind: kind, child: child, reason: "exited with code 1", onCrash: impact, at: now))
        case 136..<144:
            input = .brokerConnection(BrokerConnectionReport(broker: pick([paper, ibkr]), connected: chance(90)))
        case 144..<168: input = .reconciliation(chance(95) ? .clean : .mismatch("positions differ"))
        case 168: input = .journalVerificationFailed(detail: "hash chain broken at entry \(step)")
        case 169..<171: input = .command(.halt(reason: "drill \(step)"))
        case 171..<193: input = .command(.resume(to: chance(75) ? .active : .reducing))
        case 193..<199: input = .cancel(CancelRequest(orderID: "o-\(step)", kind: pick(CancelKind.allCases)))
        default: input = .startedAfterUncleanExit
        }
        return Step(now: now, input: input)
    }

    mutating func intent() -> IntentGroup {
        if !intentIDs.isEmpty, chance(6) { return pick(intentIDs) }  // a re-send
        let symbol = pick(Self.symbols)
        let side: Side = chance(50) ? .buy : .sell
        let entry: EntryOrder = chance(50) ? .market : .limit(price(spread: 7))
        let reference = entry.limitPrice?.units ?? 1_000_000
        let distance = int(100...15_000)
        let wrongSide = chance(5)
        let stopBelow = (side == .buy) != wrongSide
        let stopUnits = stopBelow ? reference - distance : reference + distance
        let group = IntentGroup(
            id: IntentID(validating: "p-\(step)")!, symbol: symbol, sector: chance(90) ? Self.sectors[symbol] : nil, side: side,
            quantity: Quantity(chance(3) ? int(-5...0) : int(1...(chance(20) ? 150 : 60))), entry: entry,
            stopLoss: chance(85) ? Price(units: stopUnits) : nil,
            takeProfit: chance(40) ? Price(units: side == .buy ? reference + 2 * distance : reference - 2 * distance) : nil,
            createdAt: now)
        intentIDs.append(group)
        return group
    }

    mutating func snapshot() -> PortfolioSnapshot {
        var positions: [Symbol: PositionSnapshot] = [:]
        for s in Self.symbols where chance(50) {
            positions[s] = PositionSnapshot(
                quantity: Quantity(int(-90...90)), averagePrice: price(), sector: Self.sectors[s], lastMark: price())
        }
        let equity = int(85_000...110_000) * 10_000
        return PortfolioSnapshot(
            asOf: chance(10) ? now.advanced(by: .seconds(-200)) : now, cash: Money(units: equity), equity: Money(units: equity),
            peakEquity: Money(units: equity + int(0...(chance(15) ? 15_000 : 6_000)) * 10_000),
            startOfDayEquity: Money(units: equity + int(-1_500...(chance(15) ? 3_000 : 1_500)) * 10_000),
            positions: positions, openOrders: Int(int(0...3)))
    }
}

/// What the test itself knows of positions, independently of the gate's bookkeeping: the last
/// accepted snapshot and the new approvals since.
struct PositionModel {
    var asOf: Timestamp?
    var held: [Symbol: Int64] = [:]
    var approvals: [(symbol: Symbol, delta: Int64, at: Timestamp)] = []
    var seen: Set<ApprovalID> = []

    func position(_ s: Symbol) -> Int64 { held[s, default: 0] + approvals.filter { $0.symbol == s }.reduce(0) { $0 + $1.delta } }

    mutating func accept(_ snapshot: PortfolioSnapshot) {
        if let asOf, snapshot.asOf < asOf { return }
        asOf = snapshot.asOf
        held = snapshot.positions.mapValues(\.quantity.shares)
        approvals.removeAll { $0.at <= snapshot.asOf }
    }
}

@Suite struct PropertyTests {
    static func run(_ steps: [Step], checking: Bool) -> [[RiskOutput]] {
        var gate = try! RiskGate(limits: .cautiousDefaults.with { $0.maxOrdersPerWindow = 4 }, restoring: .firstStart(at: t0))
        var model = PositionModel()
        var all: [[RiskOutput]] = []
        for step in steps {
            let before = gate.state
            let out = gate.handle(step.input, now: step.now)
            all.append(out)
            guard checking else { continue }
            if case .portfolio(let s) = step.input { model.accept(s) }
            for case .decision(let d) in out {
                guard let a = d.decision.approval else { continue }
                #expect(before != .halted, "approval \(a.id) left HALTED")
                #expect(a.state == before || model.seen.contains(a.id))
                guard !model.seen.contains(a.id) else { continue }
                let p = model.position(a.symbol)
                let r = p + a.side.signed(a.quantity).shares
                if before == .safeReducing {
                    #expect(
                        p != 0 && abs(r) < abs(p) && (r == 0 || (r > 0) == (p > 0)),
                        "SAFE_REDUCING approved \(a.side) \(a.quantity) \(a.symbol) on a position of \(p)")
                }
                model.seen.insert(a.id)
                model.approvals.append((a.symbol, a.side.signed(a.quantity).shares, step.now))
            }
            // Transitions chain from the state before, each with its alert; only a resume leaves HALTED.
            var state = before
            for t in out.transitions {
                #expect(t.from == state && t.at == step.now)
                if t.from == .halted {
                    var byResume = false
                    if case .command(.resume) = step.input { byResume = true }
                    #expect(byResume, "left HALTED on \(step.input)")
                }
                state = t.to
            }
            #expect(state == gate.state)
            #expect(out.alerts == out.transitions.map { Alert(for: $0) })
        }
        return all
    }

    static func steps(seed: UInt64, count: Int = 400) -> [Step] {
        var generator = InputGenerator(seed: seed)
        return (0..<count).map { _ in generator.next() }
    }

    @Test(arguments: 0..<120)
    func randomSequencesKeepTheSafeModeInvariants(seed: UInt64) {
        _ = Self.run(Self.steps(seed: seed), checking: true)
    }

    /// Replay: the same inputs give the same outputs, also after a round trip of the inputs
    /// through JSON as a journal would store them.
    @Test(arguments: 0..<30)
    func replayingTheSameInputsGivesTheSameOutputs(seed: UInt64) throws {
        let steps = Self.steps(seed: seed)
        let first = Self.run(steps, checking: false)
        #expect(Self.run(steps, checking: false) == first)
        let journaled = try JSONEncoder().encode(steps)
        let replayed = try JSONDecoder().decode([Step].self, from: journaled)
        #expect(replayed == steps)
        let again = Self.run(replayed, checking: false)
        #expect(again == first)
        let outputs = try JSONEncoder().encode(first)
        #expect(try JSONDecoder().decode([[RiskOutput]].self, from: outputs) == first)
    }

    /// The gate restored from the record of its last transition is in the same Safe Mode state
    /// and, when HALTED, approves nothing.
    @Test(arguments: 0..<30)
    func restoringFromTheLastTransitionKeepsTheState(seed: UInt64) throws {
        let steps = Self.steps(seed: seed)
        var gate = try RiskGate(restoring: .firstStart(at: t0))
        var last: SafeModeTransition?
        for step in steps {
            last = gate.handle(step.input, now: step.now).transitions.last ?? last
        }
        let record = last.map(SafeModeRecord.init) ?? .firstStart(at: t0)
        #expect(record == gate.record)
        var restored = try RiskGate(restoring: record)
        #expect(restored.state == gate.state && restored.since == gate.since && restored.cause == gate.cause)
        if restored.state == .halted {
            let out = restored.handle(.intent(intent(quantity: 1)), now: steps.last!.now)
            #expect(out.decisions.first?.decision.reason == .tradingHalted)
        }
    }
}

extension PropertyTests {
    /// The generator must reach what the invariants are about, or they hold vacuously.
    @Test func randomSequencesReachEveryStateAndDecision() {
        var reducingApprovals = 0, reducingBlocks = 0, haltedBlocks = 0, downgrades = 0, resumes = 0, approvals = 0
        var causes: Set<SafeModeCause.Kind> = []
        for seed in UInt64(0)..<120 {
            let steps = Self.steps(seed: seed)
            var gate = try! RiskGate(limits: .cautiousDefaults.with { $0.maxOrdersPerWindow = 4 }, restoring: .firstStart(at: t0))
            for step in steps {
                let before = gate.state
                let out = gate.handle(step.input, now: step.now)
                for t in out.transitions { causes.insert(t.cause.kind) }
                if case .command(.resume) = step.input, !out.transitions.isEmpty { resumes += 1 }
                for d in out.decisions {
                    switch (before, d.decision) {
                    case (.safeReducing, .approve): reducingApprovals += 1
                    case (.safeReducing, .block): reducingBlocks += 1
                    case (.halted, .block): haltedBlocks += 1
                    case (_, .downgrade): downgrades += 1
                    case (.active, .approve): approvals += 1
                    default: break
                    }
                }
            }
        }
        #expect(
            approvals > 300 && downgrades > 100 && reducingApprovals > 30 && reducingBlocks > 300 && haltedBlocks > 1000 && resumes > 200)
        #expect(causes.count >= 8)
    }
}
