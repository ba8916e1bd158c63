import ASTTestKit
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ast sweep --slurm` against a real single-node Slurm (Debian's slurm-wlm: munged, slurmctld and
/// slurmd from a temporary configuration on free ports of 127.0.0.1, so that the host name need not
/// resolve): the job array runs the shards, and
/// `ast sweep collect` gives the table a local run gives, byte for byte. Slurm missing is a
/// failure, not a skip (scripts/test installs it).
@Suite(.serialized) struct SweepSlurmTests {
    static let daemons = [
        "/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch", "/usr/bin/squeue", "/usr/bin/sinfo",
    ]

    /// A TCP port nobody listens on now (bound to 0 and released).
    static func freePort() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return UInt16(bigEndian: addr.sin_port)
    }

    static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: ".").first.map(
            String.init)
            ?? "localhost"
    }

    @Test(.timeLimit(.minutes(3)))
    func aSlurmJobArraySweepCollectsToTheLocalTable() async throws {
        let missing = Self.daemons.filter { !FileManager.default.isExecutableFile(atPath: $0) }
        guard missing.isEmpty else {
            Issue.record("Slurm is not installed (\(missing.joined(separator: ", "))): apt-get install slurmctld slurmd slurm-client munge")
            return
        }
        let dir = try TemporaryDirectory(prefix: "ast-slurm")
        defer { dir.remove() }
        var children: [ChildProcess] = []
        defer { for c in children.reversed() { c.stop(graceSeconds: 3) } }
        let user = String(cString: getpwuid(geteuid()).pointee.pw_name)
        let host = Self.hostName()

        // munge: its own key and socket.
        try FileManager.default.createDirectory(
            atPath: dir("munge"), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var rng = SystemRandomNumberGenerator()
        try Data((0..<1024).map { _ in UInt8.random(in: 0...255, using: &rng) }).write(to: URL(fileURLWithPath: dir("munge/munge.key")))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: dir("munge/munge.key"))
        let env = [
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "SLURM_CONF": dir("slurm.conf"),
            "AST_CONFIG_DIR": BuildProducts.packageRoot + "/etc", "AST_ENV": "development", "AST_STATE_DIR": dir("state"),
            "AST_RUNTIME_DIR": dir("run"),
        ]
        children.append(
            try ChildProcess(
                "/usr/sbin/munged",
                [
                    "--foreground", "--force", "--key-file=\(dir("munge/munge.key"))", "--socket=\(dir("munge/munge.sock"))",
                    "--pid-file=\(dir("munge/munged.pid"))", "--log-file=\(dir("munge/munged.log"))", "--seed-file=\(dir("munge/seed"))",
                ], environment: env, name: "munged", outputDirectory: dir.path))
        for sub in ["state", "spool"] { try FileManager.default.createDirectory(atPath: dir(sub), withIntermediateDirectories: true) }
        let conf = """
            ClusterName=ast-test
            SlurmctldHost=\(host)(127.0.0.1)
            AuthType=auth/munge
            AuthInfo=socket=\(dir("munge/munge.sock"))
            CredType=cred/munge
            SlurmUser=\(user)
            SlurmdUser=\(user)
            SlurmctldPort=\(Self.freePort())
            SlurmdPort=\(Self.freePort())
            StateSaveLocation=\(dir("state"))
            SlurmdSpoolDir=\(dir("spool"))
            SlurmctldPidFile=\(dir("slurmctld.pid"))
            SlurmdPidFile=\(dir("slurmd.pid"))
            SlurmctldLogFile=\(dir("slurmctld.log"))
            SlurmdLogFile=\(dir("slurmd.log"))
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            JobAcctGatherType=jobacct_gather/none
            AccountingStorageType=accounting_storage/none
            SchedulerType=sched/builtin
            SelectType=select/cons_tres
            SelectTypeParameters=CR_CPU
            ReturnToService=2
            MpiDefault=none
            NodeName=\(host) NodeAddr=127.0.0.1 CPUs=\(ProcessInfo.processInfo.activeProcessorCount) RealMemory=100 State=UNKNOWN
            PartitionName=ast Nodes=\(host) Default=YES MaxTime=INFINITE State=UP

            """
        try conf.write(toFile: dir("slurm.conf"), atomically: true, encoding: .utf8)
        // munged makes its socket, then the daemons start.
        var waited = 0
        while !FileManager.default.fileExists(atPath: dir("munge/munge.sock")) && waited < 200 {
            try await Task.sleep(for: .milliseconds(50))
            waited += 1
        }
        children.append(
            try ChildProcess("/usr/sbin/slurmctld", ["-D", "-i"], environment: env, name: "slurmctld", outputDirectory: dir.path))
        children.append(try ChildProcess("/usr/sbin/slurmd", ["-D"], environment: env, name: "slurmd", outputDirectory: dir.path))

        var n = 0
        func run(_ exe: String, _ args: [String]) async throws -> (code: Int32?, out: String, err: String) {
            n += 1
            let c = try ChildProcess(exe, args, environment: env, name: "run-\(n)", outputDirectory: dir.path)
            let status = try await c.waitForExit(timeout: .seconds(120))
            return (ChildProcess.exitCode(status), c.stdout, c.stderr)
        }
        func logs() -> String {
            ["slurmctld.log", "slurmd.log", "munge/munged.log"].map {
                "\($0): " + String(((try? String(contentsOfFile: dir($0), encoding: .utf8)) ?? "-").suffix(1500))
            }
            .joined(separator: "\n")
        }
        // The node is up when sinfo shows it idle.
        var state = ""
        for _ in 0..<120 where state != "idle" {
            state = try await run("/usr/bin/sinfo", ["-h", "-o", "%t"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
            if state != "idle" { try await Task.sleep(for: .milliseconds(250)) }
        }
        try #require(state == "idle", "the Slurm node is '\(state)' after 30 s\n\(logs())")

        let ast = try BuildProducts.executable("ast")
        let csv = BuildProducts.packageRoot + "/Tests/ASTCLITests/Fixtures/GOLD.csv"
        let sweep = ["sweep", "--grid", "fast=5,10", "--grid", "slow=20,40"]
        let base = ["--", "--csv", csv, "--symbol", "GOLD", "--size", "percent:100", "--capital", "10000"]
        let local = try await run(ast, sweep + ["--jobs", "2", "--out", dir("local")] + base)
        #expect(local.code == 0, "\(local.err)")
        let submitted = try await run(ast, sweep + ["--slurm", "--out", dir("slurm")] + base)
        #expect(submitted.code == 0 && submitted.out.contains("as Slurm job"), "\(submitted.out)\(submitted.err)\n\(logs())")
        // The array has ended when squeue lists nothing.
        var queue = "?"
        for _ in 0..<240 where !queue.isEmpty {
            queue = try await run("/usr/bin/squeue", ["-h"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
            if !queue.isEmpty { try await Task.sleep(for: .milliseconds(250)) }
        }
        #expect(queue.isEmpty, "the job array is still queued after 60 s: \(queue)\n\(logs())")
        let outputs = try FileManager.default.contentsOfDirectory(atPath: dir("slurm/slurm")).filter { $0.hasSuffix(".out") }
        #expect(outputs.count == 4, "one output per array task: \(outputs)")
        let collect = try await run(ast, ["sweep", "collect", dir("slurm")])
        #expect(
            collect.code == 0,
            "\(collect.err)\n\(outputs.map { (try? String(contentsOfFile: dir("slurm/slurm/\($0)"), encoding: .utf8)) ?? "" })")
        let a = try String(contentsOfFile: dir("local/results.csv"), encoding: .utf8)
        let b = try String(contentsOfFile: dir("slurm/results.csv"), encoding: .utf8)
        #expect(a == b, "local:\n\(a)\nslurm:\n\(b)")
        #expect(a.split(separator: "\n").count == 5)
    }
}
