import CSpawn
import Dispatch
import Glibc
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
    static let shared = BusWorkThread()

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

    /// A plain pthread named `ast-bus-work` (Foundation's `Thread` is not linked); it holds its own
    /// reference, as it runs for the life of the process.
    private init() {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(
            &thread, nil,
            { raw in
                ast_thread_set_name("ast-bus-work")
                Unmanaged<BusWorkThread>.fromOpaque(raw!).takeUnretainedValue().run()
            }, context)
        precondition(created == 0, "the bus work thread could not be started: \(String(cString: strerror(created)))")
        pthread_detach(thread)
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

    private func run() -> Never {
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
