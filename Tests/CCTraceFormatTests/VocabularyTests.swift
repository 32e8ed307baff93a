import CCTraceFormat
import Foundation
import Testing

/// The dialect's names are defined once (``TraceVocabulary``); the C shim includes a header
/// generated from them, and nothing in the sources spells a dialect string by hand.
@Suite struct VocabularyTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The checked-in header is exactly what ``TraceVocabulary/cHeader()`` generates
    /// (`CCTRACE_UPDATE_GOLDEN=1` rewrites it).
    @Test func preloadHeaderIsGenerated() throws {
        let header = Self.root.appendingPathComponent("Sources/CCTracePreload/cctrace_vocabulary.h")
        let expected = TraceVocabulary.cHeader()
        if ProcessInfo.processInfo.environment["CCTRACE_UPDATE_GOLDEN"] == "1" {
            try expected.write(to: header, atomically: true, encoding: .utf8)
        }
        let actual = try String(contentsOf: header, encoding: .utf8)
        #expect(actual == expected, "cctrace_vocabulary.h is stale; run with CCTRACE_UPDATE_GOLDEN=1")
    }

    /// The shim spells no category, event name or key itself: every `cctrace.` category and
    /// every key of the dialect reaches it through the header's macros.
    @Test func shimSpellsNoDialectStringByHand() throws {
        let source = try String(
            contentsOf: Self.root.appendingPathComponent("Sources/CCTracePreload/cctrace_preload.c"), encoding: .utf8)
        // Inside C string literals only (comments may name things).
        var literals: [String] = []
        for line in source.split(separator: "\n") {
            let code = line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            var inString = false
            var current = ""
            var escaped = false
            for c in code {
                if inString {
                    if escaped {
                        escaped = false
                        current.append(c)
                    } else if c == "\\" {
                        escaped = true
                        current.append(c)
                    } else if c == "\"" {
                        inString = false
                        literals.append(current)
                        current = ""
                    } else {
                        current.append(c)
                    }
                } else if c == "\"" {
                    inString = true
                }
            }
        }
        let joined = literals.joined(separator: "\u{1}")
        // `name` is also a field of every Chrome event, which the shim spells like any JSON.
        for (macro, name) in TraceVocabulary.cNames where name.string.count >= 4 && name != TraceVocabulary.Arg.name {
            // `\"lock\"` (a JSON key or value) or the whole literal.
            let quoted = "\\\"\(name.string)\\\""
            #expect(!joined.contains(quoted), "\(macro): the shim spells \"\(name.string)\" by hand")
            #expect(!literals.contains(name.string), "\(macro): the shim spells \"\(name.string)\" by hand")
        }
        #expect(!joined.contains("cctrace."), "a cctrace. category spelled by hand")
        #expect(!joined.contains("0.1."), "the version spelled by hand")
    }

    /// Every `DialectName` is distinct within its group and its static text matches its string.
    @Test func namesAreConsistent() {
        for (_, name) in TraceVocabulary.cNames {
            #expect(name.text.description == name.string)
        }
        let macros = TraceVocabulary.cNames.map(\.macro)
        #expect(Set(macros).count == macros.count)
        #expect(TraceVocabulary.cHeader().contains("#define CCTRACE_VERSION \"\(TraceVocabulary.version)-preload\""))
    }
}
