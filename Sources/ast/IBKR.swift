import ASTCore
import ASTExecution
import ASTIBKR
import ASTJournal
import ASTRuntime
import ASTTWS
import ASTTWSClient
import ArgumentParser
import Foundation
import Logging
import Synchronization

/// `ast ibkr`: operator tools for the TWS API connection.
struct IBKRCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ibkr", abstract: "Interactive Brokers: check the TWS / IB Gateway API connection.",
        subcommands: [IBKRCheckCommand.self, IBKRTestOrderCommand.self])
}

/// `ast ibkr check`: connects with the configured (or given) host, port and client id, prints the
/// server version, the accounts, positions, open orders and the day's executions, and disconnects.
/// Read-only: it sends no order and changes nothing at IB.
struct IBKRCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Connect to TWS / IB Gateway and print the server version, accounts, positions, open orders and today's executions "
            + "(read-only).")

    @OptionGroup var connection: IBKRConnectionOptions
    @Option(help: "Seconds to wait for each answer.") var timeout: Int = 15

    func run() async throws {
        let tws = try connection.open(timeout: timeout, echo: false)
        defer { tws.close() }
        let (client, host, port, id) = (tws.client, tws.host, tws.port, tws.id)
        await client.start()
        func next() async -> TWSClientOutput? { await tws.next() }
        print("TWS API at \(host):\(port), client id \(id)")
        var session: TWSSession?
        while session == nil, let o = await next() {
            switch o {
            case .event(.started(let s)): session = s
            case .event(.disconnected(let reason, _)):
                await client.stop()
                throw failure("could not start the API session: \(reason)", ExitStatus.other)
            case .event(.error(let e, _)): print("  error \(e.code): \(e.message)")
            default: break
            }
        }
        guard let session else {
            await client.stop()
            throw failure("no API session within \(timeout) s (is TWS / IB Gateway running, the API enabled, this host trusted?)", 1)
        }
        print("server version: \(session.serverVersion) (connection time \(session.connectionTime))")
        for a in session.accounts { print("account: \(a)\(a.hasPrefix("DU") ? " (paper)" : " (LIVE)")") }
        await client.send(.reqPositions)
        await client.send(.reqAllOpenOrders)
        await client.send(.reqExecutions(reqId: 1, filter: TWSExecutionFilter()))
        var waiting: Set<String> = ["positions", "orders", "executions"]
        var positions: [String] = []
        var orders: [String] = []
        var executions: [String] = []
        while !waiting.isEmpty, let o = await next() {
            switch o {
            case .message(.position(let p)):
                positions.append("  \(p.account) \(p.contract.symbol) \(p.position?.text ?? "?") @ \(p.averageCost?.text ?? "?")")
            case .message(.openOrder(let o)):
                orders.append(
                    "  #\(o.orderId) perm \(o.permId) \(o.action) \(o.totalQuantity?.text ?? "?") \(o.contract.symbol) \(o.orderType) "
                        + "lmt \(o.limitPrice?.text ?? "-") aux \(o.auxPrice?.text ?? "-") ref '\(o.orderRef)' parent \(o.parentId)")
            case .message(.execution(let e)):
                executions.append(
                    "  \(e.execId) \(e.time) \(e.side) \(e.shares?.text ?? "?") \(e.contract.symbol) @ \(e.price?.text ?? "?") "
                        + "order #\(e.orderId) ref '\(e.orderRef)'")
            case .message(.positionEnd): waiting.remove("positions")
            case .message(.openOrderEnd): waiting.remove("orders")
            case .message(.executionEnd): waiting.remove("executions")
            case .event(.error(let e, _)): print("  notice \(e.code): \(e.message)")
            case .event(.disconnected(let reason, _)):
                await client.stop()
                throw failure("disconnected: \(reason)", ExitStatus.other)
            default: break
            }
        }
        await client.stop()
        print("positions: \(positions.count)")
        positions.forEach { print($0) }
        print("open orders: \(orders.count)")
        orders.forEach { print($0) }
        print("executions today: \(executions.count)")
        executions.forEach { print($0) }
        if !waiting.isEmpty { throw failure("TWS did not finish answering within \(timeout) s (\(waiting.sorted()))", ExitStatus.other) }
    }
}

/// The host, port and client id both `ast ibkr` commands take; each defaults to the `ibkr:` section.
struct IBKRConnectionOptions: ParsableArguments {
    @Option(help: "TWS / IB Gateway host (default: ibkr.host).") var host: String?
    @Option(help: "API port (default: ibkr.port).") var port: Int?
    @Option(name: .customLong("client-id"), help: "API client id (default: ibkr.client_id).") var clientId: Int?

