import CSpawn
import Glibc

/// Starts children the way systemd starts services: fork and exec through a small C helper, the
/// listening sockets at descriptors 3, 4, ... with `LISTEN_FDS`, `LISTEN_FDNAMES` and a
/// `LISTEN_PID` that is the child's own pid, its own `NOTIFY_SOCKET` and `WATCHDOG_USEC`, and
/// `PR_SET_PDEATHSIG(SIGKILL)` so that no child outlives the supervisor, even a SIGKILLed one.
///
/// Every fork happens on one dedicated, never-ending thread (see `SpawnThread`), because the
/// kernel delivers the parent-death signal when the forking *thread* exits.
///
/// The child inherits the supervisor's stdin, stdout and stderr (under systemd: the journal) and
/// nothing else; every other descriptor is closed at exec. Spawned children must be reaped by a
/// `Reaper` (or `waitpid`); an exit can reach the reaper before `spawn` has returned the pid.
public struct Spawner: Sendable {
    /// Creates a spawner; all spawners share the one spawn thread.
    public init() {}

    /// Starts `request.executable` and returns its pid once `execve` has succeeded.
    ///
    /// The fork runs to completion even when the calling task is cancelled, so a started child
    /// is never lost track of.
    public func spawn(_ request: SpawnRequest) async throws(SpawnError) -> Int32 {
        let prepared = try PreparedSpawn(request)
        let thread: SpawnThread
        switch SpawnThread.shared {
        case .success(let shared): thread = shared
        case .failure(let error): throw error
        }
        let outcome = await thread.perform { prepared.launch() }
        return try outcome.pid(executable: request.executable)
    }

    /// Starts `executable` with `arguments`, the caller's `environment` (minus the parent's own
    /// manager variables), the given listening sockets, and optionally the child's
    /// `NOTIFY_SOCKET` and watchdog interval. Returns the child's pid.
    public func spawn(
        executable: String, arguments: [String] = [], environment: [String: String],
        listenFDs: [(fd: Int32, name: String)] = [], notifySocket: String? = nil,
        watchdog: Duration? = nil, newProcessGroup: Bool = false,
        inheritedFDs: [InheritedDescriptor] = [], identitySlot: IdentitySlot? = nil
    ) async throws(SpawnError) -> Int32 {
        try await spawn(
            SpawnRequest(
                executable: executable, arguments: arguments, environment: environment,
                listenFDs: listenFDs.map { PassedDescriptor(fd: $0.fd, name: $0.name) },
                notifySocket: notifySocket, watchdog: watchdog, newProcessGroup: newProcessGroup,
                inheritedFDs: inheritedFDs, identitySlot: identitySlot))
    }

    /// Forks on the *calling* thread, bypassing the spawn thread. Only for tests that show why
    /// the spawn thread exists: the child dies when this thread exits.
    static func launchOnCurrentThread(_ request: SpawnRequest) throws(SpawnError) -> LaunchOutcome {
        try PreparedSpawn(request).launch()
    }
}

/// What `ast_spawn` reported.
enum LaunchOutcome: Sendable, Equatable {
    /// The child exec'd.
    case launched(pid: Int32)
    /// Set-up failed at `stage`; `pid` is the forked (and already reaped) child, 0 if none.
    case failed(stage: Int32, errno: Int32, pid: Int32)

    func pid(executable: String) throws(SpawnError) -> Int32 {
        switch self {
        case .launched(let pid):
            return pid
        case .failed(let stage, let code, _):
            switch UInt32(stage) {
            case AST_SPAWN_STAGE_PIPE.rawValue: throw .forkFailed(call: "pipe2", errno: code)
            case AST_SPAWN_STAGE_FORK.rawValue: throw .forkFailed(call: "fork", errno: code)
            case AST_SPAWN_STAGE_EXEC.rawValue: throw .execFailed(executable: executable, errno: code)
            case AST_SPAWN_STAGE_PDEATHSIG.rawValue:
                throw .childSetupFailed(executable: executable, step: "prctl(PR_SET_PDEATHSIG)", errno: code)
            case AST_SPAWN_STAGE_PARENT_GONE.rawValue:
                throw .childSetupFailed(executable: executable, step: "parent check (the supervisor died during fork)", errno: code)
            case AST_SPAWN_STAGE_PROCESS_GROUP.rawValue:
                throw .childSetupFailed(executable: executable, step: "setpgid", errno: code)
            case AST_SPAWN_STAGE_DESCRIPTORS.rawValue:
                throw .childSetupFailed(executable: executable, step: "moving the passed descriptors to 3, 4, ...", errno: code)
            default:
                throw .childSetupFailed(executable: executable, step: "stage \(stage)", errno: code)
            }
        }
    }
}

/// The C strings `ast_spawn` needs, allocated before fork (the child must not allocate) and
/// freed when the spawn is over.
///
/// `@unchecked Sendable`: built on the caller's thread, then used only by the spawn thread; the
/// pointers and their contents are never changed in this process (the child patches its own
/// copy-on-write copy of the pid entries).
final class PreparedSpawn: @unchecked Sendable {
    private let path: UnsafeMutablePointer<CChar>
    private let argv: [UnsafeMutablePointer<CChar>?]
    private let envp: [UnsafeMutablePointer<CChar>?]
    private let fds: [Int32]
    private let pidSlots: [Int32]
    private let flags: Int32
    private let identitySlot: UnsafeMutablePointer<Int32>?

    init(_ request: SpawnRequest) throws(SpawnError) {
        try request.validate()
        let environment = try ChildEnvironment(for: request)
        path = strdup(request.executable)
        argv = ([request.executable] + request.arguments).map { strdup($0) } + [nil]
        envp = environment.entries.map { strdup($0) } + [nil]
        fds = request.listenFDs.map(\.fd) + request.inheritedFDs.map(\.fd)
        identitySlot = request.identitySlot?.pointer
        pidSlots = environment.pidEntries.map { Int32($0) }
        flags = request.newProcessGroup ? Int32(AST_SPAWN_NEW_PROCESS_GROUP) : 0
    }

    deinit {
        free(path)
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }

    /// Forks on the current thread; see `ast_spawn`.
    func launch() -> LaunchOutcome {
        var stage: Int32 = 0
        var code: Int32 = 0
        var failedPID: pid_t = 0
        let pid = argv.withUnsafeBufferPointer { argv in
            envp.withUnsafeBufferPointer { envp in
                fds.withUnsafeBufferPointer { fds in
                    pidSlots.withUnsafeBufferPointer { slots in
                        ast_spawn(
                            path, argv.baseAddress, envp.baseAddress,
                            fds.baseAddress, Int32(fds.count),
                            slots.baseAddress, Int32(slots.count),
                            flags, identitySlot, &stage, &code, &failedPID)
                    }
                }
            }
        }
        return pid > 0 ? .launched(pid: pid) : .failed(stage: stage, errno: code, pid: failedPID)
    }
}
