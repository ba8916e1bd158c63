import ASTCore
import Foundation
import Synchronization
import Testing

@testable import ASTJournal

/// A second connection opening a journal that its process is writing at the same time (tests,
/// `astctl journal verify`, report readers do this).
@Suite struct LiveReaderTests {
    @Test func openingALiveJournalWhileItsWriterCommitsNeverReportsATruncatedTail() throws {
        try withTemporaryDirectory { dir in
            let path = "\(dir)/broker.sqlite"
            let writer = try Journal(path: path, process: "broker", logger: quietLogger)
            let stop = Atomic<Bool>(false)
            let written = Atomic<Int>(0)
            let done = DispatchSemaphore(value: 0)
            Thread {
                var n = 0
                while !stop.load(ordering: .relaxed) {
                    n += 1
                    _ = try? writer.append(record(n), durability: .batched)
                    try? writer.flush()
                    written.store(n, ordering: .relaxed)
                }
                done.signal()
            }.start()
            defer {
                stop.store(true, ordering: .relaxed)
                done.wait()
                try? writer.close()
            }
            // Before the fix the last entry and the head were read in two snapshots: a commit
            // between them made a healthy journal look truncated.
            var failures: [String] = []
            for _ in 0..<400 {
                do {
                    let reader = try Journal(path: path, process: "broker", logger: quietLogger)
                    try reader.close()
                } catch {
                    failures.append("\(error)")
                }
            }
            #expect(written.load(ordering: .relaxed) > 10, "the writer hardly ran: the test proves little")
            #expect(failures.isEmpty, "\(failures.count) of 400 opens failed, first: \(failures.first ?? "")")
        }
    }
}