    /// The configuration's `ibkr:` section with the options over it, checked.
    func settings(timeout: Int) throws -> IBKRConfig {
        let config: ASTConfig
        do { config = try ConfigLoader.discover().load(ASTConfig.self) } catch { throw failure("\(error)", ExitStatus.other) }
        var ibkr = config.ibkr ?? .standard
        ibkr.host = host ?? ibkr.host
        ibkr.port = port ?? ibkr.port
        ibkr.clientId = clientId ?? ibkr.clientId
        guard (1...65_535).contains(ibkr.port), (0...Int(Int32.max)).contains(ibkr.clientId), (1...600).contains(timeout) else {
            throw failure("--port must be 1...65535, --client-id 0...\(Int32.max), --timeout 1...600", ExitStatus.usage)
        }
        return ibkr
    }

    /// The options over the discovered configuration, checked, and a client for them (not started yet).
    func open(timeout: Int, echo: Bool) throws -> IBKRToolConnection {
        let config: ASTConfig
        do { config = try ConfigLoader.discover().load(ASTConfig.self) } catch { throw failure("\(error)", ExitStatus.other) }
        let ibkr = config.ibkr ?? .standard
        let host = host ?? ibkr.host
        let port = port ?? ibkr.port
        let id = clientId ?? ibkr.clientId
        guard (1...65_535).contains(port), (0...Int(Int32.max)).contains(id), (1...600).contains(timeout) else {
            throw failure("--port must be 1...65535, --client-id 0...\(Int32.max), --timeout 1...600", ExitStatus.usage)
        }
        let logger = Logger(label: "ast.ibkr") { label in StderrLogHandler(label: label, level: .critical) }
        let client = TWSClient(
            host: host, port: port, settings: TWSConnectionSettings(clientId: Int32(id)), clock: SystemClock(), logger: logger)
        return IBKRToolConnection(client: client, ibkr: ibkr, host: host, port: port, id: id, timeout: timeout, echo: echo)
    }
}

/// One `ast ibkr` connection: the client, and its outputs read in order until a per-step deadline.
final class IBKRToolConnection {
    let client: TWSClient
    /// The configuration's `ibkr:` section (or its defaults).
    let ibkr: IBKRConfig
    let host: String
    let port: Int
    let id: Int
    private let timeout: Int
    private let echo: Bool
    private let seen = Seen()
    private let reader: Task<Void, Never>
    private var index = 0
    private var deadline: ContinuousClock.Instant

    /// The outputs as they arrive.
    final class Seen: Sendable { let outputs = Mutex<[TWSClientOutput]>([]) }

    init(client: TWSClient, ibkr: IBKRConfig, host: String, port: Int, id: Int, timeout: Int, echo: Bool) {
        (self.client, self.ibkr, self.host, self.port, self.id) = (client, ibkr, host, port, id)
        (self.timeout, self.echo) = (timeout, echo)
        let seen = seen
        reader = Task { for await o in client.outputs { seen.outputs.withLock { $0.append(o) } } }
        deadline = ContinuousClock.now + .seconds(timeout)
    }

    /// The next output, in order (printed first when echoing); nil when the step's time is up.
    func next() async -> TWSClientOutput? {
        while ContinuousClock.now < deadline {
            if let o = seen.outputs.withLock({ index < $0.count ? $0[index] : nil }) {
                index += 1
                if echo { print("← \(o)") }
                return o
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }

    /// A new step: the full timeout again from now.
    func restartDeadline() { deadline = ContinuousClock.now + .seconds(timeout) }

    /// Stops reading the outputs.
    func close() { reader.cancel() }
}

/// `ast ibkr test-order --symbol S --reference P`: on a paper account only, places a one-share bracket
/// far from the market (entry at half the reference price, stop 10% under it, target at 1.5 times
/// the reference) through the same adapter code `broker@ibkr` runs (``IBKRAdapter``: tick rounding,
/// orderRef, journal-first, account checks), waits for IB's acknowledgements, cancels it and waits
/// for the cancellation, printing every message exchanged. The adapter refuses, before any order is
/// sent, an account that is not `DU...` (the tool trades as trading.mode PAPER).
struct IBKRTestOrderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test-order",
        abstract: "Paper accounts only: place a 1-share bracket far from the market, wait for the acks, cancel it, print every message.")

    @Option(help: "The stock to test with.") var symbol: String
    @Option(help: "A recent price of the stock; the entry is placed at half of it.") var reference: String
    @OptionGroup var connection: IBKRConnectionOptions
    @Option(help: "Seconds to wait for each step.") var timeout: Int = 20

    /// What the adapter told the tool, in order.
    final class Seen: Sendable {
        let reports = Mutex<[ExecutionReport]>([])
        let connection = Mutex<(up: Bool, detail: String)?>(nil)
    }

