import Foundation
import SNN
import SNNTestSupport
import Testing

/// `--dataset image-folder` against the PNG and JPEG files Pillow wrote and the values it decodes
/// (Fixtures/images/make_image_fixtures.py).
@Suite struct ImageFolderTests {
    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        .appendingPathComponent("images")
    static let expected = try! JSONFixture(url: directory.appendingPathComponent("expected.json"))

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func check(_ data: LabeledImages, _ name: String, _ split: String) {
        let e = Self.expected
        #expect(data.images.shape == e.ints("\(name)/\(split)/shape"), "\(name) \(split)")
        #expect(data.images.scalars == e.floats("\(name)/\(split)/values"), "\(name) \(split)")
        #expect(data.labels == e.ints("\(name)/\(split)/labels"), "\(name) \(split)")
        #expect(data.classNames == (e.value("\(name)/classes") as? [String]), "\(name) \(split)")
        #expect(data.classCount == data.classNames?.count, "\(name) \(split)")
    }

    @Test func greyPNGsAreTheValuesTheScriptWrote() throws {
        let (train, test) = try ImageFolder.load(directory: Self.path("grey"), size: nil, validation: nil)
        check(train, "grey", "train")
        check(test, "grey", "test")
    }

    /// PNG (grey, RGB, RGBA) and JPEG (RGB, grey) of several sizes: decoded as Pillow decodes them,
    /// grey expanded to RGB, resized bilinearly as PyTorch's align_corners=False does.
    @Test func mixedKindsAndSizesDecodeAndResize() throws {
        let (train, test) = try ImageFolder.load(
            directory: Self.path("mixed"), size: ImageSize(height: 4, width: 5),
            validation: nil)
        check(train, "mixed", "train")
        check(test, "mixed", "test")
    }

    @Test func validationSplitIsClassBalancedAndReproducible() throws {
        let folder = Self.path("no-test")
        func split(_ seed: UInt64) throws -> (train: LabeledImages, test: LabeledImages) {
            try ImageFolder.load(directory: folder, size: nil, validation: ValidationSplit(fraction: 0.25, seed: seed))
        }
        let (train, test) = try split(7)
        // Classes of 10, 6 and 4 files: ⌊0.25·n⌉ = 3, 2 and 1 held out (halves round away from zero).
        func counts(_ labels: [Int]) -> [Int] { (0..<3).map { c in labels.filter { $0 == c }.count } }
        #expect(counts(test.labels) == [3, 2, 1])
        #expect(counts(train.labels) == [7, 4, 3])
        #expect(train.classNames == ["a", "b", "c"])
        // Class-interleaved: every prefix is balanced.
        #expect(Array(train.labels.prefix(9)) == [0, 1, 2, 0, 1, 2, 0, 1, 2])
        // The two parts hold every image once: as 2×2 grey images with random pixels, each is unique.
        func rows(_ data: LabeledImages) -> [[Float]] {
            (0..<data.count).map { Array(data.images.scalars[($0 * 4)..<($0 * 4 + 4)]) }
        }
        let everything = try ImageFolder.loadTraining(directory: folder, size: nil)
        #expect(everything.count == 20)
        #expect(Set(rows(train) + rows(test)) == Set(rows(everything)) && Set(rows(everything)).count == 20)
        let again = try split(7), other = try split(8)
        #expect(again.test.images.scalars == test.images.scalars && again.train.labels == train.labels)
        #expect(other.test.images.scalars != test.images.scalars)
    }

    /// Each broken set fails with an error naming the file or folder concerned and what was expected.
    @Test(arguments: [
        ("unreadable", nil as ImageSize?, "train/a/1.png", "unreadable image: damaged PNG"),
        ("truncated", nil, "train/a/1.jpg", "unreadable image: damaged or unsupported JPEG"),
        ("empty-class", nil, "train/b", "empty class: no PNG or JPEG images"),
        ("sizes", nil, "train/a/1.png", "images differ in size"),
        ("stray-test-class", nil, "test/z", "test class z has no training folder"),
        ("no-test", nil, "", "no test folder: give --validation-fraction"),
    ])
    func brokenSetsAreClearErrors(_ name: String, _ size: ImageSize?, _ file: String, _ message: String) {
        do {
            _ = try ImageFolder.load(directory: Self.path(name), size: size, validation: nil)
            Issue.record("\(name) loaded")
        } catch {
            #expect(error.file == (file.isEmpty ? Self.path(name) : Self.path(name) + "/" + file), "\(name): \(error)")
            #expect(error.message.contains(message), "\(name): \(error)")
        }
    }

    /// Every truncation and 2000 bit flips of a PNG and a JPEG: an image or an SNNError naming the
    /// file, never a crash (libpng and libjpeg report damage by longjmp, caught in C).
    @Test(arguments: ["mixed/train/cat/2.PNG", "mixed/train/cat/3.jpg"])
    func damagedFilesAreErrorsNotCrashes(_ name: String) throws {
        let bytes = [UInt8](try Data(contentsOf: Self.directory.appendingPathComponent(name)))
        let intact = try ImageFile.decode(bytes, file: name)
        func attempt(_ b: [UInt8]) -> Tensor? {
            do {
                let image = try ImageFile.decode(b, file: name)
                #expect(image.shape[1] >= 1 && image.shape[2] >= 1 && image.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
                return image
            } catch {
                #expect(error.file == name && error.message.hasPrefix("unreadable image: "), "\(error)")
                return nil
            }
        }
        // A truncated file is refused (libjpeg's "premature end" included) unless all its pixel data
        // is there (a PNG cut inside its final IEND chunk): never partly decoded, never grey rows.
        for cut in 0..<bytes.count {
            if let image = attempt(Array(bytes.prefix(cut))) {
                #expect(image.scalars == intact.scalars && image.shape == intact.shape, "cut at \(cut)")
                #expect(name.hasSuffix(".PNG") && cut >= bytes.count - 12, "cut at \(cut) decoded")
            }
        }
        var rng = RandomGenerator(seed: 11)
        for _ in 0..<2000 {
            var b = bytes
            b[Int(rng.next() % UInt64(b.count))] ^= UInt8(1 << (rng.next() % 8))
            _ = attempt(b)
        }
    }

    @Test func aTestFolderAndAValidationFractionConflict() {
        #expect(throws: SNNError.self) {
            try ImageFolder.load(
                directory: Self.path("grey"), size: nil,
                validation: ValidationSplit(fraction: 0.5, seed: 1))
        }
    }

    @Test(arguments: [("28", 28, 28), ("32,48", 32, 48), (" 8 , 9", 8, 9)])
    func imageSizesParse(_ text: String, _ height: Int, _ width: Int) {
        #expect(ImageSize(text) == ImageSize(height: height, width: width))
    }

    @Test(arguments: ["", "a", "3,", ",3", "1,2,3", "2x3"])
    func badImageSizesDoNotParse(_ text: String) { #expect(ImageSize(text) == nil) }
}
