import Foundation
import SNNTensor

/// A held-out part of each class, for class-folder data sets without a `test` folder.
public struct ValidationSplit: Sendable, Equatable {
    /// The fraction of each class's files held out for testing, in (0, 1).
    public var fraction: Double
    /// Which files are held out follows from this seed (the run's).
    public var seed: UInt64

    public init(fraction: Double, seed: UInt64) {
        self.fraction = fraction
        self.seed = seed
    }
}

/// The files of a class-folder data set: `DIR/train/<class>/*` and `DIR/test/<class>/*`, or, without
/// a `train` folder, the class folders in `DIR` itself (as Caltech101's `101_ObjectCategories`).
/// Classes are the training class folders in name order; files are taken in name order, hidden ones
/// and those without one of the wanted suffixes left out.
public struct ClassFolders: Sendable, Equatable {
    /// The folder holding the training class folders.
    public var trainRoot: String
    /// The folder holding the test class folders (nil: none).
    public var testRoot: String?
    /// The class names, in label order.
    public var classNames: [String]
    /// The training files of each class (full paths, name order).
    public var train: [[String]]
    /// The test files of each class (empty for a class without a test folder); nil without `test`.
    public var test: [[String]]?

    /// Lists `directory`'s classes and files ending in one of `suffixes` (any letter case); `kind`
    /// names the files in errors ("PNG or JPEG images").
    public init(directory: String, suffixes: [String], kind: String) throws(SNNError) {
        func isDirectory(_ path: String) -> Bool {
            var flag: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &flag) && flag.boolValue
        }
        guard isDirectory(directory) else { throw SNNError(.io, "not a folder", file: directory) }
        let trainFolder = (directory as NSString).appendingPathComponent("train")
        let testFolder = (directory as NSString).appendingPathComponent("test")
        trainRoot = isDirectory(trainFolder) ? trainFolder : directory
        testRoot = isDirectory(trainFolder) && isDirectory(testFolder) ? testFolder : nil
        classNames = try EventFraming.subfolders(trainRoot)
        guard !classNames.isEmpty else {
            throw SNNError(
                .io, "no class folders (expected train/<class>/ and test/<class>/, or <class>/ folders)",
                file: trainRoot)
        }
        func files(_ root: String, _ name: String) throws(SNNError) -> [String] {
            let folder = (root as NSString).appendingPathComponent(name)
            let entries: [String]
            do { entries = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
                throw SNNError(
                    .io, "cannot list the class folder", file: folder,
                    underlying: error.localizedDescription)
            }
            let wanted = entries.filter { entry in
                !entry.hasPrefix(".") && suffixes.contains { entry.lowercased().hasSuffix($0) }
            }.sorted()
            guard !wanted.isEmpty else {
                throw SNNError(.io, "empty class: no \(kind) (\(suffixes.joined(separator: ", ")))", file: folder)
            }
            return wanted.map { (folder as NSString).appendingPathComponent($0) }
        }
        var train: [[String]] = []
        for name in classNames { train.append(try files(trainRoot, name)) }
        self.train = train
        if let testRoot {
            var test = [[String]](repeating: [], count: classNames.count)
            for name in try EventFraming.subfolders(testRoot) {
                guard let label = classNames.firstIndex(of: name) else {
                    throw SNNError(
                        .mismatch,
                        "test class \(name) has no training folder (classes: "
                            + "\(classNames.joined(separator: ", ")))",
                        file: (testRoot as NSString).appendingPathComponent(name))
                }
                test[label] = try files(testRoot, name)
            }
            guard test.contains(where: { !$0.isEmpty }) else {
                throw SNNError(.io, "no class folders in the test folder", file: testRoot)
            }
            self.test = test
        }
    }

    /// The training and test files of each class: the `test` folder's, or `validation`'s share of
    /// each class held out from the training files (⌊fraction · n⌉ of a class of n, drawn by a
    /// permutation seeded with the split's seed and the class; both parts stay in name order).
    ///
    /// - Throws: `.invalidArgument` when a `test` folder and a validation split are both given, or
    ///   neither; when a class would keep no training file.
    public func split(validation: ValidationSplit?) throws(SNNError) -> (train: [[String]], test: [[String]]) {
        if let test {
            guard validation == nil else {
                throw SNNError(
                    .invalidArgument,
                    "the data set has a test folder; --validation-fraction is for folders "
                        + "without one", file: testRoot)
            }
            return (train, test)
        }
        guard let validation else {
            throw SNNError(
                .invalidArgument,
                "no test folder: give --validation-fraction F to hold out a share of each "
                    + "class for testing", file: trainRoot)
        }
        var kept: [[String]] = [], held: [[String]] = []
        for (label, files) in train.enumerated() {
            let count = Int((validation.fraction * Double(files.count)).rounded())
            guard count < files.count else {
                throw SNNError(
                    .invalidArgument,
                    "--validation-fraction \(validation.fraction) leaves class "
                        + "\(classNames[label]) (\(files.count) files) nothing to train on", file: trainRoot)
            }
            var generator = RandomGenerator(
                seed: RandomGenerator.streamSeed(
                    validation.seed ^ 0x7E57_5EED_F01D_E125,
                    UInt64(label)))
            let chosen = Set(generator.permutation(files.count).prefix(count))
            kept.append(files.indices.filter { !chosen.contains($0) }.map { files[$0] })
            held.append(files.indices.filter { chosen.contains($0) }.map { files[$0] })
        }
        guard held.contains(where: { !$0.isEmpty }) else {
            throw SNNError(
                .invalidArgument,
                "--validation-fraction \(validation.fraction) holds out no file of any "
                    + "class (the largest has \(train.map(\.count).max() ?? 0))", file: trainRoot)
        }
        return (kept, held)
    }
}

/// Whole numbers separated by commas ("32", "32,48"), as the size options take them; nil when a
/// part is not a whole number.
func commaSeparatedIntegers(_ text: String) -> [Int]? {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        .map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !parts.contains(nil) else { return nil }
    return parts.compactMap { $0 }
}

/// `body(i)` for every i in `0..<count`, spread over the worker threads in chunks of `grain`, the
/// results in index order; the first error a chunk meets stops that chunk and is thrown.
func mapInParallel<T>(_ count: Int, grain: Int, placeholder: T, _ body: (Int) throws(SNNError) -> T) throws(SNNError)
    -> [T]
{
    nonisolated(unsafe) var results = [T](repeating: placeholder, count: count)
    nonisolated(unsafe) var failure: SNNError?
    let lock = NSLock()
    results.withUnsafeMutableBufferPointer { slots in
        nonisolated(unsafe) let slots = slots
        Parallelism.forEachChunk(count, grain: grain) { range in
            for i in range {
                do throws(SNNError) {
                    slots[i] = try body(i)
                } catch {
                    lock.lock()
                    if failure == nil { failure = error }
                    lock.unlock()
                    return
                }
            }
        }
    }
    if let failure { throw failure }
    return results
}
