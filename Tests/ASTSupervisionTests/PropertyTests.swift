import ASTCore
import ASTSupervision
import Testing

/// One input to the supervisor, as a shell would feed it.
enum Input: Equatable, Sendable {
    case start
    case spawned(ProcessIdentity, pid: Int32)
    case spawnFailed(ProcessIdentity)
    case ready(pid: Int32)
    case exited(pid: Int32, ExitReason)
    case watchdogMissed(pid: Int32)
    case startTimedOut(pid: Int32)
    case tick
    case shutdown
}

struct Step: Equatable, Sendable {
    var now: Timestamp
    var input: Input
}

extension Supervisor {
    mutating func apply(_ step: Step) -> [SupervisorAction] {
        switch step.input {
        case .start: start(now: step.now)
        case .spawned(let id, let pid): spawned(id, pid: pid, now: step.now)
        case .spawnFailed(let id): spawnFailed(id, error: "EAGAIN", now: step.now)
        case .ready(let pid): ready(pid: pid, now: step.now)
        case .exited(let pid, let reason): exited(pid: pid, reason: reason, now: step.now)
        case .watchdogMissed(let pid): watchdogMissed(pid: pid, now: step.now)
        case .startTimedOut(let pid): startTimedOut(pid: pid, now: step.now)
        case .tick: tick(now: step.now)
        case .shutdown: shutdown(now: step.now)
        }
    }
}

/// A simulated shell: what it was asked to spawn, which processes it has, and random inputs
/// drawn from that (plus some nonsense a buggy shell or a race could produce).
struct SimulatedShell {
    var rng: SplitMix64
    var now = t0
    var lastPid: Int32 = 100
    /// Children the supervisor asked to start, not yet spawned.
    var pending: [ProcessIdentity] = []
    /// Processes the supervisor knows, by the pid it was told.
    var live: [(id: ProcessIdentity, pid: Int32)] = []
    /// Processes spawned without being asked, which the supervisor must stop and ignore.
    var strays: [Int32] = []
    var violations: [String] = []
    /// When restarts were scheduled, per child (each child's budget is its own).
    var restartTimes: [ProcessIdentity: [Timestamp]] = [:]
    /// Children given up on alone, and when their retry is due (nil: never).
    var givenUp: [ProcessIdentity: Timestamp?] = [:]
    var finished = false

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    static let reasons: [ExitReason] = [
        .exited(code: 0), .exited(code: 1), .exited(code: 137), .signaled(signal: 9), .signaled(signal: 11), .signaled(signal: 15),
    ]

    mutating func nextStep(_ ids: [ProcessIdentity]) -> Step {
        let roll = Int.random(in: 0..<100, using: &rng)
        switch roll {
        case 0..<20 where !pending.isEmpty:
            let i = Int.random(in: pending.indices, using: &rng)
            if Int.random(in: 0..<10, using: &rng) == 0 { return Step(now: now, input: .spawnFailed(pending[i])) }
            lastPid += 1
            return Step(now: now, input: .spawned(pending[i], pid: lastPid))
        case 20..<30 where !live.isEmpty:
            return Step(now: now, input: .ready(pid: live.randomElement(using: &rng)!.pid))
        case 30..<42 where !live.isEmpty:
            let reason = Self.reasons.randomElement(using: &rng)!
            return Step(now: now, input: .exited(pid: live.randomElement(using: &rng)!.pid, reason))
        case 42..<44 where !live.isEmpty:
            return Step(now: now, input: .watchdogMissed(pid: live.randomElement(using: &rng)!.pid))
        case 44..<46 where !live.isEmpty:
            return Step(now: now, input: .startTimedOut(pid: live.randomElement(using: &rng)!.pid))
        case 46..<48 where !strays.isEmpty:
            return Step(now: now, input: .exited(pid: strays.removeFirst(), .signaled(signal: 15)))
        case 48..<50:
            lastPid += 1
            return Step(now: now, input: .spawned(ids.randomElement(using: &rng)!, pid: lastPid))
        case 50..<52:
            return Step(
                now: now,
                input: [
                    .exited(pid: 99_999, .exited(code: 1)), .ready(pid: 99_999), .watchdogMissed(pid: 99_999), .startTimedOut(pid: 99_999),
                ].randomElement(using: &rng)!)
        case 52:
            return Step(now: now, input: .start)
        case 53 where Int.random(in: 0..<4, using: &rng) == 0:
            return Step(now: now, input: .shutdown)
        default:
            let jump =
                Int.random(in: 0..<20, using: &rng) == 0
                ? Duration.milliseconds(Int.random(in: 2_000...15_000, using: &rng))
                : Duration.milliseconds(Int.random(in: 0...400, using: &rng))
            now = now.advanced(by: jump)
            return Step(now: now, input: .tick)
        }
    }

