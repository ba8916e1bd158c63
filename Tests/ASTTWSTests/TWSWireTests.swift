import ASTCore
import Testing

@testable import ASTTWS

@Suite struct TWSWireTests {
    @Test func frameCarriesABigEndianLengthBeforeThePayload() {
        #expect(TWSWire.frame([0x41, 0x00]) == [0, 0, 0, 2, 0x41, 0x00])
        let big = [UInt8](repeating: 7, count: 0x01_02_03)
        #expect(Array(TWSWire.frame(big).prefix(4)) == [0x00, 0x01, 0x02, 0x03])
    }

    @Test func decoderReassemblesFramesFedOneByteAtATime() throws {
        let stream = TWSWire.frame(payload(["9", "1", "42"])) + TWSWire.frame(payload(["53", "1"]))
        var d = TWSFrameDecoder()
        var frames: [[UInt8]] = []
        for b in stream {
            d.append([b])
            while let f = try d.next() { frames.append(f) }
        }
        #expect(frames == [payload(["9", "1", "42"]), payload(["53", "1"])])
        #expect(d.bufferedCount == 0)
    }

    @Test func oversizedLengthIsRefusedAsSoonAsTheHeaderArrives() {
        var d = TWSFrameDecoder(maxPayloadLength: 1000)
        d.append([0x00, 0x00, 0x03, 0xE9])  // 1001: no payload byte has arrived
        #expect(throws: TWSDecodeError.frameTooLong(length: 1001, limit: 1000)) { try d.next() }
        var big = TWSFrameDecoder()
        big.append([0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: TWSDecodeError.frameTooLong(length: UInt32.max, limit: TWSWire.maxPayloadLength)) { try big.next() }
    }

    @Test func zeroLengthFrameIsRefused() {
        var d = TWSFrameDecoder()
        d.append([0, 0, 0, 0])
        #expect(throws: TWSDecodeError.emptyFrame) { try d.next() }
    }

    @Test func fieldsSplitOnNulAndThePayloadMustEndWithOne() throws {
        #expect(try TWSWire.fields(payload(["4", "", "-1"])) == ["4", "", "-1"])
        #expect(throws: TWSDecodeError.unterminatedField) { try TWSWire.fields(Array("4\u{0}2".utf8)) }
        #expect(throws: TWSDecodeError.emptyFrame) { try TWSWire.fields([]) }
        #expect(throws: TWSDecodeError.invalidText(field: 1)) { try TWSWire.fields([0x31, 0, 0xFF, 0xFE, 0]) }
        let many = [UInt8](repeating: 0, count: TWSWire.maxFields + 1)
        #expect(throws: TWSDecodeError.tooManyFields(limit: TWSWire.maxFields)) { try TWSWire.fields(many) }
    }

    @Test func numbersAreValidatedAndConvertedOnlyWhenExact() {
        #expect(TWSNumber("150.25")?.fixedPointUnits == 1_502_500)
        #expect(TWSNumber("100")?.wholeNumber == 100)
        #expect(TWSNumber("100.0")?.wholeNumber == 100)
        #expect(TWSNumber("100.5")?.wholeNumber == nil)
        #expect(TWSNumber("0.123456")?.fixedPointUnits == nil)
        #expect(TWSNumber("1.7976931348623157E308")?.isUnsetSentinel == true)
        #expect(TWSNumber("1.7976931348623157E308")?.fixedPointUnits == nil)
        #expect(TWSNumber("-2.5e-3") != nil)
        for bad in ["", "abc", "1.2.3", "--1", "1e", ".", "NaN", "Infinity", "1 ", String(repeating: "9", count: 65)] {
            #expect(TWSNumber(bad) == nil, "\(bad)")
        }
        #expect(TWSNumber("99999999999999999999999")?.fixedPointUnits == nil)  // too large for Int64: nil, no trap
    }

    @Test func readerRefusesNonNumbersOverflowAndMissingFields() throws {
        var r = TWSFieldReader(["", "12", "2147483648", "x1", "9223372036854775808"], message: "test")
        #expect(try r.int() == 0)  // Java's readInt: empty is 0
        #expect(try r.int() == 12)
        #expect(throws: TWSDecodeError.notANumber(field: 2, text: "2147483648")) { try r.int() }
        #expect(throws: TWSDecodeError.notANumber(field: 3, text: "x1")) { try r.int64() }
        #expect(throws: TWSDecodeError.notANumber(field: 4, text: "9223372036854775808")) { try r.int64() }
        #expect(throws: TWSDecodeError.missingField(field: 5, message: "test")) { try r.string() }
        var c = TWSFieldReader(["3", "a", "b"], message: "test")
        #expect(throws: TWSDecodeError.badCount(field: 0, count: 3)) { try c.count(fieldsPerEntry: 1) }
        var n = TWSFieldReader(["-1"], message: "test")
        #expect(throws: TWSDecodeError.badCount(field: 0, count: -1)) { try n.count(fieldsPerEntry: 1) }
    }

    @Test func writerRefusesANulInsideATextField() {
        var w = TWSFieldWriter()
        #expect(throws: TWSEncodeError.nulInField("orderRef")) { try w.add("a\u{0}b", "orderRef") }
    }

    @Test func pricesPrintAsJavaPrintsTheirDouble() throws {
        var w = TWSFieldWriter()
        for p in ["150.25", "150", "0.5", "145.5000", "9999999.9999", "0.001"] { try w.add(price: price(p)) }
        #expect(try TWSWire.fields(w.bytes) == ["150.25", "150.0", "0.5", "145.5", "9999999.9999", "0.001"])
        for p in ["0.0009", "10000000", "0", "-1"] {
            #expect(throws: TWSEncodeError.priceOutOfRange(price(p).description)) { try w.add(price: price(p)) }
        }
    }
}
