import Foundation
import SNN
import SNNTestSupport
import Testing

/// `snn data inspect DIR`'s summary of the npz and image-folder fixtures, against what their scripts wrote.
@Suite struct DataSetSummaryTests {
    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    @Test func npzSummaryCountsShapesAndValues() throws {
        let folder = Self.fixtures.appendingPathComponent("npz/images").path
        let e = NPZDatasetTests.expected
        let s = try DataSetSummary.inspect(directory: folder)
        #expect(s.layout == .npz && s.classNames == ["0", "1", "2"])
        // Labels [0, 1, 2, 0, 1, 2] and [2, 0, 1].
        #expect(s.counts == ["train": [2, 2, 2], "test": [1, 1, 1]])
        #expect(s.sampleShape == [1, 4, 5])
        let values = e.floats("images/train_x") + e.floats("images/test_x")
        #expect(s.minimum == values.min() && s.maximum == values.max())
    }

    @Test func imageFolderSummaryOfMixedSizesAndKinds() throws {
        let s = try DataSetSummary.inspect(directory: Self.fixtures.appendingPathComponent("images/mixed").path)
        #expect(s.layout == .imageFolder && s.classNames == ["cat", "dog", "emu"])
        #expect(s.counts == ["train": [3, 2, 1], "test": [1, 1, 0]])
        // The script's sizes (height × width): 6×7, 3×3, 16×16, 5×9, 8×8, 4×5, 10×6, 2×2.
        #expect(s.heights == 2...16 && s.widths == 2...16 && s.channels == [1, 3] && s.sampleShape == nil)
        #expect(s.lines.contains { $0.contains("give --image-size") })
    }

    @Test func imageFolderSummaryOfOneSize() throws {
        let s = try DataSetSummary.inspect(directory: Self.fixtures.appendingPathComponent("images/grey").path)
        #expect(s.counts == ["train": [3, 3], "test": [2, 2]] && s.sampleShape == [1, 3, 4])
        let e = ImageFolderTests.expected
        let values = e.floats("grey/train/values") + e.floats("grey/test/values")
        #expect(s.minimum == values.min() && s.maximum == values.max())
        let flat = try DataSetSummary.inspect(directory: Self.fixtures.appendingPathComponent("images/no-test").path)
        #expect(flat.counts == ["train": [10, 6, 4]] && flat.lines.contains { $0.contains("--validation-fraction") })
    }

    @Test func eventFolderSummaryCountsAndFrameSize() throws {
        let folder = Self.fixtures.appendingPathComponent("event-folders/headerless").path
        let s = try DataSetSummary.inspect(directory: folder)
        #expect(s.layout == .eventFolder && s.classNames == ["ant", "bee"])
        #expect(s.counts == ["train": [2, 3], "test": [1, 1]] && s.sensor == SensorSize(width: 15, height: 9))
        #expect(s.minimum == nil && s.lines.contains { $0.contains("frames: 15×9") })
    }

    @Test func aFileTrainingWouldRefuseIsReported() {
        #expect(throws: SNNError.self) {
            try DataSetSummary.inspect(directory: Self.fixtures.appendingPathComponent("images/unreadable").path)
        }
        #expect(throws: SNNError.self) {
            try DataSetSummary.inspect(directory: Self.fixtures.appendingPathComponent("npz/bad-label").path)
        }
    }
}