    /// Updates the shell's view from an input it fed and the actions it got back, and checks
    /// what must always hold.
    mutating func observe(_ step: Step, _ actions: [SupervisorAction], _ sup: Supervisor, hadGivenUp: Bool, wasDraining: Bool) {
        switch step.input {
        case .spawned(let id, let pid):
            if let i = pending.firstIndex(of: id) {
                pending.remove(at: i)
                live.append((id, pid))
            } else {
                strays.append(pid)
            }
        case .spawnFailed(let id):
            if let i = pending.firstIndex(of: id) { pending.remove(at: i) }
        case .exited(let pid, _):
            live.removeAll { $0.pid == pid }
        default: break
        }
        for action in actions {
            switch action {
            case .start(let id):
                if pending.contains(id) || live.contains(where: { $0.id == id }) {
                    violations.append("\(step): started \(id), which already runs or is being spawned")
                }
                if hadGivenUp || wasDraining || sup.hasGivenUp { violations.append("\(step): started \(id) after a shutdown or a give-up") }
                if let retry = givenUp.removeValue(forKey: id), retry.map({ step.now < $0 }) ?? true {
                    violations.append("\(step): started \(id), given up on until \(String(describing: retry))")
                }
                pending.append(id)
            case .stop(let id, let pid), .abort(let id, let pid):
                if !live.contains(where: { $0.id == id && $0.pid == pid }) && !strays.contains(pid) {
                    violations.append("\(step): stop of \(id) pid \(pid), which is not running")
                }
            case .restartScheduled(let id, _, _):
                restartTimes[id, default: []].append(step.now)
            case .givenUp(let id, _, let retryAt):
                if sup.childSpecs.first(where: { $0.id == id })?.critical != false {
                    violations.append("\(step): gave up on the critical child \(id) alone")
                }
                givenUp[id] = retryAt
                // A fresh budget for the retry.
                restartTimes[id] = nil
            case .giveUp(let reason):
                let culprit = sup.childSpecs.first { reason.hasPrefix("\($0.id) ") }
                if culprit?.critical != true { violations.append("\(step): gave up on the tree for \(reason)") }
            case .report:
                break
            }
        }
        // The supervisor's view and the shell's agree.
        let knownPids = sup.children.compactMap { c in c.pid.map { "\(c.id)#\($0)" } }.sorted()
        let shellPids = live.map { "\($0.id)#\($0.pid)" }.sorted()
        if knownPids != shellPids { violations.append("\(step): supervisor knows \(knownPids), shell has \(shellPids)") }
        let starting = sup.children.filter { $0.state == .starting }.map(\.id.description).sorted()
        if starting != pending.map(\.description).sorted() {
            violations.append("\(step): supervisor starting \(starting), shell pending \(pending)")
        }
    }

    /// The number of restarts of a child in any window of its budget's period never exceeds
    /// its budget's intensity.
    func windowViolations(_ policy: SupervisorPolicy, _ children: [ChildSpec]) -> [String] {
        children.flatMap { spec -> [String] in
            let budget = policy.budget(of: spec)
            let times = restartTimes[spec.id] ?? []
            return times.enumerated().compactMap { i, t in
                let from = t.advanced(by: .zero - budget.period)
                let count = times[...i].filter { $0 >= from }.count
                return count > budget.intensity ? "\(spec.id): \(count) restarts in the window ending \(t)" : nil
            }
        }
    }
}

@Suite struct PropertyTests {
    /// Critical and non-critical children, one with its own budget.
    static let children = [
        child("marketdata", critical: false, startTimeout: .seconds(30)), child("risk"), child("broker@paper", .transient),
        child("report", .temporary), child("notifier", critical: false, budget: RestartBudget(intensity: 1, period: .seconds(5))),
    ]

