import Glibc

/// A plain detached pthread that runs one closure (Foundation's `Thread` without Foundation): for
/// work that blocks a thread of its own (a `waitpid`, a queue that waits on a semaphore), which
/// must not block Swift's cooperative pool or a Dispatch worker.
public enum DetachedThread {
    /// Starts a thread running `body`; the thread ends when `body` returns. Returns `pthread_create`'s
    /// error number when no thread could be started (nothing runs then).
    @discardableResult
    public static func start(_ body: @escaping @Sendable () -> Void) -> Int32 {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(
            &thread, nil,
            { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                box.body()
                return nil
            }, box)
        guard created == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            return created
        }
        pthread_detach(thread)
        return 0
    }

    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
