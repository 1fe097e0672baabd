import Foundation
import SNN
import SNNTestSupport
import Testing

/// What the readers' fuzz targets (Fuzz/, `make fuzz`) found, each reduced to a small input that
/// shows it; the inputs the fuzzer found are kept in Fuzz/corpus/<target>/crash-*.
@Suite struct FuzzFindingsTests {
    static func fixture(_ path: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(path)
    }

    /// `bytes` with the first occurrence of `pattern` replaced by `replacement` (same length); its offset.
    static func replacing(_ pattern: [UInt8], with replacement: [UInt8], in bytes: inout [UInt8]) throws -> Int {
        let at = try #require(bytes.indices.first { bytes[$0...].starts(with: pattern) }, "pattern not found")
        bytes.replaceSubrange(at..<at + pattern.count, with: replacement)
        return at
    }

    static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    /// The `SNNError` that `body` throws; nil when it returns (or throws something else).
    static func error(_ body: () throws -> Any) -> SNNError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error as? SNNError
        }
    }

    /// AEDAT 4.0 (target aedat4): a negative int64 timestamp was accepted, and framing the recording
    /// then overflowed t_last − t_first and trapped.
    @Test func aedat4RefusesNegativeTimestamps() throws {
        var bytes = [UInt8](try Data(contentsOf: Self.fixture("aedat4/crop34-none.aedat4")))
        let first = try AEDAT40.decode(bytes, file: "c.aedat4").t[0]
        _ = try Self.replacing(Self.littleEndian(first), with: Self.littleEndian(Int64.min), in: &bytes)
        let e = Self.error { try AEDAT40.decode(bytes, file: "c.aedat4") }
        #expect(e?.code == .corrupt && e?.file == "c.aedat4" && e?.offset != nil, "\(String(describing: e))")
        #expect(e?.message.contains("negative") == true, "\(String(describing: e))")
    }

    /// `.npz` (target npz): a deflated entry's uncompressed size was taken from the central directory
    /// unchecked, so one damaged size field made the reader allocate gigabytes before inflating.
    @Test func npzRefusesSizesDeflateCannotReach() throws {
        var bytes = [UInt8](try Data(contentsOf: Self.fixture("numpy/deflated.npz")))
        // The first central directory entry ("PK\u{1}\u{2}"); its uncompressed size is at +24.
        let entry = try #require(bytes.indices.first { bytes[$0...].starts(with: [0x50, 0x4B, 1, 2]) })
        bytes.replaceSubrange(entry + 24..<entry + 28, with: Self.littleEndian(UInt32(0x7FFF_FFFF)))
        let e = Self.error { try NumPy.decodeNPZ(bytes, file: "d.npz") }
        #expect(e?.code == .corrupt && e?.file == "d.npz" && e?.offset == entry + 24, "\(String(describing: e))")
    }

    /// One split of the FSDD files holding `sequences` (each a list of 13-coefficient frames), labels
    /// 0, 1, 2, …, cut or padded to `frames` frames.
    static func fsdd(_ sequences: [[[Float]]], split: Split, frames: Int) throws(SNNError) -> LabeledImages {
        let features = sequences.flatMap { $0.flatMap { $0.flatMap { littleEndian($0.bitPattern) } } }
        let lengths = sequences.flatMap { littleEndian(UInt32($0.count)) }
        let labels = sequences.indices.map { UInt8($0 % 10) }
        let files = FSDD.Files(features: "x.f32", lengths: "x.len.u32", labels: "x.labels.u8")
        return try FSDD.decode(
            features: features, lengths: lengths, labels: labels, split: split, frames: frames,
            files: files)
    }

    static func frame(_ values: [Int: Float]) -> [Float] { (0..<FSDD.coefficients).map { values[$0] ?? 0 } }

    /// FSDD (target fsdd): a finite test coefficient far from the training ones standardised to
    /// +inf, which went into the data set.
    @Test func fsddRefusesCoefficientsThatStandardiseToInfinity() throws {
        // Sequences 1…4 train: coefficient 2 is ±0.01 (mean 0, σ 0.01); test sequence 0 has 1e38 there.
        var sequences = (0..<6).map { i in [Self.frame([2: i % 2 == 0 ? 0.01 : -0.01])] }
        sequences[0] = [Self.frame([2: 1e38])]
        let e = Self.error { try Self.fsdd(sequences, split: .test, frames: 1) }
        #expect(e?.code == .corrupt && e?.file == "x.f32" && e?.offset == 8, "\(String(describing: e))")
    }

    /// FSDD (found beside the above): one sequence only, a test one, left no training frames; the
    /// statistics were 0/0 and every value NaN.
    @Test func fsddRefusesFilesWithoutTrainingSequences() throws {
        let e = Self.error { try Self.fsdd([[Self.frame([0: 1]), Self.frame([0: 2])]], split: .test, frames: 2) }
        #expect(e?.code == .corrupt && e?.file == "x.len.u32" && e?.offset == 4, "\(String(describing: e))")
    }

    /// FSDD (found beside the above): σ was √(E[v²] − E[v]²), which rounding made negative here, so σ
    /// and every value of that coefficient were NaN. 70 training frames: b once, then its successor b′
    /// 69 times; the deviations are −69/70 and 1/70 of an ulp, so σ = ulp·√69/70 and the standardised
    /// values are exactly −√69 and 1/√69.
    @Test func fsddStandardDeviationSurvivesRounding() throws {
        let b: Float = 666.815185546875, next = b.nextUp
        // Sequences 0 and 5 are test ones (one frame each); 1…4 and 6 train, 14 frames each.
        let sequences = (0..<7).map { i in
            i % 5 == 0 ? [Self.frame([0: b])] : (0..<14).map { f in Self.frame([0: i == 1 && f == 0 ? b : next]) }
        }
        let train = try Self.fsdd(sequences, split: .train, frames: 14)
        var expected = [Float](repeating: 0, count: 5 * 14 * FSDD.coefficients)
        for k in 0..<5 {
            for f in 0..<14 {
                let root = Float(69).squareRoot()
                expected[(k * 14 + f) * FSDD.coefficients] = k == 0 && f == 0 ? -root : 1 / root
            }
        }
        let got = train.images.scalars
        #expect(train.images.shape == [5, 1, 14, FSDD.coefficients])
        #expect(
            zip(got, expected).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) },
            "\(got.prefix(2 * FSDD.coefficients))")
    }
}
