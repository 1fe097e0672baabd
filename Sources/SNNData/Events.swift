import Foundation
import SNNTensor

/// A recording of an event camera: one entry per event, in time order, as parallel arrays.
/// `t` in microseconds; `p` 1 = ON (brighter), 0 = OFF; origin upper-left.
public struct EventStream: Sendable, Equatable {
    public var t: [Int64]
    public var x: [UInt16]
    public var y: [UInt16]
    public var p: [UInt8]
    /// The sensor size the coordinates live in.
    public var width: Int
    public var height: Int

    public init(t: [Int64] = [], x: [UInt16] = [], y: [UInt16] = [], p: [UInt8] = [], width: Int, height: Int) {
        precondition(
            t.count == x.count && x.count == y.count && y.count == p.count, "EventStream: arrays of unequal length")
        self.t = t
        self.x = x
        self.y = y
        self.p = p
        self.width = width
        self.height = height
    }

    public var count: Int { t.count }
    /// Last minus first timestamp (0 for fewer than two events).
    public var duration: Int64 { count > 1 ? t[count - 1] - t[0] : 0 }
    /// The fraction of ON events.
    public var onFraction: Double { count > 0 ? Double(p.reduce(0) { $0 + Int($1) }) / Double(count) : 0 }

    mutating func append(t: Int64, x: UInt16, y: UInt16, p: UInt8) {
        self.t.append(t)
        self.x.append(x)
        self.y.append(y)
        self.p.append(p)
    }

    mutating func reserve(_ n: Int) {
        t.reserveCapacity(n)
        x.reserveCapacity(n)
        y.reserveCapacity(n)
        p.reserveCapacity(n)
    }
}

/// N-MNIST / N-Caltech101 `.bin` (ATIS): 5-byte events, no header (FORMATS.md).
public enum NMNISTBinary {
    /// Decodes `bytes`; `file` names it in errors. Coordinates must fit `width` × `height` when given.
    /// Timestamp-overflow markers (y = 240) add 2¹³ µs to every later event and are dropped.
    public static func decode(_ bytes: [UInt8], file: String, width: Int? = nil, height: Int? = nil) throws(SNNError)
        -> EventStream
    {
        guard bytes.count % 5 == 0 else {
            throw SNNError(
                .corrupt, "truncated N-MNIST event file: \(bytes.count) bytes is not a whole number of 5-byte events",
                file: file, offset: bytes.count - bytes.count % 5)
        }
        var events = EventStream(width: width ?? 0, height: height ?? 0)
        events.reserve(bytes.count / 5)
        var overflow: Int64 = 0, maxX = 0, maxY = 0, last: Int64 = -1
        try bytes.withUnsafeBufferPointer { (b: UnsafeBufferPointer<UInt8>) throws(SNNError) in
            var i = 0
            while i < b.count {
                let x = Int(b[i]), y = Int(b[i + 1]), b2 = Int(b[i + 2])
                if y == 240 {
                    overflow += 1 << 13
                    i += 5
                    continue
                }
                let ts = Int64(((b2 & 0x7F) << 16) | (Int(b[i + 3]) << 8) | Int(b[i + 4])) + overflow
                if let width, x >= width {
                    throw SNNError(.corrupt, "event x = \(x) outside the sensor width \(width)", file: file, offset: i)
                }
                if let height, y >= height {
                    throw SNNError(
                        .corrupt, "event y = \(y) outside the sensor height \(height)", file: file, offset: i)
                }
                if ts < last {
                    throw SNNError(
                        .corrupt, "timestamp \(ts) µs goes back in time (previous \(last) µs)", file: file, offset: i)
                }
                last = ts
                maxX = max(maxX, x)
                maxY = max(maxY, y)
                events.append(t: ts, x: UInt16(x), y: UInt16(y), p: UInt8(b2 >> 7))
                i += 5
            }
        }
        if width == nil { events.width = events.count > 0 ? maxX + 1 : 0 }
        if height == nil { events.height = events.count > 0 ? maxY + 1 : 0 }
        return events
    }

