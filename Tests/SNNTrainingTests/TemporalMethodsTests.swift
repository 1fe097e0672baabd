import Foundation
import SNN
import SNNTestSupport
import Testing

/// TWO, TKS and TET (METHODS.md §6–7): test vectors, closed forms, finite differences, and the
/// trainer and evaluator wiring.
@Suite struct TemporalMethodsTests {
    @Test func tetLossEqualsMeanOfPerStepCrossEntropy() {
        let logits = randomTensor([3, 4, 5], seed: 5), labels = [0, 4, 2, 2]
        let tet = temporalEfficientTrainingLoss(perStepLogits: logits, labels: labels, labelSmoothing: 0.1).item
        let perStep = (0..<3).map {
            crossEntropy(logits: logits.selecting($0), labels: labels, labelSmoothing: 0.1).item
        }
        #expect(abs(tet - perStep.reduce(0, +) / 3) < 1e-5)
        #expect(
            gradientError(at: [logits]) { temporalEfficientTrainingLoss(perStepLogits: $0[0], labels: labels) } < 1e-2)
        #expect(
            gradientError(at: [logits]) {
                temporalEfficientTrainingLoss(perStepLogits: $0[0], labels: labels, lambda: 0.3, target: 0.5)
            } < 1e-2)
    }

    @Test func tksTestVectorOfMethods() {
        // T = 2, 3 classes, y = 0, τ = 1, z1 = [2, 1, 0] (correct), z2 = [0, 3, 1] (wrong).
        let z = Tensor(shape: [2, 1, 3], scalars: [2, 1, 0, 0, 3, 1])
        let q = Tensor(shape: [3], scalars: [2, 1, 0]).softmax()
        #expect(q.scalars.enumerated().allSatisfy { abs($1 - [0.665241, 0.244728, 0.090031][$0]) < 1e-6 })
        let tks = temporalKnowledgeSharingLoss(perStepLogits: z, labels: [0], temperature: 1)
        #expect(abs(tks.item - 1.589013) < 1e-5)
        #expect(abs(crossEntropy(logits: Readout.mean(z), labels: [0]).item - 1.464369) < 1e-5)
        // The training loss mixes them with a = 1 − α·e/E: at e = E/2 with α = 0.5, a = 0.75.
        let mixed = temporalKnowledgeSharingTrainingLoss(
            perStepLogits: z, labels: [0], alpha: 0.5, epoch: 5, epochs: 10, temperature: 1)
        #expect(abs(mixed.item - (0.75 * 1.464369 + 0.25 * 1.589013)) < 1e-5)
        // All steps wrong: the teacher is zero, the target uniform: L = τ²·mean_t CE(uniform, softmax(z_t)).
        let wrong = temporalKnowledgeSharingLoss(perStepLogits: z, labels: [2], temperature: 2)
        let expected =
            (0..<2).map { t -> Float in
                let logP = z.selecting(t).reshaped(to: [3]).logSoftmax().scalars
                return -logP.reduce(0, +) / 3
            }.reduce(0, +) / 2 * 4
        #expect(abs(wrong.item - expected) < 1e-5)
    }

    @Test func tksTestVectorAtTemperatureThree() {
        // METHODS.md §7 at τ = 3 (same z, y = 0): only the teacher is divided by τ. The student's logits
        // are not (dividing them as well gives 10.334118, the distillation form, which is not TKS).
        let z = Tensor(shape: [2, 1, 3], scalars: [2, 1, 0, 0, 3, 1])
        let q = (Tensor(shape: [3], scalars: [2, 1, 0]) / 3).softmax()
        #expect(q.scalars.enumerated().allSatisfy { abs($1 - [0.448441, 0.321322, 0.230237][$0]) < 1e-6 })
        let tks = temporalKnowledgeSharingLoss(perStepLogits: z, labels: [0], temperature: 3)
        #expect(abs(tks.item - 14.242703) < 1e-4)
        // The training loss at a = 0.75 mixes the same two numbers.
        let mixed = temporalKnowledgeSharingTrainingLoss(
            perStepLogits: z, labels: [0], alpha: 0.5, epoch: 5, epochs: 10,
            temperature: 3)
        #expect(abs(mixed.item - (0.75 * 1.464369 + 0.25 * 14.242703)) < 1e-4)
    }

    @Test func tksAndTetLossesPassFiniteDifferences() {
        // Well separated logits, so no step's argmax flips within the finite-difference step.
        let z = distinctTensor([3, 4, 5], seed: 1, spacing: 0.2)
        let labels = [0, 2, 4, 1]
        let tks = gradientError(at: [z], step: 1e-2) { t in
            temporalKnowledgeSharingLoss(perStepLogits: t[0], labels: labels, temperature: 3)
        }
        #expect(tks < 2e-2)
        let tet = gradientError(at: [z], step: 1e-2) { t in
            temporalEfficientTrainingLoss(perStepLogits: t[0], labels: labels, labelSmoothing: 0.1)
        }
        #expect(tet < 2e-2)
        // With a detached teacher the gradient is that of the student term alone, the target q held
        // fixed at its value: finite differences of that function.
        let z0 = z.scalars
        let teacher = Tensor(
            shape: [4, 5],
            generator: { i in
                let n = i / 5, c = i % 5
                return (0..<3).reduce(Float(0)) { sum, t in
                    let row = Array(z0[(t * 4 + n) * 5..<(t * 4 + n + 1) * 5])
                    return sum + (row.firstIndex(of: row.max()!)! == labels[n] ? row[c] : 0)
                }
            })
        let q = (teacher / 3).softmax(alongAxis: -1)
        let (_, detached) = valueWithGradient(at: z) {
            temporalKnowledgeSharingLoss(perStepLogits: $0, labels: labels, temperature: 3, detachTeacher: true)
        }
        let numeric = numericalGradient(at: z, step: 1e-2) { t in -(t.logSoftmax(alongAxis: -1) * q).sum() * (9 / 12) }
        #expect(relativeError(detached, numeric) < 2e-2)
    }

    @Test func detachingTheTeacherChangesOnlyTheGradient() {
        let z = distinctTensor([3, 2, 4], seed: 2, spacing: 0.3)
        let labels = [1, 3]
        let (v1, g1) = valueWithGradient(at: z) {
            temporalKnowledgeSharingLoss(perStepLogits: $0, labels: labels, temperature: 2)
        }
        let (v2, g2) = valueWithGradient(at: z) {
            temporalKnowledgeSharingLoss(perStepLogits: $0, labels: labels, temperature: 2, detachTeacher: true)
        }
        #expect(v1.item == v2.item)
        #expect(g1.scalars != g2.scalars)
    }

    @Test func twoWeightsAfterAHandComputedEpoch() {
        var two = TemporalWeighting(timeSteps: 3)
        two.update(afterEpoch: 4, perStepAccuracy: [0.5, 0.8, 0.9])  // before epoch 5: unchanged
        #expect(two.weights == [1, 1, 1])
        two.update(afterEpoch: 5, perStepAccuracy: [0.5, 0.8, 0.9])
        // w = 0.7·1 + 0.3·a/mean(a), mean = 2.2/3.
        let expected: [Float] = [0.7 + 0.3 * 0.5 * 3 / 2.2, 0.7 + 0.3 * 0.8 * 3 / 2.2, 0.7 + 0.3 * 0.9 * 3 / 2.2]
        #expect(zip(two.weights, expected).allSatisfy { abs($0 - $1) < 1e-6 })
        // The weighted readout: (1/T)·Σ w_t·o_t.
        let o = Tensor(shape: [3, 1, 2], scalars: [1, 2, 3, 4, 5, 6])
        let r = Readout.weighted(o, weights: two.weights).scalars
        #expect(abs(r[0] - (expected[0] * 1 + expected[1] * 3 + expected[2] * 5) / 3) < 1e-5)
        #expect(abs(r[1] - (expected[0] * 2 + expected[1] * 4 + expected[2] * 6) / 3) < 1e-5)
        // Fewer steps than weights: the first T' weights.
        let short = Readout.weighted(o.slice(0..<2, alongAxis: 0), weights: two.weights).scalars
        #expect(abs(short[0] - (expected[0] * 1 + expected[1] * 3) / 2) < 1e-5)
    }

    @Test func msgScheduleIsLinearAfterItsStart() {
        let msg = MSGOptions(probability: 0.5, schedule: .init(startEpoch: 4, finalProbability: 0.9, finalAlpha: 4))
        #expect(msg.probability(atEpoch: 3, epochs: 10) == 0.5)
        #expect(abs(msg.probability(atEpoch: 4, epochs: 10) - 0.5) < 1e-6)
        #expect(abs(msg.probability(atEpoch: 6, epochs: 10) - (0.5 + 0.4 * 2 / 5)) < 1e-6)
        #expect(abs(msg.probability(atEpoch: 9, epochs: 10) - 0.9) < 1e-6)
        #expect(msg.alpha(atEpoch: 3, epochs: 10, initial: 2) == nil)
        #expect(abs(msg.alpha(atEpoch: 9, epochs: 10, initial: 2)! - 4) < 1e-6)
        #expect(MSGOptions.Schedule("5:0.8") == .init(startEpoch: 5, finalProbability: 0.8))
        #expect(MSGOptions.Schedule("5:0.8:x") == nil && MSGOptions.Schedule("5") == nil)
    }

    @Test func configurationWithTemporalMethodsRoundTrips() throws {
        var c = TrainingConfiguration()
        c.msg = MSGOptions(
            probability: 0.4, substitute: .sigmoid(alpha: 3),
            schedule: .init(startEpoch: 2, finalProbability: 0.8, finalAlpha: 3))
        c.temporalWeighting = true
        c.tks = TKSOptions(alpha: 0.6, temperature: 2, detachTeacher: true)
        c.warmupEpochs = 1
        let data = try JSONSerialization.data(withJSONObject: c.dictionary)
        let back = try TrainingConfiguration(
            dictionary: JSONSerialization.jsonObject(with: data) as! [String: Any], file: "c.json")
        #expect(back == c)
        var bad = c
        bad.msg?.probability = 1.5
        #expect(throws: SNNError.self) { try bad.validate() }
    }

    @Test func trainerLearnsAndCheckpointsTemporalWeights() throws {
        var c = TrainingConfiguration()
        c.model = .spikingMLP
        c.widths = [32]
        c.timeSteps = 3
        c.epochs = 6
        c.batchSize = 64
        c.learningRate = 0.5
        c.temporalWeighting = true
        c.msg = MSGOptions(probability: 0.5)
        c.tks = TKSOptions()
        c.trainSamples = 300
        let directory = temporaryPath("two")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let trainer = try Trainer(configuration: c, directory: directory)
        let summary = try trainer.run()
        let weights = try #require(trainer.temporalWeighting?.weights)
        #expect(weights.count == 3 && weights != [1, 1, 1])  // updated once, after epoch 5
        #expect(summary.testAccuracy > 0.5)
        let run = try RunDirectory.open(at: directory)
        let state = try run.loadCheckpoint(
            .last, model: c.modelConfiguration(inputShape: [1, 8, 8], classes: 10).make(), optimizer: nil)
        #expect(state?.temporalWeights == weights)
        // The trainer's loss of this TKS + TWO run, against the formula in plain scalars: a·CE_ε(readout)
        // + (1 − a)·L_TKS, readout = (1/T)·Σ_t w_t·z_t, a = 1 − α·e/E, L_TKS with the unsoftened student.
        let z = distinctTensor([3, 4, 10], seed: 3, spacing: 0.05)
        // Samples 0–2 are classified correctly by step 0–2 at least (a teacher from one or more steps).
        let labels = (0..<4).map { k in
            k < 3 ? Array(z.scalars[(k * 4 + k) * 10..<(k * 4 + k + 1) * 10]).argmaxIndex : 9
        }
        let (loss, logits) = trainer.loss(z, labels: labels, epoch: 2)
        let expected = referenceTKSLoss(
            z.scalars, t: 3, n: 4, c: 10, labels: labels, weights: weights, alpha: 0.7,
            epoch: 2, epochs: 6, tau: 3, smoothing: 0.1)
        #expect(abs(loss.item - expected) < 1e-4 * max(1, abs(expected)))
        #expect(logits.isClose(to: Readout.weighted(z, weights: weights)))
    }

    /// The TKS training loss from its definition (METHODS.md §7), one scalar at a time, in double.
    func referenceTKSLoss(
        _ z: [Float], t: Int, n: Int, c: Int, labels: [Int], weights: [Float], alpha: Float,
        epoch: Int, epochs: Int, tau: Double, smoothing: Double
    ) -> Float {
        func logSoftmax(_ v: [Double]) -> [Double] {
            let m = v.max() ?? 0, s = v.reduce(0) { $0 + exp($1 - m) }
            return v.map { $0 - m - log(s) }
        }
        func row(_ step: Int, _ sample: Int) -> [Double] { (0..<c).map { Double(z[(step * n + sample) * c + $0]) } }
        var ce = 0.0, shared = 0.0
        for k in 0..<n {
            let readout = (0..<c).map { j in
                (0..<t).reduce(0.0) { $0 + Double(weights[$1]) * row($1, k)[j] } / Double(t)
            }
            let target = (0..<c).map { j in (j == labels[k] ? 1 - smoothing : 0) + smoothing / Double(c) }
            ce -= zip(target, logSoftmax(readout)).reduce(0) { $0 + $1.0 * $1.1 } / Double(n)
            var teacher = [Double](repeating: 0, count: c)
            for step in 0..<t {
                let r = row(step, k)
                if r.firstIndex(of: r.max() ?? 0) == labels[k] { for j in 0..<c { teacher[j] += r[j] } }
            }
            let q = logSoftmax(teacher.map { $0 / tau }).map { exp($0) }
            for step in 0..<t {
                shared -= tau * tau * zip(q, logSoftmax(row(step, k))).reduce(0) { $0 + $1.0 * $1.1 } / Double(t * n)
            }
        }
        let a = 1 - Double(alpha) * Double(epoch) / Double(epochs)
        return Float(a * ce + (1 - a) * shared)
    }
}

