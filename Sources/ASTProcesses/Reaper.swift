import CSpawn
import Dispatch
import Glibc
import Logging
import Synchronization

/// Reaps every child of this process, and, as a child subreaper (`PR_SET_CHILD_SUBREAPER`),
/// every orphaned descendant too, and reports each exit on `exits`.
///
/// SIGCHLD is handled with a self-pipe: a C handler (async-signal-safe) writes one byte to a
/// non-blocking pipe, and a Dispatch read source on the other end runs `waitpid(-1, WNOHANG)`
/// until nothing is left. That works whichever thread the kernel delivers SIGCHLD to; a
/// `signalfd` (which is what Dispatch's own signal sources use on Linux) would need SIGCHLD
/// blocked in every thread, including those the Swift runtime and NIO started before us, and
/// `SIG_IGN` would make the kernel discard exit statuses.
///
/// There is one reaper per process, for the life of the process: it owns SIGCHLD and
/// `waitpid(-1)`, so nothing else in the process may wait for children (Foundation's `Process`
/// would lose its exit statuses). An exit can be reported before `Spawner.spawn` has returned
/// that pid to its caller, and exits of pids nobody spawned (orphaned grandchildren, a child
/// whose exec failed) are reported as well: a consumer keeps unknown exits until its spawns
/// return, and ignores the rest.
public final class Reaper: Sendable {
    /// Every reaped process, in reaping order. One consumer (the supervisor's loop); buffered
    /// without bound, so it must be read.
    public let exits: AsyncStream<ProcessExit>
    /// Whether orphaned descendants are re-parented to this process.
    public let isSubreaper: Bool

    private let continuation: AsyncStream<ProcessExit>.Continuation
    private let waiters = Mutex(ExitWaiters())
    private let wakeupRead: Int32
    private let queue = DispatchQueue(label: "ast.reaper")
    private nonisolated(unsafe) let source: any DispatchSourceRead
    private let logger: Logger

    private static let started = Atomic<Bool>(false)

    private init(wakeupRead: Int32, isSubreaper: Bool, logger: Logger) {
        (exits, continuation) = AsyncStream.makeStream(of: ProcessExit.self, bufferingPolicy: .unbounded)
        self.wakeupRead = wakeupRead
        self.isSubreaper = isSubreaper
        self.logger = logger
        source = DispatchSource.makeReadSource(fileDescriptor: wakeupRead, queue: queue)
    }

