import ASTCore
import ASTWire
import CSpawn

#if canImport(Glibc)
    import Glibc
#endif

/// The table of the processes astd spawned (identity -> current pid), in a sealed memfd that
/// astd alone can write and every worker maps read-only (``PeerTable``). A bus endpoint admits a
/// peer under a spawned identity only when the kernel's pid for the connection (`SO_PEERCRED`)
/// is the pid this table holds for that identity.
///
/// Layout (little-endian, fixed): a 64-byte header — magic `ASTPEER1`, version (u32), flags
/// (u32, bit 0: identities not listed are admitted by uid, for development trees), entry count
/// (u32), entry size (u32) — then `count` entries of 64 bytes: the identity's name in UTF-8,
/// NUL-padded to 56 bytes, and the pid (i32, 0 while not running) and restarts (u32). Names are
/// written once, before the table is sealed; only pids change afterwards.
public enum PeerTableLayout {
    static let magic: [UInt8] = Array("ASTPEER1".utf8)
    static let version: UInt32 = 1
    static let headerSize = 64
    static let entrySize = 64
    static let nameSize = 56
    /// The most identities one table holds.
    public static let maximumEntries = 64
    static let allowUnlistedFlag: UInt32 = 1
    /// The environment variable naming the table's descriptor in a worker.
    public static let descriptorVariable = "ASTD_PEER_TABLE_FD"
}

/// A peer-table problem: the descriptor is missing, unreadable or malformed.
public struct PeerTableError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}

/// astd's writable view of the peer table. `@unchecked Sendable`: the mapping is written only
/// through atomic 32-bit stores; names are written once, before the table is sealed.
public final class PeerTableWriter: SpawnedPeers, @unchecked Sendable {
    /// The read-only descriptor every child inherits (close-on-exec in astd itself).
    public let readOnlyFD: Int32
    let fd: Int32
    let base: UnsafeMutableRawPointer
    let size: Int
    let index: [ProcessIdentity: Int]
    public let allowsUnlisted: Bool

    /// Creates the table for `identities` (astd's own among them). With `allowUnlisted`, an
    /// identity the table does not list is admitted by uid alone (development trees only).
    public init(identities: [ProcessIdentity], allowUnlisted: Bool) throws {
        let unique = Array(Set(identities)).sorted { $0.description < $1.description }
        guard unique.count <= PeerTableLayout.maximumEntries else {
            throw PeerTableError("peer table: \(unique.count) identities, at most \(PeerTableLayout.maximumEntries)")
        }
        let size = PeerTableLayout.headerSize + PeerTableLayout.maximumEntries * PeerTableLayout.entrySize
        var bytes = [UInt8](repeating: 0, count: size)
        bytes.replaceSubrange(0..<8, with: PeerTableLayout.magic)
        func put(_ value: UInt32, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<offset + 4, with: $0) }
        }
        put(PeerTableLayout.version, at: 8)
        put(allowUnlisted ? PeerTableLayout.allowUnlistedFlag : 0, at: 12)
        put(UInt32(unique.count), at: 16)
        put(UInt32(PeerTableLayout.entrySize), at: 20)
        var index: [ProcessIdentity: Int] = [:]
        for (i, identity) in unique.enumerated() {
            let name = Array(identity.description.utf8)
            guard name.count < PeerTableLayout.nameSize else { throw PeerTableError("peer table: identity \(identity) is too long") }
            let offset = PeerTableLayout.headerSize + i * PeerTableLayout.entrySize
            bytes.replaceSubrange(offset..<offset + name.count, with: name)
            index[identity] = offset
        }
        var map: UnsafeMutableRawPointer?
        let fd = bytes.withUnsafeBytes { ast_sealed_memfd("ast-peer-table", size, $0.baseAddress, &map) }
        guard fd >= 0, let map else { throw PeerTableError("peer table: memfd: \(String(cString: strerror(-fd)))") }
        let ro = ast_reopen_readonly(fd)
        guard ro >= 0 else {
            close(fd)
            throw PeerTableError("peer table: read-only descriptor: \(String(cString: strerror(-ro)))")
        }
        self.fd = fd
        self.readOnlyFD = ro
        self.base = map
        self.size = size
        self.index = index
        self.allowsUnlisted = allowUnlisted
    }

    public func spawnedPID(of identity: ProcessIdentity) -> SpawnedPID {
        guard let pid = pid(of: identity) else { return .notListed }
        return pid > 0 ? .pid(pid) : .notRunning
    }

    /// The pid word of `identity`, for the spawner to fill between fork and exec.
    public func slot(for identity: ProcessIdentity) -> UnsafeMutablePointer<Int32>? {
        index[identity].map { (base + $0 + PeerTableLayout.nameSize).assumingMemoryBound(to: Int32.self) }
    }

    /// Records `pid` as `identity`'s current process (astd's own entry; spawned children are
    /// written by the spawner).
    public func set(_ identity: ProcessIdentity, pid: Int32) {
        guard let slot = slot(for: identity) else { return }
        ast_store_i32(slot, pid)
    }

    /// `identity` is no longer running as `pid`: its entry is cleared, unless a newer process
    /// already took it.
    public func clear(_ identity: ProcessIdentity, ifPID pid: Int32) {
        guard let slot = slot(for: identity), ast_load_i32(slot) == pid else { return }
        ast_store_i32(slot, 0)
    }

    /// The pid the table holds for `identity` (0: not running), nil when not listed.
    public func pid(of identity: ProcessIdentity) -> Int32? {
        slot(for: identity).map { ast_load_i32($0) }
    }
}

