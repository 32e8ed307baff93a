import CCTraceFormat
import Foundation
import Testing

/// Writes through a TraceLineWriter into a pipe-free temporary file and reads it back.
func written(_ body: (TraceLineWriter) -> Void) -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("w-\(UUID().uuidString)").path
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let writer = TraceLineWriter(fileDescriptor: fd, bufferSize: 4096)
    body(writer)
    writer.flush()
    close(fd)
    defer { unlink(path) }
    return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}

@Suite struct TraceLineWriterTests {
    @Test func microsecondsKeepNanosecondDecimals() {
        #expect(written { $0.appendMicroseconds(nanoseconds: 1_234_567) } == "1234.567")
        #expect(written { $0.appendMicroseconds(nanoseconds: 5) } == "0.005")
        #expect(written { $0.appendMicroseconds(nanoseconds: -1_500) } == "-1.500")
        #expect(written { $0.appendMicroseconds(nanoseconds: 0) } == "0.000")
    }

    /// The writer caches a timestamp's leading digits and the last pid/tid pair: sequences that
    /// cross every boundary (digit counts, cache changes, buffer flushes) read back as formatted
    /// one by one.
    @Test func cachedDigitsMatchPlainFormatting() {
        var values: [Int64] = [0, 9_999, 10_000, 10_000_000, 9_999_999, 123_456_789_012_345, 999_999, 1_000_000]
        var x: Int64 = 10_612_897_617_207
        for i in 0..<3000 {
            x += Int64((i * 7919) % 100_000)
            values.append(x)
            values.append(Int64(i) * 997)
        }
        let text = written { w in
            for v in values {
                w.appendMicroseconds(nanoseconds: v)
                w.append(0x20)
            }
        }
        let expected = values.map { v in
            let frac = String(v % 1000)
            return "\(v / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
        }
        #expect(text.split(separator: " ").map(String.init) == expected)
        let ids = written { w in
            for (pid, tid) in [(1, 1), (1, 1), (12, 7), (12, 7), (1, 1), (4_000_000_000, 3)] as [(UInt32, UInt32)] {
                w.appendEventHeader(phase: "X", category: nil, name: .text("n"), pid: pid, tid: tid, nanoseconds: nil)
                w.append(0x0A)
            }
        }
        #expect(
            ids.split(separator: "\n").map { $0.split(separator: ",").suffix(2).joined(separator: ",") } == [
                #""pid":1,"tid":1"#, #""pid":1,"tid":1"#, #""pid":12,"tid":7"#, #""pid":12,"tid":7"#,
                #""pid":1,"tid":1"#, #""pid":4000000000,"tid":3"#,
            ])
    }

    @Test func integersAndNumbers() {
        #expect(written { $0.appendInt(-42) } == "-42")
        #expect(written { $0.appendUInt(UInt64.max) } == "18446744073709551615")
        #expect(written { $0.appendNumber(2.5) } == "2.500")
        #expect(written { $0.appendNumber(7) } == "7")
        #expect(written { $0.appendNumber(.nan) } == "0")
    }

    @Test func stringsAreEscapedAndValidUTF8() throws {
        let hostile = "a\"b\\c\n\u{1}<img src=x onerror=alert(1)>é🙂"
        let text = written { $0.appendString(hostile) }
        let parsed = try #require(JSONValue.parse(text))
        #expect(parsed == .string(hostile))
        // Invalid UTF-8 becomes U+FFFD instead of corrupting the file.
        let bad: [UInt8] = [0x61, 0xFF, 0x62, 0xE2, 0x82]
        let repaired = written { w in bad.withUnsafeBufferPointer { w.appendString($0.baseAddress!, $0.count) } }
        #expect(JSONValue.parse(repaired) == .string("a\u{FFFD}b\u{FFFD}\u{FFFD}"))
    }

    @Test func largeOutputCrossesTheBufferBoundary() {
        let text = written { w in
            for i in 0..<2000 {
                w.appendString("event-\(i)")
                w.append(0x0A)
            }
        }
        let lines = text.split(separator: "\n")
        #expect(lines.count == 2000)
        #expect(lines.last == "\"event-1999\"")
    }
}
