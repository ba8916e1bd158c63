/// A day on which NYSE does not trade a full session.
public struct MarketException: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Closed all day.
        case closed
        /// Trades from 09:30 to the given early close (13:00 on every early close so far).
        case earlyClose(LocalTime)
    }

    public let date: LocalDate
    public let kind: Kind
    /// Why: "Good Friday", "Day after Thanksgiving" ...
    public let reason: String

    public init(date: LocalDate, kind: Kind, reason: String) {
        self.date = date
        self.kind = kind
        self.reason = reason
    }
}

/// NYSE holidays and early closes, 2024 through 2030, for the NYSE equities market.
///
/// Sources:
/// - 2024–2027: NYSE's published holiday and early-closing calendars ("NYSE Group announces
///   2025, 2026 and 2027 holiday and early closings calendar", Nov 2024, and the 2024 one),
///   including the special closure of 2025-01-09 (national day of mourning for President Carter).
/// - 2028–2030: not yet published by NYSE when this table was written; derived by the rules
///   NYSE has applied every year (NYSE Rule 7.2): a holiday on a Sunday is observed the Monday,
///   on a Saturday the Friday — except New Year's Day, which is then not observed at all; early
///   close (13:00) on the day after Thanksgiving, on July 3 when July 4 is a Tuesday to Friday,
///   and on December 24 when it is a Monday to Thursday. Check them against NYSE's calendar when
///   it is published; `ASTCalendarTests` re-derives every rule-based row.
///
/// Juneteenth (June 19) is an NYSE holiday since 2022.
enum NYSEHolidays {
    static let years = 2024...2030

    static let table: [MarketException] = rows.map { date, close, reason in
        MarketException(date: LocalDate(date)!, kind: close.map { .earlyClose($0) } ?? .closed, reason: reason)
    }

    private static let one = LocalTime(hour: 13, minute: 0)

    private static let rows: [(String, LocalTime?, String)] = [
        // 2024 (published)
        ("2024-01-01", nil, "New Year's Day"), ("2024-01-15", nil, "Martin Luther King, Jr. Day"),
        ("2024-02-19", nil, "Washington's Birthday"), ("2024-03-29", nil, "Good Friday"),
        ("2024-05-27", nil, "Memorial Day"), ("2024-06-19", nil, "Juneteenth"),
        ("2024-07-03", one, "Day before Independence Day"), ("2024-07-04", nil, "Independence Day"),
        ("2024-09-02", nil, "Labor Day"), ("2024-11-28", nil, "Thanksgiving Day"),
        ("2024-11-29", one, "Day after Thanksgiving"), ("2024-12-24", one, "Christmas Eve"),
        ("2024-12-25", nil, "Christmas Day"),
        // 2025 (published)
        ("2025-01-01", nil, "New Year's Day"), ("2025-01-09", nil, "National Day of Mourning for President Carter"),
        ("2025-01-20", nil, "Martin Luther King, Jr. Day"), ("2025-02-17", nil, "Washington's Birthday"),
        ("2025-04-18", nil, "Good Friday"), ("2025-05-26", nil, "Memorial Day"), ("2025-06-19", nil, "Juneteenth"),
        ("2025-07-03", one, "Day before Independence Day"), ("2025-07-04", nil, "Independence Day"),
        ("2025-09-01", nil, "Labor Day"), ("2025-11-27", nil, "Thanksgiving Day"),
        ("2025-11-28", one, "Day after Thanksgiving"), ("2025-12-24", one, "Christmas Eve"),
        ("2025-12-25", nil, "Christmas Day"),
        // 2026 (published; July 4 is a Saturday: observed Friday July 3, no early close)
        ("2026-01-01", nil, "New Year's Day"), ("2026-01-19", nil, "Martin Luther King, Jr. Day"),
        ("2026-02-16", nil, "Washington's Birthday"), ("2026-04-03", nil, "Good Friday"),
        ("2026-05-25", nil, "Memorial Day"), ("2026-06-19", nil, "Juneteenth"),
        ("2026-07-03", nil, "Independence Day (observed)"), ("2026-09-07", nil, "Labor Day"),
        ("2026-11-26", nil, "Thanksgiving Day"), ("2026-11-27", one, "Day after Thanksgiving"),
        ("2026-12-24", one, "Christmas Eve"), ("2026-12-25", nil, "Christmas Day"),
        // 2027 (published; Juneteenth, July 4 and Christmas fall on weekends)
        ("2027-01-01", nil, "New Year's Day"), ("2027-01-18", nil, "Martin Luther King, Jr. Day"),
        ("2027-02-15", nil, "Washington's Birthday"), ("2027-03-26", nil, "Good Friday"),
        ("2027-05-31", nil, "Memorial Day"), ("2027-06-18", nil, "Juneteenth (observed)"),
        ("2027-07-05", nil, "Independence Day (observed)"), ("2027-09-06", nil, "Labor Day"),
        ("2027-11-25", nil, "Thanksgiving Day"), ("2027-11-26", one, "Day after Thanksgiving"),
        ("2027-12-24", nil, "Christmas Day (observed)"),
        // 2028 (derived; New Year's Day is a Saturday and is not observed)
        ("2028-01-17", nil, "Martin Luther King, Jr. Day"), ("2028-02-21", nil, "Washington's Birthday"),
        ("2028-04-14", nil, "Good Friday"), ("2028-05-29", nil, "Memorial Day"), ("2028-06-19", nil, "Juneteenth"),
        ("2028-07-03", one, "Day before Independence Day"), ("2028-07-04", nil, "Independence Day"),
        ("2028-09-04", nil, "Labor Day"), ("2028-11-23", nil, "Thanksgiving Day"),
        ("2028-11-24", one, "Day after Thanksgiving"), ("2028-12-25", nil, "Christmas Day"),
        // 2029 (derived)
        ("2029-01-01", nil, "New Year's Day"), ("2029-01-15", nil, "Martin Luther King, Jr. Day"),
        ("2029-02-19", nil, "Washington's Birthday"), ("2029-03-30", nil, "Good Friday"),
        ("2029-05-28", nil, "Memorial Day"), ("2029-06-19", nil, "Juneteenth"),
        ("2029-07-03", one, "Day before Independence Day"), ("2029-07-04", nil, "Independence Day"),
        ("2029-09-03", nil, "Labor Day"), ("2029-11-22", nil, "Thanksgiving Day"),
        ("2029-11-23", one, "Day after Thanksgiving"), ("2029-12-24", one, "Christmas Eve"),
        ("2029-12-25", nil, "Christmas Day"),
        // 2030 (derived)
        ("2030-01-01", nil, "New Year's Day"), ("2030-01-21", nil, "Martin Luther King, Jr. Day"),
        ("2030-02-18", nil, "Washington's Birthday"), ("2030-04-19", nil, "Good Friday"),
        ("2030-05-27", nil, "Memorial Day"), ("2030-06-19", nil, "Juneteenth"),
        ("2030-07-03", one, "Day before Independence Day"), ("2030-07-04", nil, "Independence Day"),
        ("2030-09-02", nil, "Labor Day"), ("2030-11-28", nil, "Thanksgiving Day"),
        ("2030-11-29", one, "Day after Thanksgiving"), ("2030-12-24", one, "Christmas Eve"),
        ("2030-12-25", nil, "Christmas Day"),
    ]
}
