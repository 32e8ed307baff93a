import CCTraceFormat
import CCTraceUnwind

#if canImport(Glibc)
    import Glibc
#endif

/// Turns return addresses into readable frames, off the hot path (the writer thread): the ELF
/// symbol that contains each address (non-exported Swift functions included), demangled, with
/// the image's file name: `Cache.refresh() + 0x1c (app)`.
final class StackSymbolizer {
    private var cache: [UInt: String] = [:]
    private var locations: [UInt: String] = [:]

    /// Where a return address is for debug-info tools: `/path/to/image+0x1234` (the address of
    /// the call, relative to the image's load address), or `?`.
    func location(returnAddress: UInt) -> String {
        if let known = locations[returnAddress] { return known }
        let lookup = returnAddress > 0 ? returnAddress - 1 : returnAddress
        let pointer = UnsafeRawPointer(bitPattern: lookup)
        var result = "?"
        if let path = cctrace_image_path(pointer), let base = cctrace_image_base(pointer) {
            let offset = lookup &- UInt(bitPattern: base)
            result = "\(absolutePath(String(cString: path)))+0x\(String(offset, radix: 16))"
        }
        locations[returnAddress] = result
        return result
    }

    private var absolutePaths: [String: String] = [:]

    /// The loader reports the executable as it was started (maybe relative): make it absolute.
    private func absolutePath(_ path: String) -> String {
        if let known = absolutePaths[path] { return known }
        var resolved = path
        if let real = realpath(path, nil) {
            resolved = String(cString: real)
            free(real)
        }
        absolutePaths[path] = resolved
        return resolved
    }

    /// The frame for a return address (looked up one byte earlier, inside the call).
    func frame(returnAddress: UInt) -> String {
        if let known = cache[returnAddress] { return known }
        let (name, offset, image) = symbol(at: returnAddress > 0 ? returnAddress - 1 : returnAddress)
        let result =
            name.map { "\($0) + 0x\(String(offset + 1, radix: 16)) (\(image))" }
            ?? "0x\(String(returnAddress, radix: 16)) (\(image))"
        cache[returnAddress] = result
        return result
    }

    /// The demangled name of the function that starts at (or contains) `address`, or
    /// `0x… (image)` when the image has no symbol for it.
    func function(at address: UInt) -> String {
        let (name, _, image) = symbol(at: address)
        return name ?? "0x\(String(address, radix: 16)) (\(image))"
    }

    /// The ELF symbol containing `address`, demangled (nil when none), the offset into it and
    /// the image's file name.
    private func symbol(at address: UInt) -> (name: String?, offset: UInt, image: String) {
        var name = [CChar](repeating: 0, count: 2048)
        var image: UnsafePointer<CChar>?
        var offset: UInt = 0
        let found = name.withUnsafeMutableBufferPointer { buffer in
            cctrace_symbolize(
                UnsafeRawPointer(bitPattern: address), buffer.baseAddress, UInt(buffer.count), &image, &offset)
        }
        let imageName = image.map { String(cString: $0).split(separator: "/").last.map(String.init) ?? "" } ?? "?"
        guard found == 1 else { return (nil, offset, imageName) }
        let mangled = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (Self.demangle(mangled), offset, imageName)
    }

    /// Whether a frame belongs to the recorder's own capture path or the standard library.
    static func isRecorderFrame(_ frame: String) -> Bool {
        frame.hasPrefix("CCTrace.") || frame.hasPrefix("Swift.") || frame.contains(" in CCTrace.")
            || frame.hasPrefix("cctrace_") || frame.contains(" of static CCTrace.") || frame.contains(" of CCTrace.")
            || frame.hasPrefix("static CCTrace.") || frame.contains(" in static CCTrace.")
    }

    static func demangle(_ symbol: String) -> String { SwiftSymbols.demangle(symbol) }

    /// The return addresses in a stored `args` object's `"stack":["0x…",…]` member.
    static func addresses(inArguments bytes: UnsafeBufferPointer<UInt8>) -> [UInt] {
        let key = Array("\"stack\":[".utf8)
        guard bytes.count > key.count else { return [] }
        var i = 0
        var found = false
        while i + key.count <= bytes.count {
            if bytes[i] == key[0] && Array(bytes[i..<i + key.count]) == key {
                found = true
                i += key.count
                break
            }
            i += 1
        }
        guard found else { return [] }
        var result: [UInt] = []
        while i < bytes.count && bytes[i] != UInt8(ascii: "]") {
            if bytes[i] == UInt8(ascii: "x") {
                var value: UInt = 0
                i += 1
                while i < bytes.count, let digit = hexValue(bytes[i]) {
                    value = value &* 16 &+ UInt(digit)
                    i += 1
                }
                result.append(value)
            } else {
                i += 1
            }
        }
        return result
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
}
