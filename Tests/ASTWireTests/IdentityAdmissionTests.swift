import ASTCore
import Testing

@testable import ASTWire

/// A peer table as a dictionary, for the admission core.
struct TablePeers: SpawnedPeers {
    var pids: [ProcessIdentity: Int32]
    var allowsUnlisted = false
    func spawnedPID(of identity: ProcessIdentity) -> SpawnedPID {
        guard let pid = pids[identity] else { return .notListed }
        return pid > 0 ? .pid(pid) : .notRunning
    }
}

@Suite struct IdentityAdmissionTests {
    static let broker = ProcessIdentity(role: .broker, instance: "paper")
    static let risk = ProcessIdentity(role: .risk, instance: "main")
    static let policy = EndpointPolicy(
        name: "broker@paper", allowedUIDs: [],
        permissions: [
            .risk: [.orderSubmit], .control: [.brokerQuery],
            .strategy: [.probe],
        ])
    static let table = TablePeers(pids: [risk: 4242, broker: 4343, ProcessIdentity(role: .strategy): 0])
    let now = Timestamp(nanoseconds: 1)

    func server(peerPID: Int32?, check: PeerIdentityCheck = .spawned(table)) -> ServerConnectionMachine {
        ServerConnectionMachine(
            local: Self.broker, localPID: 4343, policy: Self.policy, ownUID: 1000, peerUID: 1000, peerPID: peerPID,
            identityCheck: check, maxFrameBytes: 4096, connection: 1)
    }

    /// Feeds a hello claiming `who` (with a pid the peer chose) and returns the refusal code, if any.
    func admit(_ who: ProcessIdentity, kernelPID: Int32?, claimedPID: Int32 = 1, check: PeerIdentityCheck = .spawned(table))
        -> RefusalCode??
    {
        var s = server(peerPID: kernelPID, check: check)
        let hello = Envelope(
            sender: who, seq: 1, id: "h", timestamp: now,
            message: .hello(Hello(role: who.role, instance: who.instance, pid: claimedPID)))
        let actions = s.received(.success(hello), now: now)
        for case .close(let r) in actions { return .some(r.code) }
        return actions.contains { if case .established = $0 { true } else { false } } ? .some(nil) : .none
    }

    @Test func theSpawnedPidIsAdmittedAndThePeerInfoCarriesTheKernelsPid() {
        var s = server(peerPID: 4242)
        let hello = Envelope(
            sender: Self.risk, seq: 1, id: "h", timestamp: now, message: .hello(Hello(role: .risk, instance: "main", pid: 1)))
        let actions = s.received(.success(hello), now: now)
        #expect(actions.first == .established(PeerInfo(identity: Self.risk, pid: 4242, uid: 1000)))
    }

    @Test func anotherPidClaimingASpawnedIdentityIsRefusedAsPidMismatch() {
        #expect(admit(Self.risk, kernelPID: 777, claimedPID: 4242) == .some(.pidMismatch))
    }

    @Test func anIdentityAstdDoesNotRunIsRefused() {
        #expect(admit(ProcessIdentity(role: .strategy, instance: "rogue"), kernelPID: 777) == .some(.identityNotSpawned))
    }

    @Test func anIdentityBetweenCrashAndRestartIsRefused() {
        #expect(admit(ProcessIdentity(role: .strategy), kernelPID: 777) == .some(.identityNotSpawned))
    }

    @Test func withoutAKernelPidNothingButControlIsAdmitted() {
        #expect(admit(Self.risk, kernelPID: nil, claimedPID: 4242) == .some(.identityNotSpawned))
    }

    @Test func theOperatorsControlRoleIsAdmittedByUid() {
        #expect(admit(ProcessIdentity(role: .control, instance: "astctl"), kernelPID: 777) == .some(nil))
    }

    @Test func aDevelopmentTableAdmitsUnlistedIdentitiesButStillChecksListedOnes() {
        var dev = Self.table
        dev.allowsUnlisted = true
        #expect(admit(ProcessIdentity(role: .strategy, instance: "test"), kernelPID: 777, check: .spawned(dev)) == .some(nil))
        #expect(admit(Self.risk, kernelPID: 777, check: .spawned(dev)) == .some(.pidMismatch))
    }

    @Test func anImpersonationIsRefusedAsSuchEvenWhereTheRoleMayNotConnect() {
        var table = Self.table
        table.pids[ProcessIdentity(role: .notifier)] = 4444
        #expect(admit(ProcessIdentity(role: .notifier), kernelPID: 777, check: .spawned(table)) == .some(.pidMismatch))
        #expect(admit(ProcessIdentity(role: .notifier), kernelPID: 4444, check: .spawned(table)) == .some(.roleNotAllowed))
    }

    @Test func withoutATableAdmissionIsByUidAndRoleOnly() {
        #expect(admit(Self.risk, kernelPID: 777, check: .uidOnly) == .some(nil))
    }

    @Test func identityRefusalsAreSecurityViolationsAndProtocolErrorsAreNot() {
        #expect(RefusalCode.pidMismatch.isSecurityViolation && RefusalCode.identityNotSpawned.isSecurityViolation)
        #expect(RefusalCode.approvalSignatureInvalid.isSecurityViolation && RefusalCode.approvalReused.isSecurityViolation)
        #expect(!RefusalCode.roleNotAllowed.isSecurityViolation && !RefusalCode.malformedFrame.isSecurityViolation)
    }
}
