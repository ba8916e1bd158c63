import ASTCore
import ASTJournal
import ASTTestKit
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// M11 with real processes: ast-broker@paper checkpoints every 2 inputs
/// (`journal.checkpoint_every: 2`); SIGKILLed, it is restarted by astd from its newest checkpoint
/// plus the tail, holds the same orders, and `astctl replay --verify` (which re-executes up to
/// every checkpoint and compares) says IDENTICAL.
@Suite(.serialized) struct CheckpointRestartTests {
    @Test(.timeLimit(.minutes(3)))
    func aKilledBrokerRestartsFromItsCheckpointWithTheSameOrders() async throws {
        let tree = try await SupervisedTree(overlay: ExecutionTests.looseLimits, extraEnvironment: ["AST_JOURNAL__CHECKPOINT_EVERY": "2"])
        let before = try await tree.waitAllReady()
        try await ExecutionTests.markAll(tree)
        let intents = ExecutionTests.symbols.prefix(3).enumerated().map { ExecutionTests.intent("ckpt-\($0.offset)", $0.element) }
        let approved = try ExecutionTests.submit(intents, to: tree)
        #expect(!approved.isEmpty)
        try await eventually(timeout: .seconds(30), "every approved bracket at the broker") {
            try ExecutionTests.brokerState(tree)?.openOrders.count == 3 * approved.count
        }
        let held = try #require(try ExecutionTests.brokerState(tree)).openOrders
        let brokerPID = try #require(tree.child("broker@paper", in: before)?.pid)
        kill(brokerPID, SIGKILL)
        try await eventually(timeout: .seconds(40), "the broker restarted and READY with a new pid") {
            guard let status = try tree.status()?.0, let child = tree.child("broker@paper", in: status) else { return false }
            return child.pid != brokerPID && child.ready
        }
        let after = try #require(try ExecutionTests.brokerState(tree))
        #expect(after.openOrders == held, "the restored broker holds exactly the orders it held")

        let path = tree.dir("state/journal/broker@paper.sqlite")
        let notes = try Journal.readEntries(path: path).filter { $0.record.type == EntryTypes.Paper.restored }
        let last = try #require(notes.last, "no paper.restored entry")
        let body = String(decoding: last.record.body, as: UTF8.self)
        #expect(notes.count >= 2 && !body.contains("\"from_checkpoint\":null"), "the restart restored from a checkpoint: \(body)")

        let verify = try tree.astctl(["replay", tree.dir("state/journal"), "--verify"], timeout: .seconds(120))
        #expect(verify.code == 0 && verify.stdout.contains("replay: IDENTICAL"), "\(verify.stdout)\(verify.stderr)")
    }
}
