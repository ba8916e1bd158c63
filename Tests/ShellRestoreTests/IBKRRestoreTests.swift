import ASTCore
import ASTJournal
import ASTProcessKit
import ASTRuntime
import Foundation
import Synchronization
import Testing

@testable import ASTIBKR
@testable import ASTTWS

/// broker@ibkr's restore checks the TWS order ids its own journal holds: an id whose legs do not fit
/// an Int32 stops the restore (the broker exits, the tree halts) instead of trapping on `+`.
@Suite struct IBKRRestoreTests {
    static func adapter(_ journal: Journal) throws -> IBKRAdapter {
        try IBKRAdapter(
            name: "broker@ibkr", config: .standard, trading: .paper, journal: journal, clock: TestClock(), logger: logger,
            deliver: { _ in }, connectionChanged: { _, _ in }, accountChanged: { _ in })
    }

    static func journalBracket(_ journal: Journal, parentId: Int32) throws {
        let b = bracket("AAPL", limit: "100.00", stop: "95.00", target: "110.00")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        _ = try journal.append(
            JournalRecord(
                kind: .received, type: IBKRJournal.input, timestamp: t0, correlationID: b.intent.rawValue,
                body: Array(try encoder.encode(IBKRInput.bracket(b, parentId: parentId, account: "DU1234567")))),
            durability: .durable)
    }

    @Test func legIdsAreCheckedAtTheTopOfInt32() {
        #expect(IBKRAdapter.legIds(parentId: Int32.max, count: 3) == nil)
        #expect(IBKRAdapter.legIds(parentId: Int32.max - 1, count: 3) == nil)
        #expect(IBKRAdapter.legIds(parentId: Int32.max - 2, count: 3) == [Int32.max - 2, Int32.max - 1, Int32.max])
        #expect(IBKRAdapter.legIds(parentId: 0, count: 3) == nil)
        #expect(IBKRAdapter.legIds(parentId: -5, count: 3) == nil)
        #expect(IBKRAdapter.legIds(parentId: 1001, count: 3) == [1001, 1002, 1003])
    }

    @Test(arguments: [Int32.max, Int32.max - 1, 0, -1])
    func aJournaledBracketWhoseIdsDoNotFitRefusesTheRestore(_ parentId: Int32) throws {
        let state = try StateDirectory()
        let journal = try state.open("broker@ibkr")
        defer { try? journal.close() }
        try Self.journalBracket(journal, parentId: parentId)
        #expect(throws: IBKRAdapterError.self) { try Self.adapter(journal) }
    }

    @Test func aJournaledBracketAtTheLastIdsRestores() async throws {
        let state = try StateDirectory()
        let journal = try state.open("broker@ibkr")
        defer { try? journal.close() }
        try Self.journalBracket(journal, parentId: Int32.max - 2)
        let adapter = try Self.adapter(journal)
        #expect(await adapter.highestOrderId == Int32.max)
        #expect(await adapter.brackets.count == 1)
        // No id is left after Int32.max: the session starts with none to give (submit refuses), no trap.
        try await adapter.started(
            TWSSession(serverVersion: .highest, connectionTime: "", accounts: ["DU1234567"], nextValidId: 1001))
        #expect(await adapter.nextId == Int32.max)
        await adapter.stop()
    }
}

/// A commission report that comes after broker@ibkr stopped waiting for it (5 s) is not lost: the
/// fill went out with commission 0, and the commission follows as its own report, once, also across
/// a restart and a re-sync that delivers the execution and its commission again.
@Suite struct IBKRLateCommissionTests {
    final class Delivered: Sendable {
        let reports = Mutex<[ExecutionReport]>([])
        var events: [ExecutionEvent] { reports.withLock { $0.map(\.event) } }
    }

    static func adapter(_ journal: Journal, _ delivered: Delivered) throws -> IBKRAdapter {
        try IBKRAdapter(
            name: "broker@ibkr", config: .standard, trading: .paper, journal: journal, clock: TestClock(), logger: logger,
            deliver: { reps in delivered.reports.withLock { $0 += reps } }, connectionChanged: { _, _ in }, accountChanged: { _ in })
    }

