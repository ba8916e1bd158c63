import ASTCore
import ASTExecution
import ASTJournal
import ASTReport
import ASTRisk
import Foundation
import Testing

/// ``TradingContent`` has two sources — a tree's journals (``TradingContent/read(stateDirectory:)``)
/// and an in-process run's values (``TradingContent/make(intents:decisions:reports:portfolio:)``,
/// the engine's side of the parity comparison); given the same trading they give the same lines.
@Suite struct TradingContentTests {
    @Test func theValuesGiveTheSameLinesAsTheJournalsAndCountARedeliveredReportOnce() throws {
        let s = try Scenario()
        defer { s.dir.remove() }
        let fromJournals = try TradingContent.read(stateDirectory: s.state)

        var decisions: [IntentDecision] = []
        try JournalReader(path: s.journalPath("risk@main")).scan { e in
            if e.record.type == "risk.decision" {
                decisions.append(try JSONDecoder().decode(IntentDecision.self, from: Data(e.record.body)))
            }
            return true
        }
        var core = ReconcilerCore()
        _ = core.handle(.initial(cash: Money("100000.00")!), now: Scenario.t(Scenario.d1, 8))
        for r in Scenario.reports { _ = core.handle(.report(r), now: r.at) }
        // A report delivered twice (a restart) counts once, in the lines and in the portfolio.
        let reports = Scenario.reports + Scenario.reports.suffix(2)
        _ = core.handle(.report(Scenario.reports.last!), now: Scenario.reports.last!.at)
        let fromValues = TradingContent.make(
            intents: [Scenario.ccc, Scenario.aaa, Scenario.bbb], decisions: decisions.reversed(),
            reports: reports, portfolio: core.portfolio)

        #expect(fromValues.lines == fromJournals.lines, "\(fromValues.firstDifference(from: fromJournals) ?? "")")
        #expect(fromJournals.fills.count == 3 && fromJournals.intents.count == 3 && fromJournals.decisions.count == 3)
        #expect(fromJournals.portfolio.contains("realized 200.00"), "\(fromJournals.portfolio)")
    }
}
