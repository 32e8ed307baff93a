import Foundation
import Testing

/// `cctrace view`: the self-contained file, the viewer found from an install outside the
/// checkout, bad input. (The served page is tested in headless Chromium: viewer/test/e2e.py.)
@Suite struct ViewCommandTests {
    static var productsDirectory: URL {
        var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("cctrace").path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir
    }

    static let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Installed as `make install` lays it out (PREFIX/bin, PREFIX/share/cctrace/viewer), the
    /// binary finds its viewer there, and --html embeds the data and every module.
    @Test func installedOutsideTheCheckoutFindsItsViewer() throws {
        let fm = FileManager.default
        let prefix = fm.temporaryDirectory.appendingPathComponent("cctrace-prefix-\(UUID().uuidString)")
        let bin = prefix.appendingPathComponent("bin")
        let share = prefix.appendingPathComponent("share/cctrace/viewer")
        try fm.createDirectory(at: bin, withIntermediateDirectories: true)
        try fm.createDirectory(at: share, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: prefix) }
        try fm.copyItem(
            at: Self.productsDirectory.appendingPathComponent("cctrace"), to: bin.appendingPathComponent("cctrace"))
        for file in try fm.contentsOfDirectory(atPath: Self.checkout.appendingPathComponent("viewer").path)
        where file.hasSuffix(".js") || file.hasSuffix(".html") || file.hasSuffix(".css") {
            try fm.copyItem(
                at: Self.checkout.appendingPathComponent("viewer/\(file)"), to: share.appendingPathComponent(file))
        }
        let trace = try writeTemporary(
            #"[{"ph":"X","name":"</script><script>alert(1)</script>","ts":0,"dur":1500,"pid":3,"tid":4}]"#)
        let out = prefix.appendingPathComponent("trace.html").path
        let process = Process()
        process.executableURL = bin.appendingPathComponent("cctrace")
        process.arguments = ["view", "--html", out, trace]
        var env = ProcessInfo.processInfo.environment
        env["CCTRACE_VIEWER_DIR"] = nil
        process.environment = env
        process.currentDirectoryURL = prefix
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let printed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(printed.contains("share/cctrace/viewer"), "\(printed)")
        let page = try String(contentsOfFile: out, encoding: .utf8)
        #expect(page.contains("id=\"cctrace-data\""))
        #expect(page.contains("class Timeline"))
        // Bundled as modules: each in a scope of its own, imports read from the exports.
        #expect(!page.contains("import {"))
        #expect(page.contains("__cctraceModules['model.js'] = (() => {"))
        #expect(page.contains("} = __cctraceModules['model.js'];"))
        // model.js comes before the modules that import it.
        let model = try #require(page.range(of: "__cctraceModules['model.js'] = "))
        let app = try #require(page.range(of: "__cctraceModules['app.js'] = "))
        #expect(model.lowerBound < app.lowerBound)
        // Args travel in the file (no server to ask).
        #expect(page.contains("\"args\":{"))
        // The trace's `</script>` cannot close the data element early.
        #expect(!page.contains("</script><script>alert(1)"))
        #expect(page.contains("<\\/script><script>alert(1)<\\/script>"))
    }

    /// `--compare AFTER` puts the second trace and the diff of the two in the document.
    @Test func compareEmbedsTheSecondTraceAndTheDiff() throws {
        let before = try writeTemporary(
            #"[{"ph":"X","name":"slow","ts":0,"dur":400000,"pid":3,"tid":4},{"ph":"X","name":"x","ts":0,"dur":1,"pid":3,"tid":5}]"#
        )
        let after = try writeTemporary(
            #"[{"ph":"X","name":"fast","ts":0,"dur":100000,"pid":3,"tid":4},{"ph":"X","name":"x","ts":0,"dur":1,"pid":3,"tid":5}]"#
        )
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("cmp-\(UUID().uuidString).html").path
        let result = try cctrace(["view", "--html", out, "--compare", after, before])
        #expect(result.status == 0, "\(result.stderr)")
        let page = try String(contentsOfFile: out, encoding: .utf8)
        #expect(page.contains("\"compare\":{\"version\":1"))
        #expect(page.contains("\"diff\":{"))
        #expect(page.contains("\"fast\""))
        let bad = try cctrace(["view", "--html", out, "--compare", "/nonexistent.json", before])
        #expect(bad.status == 2)
    }

    @Test func unreadableInputIsExitTwo() throws {
        let path = try writeTemporary("not a trace")
        let result = try cctrace(["view", "--no-open", path])
        #expect(result.status == 2)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains(path))
    }
}