    /// Reads a `.bin` file.
    public static func read(_ path: String, width: Int? = nil, height: Int? = nil) throws(SNNError) -> EventStream {
        try decode(try FileBytes.read(path), file: path, width: width, height: height)
    }

    /// Encodes `events` (x, y < 256, y ≠ 240), inserting overflow markers where the 23-bit
    /// timestamp would wrap — the inverse of ``decode(_:file:width:height:)``.
    public static func encode(_ events: EventStream) throws(SNNError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(events.count * 5)
        var overflow: Int64 = 0
        for i in 0..<events.count {
            let x = Int(events.x[i]), y = Int(events.y[i])
            guard x < 256, y < 256, y != 240 else {
                throw SNNError(
                    .invalidArgument,
                    "event \(i) at (\(x), \(y)) cannot be written in the N-MNIST encoding (x, y < 256, y ≠ 240)")
            }
            guard events.t[i] >= overflow else {
                throw SNNError(.invalidArgument, "event \(i): timestamps must be sorted and ≥ 0")
            }
            while events.t[i] - overflow >= 1 << 23 {  // the 23-bit field would wrap: add 2¹³ µs markers
                overflow += 1 << 13
                out += [0, 240, 0, 0, 0]
            }
            let ts = Int(events.t[i] - overflow)
            out += [
                UInt8(x), UInt8(y), UInt8((Int(events.p[i] & 1) << 7) | (ts >> 16)), UInt8((ts >> 8) & 0xFF),
                UInt8(ts & 0xFF),
            ]
        }
        return out
    }
}

/// AEDAT 3.1 (DVS128 Gesture): `#` header lines, then 28-byte packet headers and payloads (FORMATS.md).
///
/// The sensor size, per axis: the width and height given, else the size of the camera the header's
/// `#Source` lines name (``EventSensor``), else the largest coordinate + 1. An event outside the
/// size is an error that says which of these the size came from.
public enum AEDAT31 {
    /// What the header holds for the reader: where the packets start, and the camera its `#Source`
    /// lines name with that camera's size (nil unless every such line names the same known size).
    struct Header {
        var end: Int
        var sensor: (name: String, width: Int, height: Int)?
    }

    /// Reads the header; checks the magic and the end marker.
    static func header(_ bytes: [UInt8], file: String) throws(SNNError) -> Header {
        // Header: lines starting with '#', the first "#!AER-DAT3.1", the last "#!END-HEADER\r\n".
        let magic = Array("#!AER-DAT3.1".utf8)
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            throw SNNError(.corrupt, "not an AEDAT 3.1 file (expected \"#!AER-DAT3.1\")", file: file, offset: 0)
        }
        var i = 0
        var ended = false
        var named: [(name: String, width: Int, height: Int)] = [], unknown = false
        while i < bytes.count && bytes[i] == UInt8(ascii: "#") {
            guard let nl = bytes[i...].firstIndex(of: UInt8(ascii: "\n")) else {
                throw SNNError(.corrupt, "header line without an end", file: file, offset: i)
            }
            let line = String(decoding: bytes[i..<nl], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            i = nl + 1
            if line == "#!END-HEADER" {
                ended = true
                break
            }
            // "#Source <id>: <name>" (cAER writes one per event source).
            if line.hasPrefix("#Source "), let colon = line.firstIndex(of: ":") {
                let name = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                if let size = EventSensor.size(named: name) {
                    named.append((name, size.width, size.height))
                } else {
                    unknown = true
                }
            }
        }
        guard ended else { throw SNNError(.corrupt, "missing \"#!END-HEADER\"", file: file, offset: i) }
        // One size for the whole stream: sources of different or unknown sizes leave it to the fallbacks.
        let agreed =
            !unknown && named.dropFirst().allSatisfy { $0.width == named[0].width && $0.height == named[0].height }
        return Header(end: i, sensor: agreed ? named.first : nil)
    }

