import CSpawn
import Glibc

/// A listening socket handed to a child: the parent's descriptor and its `LISTEN_FDNAMES` name.
/// The child finds the n-th one at descriptor 3 + n.
public struct PassedDescriptor: Sendable, Equatable {
    /// The descriptor in the parent (astd); it stays open there.
    public var fd: Int32
    /// The name the child looks it up by (`bus`, `control`): printable ASCII without `:`.
    public var name: String

    /// Creates a descriptor/name pair.
    public init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }
}

/// A descriptor a child inherits besides its listening sockets (the peer table, the approval
/// key), found by the child at the number given in the environment variable `variable`.
public struct InheritedDescriptor: Sendable, Equatable {
    /// The descriptor in the parent; it stays open there.
    public var fd: Int32
    /// The environment variable that tells the child its number (`ASTD_PEER_TABLE_FD`).
    public var variable: String

    /// Creates a descriptor/variable pair.
    public init(fd: Int32, variable: String) {
        self.fd = fd
        self.variable = variable
    }
}

/// A 32-bit word in shared memory that receives a child's pid between fork and exec (astd's
/// peer table). Holds the address only; whoever creates one keeps the memory mapped.
public struct IdentitySlot: Sendable, Equatable {
    let address: UInt

    /// A slot at `pointer`, which must stay mapped for as long as spawns may use it.
    public init(_ pointer: UnsafeMutablePointer<Int32>) { address = UInt(bitPattern: pointer) }

    var pointer: UnsafeMutablePointer<Int32> { UnsafeMutablePointer(bitPattern: address)! }
}

/// Everything needed to start one child: what to run, its environment, the sockets it gets, and
/// the manager protocols (notify socket, watchdog) it should speak to its parent.
public struct SpawnRequest: Sendable, Equatable {
    /// Absolute path of the executable (no `PATH` search).
    public var executable: String
    /// Arguments after `argv[0]`, which is `executable`.
    public var arguments: [String]
    /// The child's environment before the manager variables are set. The parent's own
    /// `NOTIFY_SOCKET`, `WATCHDOG_*` and `LISTEN_*` are removed from it (see `ChildEnvironment`).
    public var environment: [String: String]
    /// Listening sockets passed as descriptors 3, 4, ... with `LISTEN_FDS`/`LISTEN_FDNAMES`.
    public var listenFDs: [PassedDescriptor]
    /// The child's `NOTIFY_SOCKET`: where it sends `READY=1`, `STATUS=`, `WATCHDOG=1`.
    public var notifySocket: String?
    /// The child's `WATCHDOG_USEC` (with `WATCHDOG_PID` set to the child's pid); nil for none.
    public var watchdog: Duration?
    /// Whether the child leads a process group of its own, so that a terminal's Ctrl-C reaches
    /// only the supervisor (which then stops the tree in order) and not every worker at once.
    public var newProcessGroup: Bool
    /// Descriptors passed after the listening sockets (3 + listenFDs.count, ...), each named by
    /// an environment variable holding its number in the child.
    public var inheritedFDs: [InheritedDescriptor]
    /// Where the child's pid is stored between fork and exec (see ``IdentitySlot``), if anywhere.
    public var identitySlot: IdentitySlot?

    /// Creates a request; only `executable` is required.
    public init(
        executable: String, arguments: [String] = [], environment: [String: String] = [:],
        listenFDs: [PassedDescriptor] = [], notifySocket: String? = nil, watchdog: Duration? = nil,
        newProcessGroup: Bool = false, inheritedFDs: [InheritedDescriptor] = [], identitySlot: IdentitySlot? = nil
    ) {
        self.inheritedFDs = inheritedFDs
        self.identitySlot = identitySlot
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.listenFDs = listenFDs
        self.notifySocket = notifySocket
        self.watchdog = watchdog
        self.newProcessGroup = newProcessGroup
    }
}

/// The environment a child receives, as `KEY=VALUE` entries, and which entries hold the child's
/// own pid. Built before fork; the pid digits are written in the child, between fork and exec,
/// into room reserved here (`LISTEN_PID=0000000000`).
///
/// The variables of the manager protocols are the parent's business: its own `NOTIFY_SOCKET`,
/// `WATCHDOG_USEC`, `WATCHDOG_PID`, `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES` never reach a
/// child, which gets its own values instead, and only those that apply (no `LISTEN_*` without
/// sockets, no `WATCHDOG_*` without a watchdog), as systemd does.
public struct ChildEnvironment: Sendable, Equatable {
    /// The variables the manager owns and sets per child.
    public static let managedKeys: Set<String> = [
        "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
    ]
    /// What a pid entry holds until the child writes its pid there.
    static let pidPlaceholder = String(repeating: "0", count: Int(AST_SPAWN_PID_DIGITS))

    /// `KEY=VALUE` entries: the caller's variables sorted by key, then the manager's.
    public let entries: [String]
    /// Indices into `entries` of the variables that receive the child's pid.
    public let pidEntries: [Int]

