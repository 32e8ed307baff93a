import CCTraceAnalysis
import CCTraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// File and line for recorded frames, from the images' debug info through `llvm-symbolizer`
/// (it ships with the Swift toolchain; used only when present and only when the images the
/// trace names exist on this machine, unchanged). cctrace's stacks record each frame's
/// `image+0xoffset` next to its name; this turns `f() + 0x1c (app)` into
/// `f() + 0x1c (app) at main.swift:42`.
public enum SourceLines {
    /// `llvm-symbolizer`: `$CCTRACE_SYMBOLIZER`, else on `PATH`, else next to the `swift` found
    /// on `PATH` (the toolchain ships one), or `nil`.
    public static func symbolizer() -> String? {
        if let chosen = getenv("CCTRACE_SYMBOLIZER").map({ String(cString: $0) }), !chosen.isEmpty {
            return access(chosen, X_OK) == 0 ? chosen : nil
        }
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        let folders = path.split(separator: ":").map(String.init)
        var candidates = folders.map { "\($0)/llvm-symbolizer" }
        for folder in folders where access("\(folder)/swift", X_OK) == 0 {
            // The toolchain's folder: where `swift` really is (PATH may hold a link to it).
            if let real = realpath("\(folder)/swift", nil) {
                let resolved = String(cString: real)
                free(real)
                candidates.append(
                    "/" + resolved.split(separator: "/").dropLast().joined(separator: "/") + "/llvm-symbolizer")
            }
        }
        return candidates.first { $0.hasPrefix("/") && access($0, X_OK) == 0 }
    }

    /// `model` with `at file:line` appended to every frame whose location resolved.
    public static func resolve(_ model: TraceModel, symbolizer: String) -> TraceModel {
        var wanted: Set<String> = []
        for w in model.lockWaits { wanted.formUnion(w.locations) }
        for h in model.lockHolds { wanted.formUnion(h.locations) }
        for f in model.stackFrames.values { if let l = f.category, l.contains("+0x") { wanted.insert(l) } }
        let lines = lookUp(wanted, symbolizer: symbolizer)
        guard !lines.isEmpty else { return model }
        func annotate(_ frames: [String], _ locations: [String]) -> [String] {
            guard frames.count == locations.count else { return frames }
            return zip(frames, locations).map { frame, location in
                lines[location].map { $0.contains(" [inlined in ") ? $0 : "\(frame) at \($0)" } ?? frame
            }
        }
        var m = model
        m.lockWaits = model.lockWaits.map {
            var w = $0
            w.frames = annotate(w.frames, w.locations)
            return w
        }
        m.lockHolds = model.lockHolds.map {
            var h = $0
            h.frames = annotate(h.frames, h.locations)
            return h
        }
        for (id, frame) in model.stackFrames {
            if let location = frame.category, let line = lines[location] {
                m.stackFrames[id]?.name = line.contains(" [inlined in ") ? line : "\(frame.name) at \(line)"
            }
        }
        return m
    }

    /// Runs the symbolizer once per image over its offsets: location → `file:line`, and where
    /// the compiler inlined functions into the frame's, the innermost one's name and line:
    /// `Store.write(_:) [inlined in f()] at main.swift:18` (the blocking call of an inlined
    /// helper names the helper, not the function it was folded into).
    static func lookUp(_ locations: Set<String>, symbolizer: String) -> [String: String] {
        var byImage: [String: [(String, String)]] = [:]
        for location in locations {
            guard let plus = location.lastIndex(of: "+") else { continue }
            let image = String(location[..<plus])
            let offset = String(location[location.index(after: plus)...])
            guard image.hasPrefix("/"), offset.hasPrefix("0x") else { continue }
            byImage[image, default: []].append((location, offset))
        }
        var result: [String: String] = [:]
        for (image, items) in byImage where access(image, R_OK) == 0 {
            // A few hundred addresses per run keeps the command line short.
            var start = 0
            while start < items.count {
                let chunk = Array(items[start..<min(start + 256, items.count)])
                start += 256
                let arguments = ["--obj=\(image)", "--inlines", "--functions=linkage"] + chunk.map(\.1)
                guard let output = run(symbolizer, arguments) else { break }
                // One block per address, blank-line separated: (function, file:line:column)
                // pairs, innermost inlined function first.
                var blocks: [[Substring]] = [[]]
                for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
                    if line.isEmpty {
                        if !blocks[blocks.count - 1].isEmpty { blocks.append([]) }
                    } else {
                        blocks[blocks.count - 1].append(line)
                    }
                }
                blocks.removeAll { $0.isEmpty }
                for (item, lines) in zip(chunk, blocks) {
                    guard lines.count >= 2 else { continue }
                    // The innermost frame that is the program's own (what the standard library
                    // inlined into it says less than the line that called it).
                    let pairs = stride(from: 0, to: lines.count - 1, by: 2).map {
                        (name: SwiftSymbols.demangle(String(lines[$0])), location: lines[$0 + 1])
                    }
                    // A closure inlined into its function is part of it: the function names it.
                    let chosen =
                        pairs.firstIndex {
                            !SwiftSymbols.isStandardLibrary($0.name) && !$0.name.hasPrefix("closure #")
                                && !$0.name.hasPrefix("implicit closure #")
                        } ?? pairs.count - 1
                    // `file:line:column`, or `??:0:0` when there is no debug info.
                    let parts = pairs[chosen].location.split(separator: ":")
                    guard parts.count >= 2, parts[0] != "??", let line = Int(parts[1]), line > 0 else { continue }
                    let file = parts[0].split(separator: "/").last.map(String.init) ?? String(parts[0])
                    var answer = "\(file):\(line)"
                    if chosen < pairs.count - 1 {
                        answer = "\(pairs[chosen].name) [inlined in \(pairs[pairs.count - 1].name)] at \(answer)"
                    }
                    result[item.0] = answer
                }
            }
        }
        return result
    }

    /// Runs `executable` with `arguments`; its standard output, or `nil` on failure.
    static func run(_ executable: String, _ arguments: [String]) -> String? {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        close(pipeFDs[1])
        guard rc == 0 else {
            close(pipeFDs[0])
            return nil
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(pipeFDs[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        close(pipeFDs[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return String(decoding: bytes, as: UTF8.self)
    }
}
