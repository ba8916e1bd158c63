/// Telegram message text in the Bot API's HTML parse mode: escaping and splitting at the
/// length limit.
///
/// In HTML mode every `<`, `>` and `&` that is not part of a tag or an entity must be written as
/// `&lt;`, `&gt;` and `&amp;`; nothing else needs escaping. A message may hold at most 4,096
/// characters after entities are parsed. Counting the UTF-16 length of the HTML itself, tags and
/// entities included, over-counts, so a text that fits by this count always fits.
public enum TelegramText {
    /// The Bot API's limit on a message text, in characters after entity parsing.
    public static let maximumLength = 4096

    /// `text` with `&`, `<` and `>` escaped for `parse_mode=HTML`.
    public static func escapeHTML(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The length Telegram would count for `text`, over-estimated: UTF-16 code units.
    public static func length(_ text: String) -> Int { text.utf16.count }

    /// Splits `text` into pieces whose cost (the sum of `cost` over their characters) is at most
    /// `budget`, preferring to cut after a line break, then after a space, else between two
    /// characters. A cut never falls inside a character (grapheme cluster), so an escape sequence
    /// or an emoji is never torn. Concatenating the pieces gives `text` back. An empty text is one
    /// empty piece. `budget` must be at least the cost of the costliest single character.
    public static func split(_ text: String, budget: Int, cost: (Character) -> Int) -> [String] {
        precondition(budget > 0, "split budget must be positive")
        var pieces: [String] = []
        var current: [Character] = []
        var currentCost = 0
        // Index in `current` just after the last newline / space, and the cost up to it.
        var lastNewline: (index: Int, cost: Int)?
        var lastSpace: (index: Int, cost: Int)?
        for ch in text {
            let c = cost(ch)
            precondition(c <= budget, "a single character costs more than the budget")
            if currentCost + c > budget {
                // Cut at the best break point that keeps at least half the budget, else hard.
                let cut =
                    [lastNewline, lastSpace].compactMap { $0 }.first { $0.cost * 2 >= budget }
                    ?? (index: current.count, cost: currentCost)
                pieces.append(String(current[..<cut.index]))
                current = Array(current[cut.index...])
                currentCost -= cut.cost
                lastNewline = nil
                lastSpace = nil
                // Break points inside the carried-over rest are found again.
                var running = 0
                for (i, carried) in current.enumerated() {
                    running += cost(carried)
                    if carried == "\n" { lastNewline = (i + 1, running) }
                    if carried == " " { lastSpace = (i + 1, running) }
                }
            }
            current.append(ch)
            currentCost += c
            if ch == "\n" || ch == "\r\n" { lastNewline = (current.count, currentCost) }
            if ch == " " { lastSpace = (current.count, currentCost) }
        }
        if !current.isEmpty || pieces.isEmpty { pieces.append(String(current)) }
        return pieces
    }

    /// `text` cut to at most `maximum` characters, with `…` at the end when it was cut.
    public static func truncate(_ text: String, to maximum: Int) -> String {
        guard text.count > maximum else { return text }
        return String(text.prefix(max(0, maximum - 1))) + "…"
    }
}

/// How a message's text is to be parsed by Telegram. Raw values are the Bot API's `parse_mode`.
public enum ParseMode: String, Sendable, Codable, Equatable {
    /// `parse_mode=HTML`: the text holds escaped content and `<b>` tags.
    case html = "HTML"
    /// No `parse_mode`: the text is shown as it is (the fallback when Telegram refuses HTML).
    case plain = ""
}

/// A title and a body rendered into one or more Telegram texts that each fit the limit.
public enum MessageRenderer {
    /// Longest title kept, in characters; a longer one is cut with `…`.
    public static let maximumTitleLength = 200
    /// Room kept for the ` (12/34)` marker on the title of a split message.
    static let partMarkerRoom = 16

    /// The texts announcing `title` and `body`: the bold title on the first line, then the body.
    /// A body too long for one message is split; each part repeats the title with `(i/n)`.
    public static func render(title: String, body: String, mode: ParseMode, limit: Int = TelegramText.maximumLength) -> [String] {
        let title = TelegramText.truncate(title, to: maximumTitleLength)
        let cost: (Character) -> Int = { renderedLength(of: $0, mode: mode) }
        func head(_ marker: String) -> String { Self.head(title, marker, mode: mode) }
        let single = head("")
        if TelegramText.length(single) + renderedLength(body, mode: mode) <= limit {
            return [single + (mode == .html ? TelegramText.escapeHTML(body) : body)]
        }
        let budget = limit - TelegramText.length(head("")) - partMarkerRoom
        let pieces = TelegramText.split(body, budget: budget, cost: cost)
        return pieces.enumerated().map { i, piece in
            head(" (\(i + 1)/\(pieces.count))") + (mode == .html ? TelegramText.escapeHTML(piece) : piece)
        }
    }

    /// Whether ``render(title:body:mode:limit:)`` gives one text for a body whose
    /// ``renderedLength(_:mode:)`` is `bodyLength`.
    public static func fitsOneText(title: String, bodyLength: Int, mode: ParseMode, limit: Int = TelegramText.maximumLength) -> Bool {
        TelegramText.length(head(TelegramText.truncate(title, to: maximumTitleLength), "", mode: mode)) + bodyLength <= limit
    }

    /// The length Telegram counts for `text` once rendered in `mode` (escaped for HTML), without
    /// building the escaped text: `&` becomes 5 units, `<` and `>` 4, anything else its UTF-16 units.
    public static func renderedLength(_ text: String, mode: ParseMode) -> Int {
        guard mode == .html else { return TelegramText.length(text) }
        var total = 0
        for scalar in text.unicodeScalars { total += escapedLength(scalar) }
        return total
    }

    /// ``renderedLength(_:mode:)`` of one character: the splitter's cost, allocation-free.
    static func renderedLength(of character: Character, mode: ParseMode) -> Int {
        var total = 0
        for scalar in character.unicodeScalars { total += mode == .html ? escapedLength(scalar) : UTF16.width(scalar) }
        return total
    }

    static func escapedLength(_ scalar: Unicode.Scalar) -> Int {
        switch scalar {
        case "&": 5
        case "<", ">": 4
        default: UTF16.width(scalar)
        }
    }

    static func head(_ title: String, _ marker: String, mode: ParseMode) -> String {
        mode == .html ? "<b>\(TelegramText.escapeHTML(title + marker))</b>\n" : "\(title + marker)\n"
    }
}