    static func message(_ fields: [String]) throws -> TWSMessage {
        try TWSMessage.decode(fields.reduce(into: [UInt8]()) { $0 += Array($1.utf8) + [0] }, at: .highest)
    }

    /// execDetails of 10 shares of the entry placed under order id 1001, as TWS sends it at server version 200.
    static func execution(_ execId: String, orderRef: String) throws -> TWSMessage {
        try message([
            "11", "-1", "1001", "0", "AAPL", "STK", "", "0", "", "", "ISLAND", "USD", "AAPL", "NMS", execId, "20261207 09:30:01 US/Eastern",
            "DU1234567", "ISLAND", "BOT", "10", "100.00", "900000001", "0", "0", "10", "100.00", orderRef, "", "", "", "1", "0", "",
        ])
    }

    static func commission(_ execId: String, _ amount: String) throws -> TWSMessage {
        try message(["59", "1", execId, amount, "USD", "1.7976931348623157E308", "1.7976931348623157E308", "0"])
    }

    func commissions(_ events: [ExecutionEvent]) -> [Money] {
        events.compactMap { if case .commission(_, _, let amount) = $0 { amount } else { nil } }
    }

    func fills(_ events: [ExecutionEvent]) -> [Fill] {
        events.compactMap { if case .fill(let f) = $0 { f } else { nil } }
    }

    @Test func aCommissionAfterTheWaitIsReportedOnceOnItsOwn() async throws {
        let state = try StateDirectory()
        let journal = try state.open("broker@ibkr")
        defer { try? journal.close() }
        try IBKRRestoreTests.journalBracket(journal, parentId: 1001)
        let entryRef = bracket("AAPL", limit: "100.00", stop: "95.00", target: "110.00").entry.clientOrderID.rawValue
        let delivered = Delivered()
        let adapter = try Self.adapter(journal, delivered)
        try await adapter.handle(Self.execution("e.1", orderRef: entryRef))
        #expect(fills(delivered.events).isEmpty, "the fill waits for its commission")
        await adapter.commissionOverdue("e.1")  // what the 5 s timer does
        #expect(fills(delivered.events).map(\.commission) == [Money(units: 0)])
        try await adapter.handle(Self.commission("e.1", "1.25"))
        #expect(commissions(delivered.events) == [Money(units: Money.unitsPerDollar * 125 / 100)])
        // The same commission again (a 1101 re-sync): nothing more.
        try await adapter.handle(Self.execution("e.1", orderRef: entryRef))
        try await adapter.handle(Self.commission("e.1", "1.25"))
        #expect(commissions(delivered.events).count == 1 && fills(delivered.events).count == 1)
        await adapter.stop()

        // A restart and a re-sync that brings the execution and its commission again: nothing more.
        let again = Delivered()
        let restarted = try Self.adapter(journal, again)
        try await restarted.handle(Self.execution("e.1", orderRef: entryRef))
        try await restarted.handle(Self.commission("e.1", "1.25"))
        #expect(again.events.isEmpty, "\(again.events)")
        await restarted.stop()
    }

    @Test func aCommissionThatNeverCameBeforeARestartIsReportedOnTheReSync() async throws {
        let state = try StateDirectory()
        let journal = try state.open("broker@ibkr")
        defer { try? journal.close() }
        try IBKRRestoreTests.journalBracket(journal, parentId: 1001)
        let entryRef = bracket("AAPL", limit: "100.00", stop: "95.00", target: "110.00").entry.clientOrderID.rawValue
        let first = try Self.adapter(journal, Delivered())
        try await first.handle(Self.execution("e.2", orderRef: entryRef))
        await first.commissionOverdue("e.2")
        await first.stop()
        let delivered = Delivered()
        let restarted = try Self.adapter(journal, delivered)
        try await restarted.handle(Self.execution("e.2", orderRef: entryRef))
        try await restarted.handle(Self.commission("e.2", "1.00"))
        #expect(fills(delivered.events).isEmpty, "the fill was reported before the restart")
        #expect(commissions(delivered.events) == [Money(units: Money.unitsPerDollar)])
    }
}
