#if canImport(Glibc)
    import Glibc
#endif

@_silgen_name("swift_demangle")
private func swiftDemangle(
    _ mangled: UnsafePointer<CChar>?, _ length: Int, _ output: UnsafeMutablePointer<CChar>?,
    _ outputLength: UnsafeMutablePointer<Int>?, _ flags: UInt32
) -> UnsafeMutablePointer<CChar>?

/// Swift symbol names as the recorder, the report and the symbolizer read them.
public enum SwiftSymbols {
    /// A Swift mangled name demangled by the runtime (`swift_demangle`); others as they are.
    public static func demangle(_ symbol: String) -> String {
        guard symbol.hasPrefix("$s") || symbol.hasPrefix("_T") || symbol.hasPrefix("$S") else { return symbol }
        return symbol.withCString { c in
            guard let out = swiftDemangle(c, strlen(c), nil, nil, 0) else { return symbol }
            defer { free(out) }
            return String(cString: out)
        }
    }

    /// `(2) suspend resume partial function for App.load()` → `App.load()`: the async function,
    /// without the compiler's name for one of its fragments.
    public static func asyncFragmentFunction(_ name: Substring) -> Substring {
        var s = name
        guard s.hasPrefix("("), let close = s.firstIndex(of: ")") else {
            return s.hasPrefix("async function pointer to ") ? s.dropFirst("async function pointer to ".count) : s
        }
        s = s[s.index(after: close)...].drop { $0 == " " }
        for prefix in [
            "await resume partial function for ", "suspend resume partial function for ",
            "resume partial function for ",
        ] where s.hasPrefix(prefix) {
            return s.dropFirst(prefix.count)
        }
        return name
    }

    /// Whether a demangled function is the standard library's, the concurrency runtime's,
    /// Foundation's or the C++ library's — through the wrappers the compiler puts around a
    /// function (thunks, specializations), which keep its module.
    public static func isStandardLibrary(_ name: String) -> Bool {
        var s = asyncFragmentFunction(Substring(name))
        for wrapper in ["dispatch thunk of ", "merged ", "protocol witness for ", "partial apply for "] {
            while s.hasPrefix(wrapper) { s = s.dropFirst(wrapper.count) }
        }
        if s.hasPrefix("generic specialization <") {
            // Past the first `> of ` (the specialization's arguments end there).
            var i = s.startIndex
            while i < s.endIndex, !s[i...].hasPrefix("> of ") { i = s.index(after: i) }
            if i < s.endIndex { s = s[s.index(i, offsetBy: 5)...] }
        }
        for prefix in ["static ", "(extension in Swift):", "(extension in Foundation):"] where s.hasPrefix(prefix) {
            s = s.dropFirst(prefix.count)
        }
        return s.hasPrefix("Swift.") || s.hasPrefix("_Concurrency.") || s.hasPrefix("Foundation.")
            || s.hasPrefix("(extension in Swift)") || s.hasPrefix("__swift") || s.hasPrefix("std::")
    }
}
