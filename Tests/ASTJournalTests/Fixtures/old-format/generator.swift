// Writes the old-format journal fixture with main's (808c299, GRDB) ASTJournal code, compiled
// beside this file. Usage: gen <dir>
import ASTCore
import Logging

let dir = CommandLine.arguments[1]
let path = dir + "/risk@main.sqlite"
let logger = Logger(label: "fixture") { _ in SwiftLogNoOpLogHandler() }
func fixtureRecord(_ n: Int) -> JournalRecord {
    let kinds = EntryKind.allCases
    return JournalRecord(
        kind: kinds[n % kinds.count], type: n % 3 == 0 ? "fixture.tick" : "fixture.event",
        timestamp: Timestamp(nanoseconds: 1_750_000_000_000_000_000 + Int64(n) * 1_000_000_000),
        messageID: n % 2 == 0 ? "m-\(n)" : nil, correlationID: n % 5 == 0 ? "c-\(n / 5)" : nil, peer: n % 4 == 0 ? "peer@x" : nil,
        body: n % 7 == 0 ? [] : Array("{\"n\":\(n),\"é\":\"ü\"}".utf8))
}
let first = try Journal(path: path, process: "risk@main", logger: logger)
for n in 1...40 { try first.append(fixtureRecord(n), durability: n % 10 == 0 ? .durable : .batched) }
try first.close()
_ = try Journal.rotate(path: path, upTo: 25)
let second = try Journal(path: path, process: "risk@main", logger: logger)
try second.append((41...50).map(fixtureRecord), durability: .batched)
try second.close()
print(Journal.verify(path: path))