    /// The size events are checked against, per axis the value given, else the header camera's, else
    /// none (the largest coordinate + 1, measured afterwards); `origin` says which, for errors.
    struct Bounds {
        var width: Int?, height: Int?
        var origin: String

        init(width: Int?, height: Int?, header: Header) {
            self.width = width ?? header.sensor?.width
            self.height = height ?? header.sensor?.height
            func source(given: Bool, value: Int?) -> String {
                given
                    ? "given"
                    : value == nil
                        ? "none: the largest coordinate + 1"
                        : "the header's #Source camera \(header.sensor?.name ?? "")"
            }
            let w = source(given: width != nil, value: self.width), h = source(given: height != nil, value: self.height)
            origin = w == h ? (w == "given" ? "the width and height given" : w) : "width \(w), height \(h)"
        }

        /// The limits to check coordinates against (x and y are 15-bit fields: 2¹⁵ never rejects).
        var limits: (width: Int, height: Int) { (width ?? 1 << 15, height ?? 1 << 15) }

        /// "346×260", with "any" for an axis without a size.
        var size: String { "\(width.map(String.init) ?? "any")×\(height.map(String.init) ?? "any")" }
    }

    /// Decodes `bytes`; `file` names it in errors. `width` and `height` override the size of the
    /// header's camera; with neither, the largest coordinate + 1.
    public static func decode(_ bytes: [UInt8], file: String, width: Int? = nil, height: Int? = nil) throws(SNNError)
        -> EventStream
    {
        let header = try header(bytes, file: file)
        let bounds = Bounds(width: width, height: height, header: header)
        let i = header.end
        // At most one event per 8 payload bytes: decode straight into uninitialised arrays.
        let capacity = max(0, (bytes.count - i) / 8)
        var failure: SNNError?
        var xs: [UInt16] = [], ys: [UInt16] = [], ps: [UInt8] = []
        let start = i
        let ts = [Int64](unsafeUninitializedCapacity: capacity) { tb, tCount in
            xs = [UInt16](unsafeUninitializedCapacity: capacity) { xb, xCount in
                ys = [UInt16](unsafeUninitializedCapacity: capacity) { yb, yCount in
                    ps = [UInt8](unsafeUninitializedCapacity: capacity) { pb, pCount in
                        do throws(SNNError) {
                            pCount = try decodePackets(
                                bytes, from: start, file: file, bounds: bounds,
                                t: tb.baseAddress!, x: xb.baseAddress!, y: yb.baseAddress!, p: pb.baseAddress!)
                        } catch {
                            failure = error
                            pCount = 0
                        }
                        yCount = pCount
                        xCount = pCount
                        tCount = pCount
                    }
                }
            }
        }
        if let failure { throw failure }
        return EventStream(
            t: ts, x: xs, y: ys, p: ps, width: bounds.width ?? (xs.max().map { Int($0) + 1 } ?? 0),
            height: bounds.height ?? (ys.max().map { Int($0) + 1 } ?? 0))
    }

    /// The packets from byte `i` on, written to t/x/y/p (room for (count − i)/8 events); returns the count.
    static func decodePackets(
        _ bytes: [UInt8], from start: Int, file: String, bounds: Bounds,
        t ts: UnsafeMutablePointer<Int64>, x xs: UnsafeMutablePointer<UInt16>,
        y ys: UnsafeMutablePointer<UInt16>, p ps: UnsafeMutablePointer<UInt8>
    ) throws(SNNError) -> Int {
        var n = 0
        try forEachEvent(bytes, from: start, file: file, bounds: bounds) { t, x, y, p in
            ts[n] = t
            xs[n] = UInt16(x)
            ys[n] = UInt16(y)
            ps[n] = p
            n += 1
        }
        return n
    }

