import ASTRuntime
import Glibc
import Logging
import Testing

struct LogLevelConfigTests {
    @Test(arguments: Logger.Level.allCases)
    func everyLevelParsesFromItsName(level: Logger.Level) {
        #expect(Logger.Level(configString: level.rawValue) == level)
    }

    @Test(arguments: [("WARNING", Logger.Level.warning), (" info\n", .info), ("Critical", .critical), ("\tdebug ", .debug)])
    func parsingIgnoresCaseAndSurroundingWhitespace(text: String, level: Logger.Level) {
        #expect(Logger.Level(configString: text) == level)
    }

    @Test(arguments: ["", "warn", "information", "err", "in fo", "7", "info,debug"])
    func anythingElseIsNotALevel(text: String) {
        #expect(Logger.Level(configString: text) == nil)
    }
}

struct LogDestinationTests {
    @Test
    func journalStreamMatchesItsOwnDeviceAndInodeOnly() {
        #expect(ASTLogging.journalStream("64768:1234567", matchesDevice: 64768, inode: 1_234_567))
        #expect(!ASTLogging.journalStream("64768:1234567", matchesDevice: 64768, inode: 1_234_568))
        #expect(!ASTLogging.journalStream("64769:1234567", matchesDevice: 64768, inode: 1_234_567))
    }

    @Test(arguments: [nil, "", ":", "64768", "64768:", ":1", "64768:1:2", "+64768:1", "64768: 1", "0x10:1", "-1:1"])
    func malformedJournalStreamNeverMatches(value: String?) {
        #expect(!ASTLogging.journalStream(value, matchesDevice: 64768, inode: 1))
        #expect(!ASTLogging.journalStream(value, matchesDevice: 0, inode: 0))
    }

    @Test(arguments: [
        (String?("64768:99"), true, ASTLogging.Destination.journald),
        ("64768:99", false, .stderr),
        ("64768:98", true, .stderr),
        (nil, true, .stderr),
    ])
    func journaldIsChosenOnlyForTheJournalStreamWithItsSocketPresent(
        journalStream: String?, socketExists: Bool, destination: ASTLogging.Destination
    ) {
        #expect(
            ASTLogging.destination(
                journalStream: journalStream, stderrDevice: 64768, stderrInode: 99, journalSocketExists: socketExists)
                == destination)
    }

    @Test
    func handlersAreBuiltForTheirDestination() {
        let journald = ASTLogging.makeHandler(label: "ast.risk", processName: "ast-risk", level: .notice, destination: .journald)
        let stderr = ASTLogging.makeHandler(label: "ast.risk", processName: "ast-risk", level: .debug, destination: .stderr)
        #expect((journald as? JournaldLogHandler)?.processName == "ast-risk")
        #expect(journald.logLevel == .notice)
        #expect((stderr as? StderrLogHandler)?.label == "ast.risk")
        #expect(stderr.logLevel == .debug)
    }
}

extension SystemdEnvironmentTests {
    @Suite
    struct LogDestinationDetectionTests {
        private func stderrIdentity() throws -> (device: UInt64, inode: UInt64) {
            var info = stat()
            guard fstat(STDERR_FILENO, &info) == 0 else { throw POSIXFailure(call: "fstat(2)") }
            return (UInt64(info.st_dev), UInt64(info.st_ino))
        }

        @Test
        func withoutJournalStreamEntriesGoToStderr() {
            withEnvironment(["JOURNAL_STREAM": nil]) {
                #expect(ASTLogging.detectDestination() == .stderr)
            }
        }

        @Test
        func journalStreamNamingThisStderrSelectsJournaldWhereItsSocketExists() throws {
            let (device, inode) = try stderrIdentity()
            let socketExists = access(ASTLogging.journalSocketPath, F_OK) == 0
            withEnvironment(["JOURNAL_STREAM": "\(device):\(inode)"]) {
                #expect(ASTLogging.detectDestination() == (socketExists ? .journald : .stderr))
            }
        }

        @Test
        func inheritedJournalStreamForAnotherDescriptorSelectsStderr() throws {
            // A child whose stderr was redirected still inherits its parent's JOURNAL_STREAM.
            let (device, inode) = try stderrIdentity()
            withEnvironment(["JOURNAL_STREAM": "\(device):\(inode &+ 1)"]) {
                #expect(ASTLogging.detectDestination() == .stderr)
            }
        }
    }
}
