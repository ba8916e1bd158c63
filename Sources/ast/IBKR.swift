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
        subcommands: [IBKRCheckCommand.self])
}

/// `ast ibkr check`: connects with the configured (or given) host, port and client id, prints the
/// server version, the accounts, positions, open orders and the day's executions, and disconnects.
/// Read-only: it sends no order and changes nothing at IB.
struct IBKRCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Connect to TWS / IB Gateway and print the server version, accounts, positions, open orders and today's executions "
            + "(read-only).")

    @Option(help: "TWS / IB Gateway host (default: ibkr.host).") var host: String?
    @Option(help: "API port (default: ibkr.port).") var port: Int?
    @Option(name: .customLong("client-id"), help: "API client id (default: ibkr.client_id).") var clientId: Int?
    @Option(help: "Seconds to wait for each answer.") var timeout: Int = 15

    func run() async throws {
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
        await client.start()
        let box = OutputBox()
        let reader = Task { for await o in client.outputs { box.seen.withLock { $0.append(o) } } }
        defer { reader.cancel() }
        let deadline = ContinuousClock.now + .seconds(timeout)
        var index = 0
        // The next output, in order; nil when the time is up.
        func next() async -> TWSClientOutput? {
            while ContinuousClock.now < deadline {
                if let o = box.seen.withLock({ index < $0.count ? $0[index] : nil }) {
                    index += 1
                    return o
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
            return nil
        }
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

/// The connection's outputs as they arrive, read in order by the command.
final class OutputBox: Sendable {
    let seen = Mutex<[TWSClientOutput]>([])
}
