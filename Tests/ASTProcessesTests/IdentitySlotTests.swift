import ASTTestKit
import Foundation
import Glibc
import Testing

@testable import ASTProcesses

/// What astd's peer table relies on from the spawner: the child's pid in its slot by the time
/// the child runs, and the inherited descriptors at the numbers their variables name.
@Suite struct IdentitySlotTests {
    @Test func theChildFindsItsPidInTheSharedSlotAndItsInheritedDescriptorWhereTheVariableSays() async throws {
        let directory = try TemporaryDirectory(prefix: "ast-slot")
        defer { directory.remove() }
        let children = Children()
        defer { children.killAll() }
        let bus = try listeningSocket(at: directory("bus.sock"))
        defer { close(bus) }
        // Shared memory, as astd's table is: what the child stores before exec is seen here.
        let page = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)
        #expect(page != MAP_FAILED)
        defer { munmap(page, 4096) }
        let slot = page!.assumingMemoryBound(to: Int32.self)
        slot.pointee = 0
        let file = open(directory("inherited"), O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        defer { close(file) }
        #expect(write(file, "table", 5) == 5)
        #expect(lseek(file, 0, SEEK_SET) == 0)

        let pid = try await Spawner().spawn(
            executable: shell, arguments: ["-c", #"cat <&"$ASTD_TEST_FD" > "$OUT"; echo " $ASTD_TEST_FD" >> "$OUT""#],
            environment: minimalPath.merging(["OUT": directory("out"), "ASTD_TEST_FD": "stale"]) { $1 },
            listenFDs: [(fd: bus, name: "bus")],
            inheritedFDs: [InheritedDescriptor(fd: file, variable: "ASTD_TEST_FD")], identitySlot: IdentitySlot(slot))
        children.track(pid)
        #expect(slot.pointee == pid)
        #expect(try await children.reap(pid).isSuccess)
        // One listening socket at 3, so the inherited descriptor is 4 (the caller's value replaced).
        #expect(try await contents(of: directory("out")) == "table 4")
    }
}
