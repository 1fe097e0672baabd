import Foundation
import SNN
import SNNTestSupport
import Testing

/// `--dataset npz` against the arrays numpy wrote (Fixtures/npz/make_npz_fixtures.py).
@Suite struct NPZDatasetTests {
    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("npz")
    static let expected = try! JSONFixture(url: directory.appendingPathComponent("expected.json"))

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    @Test(arguments: ["images", "sequences", "frames"])
    func samplesLabelsAndClassesAreWhatNumpyWrote(_ name: String) throws {
        let (train, test) = try NPZDataset.load(directory: Self.path(name))
        let e = Self.expected
        #expect(train.images.shape == e.ints("\(name)/train_shape"))
        #expect(train.images.scalars == e.floats("\(name)/train_x"))
        #expect(train.labels == e.ints("\(name)/train_y"))
        #expect(test.images.shape == e.ints("\(name)/test_shape"))
        #expect(test.images.scalars == e.floats("\(name)/test_x"))
        #expect(test.labels == e.ints("\(name)/test_y"))
        #expect(train.classCount == Int(e.float("\(name)/classes")) && test.classCount == train.classCount)
    }

    /// Each broken set fails with an error naming its archive and what was expected.
    @Test(arguments: [
        ("bad-label", "train.npz", "y[2] = -1"),
        ("bad-count", "train.npz", "y has shape [3] for the 4 samples of x"),
        ("zero-length", "train.npz", "lengths[1] = 0"),
        ("long-length", "train.npz", "lengths[1] = 3: each sequence needs 1…2 steps"),
        ("bad-dtype", "train.npz", "x has dtype '<f2'"),
        ("bool-x", "train.npz", "x has dtype '|b1'"),
        ("float-labels", "train.npz", "y has dtype '<f4'"),
        ("empty-class", "train.npz", "class 1 has no training sample"),
        ("bad-rank", "train.npz", "x has shape [4, 2]"),
        ("no-y", "train.npz", "no array y"),
        ("missing-test", "test.npz", "missing test.npz"),
        ("shape-mismatch", "test.npz", "x must have the same sample shape in both"),
    ])
    func brokenSetsAreClearErrors(_ name: String, _ file: String, _ message: String) {
        do {
            _ = try NPZDataset.load(directory: Self.path(name))
            Issue.record("\(name) loaded")
        } catch {
            #expect(error.file == Self.path(name) + "/" + file, "\(name): \(error)")
            #expect(error.message.contains(message), "\(name): \(error)")
        }
    }
}
