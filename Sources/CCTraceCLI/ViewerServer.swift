import CCTraceAnalysis

#if canImport(Glibc)
    import Glibc
#endif

/// The files of the web viewer (`viewer/`), found at run time.
///
/// Looked for, in order: `$CCTRACE_VIEWER_DIR`; `<bin>/../share/cctrace/viewer` (what
/// `make install PREFIX=…` lays out); `<bin>/viewer`; the source checkout this binary was built
/// from. Only plain file names ending in `.html`, `.js` or `.css` are served.
struct ViewerFiles {
    let directory: String
    let files: [String: [UInt8]]

    static func locate() -> ViewerFiles? {
        var candidates: [String] = []
        if let env = getenv("CCTRACE_VIEWER_DIR") { candidates.append(String(cString: env)) }
        if let exe = executableDirectory() {
            candidates += [exe + "/../share/cctrace/viewer", exe + "/viewer"]
        }
        // Sources/CCTraceCLI/ViewerServer.swift → the checkout's viewer/.
        let source = #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3)
            .joined(separator: "/")
        candidates.append(source + "/viewer")
        for dir in candidates where access(dir + "/index.html", R_OK) == 0 {
            return ViewerFiles(directory: dir, files: load(dir))
        }
        return nil
    }

    static func executableDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
    }

    static func isServable(_ name: String) -> Bool {
        guard !name.isEmpty, name.count < 64, !name.hasPrefix(".") else { return false }
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
            return false
        }
        return name.hasSuffix(".html") || name.hasSuffix(".js") || name.hasSuffix(".css")
    }

    static func load(_ dir: String) -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        guard let d = opendir(dir) else { return files }
        defer { closedir(d) }
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard isServable(name), let bytes = readFile(dir + "/" + name) else { continue }
            files[name] = bytes
        }
        return files
    }

    static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return out
    }

    /// One self-contained HTML file: the stylesheet inlined, the data embedded as JSON, and
    /// the modules bundled — each module's body in a function of its own (its top-level names
    /// stay its own), its `import { a, b as c } from './x.js'` turned into a read of that
    /// module's exports, its `export`ed declarations returned as its exports; modules run in
    /// dependency order from `app.js`.
    func bundle(data: [UInt8]) -> [UInt8]? {
        guard let html = files["index.html"].map({ String(decoding: $0, as: UTF8.self) }),
            let script = Self.bundleModules(entry: "app.js", files: files)
        else { return nil }
        let css = files["viewer.css"].map { String(decoding: $0, as: UTF8.self) } ?? ""
        // `</` inside a script element would end it early.
        let json = String(decoding: data, as: UTF8.self).split(separator: "</", omittingEmptySubsequences: false)
            .joined(separator: "<\\/")
        let safeScript = script.split(separator: "</script", omittingEmptySubsequences: false).joined(
            separator: "<\\/script")
        var page = ""
        for line in html.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.contains("<link rel=\"stylesheet\"") {
                page += "<style>\n\(css)\n</style>\n"
            } else if line.contains("<script type=\"module\"") {
                page += "<script id=\"cctrace-data\" type=\"application/json\">\(json)</script>\n"
                page += "<script type=\"module\">\n\(safeScript)\n</script>\n"
            } else {
                page += line + "\n"
            }
        }
        return Array(page.utf8)
    }
}