    /// Starts the process's reaper: becomes a child subreaper (unless `subreaper` is false),
    /// installs the SIGCHLD handler, and reaps children that already ended. Throws when a
    /// reaper already runs in this process.
    public static func start(subreaper: Bool = true, logger: Logger) throws(SystemCallError) -> Reaper {
        guard started.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            throw SystemCallError(
                call: "Reaper.start", code: EBUSY,
                hint: "this process already has its reaper (one per process, it owns SIGCHLD); share that one")
        }
        if subreaper {
            let returned = ast_set_child_subreaper(1)
            guard returned == 0 else {
                started.store(false, ordering: .releasing)
                throw SystemCallError(
                    call: "prctl(PR_SET_CHILD_SUBREAPER)", code: -returned,
                    hint: "the kernel refused to make the supervisor a subreaper; orphaned worker descendants would escape it")
            }
        }
        var pipeFDs: [Int32] = [-1, -1]
        let piped = ast_wakeup_pipe(&pipeFDs)
        guard piped == 0 else {
            let code = -piped
            started.store(false, ordering: .releasing)
            throw SystemCallError(call: "pipe2", code: code, hint: "check the descriptor limit (ulimit -n, LimitNOFILE=)")
        }
        let reaper = Reaper(wakeupRead: pipeFDs[0], isSubreaper: subreaper, logger: logger)
        reaper.source.setEventHandler { reaper.reapAll() }
        reaper.source.activate()
        let installed = ast_install_sigchld_wakeup(pipeFDs[1])
        guard installed == 0 else {
            reaper.source.cancel()
            close(pipeFDs[0])
            close(pipeFDs[1])
            started.store(false, ordering: .releasing)
            throw SystemCallError(call: "sigaction(SIGCHLD)", code: -installed, hint: "the SIGCHLD handler could not be installed")
        }
        // Children that ended before the handler was in place sent a SIGCHLD nobody heard.
        reaper.queue.async { reaper.reapAll() }
        return reaper
    }

    /// Waits until `pid` has been reaped, at most `timeout`. `notRunning` when no such process
    /// exists any more (it was reaped before the wait began).
    public func waitForExit(of pid: Int32, timeout: Duration) async -> ExitWait {
        await waitForExit(of: pid, timeout: timeout, onceWaiting: {})
    }

    /// As `waitForExit(of:timeout:)`; `onceWaiting` runs after the waiter is registered and
    /// before the process is checked for, so that an exit it causes (a signal) cannot be missed.
    func waitForExit(of pid: Int32, timeout: Duration, onceWaiting: () -> Void) async -> ExitWait {
        guard pid > 0 else { return .notRunning }
        let id = waiters.withLock { $0.register(pid: pid) }
        defer { _ = waiters.withLock { $0.remove(id) } }
        onceWaiting()
        if kill(pid, 0) != 0 && errno == ESRCH {
            // Gone, and reaped before we registered (an exit reaped after it is kept instead).
            waiters.withLock { $0.finish(id, with: .notRunning) }?.resume(returning: .notRunning)
        }
        let first = await withTaskGroup(of: ExitWait.self) { group in
            group.addTask { await self.outcome(of: id) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return .timedOut
            }
            let first = await group.next() ?? .timedOut
            group.cancelAll()
            return first
        }
        // An exit that arrived while the timer won still counts.
        if case .done(let recorded)? = waiters.withLock({ $0.slots[id]?.state }) { return recorded }
        return first
    }

    private func outcome(of id: Int) async -> ExitWait {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ExitWait, Never>) in
                let immediate: ExitWait? = waiters.withLock { waiters in
                    if case .done(let result)? = waiters.slots[id]?.state { return result }
                    if Task.isCancelled { return .timedOut }
                    waiters.slots[id]?.state = .awaiting(continuation)
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            waiters.withLock { $0.finish(id, with: .timedOut) }?.resume(returning: .timedOut)
        }
    }

    /// Runs on `queue`: empties the wake-up pipe, then reaps until no ended child is left.
    private func reapAll() {
        var scratch = [UInt8](repeating: 0, count: 64)
        while read(wakeupRead, &scratch, scratch.count) > 0 {}
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid > 0 {
                if let exit = ProcessExit(pid: pid, waitStatus: status) { deliver(exit) }
                continue
            }
            if pid == 0 { return }
            let code = errno
            if code == EINTR { continue }
            if code != ECHILD {
                logger.error("waitpid(-1) failed", metadata: ["errno": "\(code)", "error": "\(errnoDescription(code))"])
            }
            return
        }
    }

    private func deliver(_ exit: ProcessExit) {
        logger.debug("reaped", metadata: ["pid": "\(exit.pid)", "exit": "\(exit)"])
        let waiting = waiters.withLock { $0.finishAll(pid: exit.pid, with: .exited(exit)) }
        for continuation in waiting { continuation.resume(returning: .exited(exit)) }
        continuation.yield(exit)
    }
}

/// The result of waiting for one process to be reaped.
public enum ExitWait: Sendable, Equatable {
    /// It was reaped while we waited.
    case exited(ProcessExit)
    /// No such process when the wait began: it had been reaped already.
    case notRunning
    /// It was still there when the timeout passed (or the waiting task was cancelled).
    case timedOut
}

/// Registered waits for particular pids. Each slot is finished exactly once, and its
/// continuation, when there is one, is handed out exactly once (to be resumed outside the lock).
struct ExitWaiters {
    enum State {
        /// Registered; the waiting task has not suspended yet.
        case pending
        /// The waiting task is suspended here.
        case awaiting(CheckedContinuation<ExitWait, Never>)
        /// Decided; the waiting task reads the result.
        case done(ExitWait)
    }

    struct Slot {
        let pid: Int32
        var state: State
    }

    var slots: [Int: Slot] = [:]
    private var nextID = 0

    mutating func register(pid: Int32) -> Int {
        nextID += 1
        slots[nextID] = Slot(pid: pid, state: .pending)
        return nextID
    }

    mutating func remove(_ id: Int) -> Slot? {
        slots.removeValue(forKey: id)
    }

    /// Decides slot `id` unless it is decided already; returns the continuation to resume.
    mutating func finish(_ id: Int, with result: ExitWait) -> CheckedContinuation<ExitWait, Never>? {
        guard let slot = slots[id] else { return nil }
        switch slot.state {
        case .done:
            return nil
        case .pending:
            slots[id]?.state = .done(result)
            return nil
        case .awaiting(let continuation):
            slots[id]?.state = .done(result)
            return continuation
        }
    }

    /// Decides every undecided slot waiting for `pid`.
    mutating func finishAll(pid: Int32, with result: ExitWait) -> [CheckedContinuation<ExitWait, Never>] {
        let ids = slots.filter { $0.value.pid == pid }.map(\.key)
        return ids.compactMap { finish($0, with: result) }
    }
}
