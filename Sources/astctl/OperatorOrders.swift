// `astctl protect` and `astctl flatten`: the operator's orders for a halted book. Both go
// through the risk gate (which approves them in every state, HALTED included, only on the
// closing side and for at most the held quantity), are journaled by ast-risk, alerted, and
// reach the broker like any approved order.
import ASTBus
import ASTCore
import ASTRisk
import ASTRuntime
import ASTWire
import ArgumentParser
import Foundation

/// The broker's account as one snapshot (every page), or nil when the broker does not answer.
func brokerAccount(_ broker: ProcessIdentity, config: ASTConfig) async throws -> BrokerAccountState? {
    let path = WorkerRuntime.socketPath(identity: broker, runtimeDir: config.runtimeDir)
    guard UnixSocket.isLive(path: path) else { return nil }
    return try await withClient(to: broker, path: path, config: config) { client in
        try await BrokerPages.fetch(executionsSince: Timestamp(nanoseconds: 0), timeout: .seconds(10)) {
            try await client.request($0, timeout: $1)
        }
    }
}

/// Shares of `symbol`'s broker position not covered by working stops on its closing side.
func uncoveredShares(_ symbol: Symbol, in state: BrokerAccountState) -> (held: Quantity, missing: Quantity) {
    guard let position = state.positions.first(where: { $0.symbol == symbol }), !position.quantity.isZero else {
        return (.zero, .zero)
    }
    let closing: Side = position.quantity.isLong ? .sell : .buy
    var covered: Int64 = 0
    for order in state.openOrders
    where order.spec.symbol == symbol && order.spec.side == closing && (order.spec.type == .stop || order.spec.type == .stopLimit)
        && (order.status == .working || order.status == .partiallyFilled)
    {
        covered = covered.addingReportingOverflow(order.workingQuantity.shares).overflow ? .max : covered + order.workingQuantity.shares
    }
    let held = position.quantity.magnitude
    return (held, Quantity(max(0, held.shares - min(covered, held.shares))))
}

/// Sends one operator order to the risk gate and prints its answer; false when refused.
func sendOperatorOrder(_ order: OperatorOrder, config: ASTConfig) async throws -> Bool {
    let report = try await riskCommand(.operatorOrder(order), config: config)
    print("\(order.kind) \(order.symbol): \(report.message ?? "")")
    return report.accepted == true
}

func parseSymbol(_ text: String) throws -> Symbol {
    guard let symbol = Symbol(validating: text.uppercased()) else { throw ValidationError("'\(text)' is not a ticker symbol") }
    return symbol
}

struct Protect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Place the missing protective stop for a position (allowed while HALTED).",
        discussion: """
            The stop is for the shares of the broker's position that no working stop covers (or --quantity), at
            the stop of the position's last approved bracket (or --stop). It goes through the risk gate, which
            approves it in every state but only on the closing side and for at most the held quantity; it is
            journaled and alerted, and placed at the broker good till cancelled.
            Exit status: 0 placed or nothing missing, 1 refused or unreachable.
            """)
    @Argument(help: "The symbol of the position.") var symbol: String
    @Option(help: "Stop price (default: the stop of the position's last approved bracket).") var stop: String?
    @Option(help: "Shares (default: those of the broker's position no working stop covers).") var quantity: Int64?
    @Option(help: "Why (journaled and alerted).") var reason: String = "operator protect: position without its stop"
    @Option(help: "The broker process.") var broker: String = "broker@paper"

    func run() async throws {
        let config = try loadConfig()
        let symbol = try parseSymbol(self.symbol)
        let stopPrice = try stop.map { text in
            guard let p = Price(text), p.isPositive else { throw ValidationError("--stop must be a positive price (got \(text))") }
            return p
        }
        if let quantity, quantity <= 0 { throw ValidationError("--quantity must be positive (got \(quantity))") }
        var shares = quantity.map { Quantity($0) }
        if shares == nil {
            guard let id = ProcessIdentity(parsing: broker), id.role == .broker else {
                throw ValidationError("--broker must name a broker process as broker@instance (got \(broker))")
            }
            guard let state = try await brokerAccount(id, config: config) else {
                FileHandle.standardError.write(
                    Data("astctl: \(id) did not answer with its account; give --quantity to place the stop anyway\n".utf8))
                throw ExitCode(1)
            }
            let (held, missing) = uncoveredShares(symbol, in: state)
            guard !held.isZero else {
                FileHandle.standardError.write(Data("astctl: \(id) holds no position in \(symbol): nothing to protect\n".utf8))
                throw ExitCode(1)
            }
            guard !missing.isZero else {
                print("protect \(symbol): the \(held) shares held are already covered by working stops at \(id): nothing to do")
                return
            }
            shares = missing
        }
        let order = OperatorOrder(
            kind: .protect, symbol: symbol, quantity: shares, stopPrice: stopPrice, reason: reason, operatorUID: getuid())
        if try await !sendOperatorOrder(order, config: config) { throw ExitCode(1) }
    }
}

struct Flatten: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Close a position (or every position) at the market (allowed while HALTED).",
        discussion: """
            A market order on the closing side for the whole position, through the risk gate (approved in every
            state, never for more than the held quantity), journaled and alerted. The position's resting stop
            stays at the broker until reconciliation finds it without a position and cancels it.
            Exit status: 0 every order approved, 1 any refused or unreachable.
            """)
    @Argument(help: "The symbol to close (or --all).") var symbol: String?
    @Flag(help: "Every position the broker holds.") var all = false
    @Option(help: "Why (journaled and alerted).") var reason: String = "operator flatten"
    @Option(help: "The broker process (for --all).") var broker: String = "broker@paper"

    func validate() throws {
        guard (symbol == nil) == all else { throw ValidationError("give a SYMBOL or --all (not both)") }
    }

    func run() async throws {
        let config = try loadConfig()
        var symbols: [Symbol] = []
        if let symbol {
            symbols = [try parseSymbol(symbol)]
        } else {
            guard let id = ProcessIdentity(parsing: broker), id.role == .broker else {
                throw ValidationError("--broker must name a broker process as broker@instance (got \(broker))")
            }
            guard let state = try await brokerAccount(id, config: config) else {
                FileHandle.standardError.write(Data("astctl: \(id) did not answer with its account\n".utf8))
                throw ExitCode(1)
            }
            symbols = state.positions.filter { !$0.quantity.isZero }.map(\.symbol).sorted()
            if symbols.isEmpty {
                print("flatten --all: \(id) holds no position")
                return
            }
        }
        var refused = 0
        for symbol in symbols {
            let order = OperatorOrder(kind: .flatten, symbol: symbol, reason: reason, operatorUID: getuid())
            if try await !sendOperatorOrder(order, config: config) { refused += 1 }
        }
        if refused > 0 { throw ExitCode(1) }
    }
}