extension ViewerFiles {
    /// The modules reachable from `entry` as one classic-scoped script (see ``bundle(data:)``),
    /// or nil when one is missing or imports in a form this does not read.
    static func bundleModules(entry: String, files: [String: [UInt8]]) -> String? {
        var order: [String] = []
        var visiting: Set<String> = []
        var bodies: [String: String] = [:]
        func visit(_ name: String) -> Bool {
            if bodies[name] != nil || visiting.contains(name) { return true }
            guard let source = files[name].map({ String(decoding: $0, as: UTF8.self) }) else { return false }
            visiting.insert(name)
            var body = ""
            var exports: [String] = []
            for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("import ") {
                    guard let (names, module) = parseImport(String(line)), visit(module) else { return false }
                    body += "const { \(names) } = __cctraceModules[\(quoted(module))];\n"
                    continue
                }
                if line.hasPrefix("export ") {
                    let declaration = line.dropFirst("export ".count)
                    let words = declaration.split(whereSeparator: { $0 == " " || $0 == "(" || $0 == "=" || $0 == "{" })
                    let keywords: Set<Substring> = ["function", "class", "const", "let", "var", "async", "function*"]
                    guard let name = words.first(where: { !keywords.contains($0) }) else { return false }
                    exports.append(String(name))
                    body += declaration + "\n"
                    continue
                }
                body += line + "\n"
            }
            visiting.remove(name)
            bodies[name] =
                "__cctraceModules[\(quoted(name))] = (() => {\n\(body)return { \(exports.joined(separator: ", ")) };\n})();\n"
            order.append(name)
            return true
        }
        guard visit(entry) else { return nil }
        return "const __cctraceModules = {};\n" + order.map { bodies[$0]! }.joined()
    }

    /// `import { a, b as c } from './x.js';` → ("a, b: c", "x.js").
    static func parseImport(_ line: String) -> (String, String)? {
        guard let open = line.firstIndex(of: "{"), let close = line.firstIndex(of: "}"), open < close,
            let from = line[close...].firstRange(of: "from './"),
            let end = line[from.upperBound...].firstIndex(of: "'")
        else { return nil }
        var names: [String] = []
        for item in line[line.index(after: open)..<close].split(separator: ",") {
            let words = item.split(separator: " ")
            switch words.count {
            case 1: names.append(String(words[0]))
            case 3 where words[1] == "as": names.append("\(words[0]): \(words[2])")
            default: return nil
            }
        }
        let module = String(line[from.upperBound..<end])
        guard isServable(module), !names.isEmpty else { return nil }
        return (names.joined(separator: ", "), module)
    }

    static func quoted(_ s: String) -> String { "'" + s + "'" }
}

/// A small HTTP/1.1 server on 127.0.0.1 for `cctrace view`: one request per connection, GET
/// only, every path under an unguessable token, nothing served but the viewer's files, the
/// model, slice details and — for a trace sent on demand — slice windows, range statistics and
/// search.
final class ViewerServer {
    let files: ViewerFiles
    let data: [UInt8]
    let token: String
    let details: (Int) -> [UInt8]?
    /// The slices, when the page asks for them by window (a trace too big to send whole).
    let slices: ViewerSlices?
    private(set) var port: UInt16 = 0
    private var listener: Int32 = -1

    init(files: ViewerFiles, data: [UInt8], slices: ViewerSlices? = nil, details: @escaping (Int) -> [UInt8]?) {
        self.files = files
        self.data = data
        self.slices = slices
        self.details = details
        self.token = Self.randomToken()
    }

