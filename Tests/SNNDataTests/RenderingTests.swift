import CSNNKernels
import Foundation
import SNNData
import SNNTensor
import Testing

/// `PNG.renderFrames` draws any frames it is given, and refuses what it cannot draw with an error.
@Suite struct RenderingTests {
    /// The RGB pixels of a PNG written by `PNG.encode` (one IDAT chunk, filter 0 on every row).
    static func pixels(_ png: [UInt8]) throws -> (width: Int, height: Int, rgb: [UInt8]) {
        func be32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 << 8 | Int(png[at + $1]) } }
        let width = be32(16), height = be32(20)
        let idatLength = be32(33)
        try #require(Array(png[37..<41]) == Array("IDAT".utf8))
        // A zlib stream: 2 header bytes, raw deflate, 4 bytes of Adler-32.
        let stream = Array(png[(41 + 2)..<(41 + idatLength - 4)])
        var raw = [UInt8](repeating: 0, count: height * (1 + 3 * width))
        try #require(snn_inflate_raw(stream, stream.count, &raw, raw.count) == 0)
        var rgb: [UInt8] = []
        let row = 1 + 3 * width
        for y in 0..<height {
            #expect(raw[y * row] == 0)
            rgb += raw[(y * row + 1)..<((y + 1) * row)]
        }
        return (width, height, rgb)
    }

    @Test func negativeNaNAndInfiniteCountsDrawClamped() throws {
        // [T = 2, 2, H = 1, W = 3] at scale 1: OFF plane red, ON plane green; the finite peak is 4.
        let off: [[Float]] = [[-3, .nan, 2], [4, -.infinity, .infinity]]
        let on: [[Float]] = [[1, 0, -0.0], [.nan, 3, -1e30]]
        let frames = Tensor(shape: [2, 2, 1, 3], scalars: (0..<2).flatMap { off[$0] + on[$0] })
        let image = try Self.pixels(try PNG.renderFrames(frames, scale: 1))
        #expect(image.width == 7 && image.height == 1)
        // Levels: NaN and ≤ 0 black, count / 4 × 255 rounded, anything above 4 (+∞ included) 255.
        let expected: [[UInt8]] = [
            [0, 64, 0], [0, 0, 0], [128, 0, 0],  // frame 0: (−3, 1), (NaN, 0), (2, −0)
            [96, 96, 96],  // the gap
            [255, 0, 0], [0, 191, 0], [255, 0, 0],  // frame 1: (4, NaN), (−∞, 3), (+∞, −1e30)
        ]
        #expect(image.rgb == expected.flatMap { $0 })
    }

    @Test func allNaNOrNegativeFramesAreBlack() throws {
        for value: Float in [.nan, -1, -.infinity] {
            let frames = Tensor(shape: [1, 2, 2, 2], scalars: [Float](repeating: value, count: 8))
            let image = try Self.pixels(try PNG.renderFrames(frames, scale: 2))
            #expect(image.width == 4 && image.height == 4)
            #expect(image.rgb == [UInt8](repeating: 0, count: 48), "\(value)")
        }
    }

    @Test(arguments: [
        ([0, 2, 3, 3], "time (T)"), ([2, 2, 0, 3], "height (H)"), ([2, 2, 3, 0], "width (W)"),
        ([0, 2, 0, 0], "time (T)"),
    ])
    func emptyAxesAreRefused(_ shape: [Int], _ axis: String) {
        let frames = Tensor(shape: shape, scalars: [])
        let error = #expect(throws: SNNError.self) { try PNG.renderFrames(frames) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("empty \(axis) axis") == true, "\(error.map(String.init(describing:)) ?? "")")
    }

    @Test func imageSizesAreCheckedBeforeAllocating() {
        #expect(PNG.renderedSize(frames: 3, height: 5, width: 7, scale: 2)! == (46, 10, 1380))
        #expect(PNG.renderedSize(frames: Int.max, height: 1, width: 1, scale: 1) == nil)
        #expect(PNG.renderedSize(frames: 1, height: 1, width: Int.max, scale: 1) == nil)
        #expect(PNG.renderedSize(frames: 1, height: Int.max / 2, width: 1, scale: 4) == nil)
        #expect(PNG.renderedSize(frames: 1 << 20, height: 1 << 20, width: 1 << 20, scale: 64) == nil)
        #expect(PNG.renderedSize(frames: 0, height: 1, width: 1, scale: 1) == nil)
    }
}