    /// Calls `body(t, x, y, p)` for every valid polarity event of the packets from byte `start` on,
    /// checking each packet and event as ``decode(_:file:width:height:)`` does.
    @inline(__always)
    static func forEachEvent(
        _ bytes: [UInt8], from start: Int, file: String, bounds: Bounds,
        _ body: (Int64, Int, Int, UInt8) -> Void
    ) throws(SNNError) {
        let (width, height) = bounds.limits
        var i = start
        var failure: SNNError?
        bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            do throws(SNNError) {
                let base = raw.baseAddress!
                @inline(__always) func int32(_ o: Int) -> Int {
                    Int(Int32(littleEndian: base.loadUnaligned(fromByteOffset: o, as: Int32.self)))
                }
                var last: Int64 = .min
                while i < raw.count {
                    guard raw.count - i >= 28 else {
                        throw SNNError(
                            .corrupt, "truncated packet header (\(raw.count - i) of 28 bytes)", file: file, offset: i)
                    }
                    let type = Int(Int16(littleEndian: base.loadUnaligned(fromByteOffset: i, as: Int16.self)))
                    let size = int32(i + 4), overflow = int32(i + 12), capacity = int32(i + 16), number = int32(i + 20)
                    guard size > 0, capacity >= 0, number >= 0, number <= capacity, overflow >= 0 else {
                        throw SNNError(
                            .corrupt,
                            "invalid packet header (event size \(size), capacity \(capacity), number \(number))",
                            file: file, offset: i)
                    }
                    let payload = i + 28
                    let (length, bad) = capacity.multipliedReportingOverflow(by: size)
                    guard !bad, length <= raw.count - payload else {
                        throw SNNError(
                            .corrupt, "packet payload of \(capacity) × \(size) bytes runs past the end of the file",
                            file: file, offset: i)
                    }
                    if type == 1 {
                        guard size == 8 else {
                            throw SNNError(
                                .corrupt, "polarity packet with event size \(size), expected 8", file: file,
                                offset: i + 4)
                        }
                        let high = Int64(overflow) << 31
                        for k in 0..<number {
                            let o = payload + k * 8
                            let data = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt32.self))
                            guard data & 1 == 1 else { continue }
                            let stamp = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: o + 4, as: UInt32.self))
                            let x = Int(data >> 17) & 0x7FFF, y = Int(data >> 2) & 0x7FFF
                            guard x < width, y < height else {
                                throw SNNError(
                                    .corrupt,
                                    "event at (\(x), \(y)) outside the \(bounds.size) sensor (size from \(bounds.origin))",
                                    file: file, offset: o)
                            }
                            let t = high | Int64(stamp)
                            guard t >= last else {
                                throw SNNError(
                                    .corrupt, "timestamp \(t) µs goes back in time (previous \(last) µs)", file: file,
                                    offset: o + 4)
                            }
                            last = t
                            body(t, x, y, UInt8((data >> 1) & 1))
                        }
                    }
                    i = payload + length
                }
            } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Decodes and frames in two passes over the packets without materialising the event stream
    /// (the same frames as `framing.frames(decode(...), frames:)`).
    public static func frames(
        _ bytes: [UInt8], file: String, width: Int? = nil, height: Int? = nil, frames: Int,
        framing: Framing
    ) throws(SNNError) -> Tensor {
        precondition(frames >= 1, "AEDAT31.frames: frames must be ≥ 1")
        guard framing.fixesFrameCount else {
            do {
                return try framing.frames(try decode(bytes, file: file, width: width, height: height), frames: frames)
            } catch {
                throw error.file == nil ? SNNError(error.code, error.message, file: file) : error
            }
        }
        let header = try header(bytes, file: file)
        let start = header.end, bounds = Bounds(width: width, height: height, header: header)
        var n = 0, first: Int64 = 0, last: Int64 = 0, maxX = 0, maxY = 0
        try forEachEvent(bytes, from: start, file: file, bounds: bounds) { t, x, y, _ in
            if n == 0 { first = t }
            last = t
            maxX = Swift.max(maxX, x)
            maxY = Swift.max(maxY, y)
            n += 1
        }
        guard n > 0 else { throw SNNError(.invalidArgument, "cannot frame an empty event stream", file: file) }
        let width = bounds.width ?? maxX + 1, height = bounds.height ?? maxY + 1
        try Framing.requireMemory(forFrames: [frames, 2, height, width], file: file)
        let plane = width * height  // no overflow: the whole frame tensor's byte count fits an Int
        let result = Tensor(zeros: [frames, 2, height, width])
        let out = result.unsafeStoragePointer
        var counts = [Int](repeating: 0, count: frames)
        let perFrame = n / frames, window = (last - first) / Int64(frames)
        var index = 0
        try forEachEvent(bytes, from: start, file: file, bounds: bounds) { t, x, y, p in
            let f: Int
            switch framing {
            case .spikingJellyByNumber:
                f = perFrame == 0 ? frames - 1 : Swift.min(index / perFrame, frames - 1)
            case .spikingJellyByTime, .tonicTimeBins, .tonicTimeWindow, .tonicEventCount:
                let w = window == 0 ? Int64.max : (t - first) / window
                if w >= Int64(frames) {
                    if framing == .tonicTimeBins { index += 1; return }
                    f = frames - 1
                } else {
                    f = Int(w)
                    counts[f] += 1
                }
            }
            out[(f * 2 + Int(p)) * plane + y * width + x] += 1
            index += 1
        }
        if framing == .spikingJellyByTime, let empty = counts.firstIndex(of: 0) {
            throw SNNError(
                .invalidArgument, "split by time: frame \(empty) of \(frames) has no events (window \(window) µs)",
                file: file)
        }
        return result
    }

    public static func read(_ path: String, width: Int? = nil, height: Int? = nil) throws(SNNError) -> EventStream {
        try decode(try FileBytes.read(path), file: path, width: width, height: height)
    }
}

