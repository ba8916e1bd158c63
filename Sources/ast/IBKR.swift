import ASTCore
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
/// the reference), waits for IB's acknowledgements, cancels it and waits for the cancellation,
/// printing every message exchanged. Refused before anything is sent when an account is not `DU...`.
struct IBKRTestOrderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test-order",
        abstract: "Paper accounts only: place a 1-share bracket far from the market, wait for the acks, cancel it, print every message.")

    @Option(help: "The stock to test with.") var symbol: String
    @Option(help: "A recent price of the stock; the entry is placed at half of it.") var reference: String
    @OptionGroup var connection: IBKRConnectionOptions
    @Option(help: "Seconds to wait for each step.") var timeout: Int = 20

    func run() async throws {
        guard Symbol(validating: symbol) != nil, symbol.utf8.count <= 12 else {
            throw failure("--symbol \(symbol) is not a symbol", ExitStatus.usage)
        }
        let cent = Price("0.01")!.units
        guard let ref = Price(reference), ref.units >= 100 * cent, ref.units <= Price("100000")!.units else {
            throw failure("--reference must be a price between 1.00 and 100000", ExitStatus.usage)
        }
        let entry = Price(units: ref.units / 2 / cent * cent)
        let stop = Price(units: entry.units * 9 / 10 / cent * cent)
        let target = Price(units: ref.units * 3 / 2 / cent * cent)
        let tws = try connection.open(timeout: timeout, echo: true)
        defer { tws.close() }
        let client = tws.client
        func next() async -> TWSClientOutput? { await tws.next() }
        await client.start()
        var session: TWSSession?
        while session == nil, let o = await next() {
            if case .event(.started(let s)) = o { session = s }
            if case .event(.disconnected(let reason, _)) = o {
                await client.stop()
                throw failure("could not start the API session: \(reason)", ExitStatus.other)
            }
        }
        guard let session else {
            await client.stop()
            throw failure("no API session within \(timeout) s", ExitStatus.other)
        }
        guard !session.accounts.isEmpty, session.accounts.allSatisfy({ $0.hasPrefix("DU") }) else {
            await client.stop()
            throw failure(
                "refused: TWS manages \(session.accounts.joined(separator: ",")), not only paper (DU...) accounts", ExitStatus.other)
        }
        let placements: [TWSPlacement]
        do {
            placements = try TWSBracket.placements(
                parentId: session.nextValidId, side: .buy, quantity: Quantity(1), entry: entry, stop: stop, target: target,
                clientOrderId: "ast-test-\(session.nextValidId)", account: session.accounts[0], timeInForce: .day)
        } catch { throw failure("\(error)", ExitStatus.other) }
        for p in placements {
            print(
                "→ placeOrder #\(p.orderId) \(p.order.action.rawValue) 1 \(symbol) \(p.order.type) ref \(p.order.orderRef) transmit \(p.order.transmit)"
            )
            await client.send(
                .placeOrder(orderId: p.orderId, contract: TWSContract(symbol: symbol, exchange: tws.ibkr.exchange), order: p.order))
        }
        var acked: Set<Int32> = []
        var failed: String?
        let ids = Set(placements.map(\.orderId))
        while acked != ids, failed == nil, let o = await next() {
            switch o {
            case .message(.orderStatus(let st)) where ids.contains(st.orderId): acked.insert(st.orderId)
            case .event(.error(let e, .orderRejected)): failed = "IB rejected the test order: \(e.code) \(e.message)"
            case .event(.disconnected(let reason, _)): failed = "disconnected: \(reason)"
            default: break
            }
        }
        let parent = placements[0].orderId
        print("→ cancelOrder #\(parent)")
        await client.send(.cancelOrder(orderId: parent, manualOrderCancelTime: ""))
        tws.restartDeadline()
        var cancelled = false
        while !cancelled, let o = await next() {
            if case .message(.orderStatus(let st)) = o, st.orderId == parent, st.status.hasSuffix("Cancelled") { cancelled = true }
        }
        await client.stop()
        if let failed { throw failure(failed, ExitStatus.other) }
        guard acked == ids else { throw failure("IB acknowledged \(acked.count) of 3 orders within \(timeout) s", ExitStatus.other) }
        guard cancelled else {
            throw failure("the test bracket was not confirmed cancelled within \(timeout) s: check TWS", ExitStatus.other)
        }
        print("test order: 3 orders acknowledged, bracket cancelled")
    }
}