    /// An unguessable token: 128 bits from the kernel's CSPRNG, in hex.
    static func randomToken() -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        precondition(fd >= 0, "cannot open /dev/urandom")
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, 16) }
        close(fd)
        precondition(n == 16, "cannot read /dev/urandom")
        return bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// Binds 127.0.0.1:`port` (0: any free port).
    func bind(port requested: UInt16) throws(ViewError) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ViewError("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = requested.bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw ViewError("cannot listen on 127.0.0.1:\(requested) (errno \(errno))")
        }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &len) }
        }
        listener = fd
        port = UInt16(bigEndian: bound.sin_port)
    }

    var url: String { "http://127.0.0.1:\(port)/\(token)/" }

    /// Serves until the process is interrupted.
    func serve() -> Never {
        signal(SIGPIPE, SIG_IGN)
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { continue }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            handle(client)
            close(client)
        }
    }

    func handle(_ client: Int32) {
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while request.count < 16384 {
            let n = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            request += buffer[0..<n]
            if request.count >= 4, request.suffix(4) == [13, 10, 13, 10] { break }
            if request.contains(10) && request.firstIndex(of: 10)! > 0 && request.count > 8192 { break }
        }
        let line = request.split(separator: 10, maxSplits: 1).first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let parts = line.split(separator: " ")
        guard parts.count >= 2 else { return respond(client, 400, "text/plain", Array("bad request\n".utf8)) }
        let method = parts[0]
        guard method == "GET" || method == "HEAD" else {
            return respond(client, 405, "text/plain", Array("GET only\n".utf8))
        }
        let (status, type, body) = route(String(parts[1]))
        respond(client, status, type, body, headOnly: method == "HEAD")
    }

    /// What a path gets: (status, content type, body).
    func route(_ target: String) -> (Int, String, [UInt8]) {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts.first ?? "")
        let query = parts.count > 1 ? Self.queryItems(String(parts[1])) : [:]
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard let first = segments.first, first == token else {
            return (403, "text/plain", Array("forbidden: open the URL cctrace view printed\n".utf8))
        }
        let rest = Array(segments.dropFirst())
        if rest.isEmpty || rest == [""] {
            return file("index.html")
        }
        if rest.count == 1 {
            return file(String(rest[0]))
        }
        if rest.count == 2, rest[0] == "data", rest[1] == "model.json" {
            return (200, "application/json", data)
        }
        if rest.count == 3, rest[0] == "data", rest[1] == "slice", let index = Int(rest[2]),
            let body = details(index)
        {
            return (200, "application/json", body)
        }
        if rest.count == 2, rest[0] == "data", rest[1] == "window", let slices {
            guard let request = Self.windowRequest(query) else {
                return (400, "text/plain", Array("window needs t0, t1 and npp\n".utf8))
            }
            return (200, "application/json", slices.window(request))
        }
        if rest.count == 2, rest[0] == "data", rest[1] == "range", let slices {
            guard let t0 = query["t0"].flatMap(Double.init), let t1 = query["t1"].flatMap(Double.init), t0.isFinite,
                t1.isFinite, t1 >= t0
            else {
                return (400, "text/plain", Array("range needs t0 ≤ t1\n".utf8))
            }
            return (200, "application/json", slices.rangeStatistics(t0: t0, t1: t1))
        }
        if rest.count == 2, rest[0] == "data", rest[1] == "search", let slices {
            return (200, "application/json", slices.search(query["q"] ?? ""))
        }
        return (404, "text/plain", Array("not found\n".utf8))
    }

    /// `t0=…&t1=…&npp=…[&threads=0-3,7][&full=N|force]` as a window request, or nil.
    static func windowRequest(_ query: [String: String]) -> ViewerSlices.Request? {
        guard let t0 = query["t0"].flatMap(Double.init), let t1 = query["t1"].flatMap(Double.init),
            let npp = query["npp"].flatMap(Double.init), t0.isFinite, t1.isFinite, npp.isFinite, npp > 0, t1 >= t0
        else { return nil }
        var request = ViewerSlices.Request(t0: t0, t1: t1, nsPerPixel: npp)
        if let list = query["threads"] {
            var threads: [Int] = []
            for item in list.split(separator: ",") {
                let bounds = item.split(separator: "-", maxSplits: 1).compactMap { Int($0) }
                guard let low = bounds.first, low >= 0 else { return nil }
                let high = bounds.count > 1 ? bounds[1] : low
                // A range is a shorthand for threads the page lists: at most a million.
                guard high >= low, high - low < 1_000_000, threads.count < 1_000_000 else { return nil }
                threads += low...high
            }
            request.threads = threads
        }
        if let full = query["full"] {
            if full == "force" {
                request.forceFull = true
            } else if let n = Int(full), n >= 0 {
                request.fullLimit = n
            }
        }
        return request
    }

    /// `a=1&b=x%20y` → ["a": "1", "b": "x y"] (`+` is a space; a bad escape stays as it is).
    static func queryItems(_ query: String) -> [String: String] {
        var items: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            items[decode(kv[0])] = kv.count > 1 ? decode(kv[1]) : ""
        }
        return items
    }

    static func decode(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(s.utf8)[...]
        while let c = utf8.popFirst() {
            if c == UInt8(ascii: "+") {
                bytes.append(0x20)
            } else if c == UInt8(ascii: "%"), utf8.count >= 2,
                let v = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(v)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(c)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func file(_ name: String) -> (Int, String, [UInt8]) {
        guard ViewerFiles.isServable(name), let body = files.files[name] else {
            return (404, "text/plain", Array("not found\n".utf8))
        }
        let type =
            name.hasSuffix(".html")
            ? "text/html; charset=utf-8" : name.hasSuffix(".css") ? "text/css" : "text/javascript"
        return (200, type, body)
    }

    func respond(_ client: Int32, _ status: Int, _ type: String, _ body: [UInt8], headOnly: Bool = false) {
        let reason =
            [200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"][
                status] ?? "Error"
        var head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\n"
        head += "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"
        head += "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "
        head += "img-src 'self' data:; worker-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'\r\n"
        head += "Connection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        if !headOnly { bytes += body }
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { write(client, $0.baseAddress! + sent, bytes.count - sent) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            sent += n
        }
    }
}

struct ViewError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
