import ASTCore
import ASTMarketData
import Foundation
import Testing

/// `ast ingest` says why it refuses and exits as README says: 65 for bad data (a refused ingest,
/// an unreadable, binary or unknown file, a lenient ingest left with nothing to store), with the
/// store left as it was — not even created when it did not exist.
@Suite struct IngestMessagesTests {
    static let yahoo = "Date,Open,High,Low,Close,Adj Close,Volume"

    @Test func symbolNamesTheFilesSymbolAndA2004ThursdayIsASession() async throws {
        let tree = try CLITree()
        // A file name that is no ticker; 2004-06-10 is a Thursday (NYSE's calendar starts in 2000).
        let file = try tree.write(
            "prices-2004.csv",
            "\(Self.yahoo)\n2004-06-09,10.00,10.50,9.80,10.20,10.20,1000\n2004-06-10,10.20,10.40,10.10,10.30,10.30,1000\n")
        let run = try await tree.ast(["ingest", "--csv", file, "--symbol", "abc", "--store", tree.store])
        #expect(run.exitCode == 0, "\(run.stdout)\(run.stderr)")
        #expect(try tree.storedBars("ABC").map(\.date.description) == ["2004-06-09", "2004-06-10"])
        // --symbol names one file's symbol: with two files it is a usage error.
        let two = try await tree.ast(["ingest", "--csv", file, file, "--symbol", "ABC", "--store", tree.store])
        #expect(two.exitCode == 64, "\(two.stderr)")
    }

    @Test func aRefusedIngestLeavesNoNewStoreAndNamesTheRealReason() async throws {
        let tree = try CLITree()
        let file = try tree.write(
            "ABC.csv",
            "\(Self.yahoo)\n2004-06-10,10.00,10.50,9.80,10.20,10.20,1000\n2004-06-11,10.20,10.40,10.10,10.30,10.30,1000\n"
                + "2004-06-12,10.20,10.40,10.10,10.30,10.30,1000\n")
        let run = try await tree.ast(["ingest", "--csv", file, "--store", tree.store])
        #expect(run.exitCode == 65)
        #expect(run.stdout.contains("NYSE was closed: National Day of Mourning for President Reagan"), "\(run.stdout)")
        #expect(run.stdout.contains("a Saturday"), "\(run.stdout)")
        #expect(!run.stdout.contains("weekend or holiday"), "\(run.stdout)")
        for suffix in ["", "-wal", "-shm"] { #expect(!FileManager.default.fileExists(atPath: tree.store + suffix), "\(suffix)") }
    }

    @Test func aLenientIngestThatStoresNothingExitsNonZero() async throws {
        let tree = try CLITree()
        let file = try tree.write("ABC.csv", "\(Self.yahoo)\n2025-01-03,10.20,9.00,10.10,10.30,10.30,1000\n")
        let run = try await tree.ast(["ingest", "--csv", file, "--lenient", "--store", tree.store])
        #expect(run.exitCode == 65, "\(run.stdout)\(run.stderr)")
        #expect(run.stderr.contains("nothing stored"), "\(run.stderr)")
    }

    @Test func anUnreadableBinaryOrUnknownFileExits65AndAnUnknownHeaderNamesTheAcceptedOnes() async throws {
        let tree = try CLITree()
        let binary = tree.dir("ABC.csv")
        try Data([0xFF, 0xFE, 0x00, 0x01, 0x89, 0x50, 0x4E, 0x47, 0xC3, 0x28]).write(to: URL(fileURLWithPath: binary))
        let b = try await tree.ast(["ingest", "--csv", binary, "--store", tree.store])
        #expect(b.exitCode == 65, "\(b.stderr)")
        #expect(b.stderr.contains(binary) && b.stderr.contains("nothing stored"), "\(b.stderr)")
        let missing = try await tree.ast(["ingest", "--csv", tree.dir("NOPE.csv"), "--store", tree.store])
        #expect(missing.exitCode == 65, "\(missing.stderr)")
        let unknown = try tree.write("XYZ.csv", "Day,Price\n2025-01-02,10\n")
        let u = try await tree.ast(["ingest", "--csv", unknown, "--store", tree.store])
        #expect(u.exitCode == 65, "\(u.stderr)")
        #expect(u.stderr.contains(Self.yahoo) && u.stderr.contains("Date,Open,High,Low,Close,Volume"), "\(u.stderr)")
        #expect(u.stderr.contains("<TICKER>,<PER>,<DATE>"), "\(u.stderr)")
        for suffix in ["", "-wal", "-shm"] { #expect(!FileManager.default.fileExists(atPath: tree.store + suffix), "\(suffix)") }
    }
}
