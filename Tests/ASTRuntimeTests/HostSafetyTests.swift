import ASTCore
import ASTRisk
import Foundation
import Testing

@testable import ASTProcessKit
@testable import ASTRuntime

/// Configuration that cannot hurt the host: size, aliases, the secrets file, cross-field rules.
@Suite("Config: cannot hurt the host")
struct HostSafetyConfigTests {
    /// Nine lines, each list holding nine aliases of the one before: 9^9 (387 million) values
    /// once expanded.
    static let aliasBomb = """
        a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
        d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
        f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
        g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
        h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
        i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]

        """

    /// Anchors and aliases are refused outright (AST's YAML reader takes none), so an alias bomb
    /// costs nothing: it is refused at its first anchor.
    @Test func anAliasBombIsRefusedAtItsFirstAnchor() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            try dir.write("ast.local.yaml", Self.aliasBomb)
            #expect(
                dir.errorText()
                    == "config: \(dir.path)/ast.local.yaml line 1: not valid YAML (anchors (&) are not supported; write the value out)")
        }
    }

    @Test func aHundredMegabyteFileIsRefusedBeforeItIsRead() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            // A sparse 100 MB file: refused by its size, so not a byte of it is read.
            let fd = open(dir.file("ast.local.yaml"), O_CREAT | O_WRONLY, 0o644)
            #expect(fd >= 0)
            #expect(ftruncate(fd, 100 * 1024 * 1024) == 0)
            close(fd)
            let start = ContinuousClock.now
            let text = dir.errorText()
            print("100 MB configuration file refused in \(ContinuousClock.now - start)")
            #expect(
                text
                    == "config: \(dir.path)/ast.local.yaml is 104857600 bytes, larger than the 1048576 bytes a configuration or secrets file may have"
            )
        }
    }

    @Test func aFewAliasesAreRefusedToo() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            try dir.write("ast.local.yaml", "bus:\n  ack_timeout_ms: &t 3000\n  hello_timeout_ms: *t\n")
            #expect(
                dir.errorText()
                    == "config: \(dir.path)/ast.local.yaml line 2: not valid YAML (anchors (&) are not supported; write the value out)")
        }
    }

    @Test func aDocumentNestedTooDeeplyIsRefused() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase)
            try dir.write("ast.local.yaml", "bus: " + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "\n")
            #expect(
                dir.errorText()
                    == "config: \(dir.path)/ast.local.yaml line 1: nested deeper than 64 levels; AST configuration needs a few hundred values, a few levels deep"
            )
        }
    }

    static let riskChild = """
            - name: risk@main
              executable: ast-risk
              arguments: []
              restart: permanent
              shutdown_timeout_ms: 5000
              watchdog_ms: 10000
              on_crash: halt
        """

    static func withRisk(broker: String) -> String {
        validBase.replacingOccurrences(of: "  children:\n", with: "  children:\n" + riskChild + "\n")
            .replacingOccurrences(of: "  broker: broker@paper", with: "  broker: \(broker)")
    }

    @Test func aRiskBrokerThatIsNoChildIsRefusedAtLoad() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", Self.withRisk(broker: "broker@nowhere"))
            let text = dir.errorText()
            #expect(
                text?.contains("risk.broker must name one of supervisor.children (risk@main, broker@paper) (got \"broker@nowhere\")")
                    == true,
                "\(text ?? "loaded")")
            #expect(text?.contains("\(dir.path)/ast.yaml") == true)
            try dir.write("ast.yaml", Self.withRisk(broker: "broker@paper"))
            #expect(dir.errorText() == nil)
        }
    }

    @Test func liveWithoutLiveEnabledIsRefusedAtLoad() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write("ast.yaml", validBase + "trading:\n  mode: LIVE\n  live_enabled: false\n")
            let text = dir.errorText()
            #expect(
                text?.contains("trading.live_enabled must be true when trading.mode is LIVE (real money) (got false)") == true,
                "\(text ?? "loaded")")
        }
    }

    @Test func aSecretsFileReadableByOthersStopsTheProcessAtStart() throws {
        try ConfigTestDirectory.with { dir in
            try dir.write(
                "ast.yaml", validBase.replacingOccurrences(of: "secrets_file: ", with: "secrets_file: \(dir.path)/secrets.yaml #"))
            let config = try dir.loader().load(ASTConfig.self)
            #expect(StartupChecks.refusal(config, variables: [:]) == nil, "no secrets file: nothing to refuse yet")
            try dir.write("secrets.yaml", "telegram_bot_token: x\n", mode: 0o644)
            let refusal = StartupChecks.refusal(config, variables: [:])
            #expect(refusal?.contains("has mode 0644 but must have mode 0600") == true, "\(refusal ?? "accepted")")
            #expect(refusal?.contains("telegram_bot_token: x") == false)
            try dir.write("secrets.yaml", "telegram_bot_token: x\n", mode: 0o600)
            #expect(StartupChecks.refusal(config, variables: [:]) == nil)
        }
    }

    @Test func liveWithoutBrokerCredentialsStopsTheProcessAtStart() throws {
        try ConfigTestDirectory.with { dir in
            let yaml =
                validBase.replacingOccurrences(of: "secrets_file: ", with: "secrets_file: \(dir.path)/secrets.yaml #")
                + "trading:\n  mode: LIVE\n  live_enabled: true\n"
            try dir.write("ast.yaml", yaml)
            let config = try dir.loader().load(ASTConfig.self)
            let refusal = StartupChecks.refusal(config, variables: [:])
            #expect(refusal?.contains("trading.mode is LIVE but the broker credentials are missing") == true, "\(refusal ?? "accepted")")
            try dir.write("secrets.yaml", "broker_api_key: k\n", mode: 0o600)
            #expect(StartupChecks.refusal(config, variables: [:]) == nil)
        }
    }

    @Test func liveWithBrokerAlpacaNeedsAlpacasKeyPairNotAGenericKey() {
        #expect(StartupChecks.liveCredentialNames(brokers: ["broker@alpaca"]) == ["alpaca_key_id", "alpaca_secret_key"])
        #expect(StartupChecks.liveCredentialNames(brokers: ["broker@ibkr"]) == ["broker_api_key"])
        #expect(StartupChecks.liveCredentialNames(brokers: []) == ["broker_api_key"])
        #expect(
            StartupChecks.liveCredentialNames(brokers: ["broker@alpaca", "broker@ibkr"])
                == ["alpaca_key_id", "alpaca_secret_key", "broker_api_key"])
    }
}