@Suite struct EventDataConfigurationTests {
    @Test func eventSizeResizesTheFramesOfAnEmulatedSet() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("snn-evsize-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let digits = try Digits.load(.train).subset(Array(0..<6))
        let data = LabeledImages(images: digits.images / 16, labels: digits.labels, classCount: 10)
        for split in [Split.train, .test] {
            try EventEmulator().writeNMNIST(data, split: split, directory: directory, seed: 2)
        }
        var c = TrainingConfiguration()
        c.dataset = .nmnist
        c.dataDirectory = directory
        c.encoding = .frames
        c.timeSteps = 3
        c.frameCacheDirectory = nil
        let (plain, _) = try c.loadData()
        c.eventSize = 48
        try c.validate()
        let (resized, test) = try c.loadData()
        #expect(resized.images.shape == [6, 3, 2, 48, 48] && test.images.shape == [6, 3, 2, 48, 48])
        let expected = plain.images.reshaped(to: [18, 2, 34, 34]).interpolated(size: (48, 48), mode: .bilinear)
        #expect(resized.images.scalars == expected.scalars)
        // The option round-trips through config.json and is refused for image data sets.
        let back = try TrainingConfiguration(
            dictionary: JSONSerialization.jsonObject(with: JSONSerialization.data(withJSONObject: c.dictionary))
                as! [String: Any], file: "c.json")
        #expect(back.eventSize == 48)
        var image = TrainingConfiguration()
        image.eventSize = 48
        #expect(throws: SNNError.self) { try image.validate() }
    }

