import Testing

@testable import ASTCore

/// The one hex encoding of journal anchors and approval signatures.
@Suite struct HexTests {
    @Test func everyByteRoundTripsInLowerCase() {
        let bytes = (0...255).map { UInt8($0) }
        let text = Hex.encode(bytes)
        #expect(text.count == 512 && text == text.lowercased())
        #expect(Hex.decode(text) == bytes)
        #expect(Hex.encode([0x00, 0x0f, 0xa5, 0xff]) == "000fa5ff")
    }

    @Test func onlyEvenLengthLowerCaseHexDecodes() {
        for bad in ["0", "abc", "0G", "AB", "zz", "0 ", "é1"] { #expect(Hex.decode(bad) == nil, "\(bad)") }
        #expect(Hex.decode("") == [])
    }
}
