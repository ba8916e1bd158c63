import Dispatch
import Foundation
import Synchronization

/// The one thread on which the bus journals and hands messages to inboxes: a task executor
/// (for the tasks that deliver a connection's messages) and a serial queue of closures.
///
/// Journal commits block their thread, a durable one for an fsync. Doing them here keeps them
/// off NIO's event loops, which must only ever wait in `epoll`, and off Swift's cooperative
/// pool, which has one thread per core and would stall every task of the process while two
/// commits wait for the disk. Closures run in the order they were submitted.
final class BusWorkThread: TaskExecutor, Sendable {
    /// The process's bus work thread, started on first use and kept for the process's lifetime
    /// (like NIO's singleton event loop group).
    static let shared = BusWorkThread(name: "ast-bus-work")

    private enum Work: Sendable {
        case job(UnownedJob)
        case closure(@Sendable () -> Void)
    }

    private struct Queue: ~Copyable {
        var work: [Work] = []
        var sleeping = false
    }

    private let queue = Mutex(Queue())
    private let wakeUp = DispatchSemaphore(value: 0)

    private init(name: String) {
        let thread = Thread { [unowned(unsafe) self] in self.run() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        submit(.job(UnownedJob(job)))
    }

    /// Runs `body` on the work thread after everything submitted before it.
    func execute(_ body: @escaping @Sendable () -> Void) {
        submit(.closure(body))
    }

    private func submit(_ work: Work) {
        let wake = queue.withLock { q in
            q.work.append(work)
            guard q.sleeping else { return false }
            q.sleeping = false
            return true
        }
        if wake { wakeUp.signal() }
    }

    private func run() {
        var batch: [Work] = []
        while true {
            queue.withLock { q in
                if q.work.isEmpty {
                    q.sleeping = true
                } else {
                    swap(&batch, &q.work)
                }
            }
            if batch.isEmpty {
                wakeUp.wait()
                continue
            }
            for work in batch {
                switch work {
                case .job(let job): job.runSynchronously(on: asUnownedTaskExecutor())
                case .closure(let body): body()
                }
            }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