    @Test func framedSetsAreCachedAndRebuiltWhenStaleOrDamaged() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("snn-cache-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/nmnist", cacheDirectory = root + "/cache"
        let digits = try Digits.load(.train).subset(Array(0..<8))
        let data = LabeledImages(images: digits.images / 16, labels: digits.labels, classCount: 10)
        for split in [Split.train, .test] {
            try EventEmulator().writeNMNIST(data, split: split, directory: directory, seed: 4)
        }
        let cache = FrameCache(directory: cacheDirectory)
        func load(_ split: Split = .train, size: Int? = nil) throws -> (LabeledImages, FrameCache.Outcome) {
            try cache.load(key: "nmnist \(split) size=\(size ?? 0) source=\(FrameCache.fingerprint(directory))") {
                () throws(SNNError) in
                try NMNIST.load(split, directory: directory, frames: 4, framing: .spikingJellyByNumber, size: size)
            }
        }
        let fresh = try NMNIST.load(.train, directory: directory, frames: 4, framing: .spikingJellyByNumber)
        let (first, o1) = try load()
        let (second, o2) = try load()
        #expect(o1 == .built && o2 == .hit)
        #expect(first.images.scalars == fresh.images.scalars && second.images.scalars == fresh.images.scalars)
        #expect(second.images.shape == fresh.images.shape && second.labels == fresh.labels && second.classCount == 10)
        // Resized frames are not whole numbers: stored as floats, read back bit for bit.
        let (_, o3) = try load(size: 20)
        let (resized, o4) = try load(size: 20)
        #expect(o3 == .built && o4 == .hit)
        #expect(
            resized.images.scalars
                == (try NMNIST.load(.train, directory: directory, frames: 4, framing: .spikingJellyByNumber, size: 20))
                .images.scalars)
        // A changed recording changes the fingerprint: a new entry, built from the new bytes.
        let file = try #require(try NMNIST.files(.train, directory: directory).first).path
        var events = try NMNISTBinary.read(file)
        events.t = events.t.map { $0 + 1 }
        try Data(try NMNISTBinary.encode(events)).write(to: URL(fileURLWithPath: file))
        let (_, o5) = try load()
        #expect(o5 == .built)
        // A damaged cache file is reported and rebuilt, whatever byte is hit.
        let key = "nmnist train size=0 source=\(try FrameCache.fingerprint(directory))"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: cache.path(for: key))))
        for position in [3, 20, bytes.count / 2, bytes.count - 1] {
            bytes[position] ^= 0x10
            try Data(bytes).write(to: URL(fileURLWithPath: cache.path(for: key)))
            let (again, o6) = try load()
            #expect(o6 == .rebuilt, "byte \(position)")
            #expect(
                again.images.scalars
                    == (try NMNIST.load(.train, directory: directory, frames: 4, framing: .spikingJellyByNumber)).images
                    .scalars)
            bytes[position] ^= 0x10
        }
        // Through the configuration: the second load of a run is served from the cache.
        var c = TrainingConfiguration()
        c.dataset = .nmnist
        c.dataDirectory = directory
        c.encoding = .frames
        c.timeSteps = 4
        c.frameCacheDirectory = root + "/run-cache"
        let (a, _) = try c.loadData()
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: root + "/run-cache").filter { $0.hasSuffix(".frames") }
                .count == 2)
        let (b, _) = try c.loadData()
        #expect(a.images.scalars == b.images.scalars && a.images.scalars == fresh.images.scalars)
    }

    @Test func cifar10DVSLoadsThroughTheConfigurationResizedAndCached() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("snn-c10dvs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Ten recordings per class, each a short AEDAT 2.0 stream of 4 events around one pixel.
        for (c, name) in CIFAR10DVS.classNames.enumerated() {
            try FileManager.default.createDirectory(atPath: "\(root)/data/\(name)", withIntermediateDirectories: true)
            for f in 0..<10 {
                var b = Array("#!AER-DAT2.0\r\n".utf8)
                for k in 0..<4 {
                    let x = UInt32(10 * c + f), y = UInt32(5 * f + k), address = (y << 8) | (x << 1) | UInt32(k % 2),
                        t = UInt32(100 * k)
                    for v in [address, t] {
                        b += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
                    }
                }
                try Data(b).write(to: URL(fileURLWithPath: "\(root)/data/\(name)/r_\(f).aedat"))
            }
        }
        var c = TrainingConfiguration()
        c.dataset = .cifar10DVS
        c.dataDirectory = root + "/data"
        c.encoding = .frames
        c.timeSteps = 2
        c.eventSize = 16
        c.frameCacheDirectory = root + "/cache"
        try c.validate()
        let (train, test) = try c.loadData()
        #expect(train.images.shape == [90, 2, 2, 16, 16] && test.images.shape == [10, 2, 2, 16, 16])
        #expect(test.labels == Array(0..<10) && train.classCount == 10)
        // The same frames as framing and resizing one recording by hand.
        let first = try AEDAT20.read("\(root)/data/airplane/r_0.aedat", orientation: .cifar10DVS)
        let expected = try Framing.spikingJellyByNumber.frames(first, frames: 2).reshaped(to: [4, 1, 128, 128])
            .interpolated(size: (16, 16), mode: .bilinear)
        #expect(Array(train.images.scalars.prefix(2 * 2 * 16 * 16)) == expected.scalars)
        let (again, _) = try c.loadData()
        #expect(again.images.scalars == train.images.scalars && again.labels == train.labels)
    }
}

private extension Array where Element == Float {
    var argmaxIndex: Int { indices.max { self[$0] < self[$1] } ?? 0 }
}
