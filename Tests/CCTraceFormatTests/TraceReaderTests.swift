import CCTraceFormat
import Foundation
import Testing

/// Reads `text` as a trace file (through a reader with a small buffer, so events cross chunk
/// boundaries) and returns the events and the reader.
func readTrace(_ text: String, bufferSize: Int = 4096) throws -> ([RawTraceEvent], TraceReader) {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("r-\(UUID().uuidString).json").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    defer { unlink(path) }
    let reader = try TraceReader(path: path, bufferSize: bufferSize)
    var events: [RawTraceEvent] = []
    try reader.read { events.append($0) }
    return (events, reader)
}

@Suite struct TraceReaderTests {
    @Test func arrayFormWithEveryNumberSpelling() throws {
        let (events, reader) = try readTrace(
            """
            [{"ph":"X","name":"a","ts":1,"dur":2.5,"pid":1,"tid":2},
             {"ph":"X","name":"b","ts":1.0005e3,"dur":"3","pid":"1","tid":2},
             {"ph":"X","name":"c","ts":"12.3456","dur":0,"pid":1,"tid":2},
             {"ph":"i","name":"d","ts":99999999999999.999,"pid":1,"tid":2,"s":"g"}]
            """)
        #expect(events.map(\.name) == ["a", "b", "c", "d"])
        #expect(events[0].timestamp?.nanoseconds == 1_000 && events[0].duration?.nanoseconds == 2_500)
        #expect(events[1].timestamp?.nanoseconds == 1_000_500 && events[1].duration?.nanoseconds == 3_000)
        #expect(events[1].pid == 1)
        #expect(events[2].timestamp?.nanoseconds == 12_346)
        #expect(events[3].timestamp?.nanoseconds == 99_999_999_999_999_999)
        #expect(events[3].scope == UInt8(ascii: "g"))
        #expect(reader.diagnostics[.oddNumber] != nil)
        #expect(reader.diagnostics[.truncatedFile] == nil)
    }

    @Test func truncatedFileWithHalfAnEvent() throws {
        let (events, reader) = try readTrace(
            "[\n{\"ph\":\"X\",\"name\":\"whole\",\"ts\":1,\"dur\":1,\"pid\":1,\"tid\":1},\n{\"ph\":\"X\",\"name\":\"ha")
        #expect(events.map(\.name) == ["whole"])
        let truncated = try #require(reader.diagnostics[.truncatedFile])
        #expect(truncated.line == 3)
        let partial = try #require(reader.diagnostics[.partialEvent])
        #expect(partial.line == 3 && partial.byteOffset == 60)
    }

    @Test func trailingCommasEmptyObjectsAndJunk() throws {
        let (events, reader) = try readTrace(
            """
            [{"ph":"B","name":"x","ts":1,"pid":1,"tid":1,},{},42,
            {"ph":"E","ts":2,"pid":1,"tid":1},
            ]
            trailing junk
            """)
        #expect(events.map { Character(UnicodeScalar($0.phase)) } == ["B", "E"])
        #expect(reader.diagnostics[.notAnEvent]?.count == 2)
        #expect(reader.diagnostics[.trailingData] != nil)
    }

    @Test func objectFormKeepsOtherKeysAsMetadata() throws {
        let (events, reader) = try readTrace(
            """
            {"displayTimeUnit":"ns","otherData":{"version":"x"},
             "traceEvents":[{"ph":"C","name":"q","ts":5,"pid":1,"tid":1,"args":{"v":1}}],
             "stackFrames":{"1":{"name":"main"}}}
            """)
        #expect(events.count == 1)
        let keys = reader.metadata.map(\.0)
        #expect(keys == ["displayTimeUnit", "otherData", "stackFrames"])
        #expect(reader.arguments.value(events[0].args!)?["v"] == .number(1))
    }

    @Test func escapesSurrogatePairsAndRawUTF8() throws {
        let (events, _) = try readTrace(
            #"[{"ph":"i","name":"\ud83d\ude00 \u00e9 é \"q\" \ud800","cat":"c\\d","ts":1,"pid":1,"tid":1}]"#)
        #expect(events[0].name == "😀 é é \"q\" \u{FFFD}")
        #expect(events[0].category == "c\\d")
    }

    @Test func eventsLargerThanTheBufferAndManyChunks() throws {
        let big = String(repeating: "x", count: 20_000)
        var text = "[\n"
        for i in 0..<500 { text += "{\"ph\":\"X\",\"name\":\"e\(i)\",\"ts\":\(i),\"dur\":1,\"pid\":1,\"tid\":1},\n" }
        text += "{\"ph\":\"X\",\"name\":\"big\",\"ts\":1,\"dur\":1,\"pid\":1,\"tid\":1,\"args\":{\"s\":\"\(big)\"}}\n]"
        let (events, reader) = try readTrace(text, bufferSize: 4096)
        #expect(events.count == 501)
        #expect(events.last?.name == "big")
        #expect(reader.arguments.value(events.last!.args!)?["s"]?.stringValue?.count == 20_000)
        #expect(reader.diagnostics.all.isEmpty)
    }

    @Test func flowAndIdFields() throws {
        let (events, _) = try readTrace(
            """
            [{"ph":"s","id":"0x1f","name":"f","cat":"c","ts":1,"pid":1,"tid":1},
             {"ph":"f","bp":"e","id2":{"local":"0x2"},"name":"f","cat":"c","ts":2,"pid":1,"tid":1},
             {"ph":"X","bind_id":7,"flow_out":true,"name":"x","ts":3,"dur":1,"pid":1,"tid":1}]
            """)
        #expect(events[0].id == "0x1f")
        #expect(events[1].id == "0x2" && events[1].bindingPoint == UInt8(ascii: "e"))
        #expect(events[2].id == "7" && events[2].flowOut)
    }

    @Test(arguments: ["", "   ", "hello", "<html>", "\"just a string\""])
    func notATraceIsAnErrorWithPosition(_ text: String) throws {
        #expect(throws: TraceReadError.self) { _ = try readTrace(text) }
    }

    @Test func objectWithoutTraceEventsIsAnError() throws {
        let error = #expect(throws: TraceReadError.self) { _ = try readTrace(#"{"name":"package.json"}"#) }
        #expect(error?.description.contains("traceEvents") == true)
    }
}
