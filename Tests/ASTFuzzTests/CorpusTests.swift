import ASTFuzzTargets
import Foundation
import Testing

/// Every fuzz target's seed corpus and every past finding (Fuzz/corpus/<target>/, Fuzz/findings/<target>/)
/// runs through the target without a trap: a crash libFuzzer found once stays fixed.
@Suite struct CorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz")

    static func files(_ kind: String, _ target: FuzzTarget) -> [URL] {
        let dir = root.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.sorted().map { dir.appendingPathComponent($0) }
    }

    @Test(arguments: FuzzTarget.allCases)
    func seedCorpusRunsClean(_ target: FuzzTarget) throws {
        let seeds = Self.files("corpus", target)
        #expect(!seeds.isEmpty, "Fuzz/corpus/\(target.rawValue) has no seed")
        for file in seeds + Self.files("findings", target) {
            target.run(Array(try Data(contentsOf: file)))
        }
    }
}
