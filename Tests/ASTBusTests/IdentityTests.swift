import ASTCore
import ASTRisk
import ASTWire
import Foundation
import Logging
import Testing

@testable import ASTBus

@Suite struct ApprovalSignatureTests {
    static let key = try! ApprovalKey(bytes: Array(0..<32))
    static let approval = Approval(
        id: ApprovalID(for: "i-1"), intent: "i-1", symbol: "AAPL", side: .buy, quantity: 10, requestedQuantity: 12,
        entry: .limit(Price("100.00")!), stopLoss: Price("95.00"), takeProfit: Price("110.00"), state: .active,
        at: Timestamp(nanoseconds: 1_700_000_000_000_000_000))

    @Test func hmacMatchesRFC4231TestCase2() {
        let mac = ApprovalSignature.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(ApprovalSignature.hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func aSignedApprovalVerifiesAfterTheWire() throws {
        let signed = ApprovalSignature.signed(Self.approval, key: Self.key)
        let decoded = try EnvelopeCodec.decode(
            EnvelopeCodec.encode(
                Envelope(
                    sender: ProcessIdentity(role: .risk), seq: 1, id: "x",
                    timestamp: Timestamp(nanoseconds: 1), message: .orderSubmit(signed))))
        guard case .orderSubmit(let received) = decoded.message else {
            Issue.record("not an order.submit")
            return
        }
        #expect(ApprovalSignature.verify(received, key: Self.key))
    }

    @Test(arguments: ["quantity", "price", "side", "symbol", "stop", "id", "signature", "unsigned", "key"])
    func anyChangeBreaksTheSignature(_ what: String) throws {
        var a = ApprovalSignature.signed(Self.approval, key: Self.key)
        var key = Self.key
        switch what {
        case "quantity": a.quantity = 1000
        case "price": a.entry = .limit(Price("1.00")!)
        case "side": a.side = .sell
        case "symbol": a.symbol = "MSFT"
        case "stop": a.stopLoss = nil
        case "id": a.id = ApprovalID(for: "i-2")
        case "signature": a.signature = String(repeating: "0", count: 64)
        case "unsigned": a.signature = nil
        default: key = try ApprovalKey(bytes: Array(repeating: 7, count: 32))
        }
        #expect(!ApprovalSignature.verify(a, key: key))
    }

    @Test func constantTimeCompareComparesEveryByte() {
        #expect(ApprovalSignature.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!ApprovalSignature.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!ApprovalSignature.constantTimeEqual([1, 2], [1, 2, 3]))
    }

    @Test func aKeyIsHandedOverAsASealedReadOnlyMemfd() throws {
        let key = try ApprovalKey.random()
        let fd = try key.sealedDescriptor()
        // Neither this descriptor nor a read-write reopen of it can change the key.
        #expect(pwrite(fd, [UInt8](repeating: 0, count: 4), 4, 0) < 0)
        let rw = open("/proc/self/fd/\(fd)", O_RDWR)
        if rw >= 0 {
            #expect(pwrite(rw, [UInt8](repeating: 0, count: 4), 4, 0) < 0)
            close(rw)
        }
        setenv(ApprovalKey.descriptorVariable, "\(fd)", 1)
        let inherited = try #require(try ApprovalKey.inherited())
        #expect(inherited.bytes == key.bytes)
        #expect(getenv(ApprovalKey.descriptorVariable) == nil)
    }
}

@Suite struct PeerTableTests {
    static let risk = ProcessIdentity(role: .risk)
    static let broker = ProcessIdentity(role: .broker, instance: "paper")

    @Test func aWorkerSeesWhatAstdWritesAndCannotWriteItself() throws {
        let writer = try PeerTableWriter(identities: [Self.risk, Self.broker], allowUnlisted: false)
        let reader = try PeerTable(fd: dup(writer.readOnlyFD))
        #expect(reader.spawnedPID(of: Self.risk) == .notRunning)
        #expect(reader.spawnedPID(of: ProcessIdentity(role: .strategy)) == .notListed)
        #expect(!reader.allowsUnlisted)
        writer.set(Self.risk, pid: 4242)
        #expect(reader.spawnedPID(of: Self.risk) == .pid(4242))
        writer.clear(Self.risk, ifPID: 1)
        #expect(reader.spawnedPID(of: Self.risk) == .pid(4242), "a stale exit does not clear a newer pid")
        writer.clear(Self.risk, ifPID: 4242)
        #expect(reader.spawnedPID(of: Self.risk) == .notRunning)
        // The read-only descriptor, and a read-write reopen of it, cannot change the table.
        #expect(pwrite(writer.readOnlyFD, [UInt8](repeating: 1, count: 4), 4, 64 + 56) < 0)
        let rw = open("/proc/self/fd/\(writer.readOnlyFD)", O_RDWR)
        if rw >= 0 {
            #expect(pwrite(rw, [UInt8](repeating: 1, count: 4), 4, 64 + 56) < 0)
            #expect(mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0) == MAP_FAILED)
            close(rw)
        }
    }

    @Test func withoutATableAWorkerFallsBackToUidOnlyExceptInLive() throws {
        let logger = Logger(label: "test")
        #expect(throws: PeerTableError.self) { try BusIdentity.check(identity: Self.risk, table: nil, live: true, logger: logger) }
        guard case .uidOnly = try BusIdentity.check(identity: Self.risk, table: nil, live: false, logger: logger) else {
            Issue.record("expected uid-only admission without a table")
            return
        }
        let writer = try PeerTableWriter(identities: [Self.risk], allowUnlisted: false)
        guard
            case .spawned = try BusIdentity.check(
                identity: Self.risk, table: try PeerTable(fd: dup(writer.readOnlyFD)), live: true, logger: logger)
        else {
            Issue.record("expected the table's check")
            return
        }
    }

    @Test func aDescriptorThatIsNotASealedTableIsRefused() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        close(fds[1])
        #expect(throws: PeerTableError.self) { try PeerTable(fd: fds[0]) }
    }

    @Test func rateLimitAllowsOneAlertPerPidPerMinuteAndTenInAll() {
        var limit = AlertRateLimit()
        let t0 = Timestamp(nanoseconds: 0)
        func admit(_ key: String, _ seconds: Int64) -> Bool { limit.admit(key: key, now: t0.advanced(by: .seconds(seconds))) }
        let first = admit("pid 1", 0)
        let again = admit("pid 1", 30)
        let nextMinute = admit("pid 1", 61)
        for k in 2...20 { _ = admit("pid \(k)", 62) }
        let overCap = admit("pid 99", 63)
        let afterWindow = admit("pid 99", 125)
        #expect(first && !again && nextMinute)
        #expect(!overCap && afterWindow)
    }
}