    static func policy(_ strategy: RestartStrategy, seed: UInt64) -> SupervisorPolicy {
        SupervisorPolicy(
            strategy: strategy, intensity: Int(seed % 5), period: .seconds(10),
            restartBackoff: .milliseconds(100), restartBackoffMax: .seconds(2),
            givenUpRetry: seed % 3 == 0 ? nil : .seconds(3), givenUpRetryMax: .seconds(12))
    }

    /// Runs a random session, then a shutdown driven to its end; returns the inputs, the
    /// actions for each, and the shell's findings.
    static func run(_ strategy: RestartStrategy, seed: UInt64, steps: Int = 400) throws
        -> (steps: [Step], actions: [[SupervisorAction]], shell: SimulatedShell, sup: Supervisor)
    {
        var sup = try Supervisor(children: children, policy: policy(strategy, seed: seed))
        var shell = SimulatedShell(seed: seed)
        var inputs: [Step] = []
        var outputs: [[SupervisorAction]] = []
        var draining = false
        func feed(_ step: Step) {
            let hadGivenUp = sup.hasGivenUp
            let actions = sup.apply(step)
            shell.observe(step, actions, sup, hadGivenUp: hadGivenUp, wasDraining: draining)
            if step.input == .shutdown { draining = true }
            inputs.append(step)
            outputs.append(actions)
        }
        feed(Step(now: shell.now, input: .start))
        for _ in 0..<steps { feed(shell.nextStep(children.map(\.id))) }
        // A shutdown always finishes once the shell answers every spawn and every stop.
        feed(Step(now: shell.now, input: .shutdown))
        for _ in 0..<50 where !sup.isFinished {
            if let id = shell.pending.first {
                shell.lastPid += 1
                feed(Step(now: shell.now, input: .spawned(id, pid: shell.lastPid)))
            } else if let stopping = sup.children.first(where: { if case .stopping = $0.state { true } else { false } }) {
                shell.now = shell.now.advanced(by: .milliseconds(10))
                feed(Step(now: shell.now, input: .exited(pid: stopping.pid!, .signaled(signal: 15))))
            } else {
                break
            }
        }
        return (inputs, outputs, shell, sup)
    }

    @Test(arguments: RestartStrategy.allCases, 1...40)
    func randomSessionsKeepTheInvariants(strategy: RestartStrategy, seed: UInt64) throws {
        let run = try Self.run(strategy, seed: seed)
        #expect(run.shell.violations == [])
        #expect(run.shell.windowViolations(Self.policy(strategy, seed: seed), Self.children) == [])
        #expect(run.sup.isFinished, "shutdown did not finish: \(run.sup.children.map(\.state))")
        if let gaveUp = run.actions.firstIndex(where: \.gaveUp) {
            #expect(run.actions[(gaveUp + 1)...].allSatisfy { $0.starts.isEmpty })
        }
    }

    @Test(arguments: RestartStrategy.allCases, 1...10)
    func replayingTheSameInputsGivesTheSameActions(strategy: RestartStrategy, seed: UInt64) throws {
        let run = try Self.run(strategy, seed: seed)
        var replay = try Supervisor(children: Self.children, policy: Self.policy(strategy, seed: seed))
        let again = run.steps.map { replay.apply($0) }
        #expect(again == run.actions)
        #expect(replay.children == run.sup.children)
    }

    @Test func randomSessionsExerciseRestartsGiveUpsAndIncidents() throws {
        var restarts = 0, giveUps = 0, stopsBeforeShutdown = 0, givenUpAlone = 0, retried = 0
        for seed in UInt64(1)...40 {
            let run = try Self.run(.restForOne, seed: seed)
            restarts += run.shell.restartTimes.values.map(\.count).reduce(0, +)
            if run.sup.hasGivenUp { giveUps += 1 }
            givenUpAlone += run.actions.flatMap(\.givenUp).count
            retried += run.actions.flatMap(\.events).filter { $0.kind == .restarted && ($0.reason ?? "").contains("given up") }.count
            let shutdownAt = run.steps.firstIndex { $0.input == .shutdown } ?? run.steps.count
            stopsBeforeShutdown += run.actions[..<shutdownAt].filter { $0.contains { if case .stop = $0 { true } else { false } } }.count
        }
        #expect(restarts > 100)
        #expect(giveUps > 5)
        #expect(givenUpAlone > 5)
        #expect(retried > 0)
        #expect(stopsBeforeShutdown > 10)
    }
}