/// The disk budget as a pure state machine.
@Suite("Disk budget")
struct DiskBudgetTests {
    let t0 = Timestamp(nanoseconds: 1_800_000_000_000_000_000)
    let mb: Int64 = 1_048_576

    @Test func lowFreeSpaceRaisesOneP1ADayAndRecovers() {
        var monitor = DiskBudgetMonitor(minFreeBytes: 1024 * mb, maxJournalBytes: 0, stateDir: "/var/lib/ast")
        #expect(monitor.observe(DiskUsage(freeBytes: 5000 * mb, journalBytes: 10 * mb), now: t0) == .none)
        guard case .alert(let alert) = monitor.observe(DiskUsage(freeBytes: 900 * mb, journalBytes: 10 * mb), now: t0) else {
            Issue.record("no alert")
            return
        }
        #expect(alert.priority == .p1)
        #expect(alert.text.contains("only 900 MB free under /var/lib/ast"))
        #expect(monitor.observe(DiskUsage(freeBytes: 800 * mb, journalBytes: 10 * mb), now: t0.advanced(by: .seconds(3600))) == .none)
        if case .alert = monitor.observe(DiskUsage(freeBytes: 800 * mb, journalBytes: 10 * mb), now: t0.advanced(by: .seconds(86_400))) {
        } else {
            Issue.record("no alert the next day")
        }
        if case .recovered = monitor.observe(DiskUsage(freeBytes: 5000 * mb, journalBytes: 10 * mb), now: t0.advanced(by: .seconds(90_000)))
        {
        } else {
            Issue.record("no recovery")
        }
    }

    @Test func journalsOverTheirBudgetRaiseAP1() {
        var monitor = DiskBudgetMonitor(minFreeBytes: 0, maxJournalBytes: 100 * mb, stateDir: "/s")
        guard case .alert(let alert) = monitor.observe(DiskUsage(freeBytes: 9000 * mb, journalBytes: 150 * mb), now: t0) else {
            Issue.record("no alert")
            return
        }
        #expect(alert.text.contains("the journals take 150 MB (journal.disk_max_journal_mb is 100)"))
    }

    @Test func measuringARealDirectoryCountsItsJournals() throws {
        try ConfigTestDirectory.with { dir in
            try FileManager.default.createDirectory(atPath: dir.file("journal"), withIntermediateDirectories: true)
            try dir.write("journal/x.sqlite", bytes: [UInt8](repeating: 1, count: 10_000))
            let usage = DiskUsage.measure(stateDir: dir.path)
            #expect(usage?.journalBytes == 10_000)
            #expect((usage?.freeBytes ?? 0) > 0)
            #expect(DiskUsage.measure(stateDir: dir.file("absent")) == nil)
        }
    }
}

/// One notify socket per process.
extension SystemdEnvironmentTests {
    @Suite("sd_notify: one socket for the whole process")
    struct NotifySenderTests {
        @Test func everyNotificationGoesThroughTheSameOpenSocket() throws {
            let directory = NSTemporaryDirectory() + "ast-notify-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let path = directory + "/n.sock"
            let receiver = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(receiver) }
            guard let resolved = NotifySender.address(path) else {
                Issue.record("no address")
                return
            }
            var address = resolved.0
            let length = resolved.1
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(receiver, $0, length) }
            }
            #expect(bound == 0)
            withEnvironment(["NOTIFY_SOCKET": path]) {
                let notifier = SystemdNotifier()
                let before = NotifySender.shared.openDescriptor
                #expect(before != nil, "the socket is opened when the notifier is made")
                // Few: a datagram receiver queues only net.unix.max_dgram_qlen (10 by default) before senders block.
                for n in 0..<5 { #expect(notifier.status("n \(n)") == .sent) }
                #expect(NotifySender.shared.openDescriptor == before, "no socket per call")
            }
            var buffer = [UInt8](repeating: 0, count: 256)
            let received = recv(receiver, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            #expect(received > 0)
            #expect(String(decoding: buffer.prefix(max(0, received)), as: UTF8.self) == "STATUS=n 0")
        }

        @Test func abstractAndOverlongAddressesAreHandled() {
            #expect(NotifySender.address("@ast/notify")?.1 == socklen_t(2 + 11))
            #expect(NotifySender.address("relative") == nil)
            #expect(NotifySender.address("/" + String(repeating: "x", count: 200)) == nil)
        }
    }
}
