import ASTNotify
import Foundation
import Testing

/// Escaping for Telegram's HTML parse mode and splitting at its 4,096-character limit.
struct TelegramTextTests {
    @Test(arguments: [
        ("plain text", "plain text"),
        ("a < b > c", "a &lt; b &gt; c"),
        ("AT&T", "AT&amp;T"),
        ("&amp;", "&amp;amp;"),
        ("<b>not bold</b>", "&lt;b&gt;not bold&lt;/b&gt;"),
        ("quotes \" ' and * _ [ ] ` stay", "quotes \" ' and * _ [ ] ` stay"),
        ("émoji 🔴 and ümlauts", "émoji 🔴 and ümlauts"),
        ("", ""),
    ])
    func escapingReplacesOnlyTheThreeHTMLSpecials(input: String, expected: String) {
        #expect(TelegramText.escapeHTML(input) == expected)
    }

    @Test func splittingKeepsEveryCharacterAndEachPieceWithinBudget() {
        let text = String(repeating: "word ", count: 300) + String(repeating: "x", count: 700) + "\nend"
        let pieces = TelegramText.split(text, budget: 100) { _ in 1 }
        #expect(pieces.joined() == text)
        #expect(pieces.allSatisfy { $0.count <= 100 && !$0.isEmpty })
    }

    @Test func splittingPrefersALineBreakThenASpace() {
        let text = String(repeating: "a", count: 60) + "\n" + String(repeating: "b", count: 30) + " " + String(repeating: "c", count: 30)
        let pieces = TelegramText.split(text, budget: 100) { _ in 1 }
        #expect(pieces.first == String(repeating: "a", count: 60) + "\n")
        let spaced = String(repeating: "a", count: 70) + " " + String(repeating: "b", count: 70)
        #expect(TelegramText.split(spaced, budget: 100) { _ in 1 }.first == String(repeating: "a", count: 70) + " ")
    }

    @Test func splittingNeverTearsACharacterOrAnEscape() {
        // Family emoji (one grapheme of 11 UTF-16 units) and ampersands that escape to 5 units.
        let text = String(repeating: "👨‍👩‍👧‍👦&", count: 200)
        let cost: (Character) -> Int = { TelegramText.length(TelegramText.escapeHTML(String($0))) }
        let pieces = TelegramText.split(text, budget: 64, cost: cost)
        #expect(pieces.joined() == text)
        for piece in pieces {
            #expect(TelegramText.length(TelegramText.escapeHTML(piece)) <= 64)
            #expect(piece.allSatisfy { $0 == "👨‍👩‍👧‍👦" || $0 == "&" })
        }
    }

    @Test func anEmptyTextIsOneEmptyPiece() {
        #expect(TelegramText.split("", budget: 10) { _ in 1 } == [""])
    }

    @Test func aShortAlertIsOneMessageWithABoldEscapedTitle() {
        let texts = MessageRenderer.render(title: "HALTED <now>", body: "broker@paper & co", mode: .html)
        #expect(texts == ["<b>HALTED &lt;now&gt;</b>\nbroker@paper &amp; co"])
        #expect(MessageRenderer.render(title: "HALTED <now>", body: "a & b", mode: .plain) == ["HALTED <now>\na & b"])
    }

    @Test(arguments: [4_000, 4_096, 9_000, 20_000, 50_000])
    func aLongBodyIsSplitIntoNumberedPartsThatEachFit(length: Int) {
        // Worst case for HTML: every other character escapes to five.
        let body = String((0..<length).map { $0 % 2 == 0 ? "&" : ($0 % 97 == 0 ? "\n" : "x") })
        for mode in [ParseMode.html, .plain] {
            let texts = MessageRenderer.render(title: "Daily report", body: body, mode: mode)
            #expect(texts.allSatisfy { TelegramText.length($0) <= TelegramText.maximumLength })
            if texts.count > 1 {
                #expect(texts.enumerated().allSatisfy { i, t in t.contains("(\(i + 1)/\(texts.count))") })
            }
            // The parts carry the whole body, in order.
            let bodies = texts.map { t in String(t[t.index(after: t.firstIndex(of: "\n")!)...]) }
            let joined = bodies.joined()
            #expect((mode == .html ? unescape(joined) : joined) == body)
        }
    }

    @Test func anOverlongTitleIsCut() {
        let texts = MessageRenderer.render(title: String(repeating: "t", count: 5_000), body: "b", mode: .plain)
        #expect(texts.count == 1 && texts[0].hasPrefix(String(repeating: "t", count: MessageRenderer.maximumTitleLength - 1) + "…\n"))
    }

    func unescape(_ s: String) -> String {
        s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(
            of: "&amp;", with: "&")
    }
}
