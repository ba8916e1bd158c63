import ASTBus
import ASTCore
import ASTMessages
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Which identity refusals come from a process that has exited (no alarm) and which from a
/// running one (alarmed).
@Suite struct StaleIdentityClaimTests {
    static let mismatch = Refusal(code: .pidMismatch, detail: "pid 1 claimed marketdata@main on risk@main, which astd runs as pid 2")

    /// Spawns `/bin/true` and returns its pid, not reaped.
    static func spawnTrue() throws -> pid_t {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { argv.forEach { free($0) } }
        let rc = posix_spawn(&pid, "/bin/true", nil, nil, argv, environ)
        try #require(rc == 0)
        return pid
    }

    @Test func aRunningProcessIsNotStaleSoItsClaimIsAlarmed() {
        #expect(!StaleIdentityClaim.hasExited(getpid()))
        #expect(!StaleIdentityClaim.isStale(Self.mismatch, pid: getpid()))
    }

    @Test func aZombieAndThenAReapedProcessAreStale() throws {
        let pid = try Self.spawnTrue()
        // Exited but not reaped yet: a zombie can no longer act either.
        var zombie = false
        for _ in 0..<2000 where !zombie {
            zombie = StaleIdentityClaim.hasExited(pid)
            if !zombie { usleep(1000) }
        }
        #expect(zombie)
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        #expect(StaleIdentityClaim.isStale(Self.mismatch, pid: pid))
    }

    @Test func onlyIdentityRefusalsWithAPidCanBeStale() throws {
        let pid = try Self.spawnTrue()
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        #expect(StaleIdentityClaim.isStale(Refusal(code: .identityNotSpawned, detail: ""), pid: pid))
        #expect(!StaleIdentityClaim.isStale(Refusal(code: .approvalSignatureInvalid, detail: ""), pid: pid))
        #expect(!StaleIdentityClaim.isStale(Self.mismatch, pid: nil))
        #expect(!StaleIdentityClaim.isStale(Self.mismatch, pid: 0))
    }
}