/// How an event stream is integrated into frames `[T, 2, H, W]` (channel 0 = OFF, 1 = ON counts).
///
/// The first three fix the number of frames T (what training needs); the tonic slicers by time
/// window and by event count fix the window instead, so T follows from the recording.
public enum Framing: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// SpikingJelly `split_by='number'`: T chunks of ⌊N/T⌋ events, the leftover events in the last frame.
    case spikingJellyByNumber
    /// SpikingJelly `split_by='time'`: windows of ⌊(t_last − t_first)/T⌋ µs from t_first; the last frame
    /// also takes every later event; an empty window is an error.
    case spikingJellyByTime
    /// tonic `ToFrame(n_time_bins=T)`: windows of ⌊(t_last − t_first)/T⌋ µs from t_first, half-open, so
    /// events at or after t_first + T·window (always including the last event) are dropped.
    case tonicTimeBins
    /// tonic `ToFrame(time_window=W)` (no overlap, incomplete windows dropped): max(1, ⌊(t_last −
    /// t_first)/W⌋) half-open windows of W µs from t_first.
    case tonicTimeWindow(microseconds: Int64)
    /// tonic `ToFrame(event_count=C)` (no overlap, incomplete slices dropped): ⌊(N − C′)/C⌋ + 1 slices
    /// of C′ = min(C, N) events, slice i starting at event i·C.
    case tonicEventCount(Int)

    public var description: String {
        switch self {
        case .spikingJellyByNumber: "sj-number"
        case .spikingJellyByTime: "sj-time"
        case .tonicTimeBins: "tonic-time-bins"
        case .tonicTimeWindow(let w): "tonic-time-window:\(w)"
        case .tonicEventCount(let c): "tonic-event-count:\(c)"
        }
    }

    /// Parses ``description`` (and the short names `number`, `time`, `tonic`).
    public init?(name: String) {
        switch name {
        case "sj-number", "number": self = .spikingJellyByNumber
        case "sj-time", "time": self = .spikingJellyByTime
        case "tonic-time-bins", "tonic": self = .tonicTimeBins
        default:
            let parts = name.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let n = Int64(parts[1]), n >= 1 else { return nil }
            switch parts[0] {
            case "tonic-time-window": self = .tonicTimeWindow(microseconds: n)
            case "tonic-event-count": self = .tonicEventCount(Int(n))
            default: return nil
            }
        }
    }

    public static let names = [
        "sj-number", "sj-time", "tonic-time-bins", "tonic-time-window:MICROSECONDS", "tonic-event-count:N",
    ]

    /// Whether the number of frames is the one asked for (otherwise it follows from the recording).
    public var fixesFrameCount: Bool {
        switch self {
        case .spikingJellyByNumber, .spikingJellyByTime, .tonicTimeBins: true
        case .tonicTimeWindow, .tonicEventCount: false
        }
    }

    /// The number of frames ``frames(_:frames:)`` makes of `events` when asked for `requested`: that
    /// number, or for the tonic slicers by time window and event count what the recording gives
    /// (0 for an empty stream, which cannot be framed). Computed without framing, so that callers
    /// can size the result before allocating it.
    public func frameCount(_ events: EventStream, requested: Int) -> Int {
        let n = events.count
        guard n > 0 else { return 0 }
        switch self {
        case .spikingJellyByNumber, .spikingJellyByTime, .tonicTimeBins:
            return requested
        case .tonicTimeWindow(let window):
            return Swift.max(1, Int((events.t[n - 1] - events.t[0]) / window))
        case .tonicEventCount(let c):
            return (n - Swift.min(c, n)) / c + 1
        }
    }

    /// The event index range of each frame: `frames` of them, or for the tonic slicers by time
    /// window and event count (which ignore `frames`) as many as the recording gives.
    public func segments(_ events: EventStream, frames: Int) throws(SNNError) -> [Range<Int>] {
        precondition(frames >= 1, "Framing: frames must be ≥ 1")
        let n = events.count
        guard n > 0 else { throw SNNError(.invalidArgument, "cannot frame an empty event stream") }
        switch self {
        case .spikingJellyByNumber:
            let d = n / frames
            return (0..<frames).map { i in i * d..<(i == frames - 1 ? n : (i + 1) * d) }
        case .spikingJellyByTime, .tonicTimeBins:
            let t0 = events.t[0], window = (events.t[n - 1] - t0) / Int64(frames)
            var ranges: [Range<Int>] = []
            var start = 0
            for i in 0..<frames {
                let end = t0 + Int64(i + 1) * window
                var stop = start
                while stop < n && events.t[stop] < end { stop += 1 }
                if self == .spikingJellyByTime {
                    // SpikingJelly indexes the first event of every window (an empty one raises), then
                    // extends the last frame to the end.
                    if stop == start {
                        throw SNNError(
                            .invalidArgument,
                            "split by time: frame \(i) of \(frames) has no events (window \(window) µs)")
                    }
                    if i == frames - 1 { stop = n }
                }
                ranges.append(start..<stop)
                start = stop
            }
            return ranges
        case .tonicTimeWindow(let window):
            let t0 = events.t[0], count = frameCount(events, requested: frames)
            let bounds = (0...count).map { events.t.lowerBound(of: t0 + Int64($0) * window) }
            return (0..<count).map { bounds[$0]..<bounds[$0 + 1] }
        case .tonicEventCount(let c):
            let size = Swift.min(c, n)
            return (0..<frameCount(events, requested: frames)).map { $0 * c..<$0 * c + size }
        }
    }

    /// Refuses frames of `shape` (float32) that overflow a size or exceed this machine's memory: the
    /// sensor size comes from a file (its header, or the largest coordinate of a damaged one), so an
    /// allocation sized by it would otherwise abort the process instead of naming the file.
    static func requireMemory(forFrames shape: [Int], file: String?) throws(SNNError) {
        guard let bytes = MemoryEstimate.checkedProduct(shape + [MemoryLayout<Float>.size]) else {
            throw SNNError(
                .invalidArgument, "frames \(shape) of float32 would take more bytes than a 64-bit size can count",
                file: file)
        }
        // Per-sample framing calls this for every sample: ask the system for its memory only for
        // sizes where the answer can matter.
        if bytes > 1 << 30, let excess = MemoryEstimate.excess(bytes) {
            throw SNNError(.invalidArgument, "frames \(shape) of float32 \(excess)", file: file)
        }
    }

    /// Event counts per frame, polarity and pixel: `[frames, 2, height, width]`.
    /// (For the tonic slicers by time window and event count the first axis is what the recording gives.)
    public func frames(_ events: EventStream, frames requested: Int) throws(SNNError) -> Tensor {
        let segments = try segments(events, frames: requested)
        let frames = segments.count
        let h = events.height, w = events.width
        try Self.requireMemory(forFrames: [frames, 2, h, w], file: nil)
        let plane = h * w  // no overflow: the whole frame tensor's byte count fits an Int
        let result = Tensor(uninitializedShape: [frames, 2, h, w])
        let out = result.unsafeStoragePointer
        events.x.withUnsafeBufferPointer { xs in
            events.y.withUnsafeBufferPointer { ys in
                events.p.withUnsafeBufferPointer { ps in
                    // Frames are independent: each thread clears and fills its own.
                    Parallelism.forEachChunk(frames, grain: 1) { chunk in
                        for f in chunk {
                            let frame = out + f * 2 * plane
                            frame.update(repeating: 0, count: 2 * plane)
                            for i in segments[f] {
                                let x = Int(xs[i]), y = Int(ys[i])
                                guard x < w && y < h else { continue }
                                frame[Int(ps[i] & 1) * plane + y * w + x] += 1
                            }
                        }
                    }
                }
            }
        }
        return result
    }
}