/// A worker's read-only view of astd's peer table, answering who astd spawned as what.
/// `@unchecked Sendable`: the mapping is read-only here and read with atomic loads.
public final class PeerTable: SpawnedPeers, @unchecked Sendable {
    let base: UnsafeRawPointer
    let index: [ProcessIdentity: Int]
    public let allowsUnlisted: Bool
    /// The identities the table lists, sorted (for logs).
    public let identities: [ProcessIdentity]

    /// Maps the table behind `fd` read-only and checks it; closes `fd`.
    public init(fd: Int32) throws {
        defer { close(fd) }
        guard ast_is_sealed_memfd(fd) == 1 else { throw PeerTableError("peer table: descriptor \(fd) is not a sealed memfd") }
        var size = 0
        var map: UnsafeRawPointer?
        let rc = ast_map_readonly(fd, &size, &map)
        guard rc == 0, let map else { throw PeerTableError("peer table: mmap: \(String(cString: strerror(-rc)))") }
        let bytes = UnsafeRawBufferPointer(start: map, count: size)
        func u32(_ offset: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
        guard size >= PeerTableLayout.headerSize, Array(bytes[0..<8]) == PeerTableLayout.magic, u32(8) == PeerTableLayout.version,
            u32(20) == UInt32(PeerTableLayout.entrySize)
        else {
            throw PeerTableError("peer table: bad header")
        }
        let count = Int(u32(16))
        guard count <= PeerTableLayout.maximumEntries, PeerTableLayout.headerSize + count * PeerTableLayout.entrySize <= size else {
            throw PeerTableError("peer table: \(count) entries do not fit in \(size) bytes")
        }
        var index: [ProcessIdentity: Int] = [:]
        for i in 0..<count {
            let offset = PeerTableLayout.headerSize + i * PeerTableLayout.entrySize
            let name = bytes[offset..<offset + PeerTableLayout.nameSize].prefix { $0 != 0 }
            guard let identity = ProcessIdentity(parsing: String(decoding: name, as: UTF8.self)) else {
                throw PeerTableError("peer table: entry \(i) names no identity")
            }
            index[identity] = offset
        }
        self.base = map
        self.index = index
        self.allowsUnlisted = u32(12) & PeerTableLayout.allowUnlistedFlag != 0
        self.identities = index.keys.sorted { $0.description < $1.description }
    }

    /// The table astd handed this process (`ASTD_PEER_TABLE_FD`), nil when started without one.
    /// The variable is removed from the environment.
    public static func inherited() throws -> PeerTable? {
        guard let value = getenv(PeerTableLayout.descriptorVariable).map({ String(cString: $0) }) else { return nil }
        unsetenv(PeerTableLayout.descriptorVariable)
        guard let fd = Int32(value), fd > 2 else {
            throw PeerTableError("\(PeerTableLayout.descriptorVariable)=\(value) is not a descriptor")
        }
        return try PeerTable(fd: fd)
    }

    public func spawnedPID(of identity: ProcessIdentity) -> SpawnedPID {
        guard let offset = index[identity] else { return .notListed }
        let pid = ast_load_i32(
            UnsafeMutableRawPointer(mutating: base + offset + PeerTableLayout.nameSize).assumingMemoryBound(to: Int32.self))
        return pid > 0 ? .pid(pid) : .notRunning
    }
}

/// Process-wide protection of what astd hands its children.
public enum ProcessHardening {
    /// `PR_SET_DUMPABLE 0`: another process of the same uid can no longer open
    /// `/proc/<pid>/fd`, `/proc/<pid>/mem` or ptrace this one. Returns a problem, or nil.
    public static func disableDumping() -> String? {
        let rc = ast_set_dumpable(0)
        return rc == 0 ? nil : "prctl(PR_SET_DUMPABLE, 0): \(String(cString: strerror(-rc)))"
    }

    /// Whether this process is dumpable now (for tests and status).
    public static var isDumpable: Bool { ast_get_dumpable() != 0 }
}