    func run() async throws {
        guard let sym = Symbol(validating: symbol), symbol.utf8.count <= 12 else {
            throw failure("--symbol \(symbol) is not a symbol", ExitStatus.usage)
        }
        let cent = Price("0.01")!.units
        guard let ref = Price(reference), ref.units >= 100 * cent, ref.units <= Price("100000")!.units else {
            throw failure("--reference must be a price between 1.00 and 100000", ExitStatus.usage)
        }
        let entry = Price(units: ref.units / 2 / cent * cent)
        let stop = Price(units: entry.units * 9 / 10 / cent * cent)
        let target = Price(units: ref.units * 3 / 2 / cent * cent)
        var ibkr = try connection.settings(timeout: timeout)
        ibkr.restartWindowMinutes = 0
        let stamp = Int64(Date().timeIntervalSince1970)
        guard let intent = IntentID(validating: "ast-test-\(stamp)"), let e = ClientOrderID(validating: "\(intent.rawValue).E"),
            let sl = ClientOrderID(validating: "\(intent.rawValue).S"), let tp = ClientOrderID(validating: "\(intent.rawValue).T")
        else { throw failure("no client order id for the test bracket", ExitStatus.other) }
        let oca = BracketBuilder.ocaGroup(for: intent)
        let bracket = BracketOrder(
            intent: intent,
            entry: OrderSpec(
                clientOrderID: e, intent: intent, leg: .entry, symbol: sym, side: .buy, quantity: Quantity(1), type: .limit,
                limitPrice: entry,
                timeInForce: .day),
            stopLoss: OrderSpec(
                clientOrderID: sl, intent: intent, leg: .stopLoss, symbol: sym, side: .sell, quantity: Quantity(1), type: .stop,
                stopPrice: stop, timeInForce: .day, parent: e, ocaGroup: oca),
            takeProfit: OrderSpec(
                clientOrderID: tp, intent: intent, leg: .takeProfit, symbol: sym, side: .sell, quantity: Quantity(1), type: .limit,
                limitPrice: target, timeInForce: .day, parent: e, ocaGroup: oca))

        // The adapter journals as broker@ibkr does, into a journal of its own that lives as long as the run.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ast-ibkr-test-order-\(getpid())-\(stamp)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let logger = Logger(label: "ast.ibkr") { label in StderrLogHandler(label: label, level: .critical) }
        let journal = try Journal(path: dir + "/ibkr-test-order.sqlite", process: "ibkr-test-order", logger: logger)
        defer { try? journal.close() }
        let seen = Seen()
        let adapter = try IBKRAdapter(
            name: "ibkr-test-order", config: ibkr, trading: .paper, journal: journal, clock: SystemClock(), logger: logger,
            deliver: { reports in
                for r in reports { print("  report: \(r.event.summary)") }
                seen.reports.withLock { $0 += reports }
            },
            connectionChanged: { up, detail in
                print("  connection \(up ? "up" : "down"): \(detail)")
                seen.connection.withLock { $0 = (up, detail) }
            },
            accountChanged: { why in print("  account changed: \(why)") }, echo: { print($0) })
        let runner = Task { await adapter.run() }
        func finish() async {
            await adapter.stop()
            runner.cancel()
        }
        /// Waits up to the timeout for `done` to say something (nil: keep waiting).
        func wait<T>(_ done: () -> T?) async -> T? {
            let deadline = ContinuousClock.now + .seconds(timeout)
            while ContinuousClock.now < deadline {
                if let v = done() { return v }
                try? await Task.sleep(for: .milliseconds(5))
            }
            return nil
        }
        guard let (up, detail) = await wait({ seen.connection.withLock { $0 } }) else {
            await finish()
            throw failure("no API session within \(timeout) s", ExitStatus.other)
        }
        guard up else {
            await finish()
            throw failure(detail.contains("refused") ? detail : "could not start the API session: \(detail)", ExitStatus.other)
        }
        _ = try await adapter.submit(bracket, messageID: nil)
        let legs = Set(bracket.legs.map(\.clientOrderID))
        func finals() -> [ClientOrderID: String] {
            var out: [ClientOrderID: String] = [:]
            for r in seen.reports.withLock({ $0 }) {
                switch r.event {
                case .accepted(let id): out[id] = out[id] ?? "accepted"
                case .rejected(let id, let why): out[id] = "rejected: \(why)"
                case .cancelled(let id, let why): out[id] = "cancelled: \(why)"
                case .unacknowledged(let id, let why): out[id] = "unacknowledged: \(why)"
                default: break
                }
            }
            return out
        }
        let acked = await wait { Set(finals().keys) == legs ? finals() : nil }
        if let failed = acked?.values.first(where: { !$0.hasPrefix("accepted") }) {
            await finish()
            throw failure("IB did not take the test order: \(failed)", ExitStatus.other)
        }
        let answer = try await adapter.cancel(e, reason: "ast ibkr test-order", messageID: nil)
        print("  \(answer.message)")
        let cancelled = await wait { () -> Bool? in
            let r = seen.reports.withLock { $0 }
            let gone = Set(r.compactMap { if case .cancelled(let id, _) = $0.event { id } else { nil } })
            return gone == legs ? true : nil
        }
        await finish()
        guard acked != nil else { throw failure("IB acknowledged \(finals().count) of 3 orders within \(timeout) s", ExitStatus.other) }
        guard cancelled != nil else {
            throw failure("the test bracket was not confirmed cancelled within \(timeout) s: check TWS", ExitStatus.other)
        }
        print("test order: 3 orders acknowledged, bracket cancelled")
    }
}