/// Random augmentation of event streams (before framing), seeded by the caller's generator.
public struct EventAugmentation: Sendable, Equatable {
    /// Each event is dropped with this probability.
    public var dropProbability: Float = 0
    /// The whole stream moves by up to this many pixels in x and y (uniform, events leaving the sensor are dropped).
    public var maxSpatialShift = 0
    /// The whole stream moves by up to this many µs in time (uniform; times stay ≥ 0).
    public var maxTimeShift: Int64 = 0

    public init(dropProbability: Float = 0, maxSpatialShift: Int = 0, maxTimeShift: Int64 = 0) {
        precondition(
            dropProbability >= 0 && dropProbability < 1 && maxSpatialShift >= 0 && maxTimeShift >= 0,
            "EventAugmentation: invalid settings")
        self.dropProbability = dropProbability
        self.maxSpatialShift = maxSpatialShift
        self.maxTimeShift = maxTimeShift
    }

    public func apply(_ events: EventStream, using g: inout RandomGenerator) -> EventStream {
        func shift(_ m: Int) -> Int { m == 0 ? 0 : Int(g.next() % UInt64(2 * m + 1)) - m }
        let dx = shift(maxSpatialShift), dy = shift(maxSpatialShift)
        let dt = maxTimeShift == 0 ? 0 : Int64(g.next() % UInt64(2 * maxTimeShift + 1)) - maxTimeShift
        let floor = -(events.t.first ?? 0)
        let timeShift = max(dt, floor)
        var out = EventStream(width: events.width, height: events.height)
        out.reserve(events.count)
        for i in 0..<events.count {
            if dropProbability > 0 && g.nextUniform() < dropProbability { continue }
            let x = Int(events.x[i]) + dx, y = Int(events.y[i]) + dy
            guard x >= 0 && x < events.width && y >= 0 && y < events.height else { continue }
            out.append(t: events.t[i] + timeShift, x: UInt16(x), y: UInt16(y), p: events.p[i])
        }
        return out
    }
}

extension Array where Element == Int64 {
    /// The first index whose element is ≥ `value` in this ascending array (numpy `searchsorted`, side left).
    func lowerBound(of value: Int64) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if self[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
