import ASTCalendar
import ASTCore
import ArgumentParser
import Foundation

/// `ast calendar --from D --to D`: every NYSE session in the range with its hours and the daily
/// schedule, in America/New_York.
struct CalendarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calendar", abstract: "List NYSE sessions with open, close and the daily schedule (America/New_York).",
        discussion: """
            One line per session: date, weekday, open-close, EST or EDT, `early close` when shortened, then \
            the schedule (full_scan, reconcile, reconcile, reconcile_and_reduce, pre_close_cleanup, \
            after_market; an early close drops the reconciliations at or after its cleanup). Weekends and \
            holidays have no line. --json prints the same as a JSON array, with UTC instants.
            """)

    @Option(help: "First date (YYYY-MM-DD).")
    var from: String
    @Option(help: "Last date (YYYY-MM-DD), inclusive.")
    var to: String
    @Flag(help: "Print a JSON array.")
    var json = false

    func validate() throws {
        guard let a = LocalDate(from) else { throw ValidationError("--from must be a date as YYYY-MM-DD (got '\(from)')") }
        guard let b = LocalDate(to) else { throw ValidationError("--to must be a date as YYYY-MM-DD (got '\(to)')") }
        guard a <= b else { throw ValidationError("--from \(from) is after --to \(to)") }
        let covered = TradingCalendar.nyse.coveredYears
        guard covered.contains(a.year), covered.contains(b.year) else {
            throw ValidationError("the NYSE calendar covers \(covered.lowerBound)–\(covered.upperBound) only (got \(from) to \(to))")
        }
    }

    func run() throws {
        let sessions = TradingCalendar.nyse.sessions(from: LocalDate(from)!, to: LocalDate(to)!)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(sessions.map(SessionRow.init)), as: UTF8.self))
        } else {
            for s in sessions { print(SessionRow(s).line) }
        }
    }
}

/// One session as `ast calendar` shows it.
struct SessionRow: Encodable {
    struct Event: Encodable {
        var task: String
        var time: String
        var utc: String
    }

    var date: String
    var weekday: String
    var open: String
    var close: String
    var zone: String
    var earlyClose: Bool
    var openUTC: String
    var closeUTC: String
    var schedule: [Event]

    enum CodingKeys: String, CodingKey {
        case date, weekday, open, close, zone, schedule
        case earlyClose = "early_close"
        case openUTC = "open_utc"
        case closeUTC = "close_utc"
    }

    /// By ``Weekday/rawValue`` (0 is Sunday).
    static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]

    init(_ s: Session) {
        date = s.date.description
        weekday = Self.weekdays[s.date.weekday.rawValue]
        open = NewYorkTime.local(s.open).time.description
        close = NewYorkTime.local(s.close).time.description
        zone = NewYorkTime.isDaylightSaving(at: s.open) ? "EDT" : "EST"
        earlyClose = s.isEarlyClose
        openUTC = s.open.description
        closeUTC = s.close.description
        schedule = DailySchedule.events(for: s).map {
            Event(task: $0.task.rawValue, time: NewYorkTime.local($0.time).time.description, utc: $0.time.description)
        }
    }

    /// `2026-11-27 Fri 09:30-13:00 EST early close | 09:00 full_scan, 10:30 reconcile, ...`
    var line: String {
        "\(date) \(weekday) \(open)-\(close) \(zone)\(earlyClose ? " early close" : "") | "
            + schedule.map { "\($0.time) \($0.task)" }.joined(separator: ", ")
    }
}
