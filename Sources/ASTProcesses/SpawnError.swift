/// Why a child could not be started. Nothing is left running after any of these: a child that
/// was forked but could not exec has exited and been reaped.
public enum SpawnError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The executable path is not absolute or contains NUL.
    case invalidExecutable(String)
    /// An argument contains NUL.
    case invalidArgument(String)
    /// An environment variable cannot be passed.
    case invalidEnvironment(key: String, reason: String)
    /// A watchdog interval shorter than a microsecond (or absurdly long).
    case invalidWatchdog(Duration)
    /// A descriptor name systemd's `LISTEN_FDNAMES` rules do not allow.
    case invalidDescriptorName(String, reason: String)
    /// A descriptor to pass is not open in the parent.
    case descriptorNotOpen(fd: Int32, name: String)
    /// More descriptors than `SpawnRequest.maximumListenFDs`.
    case tooManyDescriptors(Int)
    /// The dedicated spawn thread could not be created (`pthread_create` failed).
    case spawnThreadUnavailable(errno: Int32)
    /// `pipe2` or `fork` failed in the parent (descriptor or process limits).
    case forkFailed(call: String, errno: Int32)
    /// The child was forked but failed before exec; `step` names the call.
    case childSetupFailed(executable: String, step: String, errno: Int32)
    /// `execve` failed: missing file (ENOENT), not executable (EACCES), bad format (ENOEXEC) ...
    case execFailed(executable: String, errno: Int32)

    public var description: String {
        switch self {
        case .invalidExecutable(let path):
            "spawn: executable \(path.debugDescription) must be an absolute path without NUL; fix the child spec"
        case .invalidArgument(let argument):
            "spawn: argument \(argument.debugDescription) contains a NUL byte; fix the child spec"
        case .invalidEnvironment(let key, let reason):
            "spawn: environment variable \(key.debugDescription) cannot be passed: \(reason)"
        case .invalidWatchdog(let interval):
            "spawn: watchdog interval \(interval) is out of range; use a positive interval"
        case .invalidDescriptorName(let name, let reason):
            "spawn: descriptor name \(name.debugDescription) is not allowed: \(reason)"
        case .descriptorNotOpen(let fd, let name):
            "spawn: descriptor \(fd) (\(name)) is not open in the supervisor; its socket was closed or never bound"
        case .tooManyDescriptors(let count):
            "spawn: \(count) descriptors requested, at most \(SpawnRequest.maximumListenFDs) can be passed"
        case .spawnThreadUnavailable(let code):
            "spawn: the spawn thread could not be started: \(errnoDescription(code)); check the process and thread limits (ulimit -u, TasksMax=)"
        case .forkFailed(let call, let code):
            "spawn: \(call) failed: \(errnoDescription(code)); check the process and descriptor limits (ulimit -u/-n, TasksMax=)"
        case .childSetupFailed(let executable, let step, let code):
            "spawn \(executable): \(step) failed in the child: \(errnoDescription(code))"
        case .execFailed(let executable, let code):
            "spawn \(executable): execve failed: \(errnoDescription(code)); check that the file exists, is executable and is built for this machine"
        }
    }
}
