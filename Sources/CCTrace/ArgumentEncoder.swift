import CCTraceNative

/// Encodes `args` as the members of a JSON object (without braces), the form stored in a
/// chunk's arena and copied verbatim by the writer.
enum ArgumentEncoder {
    static func encode<Args: Collection>(_ args: Args) -> [UInt8]
    where Args.Element == (key: String, value: TraceArgument) {
        var out: [UInt8] = []
        out.reserveCapacity(32 * args.count)
        for (i, (key, value)) in args.enumerated() {
            if i > 0 { out.append(0x2C) }
            appendString(key, to: &out)
            out.append(0x3A)
            switch value.storage {
            case .int(let v): out.append(contentsOf: String(v).utf8)
            case .double(let v): out.append(contentsOf: (v.isFinite ? String(v) : "null").utf8)
            case .bool(let v): out.append(contentsOf: (v ? "true" : "false").utf8)
            case .string(let v): appendString(v, to: &out)
            }
        }
        return out
    }

    /// Appends `s` as a JSON string: quoted, with `"`, `\\` and control characters escaped;
    /// every other byte of its UTF-8 as it is (valid JSON), copied in runs.
    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(0x22)
        var s = s
        s.withUTF8 { bytes in
            var runStart = 0
            for (i, b) in bytes.enumerated() where b < 0x20 || b == 0x22 || b == 0x5C {
                if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
                runStart = i + 1
                switch b {
                case 0x22: out.append(contentsOf: [0x5C, 0x22])
                case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
                case 0x0D: out.append(contentsOf: [0x5C, 0x72])
                case 0x09: out.append(contentsOf: [0x5C, 0x74])
                default:
                    let hex: StaticString = "0123456789abcdef"
                    out.append(contentsOf: [
                        0x5C, 0x75, 0x30, 0x30, hex.utf8Start[Int(b >> 4)], hex.utf8Start[Int(b & 0xF)],
                    ])
                }
            }
            if runStart < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...])) }
        }
        out.append(0x22)
    }
}

/// Sets the OS-level thread name (15 bytes at most on Linux).
enum ThreadNaming {
    static func setSystemName(_ name: String) {
        var bytes = Array(name.utf8.prefix(15))
        // Do not cut a UTF-8 sequence in half.
        while let last = bytes.last, last & 0xC0 == 0x80 || (last >= 0xC0 && bytes.count == 15) {
            bytes.removeLast()
            if last & 0xC0 != 0x80 { break }
        }
        bytes.append(0)
        bytes.withUnsafeBufferPointer { p in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) {
                cctrace_set_thread_name($0)
            }
        }
    }
}
