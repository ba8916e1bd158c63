import ASTCore
import ASTJournal
import ASTTestKit
import Foundation
import Testing

@testable import ASTBus

/// The clock a test sets: a client made at a given moment.
struct FixedClock: WallClock {
    let at: Timestamp
    func now() -> Timestamp { at }
}

/// Request ids must never repeat across starts of a process: the endpoint drops an acknowledged
/// message whose id it handled before (its `seen` set is restored from its journal), with no
/// reply. A restarted ast-strategy numbered its requests from 1 again, so an intent sent after
/// the restart could carry an id of one sent before it: the risk gate never saw the intent and
/// the scan's intent was lost (a strategy crash changed the trades).
@Suite struct RequestIDTests {
    @Test func aRestartedClientsRequestIDsNeverRepeatThoseOfAnEarlierStart() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        func client(at seconds: Int64) throws -> String {
            let journal = try Journal(path: dir("client.sqlite"), process: sender.description, logger: quietLogger)
            defer { try? journal.close() }
            let c = try BusClient(
                identity: sender, target: endpoint.description, path: dir("none.sock"), expectedRole: .risk,
                settings: BusSettings(), journal: journal,
                clock: FixedClock(at: Timestamp(nanoseconds: 1_800_000_000_000_000_000 + seconds * 1_000_000_000)),
                logger: quietLogger)
            return c.requestPrefix
        }
        let first = try client(at: 0)
        let restarted = try client(at: 5)
        #expect(first != restarted)
        // Neither prefix is the start of the other: a process-local number appended to one
        // never gives an id of the other.
        #expect(!first.hasPrefix(restarted) && !restarted.hasPrefix(first))
        #expect(first.hasPrefix("\(sender)>\(endpoint)?") && first.hasSuffix("."))
    }
}
