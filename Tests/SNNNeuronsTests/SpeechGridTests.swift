import Foundation
import SNN
import SNNTestSupport
import Testing

/// The speech grid (METHODS.md §5's [T, 2, 16, 16] for speech) against explicit index computations.
@Suite struct SpeechGridTests {
    static func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return Tensor.randomUniform(shape, using: &g)
    }

    /// The flat offset of cell (polarity, row, column) of row `r` in `[R, 2, 16, 16]`.
    static func offset(_ r: Int, _ polarity: Int, _ row: Int, _ column: Int) -> Int {
        ((r * 2 + polarity) * 16 + row) * 16 + column
    }

    @Test func paddedPlacesChannelFAtPolarityRowColumnOfF() {
        let (rows, channels) = (3, 300)  // 300 > 256: the second polarity plane is used too
        let x = Self.random([rows, channels], seed: 1)
        var expected = [Float](repeating: 0, count: rows * 512)
        for r in 0..<rows {
            for f in 0..<channels {
                expected[Self.offset(r, f / 256, (f % 256) / 16, f % 16)] = x.scalars[r * channels + f]
            }
        }
        let y = SpeechGrid(.padded).map(x)
        #expect(y.shape == [rows, 2, 16, 16])
        #expect(y.scalars == expected)
    }

    @Test func resampledHalvesTheStepAt256Channels() {
        // 256 → 512: cell g reads position g/2 − 1/4, so an even cell 2k (k ≥ 1) is ¼·x[k−1] + ¾·x[k],
        // an odd cell 2k+1 is ¾·x[k] + ¼·x[k+1], and the two end cells copy the end channels.
        let x = Self.random([2, 256], seed: 2), v = x.scalars
        var expected = [Float](repeating: 0, count: 2 * 512)
        for r in 0..<2 {
            let c = { (k: Int) in v[r * 256 + k] }
            expected[Self.offset(r, 0, 0, 0)] = c(0)
            expected[Self.offset(r, 1, 15, 15)] = c(255)
            for k in 1..<256 { expected[r * 512 + 2 * k] = 0.25 * c(k - 1) + 0.75 * c(k) }
            for k in 0..<255 { expected[r * 512 + 2 * k + 1] = 0.75 * c(k) + 0.25 * c(k + 1) }
        }
        let y = SpeechGrid(.resampled).map(x)
        #expect(y.shape == [2, 2, 16, 16])
        for (a, b) in zip(y.scalars, expected) { #expect(abs(a - b) <= 1e-6 * max(1, abs(b))) }
    }

    @Test func resampledSHDChannelsMatchTheInterpolationFormula() {
        // 700 channels, as SHD and SSC have: cell g reads s = (g + ½)·700/512 − ½ (clamped at 0).
        let x = Self.random([1, 700], seed: 3), v = x.scalars
        let y = SpeechGrid(.resampled).map(x)
        for g in 0..<512 {
            let s = max(0, (Double(g) + 0.5) * 700 / 512 - 0.5)
            let k = Int(s.rounded(.down)), w = s - Double(k)
            let expected = Double(v[k]) * (1 - w) + Double(v[min(k + 1, 699)]) * w
            #expect(abs(Double(y.scalars[g]) - expected) <= 1e-6, "cell \(g)")
        }
        // At 512 channels the interpolation is the identity, the same as padding.
        let same = Self.random([2, 512], seed: 4)
        #expect(SpeechGrid(.resampled).map(same).scalars == same.scalars)
        #expect(SpeechGrid(.padded).map(same).scalars == same.scalars)
    }

    @Test func moreChannelsThanCellsAreRefusedWhenPadded() throws {
        let error = #expect(throws: SNNError.self) { try SpeechGrid(.padded).check(channels: 513) }
        #expect(error?.message.contains("513 channels per step do not fit") == true)
        #expect(throws: SNNError.self) { try SpeechGrid(.padded).check(channels: 0) }
        try SpeechGrid(.padded).check(channels: 512)
        try SpeechGrid(.resampled).check(channels: 700)
    }

    /// Sequences [N, T, F] step by step (the first T) and MFCC images [N, 1, H, F] row by row; the
    /// padded cells give the rows back.
    @Test func encoderShapesAndRoundTrip() {
        let frames = Self.random([2, 5, 700], seed: 5)
        var sequence = Encoder(.speechGrid(.resampled), timeSteps: 3)
        let encoded = sequence.encode(frames)
        #expect(encoded.shape == [3, 2, 2, 16, 16])
        for t in 0..<3 {
            for n in 0..<2 {
                let step = Tensor(
                    shape: [1, 700], scalars: Array(frames.scalars[(n * 5 + t) * 700..<(n * 5 + t + 1) * 700]))
                let cells = Array(encoded.scalars[(t * 2 + n) * 512..<(t * 2 + n + 1) * 512])
                #expect(cells == SpeechGrid(.resampled).map(step).scalars, "t \(t), n \(n)")
            }
        }
        #expect(Encoding.speechGrid(.resampled).stepShape(forSample: [5, 700]) == [2, 16, 16])
        #expect(Encoding.speechGrid(.resampled).requiredTimeSteps(forSample: [5, 700]) == nil)

        let mfcc = Self.random([2, 1, 32, 13], seed: 6)
        var rows = Encoder(.speechGrid(.padded), timeSteps: 32)
        let grid = rows.encode(mfcc)
        #expect(grid.shape == [32, 2, 2, 16, 16])
        var back = [Float](repeating: 0, count: mfcc.count)
        for t in 0..<32 {
            for n in 0..<2 {
                let cells = Array(grid.scalars[(t * 2 + n) * 512..<(t * 2 + n + 1) * 512])
                #expect(cells[13...].allSatisfy { $0 == 0 })
                for c in 0..<13 { back[(n * 32 + t) * 13 + c] = cells[c] }
            }
        }
        #expect(back == mfcc.scalars)
        #expect(Encoding.speechGrid(.padded).stepShape(forSample: [1, 32, 13]) == [2, 16, 16])
        #expect(Encoding.speechGrid(.padded).requiredTimeSteps(forSample: [1, 32, 13]) == 32)
    }
}
