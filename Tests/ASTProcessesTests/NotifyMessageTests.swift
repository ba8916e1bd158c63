import ASTProcesses
import Testing

/// The pure parser behind `NotifySocket`.
@Suite struct NotifyMessageTests {
    @Test(arguments: [
        ("READY=1", [("READY", "1")]),
        ("READY=1\nSTATUS=7/7 ready\n", [("READY", "1"), ("STATUS", "7/7 ready")]),
        ("STATUS=a=b", [("STATUS", "a=b")]),
        ("STATUS=", [("STATUS", "")]),
        ("\n\nWATCHDOG=1\n", [("WATCHDOG", "1")]),
        ("X_AST_CUSTOM=1\nMAINPID=42\nERRNO=5", [("X_AST_CUSTOM", "1"), ("MAINPID", "42"), ("ERRNO", "5")]),
        ("STATUS=démarrage ✓", [("STATUS", "démarrage ✓")]),
    ])
    func wellFormedDatagramsParseInOrder(payload: String, expected: [(String, String)]) throws {
        let fields = try NotifyMessage.parse(Array(payload.utf8)).get()
        #expect(fields.map(\.key) == expected.map(\.0))
        #expect(fields.map(\.value) == expected.map(\.1))
    }

    @Test(arguments: [
        ([UInt8](), NotifyParseError.empty),
        (Array("\n\n".utf8), .empty),
        (Array("READY".utf8), .notAnAssignment(line: 1)),
        (Array("READY=1\nbogus".utf8), .notAnAssignment(line: 2)),
        (Array("=1".utf8), .invalidKey(line: 1)),
        (Array("ready=1".utf8), .invalidKey(line: 1)),
        (Array("READY=1\0STATUS=x".utf8), .containsNUL),
        ([0xFF, 0xFE, 0x3D, 0x31], .notUTF8),
    ])
    func malformedDatagramsAreRefusedWhole(payload: [UInt8], expected: NotifyParseError) {
        switch NotifyMessage.parse(payload) {
        case .success(let fields): Issue.record("parsed \(fields) from malformed input")
        case .failure(let error): #expect(error == expected)
        }
    }

    @Test func accessorsReadTheFirstAssignment() {
        let message = NotifyMessage(
            pid: 42,
            fields: [
                ("READY", "1"), ("STATUS", "first"), ("STATUS", "second"), ("WATCHDOG", "trigger"), ("ERRNO", "11"),
            ])
        #expect(message.isReady)
        #expect(message.status == "first")
        #expect(message.isWatchdogTrigger)
        #expect(!message.isWatchdogPing)
        #expect(!message.isStopping)
        #expect(message.errno == 11)
        #expect(NotifyMessage(pid: 1, fields: [("ERRNO", "x")]).errno == nil)
        #expect(NotifyMessage(pid: 1, fields: [("WATCHDOG", "1")]).isWatchdogPing)
    }
}
