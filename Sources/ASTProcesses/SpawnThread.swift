import CSpawn
import Dispatch
import Glibc
import Synchronization

/// The one thread every child is forked from.
///
/// `PR_SET_PDEATHSIG`, which makes the kernel SIGKILL a worker when astd dies (even by SIGKILL),
/// fires when the *thread* that forked the worker exits, not when the process does. A child
/// forked on a Swift concurrency pool thread or a Dispatch worker thread would be killed
/// whenever that runtime retires an idle thread. So every fork happens on this plain pthread,
/// which is started once, blocks in a queue of requests, and never returns: it ends only with
/// the process, which is exactly when the workers must die.
///
/// The thread (named `ast-spawn`) blocks every signal so that its `fork` and `read` calls are
/// never interrupted and no handler runs on it.
final class SpawnThread: Sendable {
    /// The process-wide spawn thread, or why it could not be started.
    static let shared: Result<SpawnThread, SpawnError> = SpawnThread.start()

    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let wakeup = DispatchSemaphore(value: 0)

    private init() {}

    private static func start() -> Result<SpawnThread, SpawnError> {
        let spawnThread = SpawnThread()
        // The thread keeps its own reference for ever: it never exits.
        let created = DetachedThread.start { spawnThread.run() }
        guard created == 0 else { return .failure(.spawnThreadUnavailable(errno: created)) }
        return .success(spawnThread)
    }

    /// Runs `work` on the spawn thread and returns its result. Jobs run one at a time, in order.
    func perform<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async -> Result {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result, Never>) in
            jobs.withLock { $0.append { continuation.resume(returning: work()) } }
            wakeup.signal()
        }
    }

    private func run() -> Never {
        ast_spawn_thread_setup()
        while true {
            wakeup.wait()
            let job = jobs.withLock { $0.removeFirst() }
            job()
        }
    }
}
