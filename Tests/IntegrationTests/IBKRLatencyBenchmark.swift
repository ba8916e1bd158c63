import ASTCore
import ASTJournal
import ASTTestKit
import ASTWire
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// M12's latency benchmark (run with `AST_BENCH_IBKR=1`; BENCHMARKS.md has the results): a bracket
/// from the risk gate's approval to IB's acknowledgement of its transmitting leg through the tree
/// and `FakeTWSServer` on loopback (a FAKE written from IB's documentation), against a bare TCP
/// round trip on loopback measured in the same run.
@Suite(.serialized) struct IBKRLatencyBenchmark {
    /// Median and maximum of `values` in milliseconds.
    static func summary(_ values: [Double]) -> String {
        let sorted = values.sorted()
        guard let max = sorted.last else { return "-" }
        return String(format: "median %.2f ms, max %.2f ms (n=%d)", sorted[sorted.count / 2], max, sorted.count)
    }

    /// Round trips of 64 bytes through a loopback TCP echo served by a thread of this process.
    static func tcpEchoRoundTrips(_ count: Int) throws -> [Double] {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, len) } }
        _ = listen(listener, 1)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) } }
        let server = Thread {
            let c = accept(listener, nil, nil)
            var buffer = [UInt8](repeating: 0, count: 64)
            while true {
                let n = read(c, &buffer, 64)
                if n <= 0 { break }
                _ = write(c, buffer, n)
            }
            close(c)
        }
        server.start()
        defer { close(listener) }
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        var one: Int32 = 1
        _ = setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw HarnessError("loopback echo: connect failed") }
        var out: [Double] = []
        let message = [UInt8](repeating: 65, count: 64)
        var back = [UInt8](repeating: 0, count: 64)
        for _ in 0..<count {
            let start = ContinuousClock.now
            _ = write(client, message, 64)
            var got = 0
            while got < 64 {
                let n = back.withUnsafeMutableBytes { read(client, $0.baseAddress! + got, 64 - got) }
                if n <= 0 { throw HarnessError("loopback echo: read failed") }
                got += n
            }
            let d = ContinuousClock.now - start
            out.append(Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000)
        }
        return out
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["AST_BENCH_IBKR"] == "1"), .timeLimit(.minutes(5)))
    func bracketApprovalToIBAcknowledgementAgainstABareTCPRoundTrip() async throws {
        let fake = try await FakeTWSServer()
        defer { Task { await fake.stop() } }
        let tree = try await SupervisedTree(
            overlay: IBKRBrokerTests.overlay(port: fake.port),
            extraEnvironment: ["AST_FAULT_IBKR_BACKOFF_MS": "100", "AST_LOGGING__LEVEL": "info"])
        _ = try await tree.waitAllReady()
        try await ExecutionTests.markAll(tree)
        let echoBefore = try Self.tcpEchoRoundTrips(1000)
        let strategy = try ExecutionTests.peer(tree, "risk@main", role: .strategy)
        for (i, symbol) in ExecutionTests.symbols.enumerated() {
            let id = "lat-\(i)"
            guard case .intentDecision(let d)? = try ExecutionTests.sendAcked(strategy, .intentSubmit(ExecutionTests.intent(id, symbol))),
                d.decision.approval != nil
            else { throw HarnessError("\(id) was not approved") }
            try await eventually(timeout: .seconds(15), "\(id) working at IB") {
                IBKRBrokerTests.orders(fake, id).map(\.status) == ["Submitted", "PreSubmitted", "PreSubmitted"]
            }
        }
        let echoAfter = try Self.tcpEchoRoundTrips(1000)
        let journal = tree.dir("state/journal/broker@ibkr.sqlite")
        try await eventually(timeout: .seconds(15), "every transmitting leg accepted in the broker's journal") {
            let text = try WorkerTree.entries(path: journal, process: "broker@ibkr").filter { $0.record.type == "ibkr.report" }
                .map { String(decoding: $0.record.body, as: UTF8.self) }
            return ExecutionTests.symbols.indices.allSatisfy { i in text.contains { $0.contains("accepted") && $0.contains("lat-\(i).T") } }
        }
        let broker = try WorkerTree.entries(path: journal, process: "broker@ibkr")
        let risk = try WorkerTree.entries(path: tree.dir("state/journal/risk@main.sqlite"), process: "risk@main")
        var treeMs: [Double] = []
        var adapterMs: [Double] = []
        for i in ExecutionTests.symbols.indices {
            let id = "lat-\(i)"
            let accepted = broker.first {
                $0.record.type == "ibkr.report" && $0.record.correlationID == "\(id).T"
                    && String(decoding: $0.record.body, as: UTF8.self).contains("accepted")
            }?.record.timestamp
            let input = broker.first { $0.record.type == "ibkr.input" && $0.record.correlationID == id }?.record.timestamp
            let approved = risk.first { $0.record.type == "risk.decision" && $0.record.correlationID == id }?.record.timestamp
            if let accepted, let input { adapterMs.append(Double(accepted.nanoseconds - input.nanoseconds) / 1e6) }
            if let accepted, let approved { treeMs.append(Double(accepted.nanoseconds - approved.nanoseconds) / 1e6) }
        }
        print("IBKR latency, \(ExecutionTests.symbols.count) brackets one at a time, fake TWS on loopback:")
        print("  risk approval -> IB acknowledged the transmitting leg (journaled): \(Self.summary(treeMs))")
        print("  broker journaled the bracket -> IB acknowledged the transmitting leg: \(Self.summary(adapterMs))")
        print("  bare TCP round trip on loopback, 64 bytes, before: \(Self.summary(echoBefore)); after: \(Self.summary(echoAfter))")
        #expect(treeMs.count == ExecutionTests.symbols.count && adapterMs.count == ExecutionTests.symbols.count)
    }

    /// 1100 → HALTED, repeated (run with `AST_BENCH_IBKR=1`; `AST_BENCH_IBKR_ROUNDS`, default 20): each
    /// round TWS sends 1100, the risk gate halts, TWS sends 1102, the broker re-syncs, the reconciler
    /// reconciles and the test resumes. The latency of each round is read from the journals: the broker
    /// journaling the 1100 as received → the risk gate journaling its transition to HALTED.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["AST_BENCH_IBKR"] == "1"), .timeLimit(.minutes(10)))
    func connectivityLostToHaltedRepeated() async throws {
        let rounds = ProcessInfo.processInfo.environment["AST_BENCH_IBKR_ROUNDS"].flatMap(Int.init) ?? 20
        let fake = try await FakeTWSServer()
        defer { Task { await fake.stop() } }
        let tree = try await SupervisedTree(
            overlay: IBKRBrokerTests.overlay(port: fake.port),
            extraEnvironment: ["AST_FAULT_IBKR_BACKOFF_MS": "100", "AST_LOGGING__LEVEL": "info"])
        _ = try await tree.waitAllReady()
        try await ExecutionTests.markAll(tree)
        func halted() throws -> Bool { try tree.status()?.0.safeMode?.state == .halted }
        for i in 0..<rounds {
            try await eventually(timeout: .seconds(30), "round \(i): ACTIVE (a resume accepted)") {
                try tree.status()?.0.safeMode?.state == .active || tree.astctl(["resume", "--to", "active"]).code == 0
            }
            fake.sendError(code: 1100, "Connectivity between IB and Trader Workstation has been lost.")
            try await eventually(timeout: .seconds(10), "round \(i): HALTED after 1100") { try halted() }
            fake.sendError(code: 1102, "Connectivity between IB and Trader Workstation has been restored - data maintained.")
        }
        let broker = try WorkerTree.entries(path: tree.dir("state/journal/broker@ibkr.sqlite"), process: "broker@ibkr")
        let risk = try WorkerTree.entries(path: tree.dir("state/journal/risk@main.sqlite"), process: "risk@main")
        func text(_ e: JournalEntry) -> String { String(decoding: e.record.body, as: UTF8.self) }
        let arrivals = broker.filter { $0.record.type == "ibkr.received" && text($0).contains("1100") }.map(\.record.timestamp)
        let halts = risk.filter { $0.record.type == "safe_mode.transition" && text($0).contains("\"to\":\"HALTED\"") }
            .map(\.record.timestamp)
        // The broker's connection report (its envelope's time: when the broker handed it to its outbox,
        // before that commit) and the risk gate's P0 alert (its envelope's time: after the input and
        // the transition were committed, so HALTED is durable and in force).
        func sent(_ entries: [JournalEntry], _ type: String, _ match: (JournalEntry) -> Bool) -> [Timestamp] {
            entries.filter { $0.record.kind == .sent && $0.record.type == type && match($0) }.map(\.record.timestamp)
        }
        let reports = sent(broker, "broker.connection") { text($0).contains("1100") }
        let alerts = sent(risk, "alert") { text($0).contains("P0") }
        func after(_ a: Timestamp, _ list: [Timestamp]) -> Double? {
            list.first { $0 >= a }.map { Double($0.nanoseconds - a.nanoseconds) / 1e6 }
        }
        let ms = arrivals.compactMap { after($0, halts) }
        let toReport = arrivals.compactMap { after($0, reports) }
        let toAlert = arrivals.compactMap { after($0, alerts) }
        func line(_ what: String, _ values: [Double]) -> String {
            let sorted = values.sorted()
            func p(_ q: Double) -> Double {
                sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.up)) - 1)]
            }
            return String(
                format: "%@ over %d rounds: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms; all: ", what, sorted.count, p(0.5),
                p(0.9), p(0.99), sorted.last ?? .nan) + values.map { String(format: "%.1f", $0) }.joined(separator: " ")
        }
        print(line("1100 -> HALTED (the risk gate handles the report)", ms))
        print(line("1100 -> the broker's connection report sent", toReport))
        print(line("1100 -> HALTED committed (the risk gate's P0 alert sent)", toAlert))
        #expect(ms.count == rounds)
    }
}