    /// Builds the environment for `request`, or says which part of it cannot be passed.
    public init(for request: SpawnRequest) throws(SpawnError) {
        var entries: [String] = []
        // An inherited descriptor's variable is the spawner's to set, like the manager's own.
        let inheritedKeys = Set(request.inheritedFDs.map(\.variable))
        for key in request.environment.keys.sorted() where !Self.managedKeys.contains(key) && !inheritedKeys.contains(key) {
            let value = request.environment[key]!
            guard !key.isEmpty, !key.utf8.contains(UInt8(ascii: "=")), !key.utf8.contains(0) else {
                throw .invalidEnvironment(key: key, reason: "a variable name must be non-empty, without '=' or NUL")
            }
            guard !value.utf8.contains(0) else {
                throw .invalidEnvironment(key: key, reason: "the value contains a NUL byte")
            }
            entries.append("\(key)=\(value)")
        }
        var pidEntries: [Int] = []
        if !request.listenFDs.isEmpty {
            entries.append("LISTEN_FDS=\(request.listenFDs.count)")
            entries.append("LISTEN_FDNAMES=\(request.listenFDs.map(\.name).joined(separator: ":"))")
            pidEntries.append(entries.count)
            entries.append("LISTEN_PID=\(Self.pidPlaceholder)")
        }
        for (offset, passed) in request.inheritedFDs.enumerated() {
            guard !passed.variable.isEmpty, !passed.variable.utf8.contains(UInt8(ascii: "=")), !passed.variable.utf8.contains(0) else {
                throw .invalidEnvironment(key: passed.variable, reason: "a variable name must be non-empty, without '=' or NUL")
            }
            entries.append("\(passed.variable)=\(3 + request.listenFDs.count + offset)")
        }
        if let socket = request.notifySocket {
            guard !socket.isEmpty, !socket.utf8.contains(0) else {
                throw .invalidEnvironment(key: "NOTIFY_SOCKET", reason: "the socket path is empty or contains NUL")
            }
            entries.append("NOTIFY_SOCKET=\(socket)")
        }
        if let watchdog = request.watchdog {
            let microseconds = watchdog / .microseconds(1)
            guard microseconds >= 1, microseconds < Double(UInt64.max) else {
                throw .invalidWatchdog(watchdog)
            }
            entries.append("WATCHDOG_USEC=\(UInt64(microseconds))")
            pidEntries.append(entries.count)
            entries.append("WATCHDOG_PID=\(Self.pidPlaceholder)")
        }
        self.entries = entries
        self.pidEntries = pidEntries
    }

    /// The entries as they read in the child whose pid is `pid`, with the digits written by the
    /// same formatter the child uses between fork and exec.
    public func resolved(pid: Int32) -> [String] {
        var digits = [CChar](repeating: 0, count: Int(AST_SPAWN_PID_DIGITS) + 1)
        ast_spawn_format_pid(&digits, pid)
        let formatted = String(decoding: digits.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var resolved = entries
        for index in pidEntries {
            let name = resolved[index].prefix { $0 != "=" }
            resolved[index] = "\(name)=\(formatted)"
        }
        return resolved
    }
}

extension SpawnRequest {
    /// The most descriptors a child can be given (the kernel passes at most 253 per message; a
    /// worker needs one or two).
    public static let maximumListenFDs = 253

    /// Checks what can be checked before fork: argument strings, descriptor names, descriptors.
    func validate() throws(SpawnError) {
        guard executable.hasPrefix("/"), !executable.utf8.contains(0) else {
            throw .invalidExecutable(executable)
        }
        for argument in arguments where argument.utf8.contains(0) {
            throw .invalidArgument(argument)
        }
        guard listenFDs.count + inheritedFDs.count <= Self.maximumListenFDs else {
            throw .tooManyDescriptors(listenFDs.count + inheritedFDs.count)
        }
        for passed in inheritedFDs {
            guard passed.fd >= 0, fcntl(passed.fd, F_GETFD) >= 0 else {
                throw .descriptorNotOpen(fd: passed.fd, name: passed.variable)
            }
        }
        for passed in listenFDs {
            if let reason = Self.descriptorNameProblem(passed.name) {
                throw .invalidDescriptorName(passed.name, reason: reason)
            }
            guard passed.fd >= 0, fcntl(passed.fd, F_GETFD) >= 0 else {
                throw .descriptorNotOpen(fd: passed.fd, name: passed.name)
            }
        }
    }

    /// Why systemd would refuse `name` in `LISTEN_FDNAMES` (`fdname_is_valid`), or nil when it is
    /// valid. Unlike systemd, an empty name is refused too: a worker looks its sockets up by name.
    static func descriptorNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "a descriptor name must not be empty" }
        if name.utf8.count > 255 { return "a descriptor name is at most 255 bytes" }
        if name.utf8.contains(UInt8(ascii: ":")) { return "':' separates names in LISTEN_FDNAMES" }
        if !name.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            return "a descriptor name is printable ASCII"
        }
        return nil
    }
}
