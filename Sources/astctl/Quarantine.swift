import ASTBus
import ASTCore
import ASTJournal
import ASTRuntime
import ASTWire
import ArgumentParser
import Foundation

/// `astctl quarantine`: journaled inputs a process could not replay at start. Such an entry is
/// skipped and the process stays HALTED / not ready until the operator acknowledges it here
/// (runbooks/quarantined-journal-entry.md).
struct QuarantineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quarantine", abstract: "List or acknowledge quarantined journal entries.",
        subcommands: [List.self, Ack.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every quarantined entry in the state directory's journals (read-only).",
            discussion: "Exit status: 0 nothing pending, 3 at least one entry waits for acknowledgement.")
        @Option(help: "State directory (default: state_dir from the configuration).") var stateDir: String?

        func run() throws {
            let state = try stateDir ?? loadConfig().stateDir
            let directory = "\(state)/journal"
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                .filter { $0.hasSuffix(".sqlite") }.sorted()
            var pending = 0
            var any = false
            for file in files {
                let path = "\(directory)/\(file)"
                let q: QuarantineJournal.State
                do {
                    q = try QuarantineJournal.read(path: path)
                } catch {
                    print("\(file): unreadable (\(error))")
                    continue
                }
                for seq in q.entries.keys.sorted() {
                    guard let entry = q.entries[seq] else { continue }
                    any = true
                    if let ack = q.acknowledged[seq] {
                        print("ACKNOWLEDGED \(entry.process) seq \(seq) (\(entry.type)): \(entry.cause) -- reason: \(ack.reason)")
                    } else {
                        pending += 1
                        print("PENDING      \(entry.process) seq \(seq) (\(entry.type)): \(entry.cause)")
                        print("             journal \(entry.journal)")
                        print("             astctl quarantine ack --process \(entry.process) --seq \(seq) --reason '...'")
                    }
                }
            }
            if !any { print("no quarantined journal entries") }
            if pending > 0 { throw ExitCode(3) }
        }
    }

    struct Ack: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Acknowledge a quarantined entry: it stays skipped and the process goes on.")
        @Option(help: "The process, e.g. broker@paper.") var process: String
        @Option(help: "The quarantined entry's sequence number (astctl quarantine list).") var seq: Int64
        @Option(help: "Why the process may go on without this entry (journaled).") var reason: String

        func run() async throws {
            guard let target = ProcessIdentity(parsing: process) else {
                throw ValidationError("--process must be role or role@instance (got \(process))")
            }
            let ack = QuarantineAck(process: target.description, seq: seq, reason: reason)
            if let refusal = ack.validate() { throw ValidationError(refusal.detail) }
            let reply = try await BrokerCommand.ask(.quarantineAck(ack), target: target)
            guard case .commandResult(let r) = reply.message else {
                FileHandle.standardError.write(Data("astctl: \(target) answered \(reply.type)\n".utf8))
                throw ExitCode(1)
            }
            print(r.message)
            if !r.accepted { throw ExitCode(1) }
        }
    }
}
