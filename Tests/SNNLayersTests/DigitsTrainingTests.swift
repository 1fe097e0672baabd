import Foundation
import SNN
import SNNTestSupport
import Testing

/// End-to-end: small non-spiking networks learn the real digits set, reproducibly.
@Suite(.serialized) struct DigitsTrainingTests {
    /// Trains `model` with Adam for `epochs` epochs (seeded shuffling) and returns the per-batch
    /// losses and the test accuracy.
    static func train(
        _ model: some Layer, epochs: Int, learningRate: Float, seed: UInt64,
        prepare: (Tensor) -> Tensor
    ) throws -> (losses: [Float], accuracy: Float) {
        let train = try Digits.load(.train), test = try Digits.load(.test)
        let optimizer = Adam(learningRate: learningRate)
        var generator = RandomGenerator(seed: seed)
        var losses: [Float] = []
        let batchSize = 32
        for _ in 0..<epochs {
            model.train()
            let order = generator.permutation(train.count)
            for start in stride(from: 0, to: order.count, by: batchSize) {
                let batch = train.subset(Array(order[start..<min(start + batchSize, order.count)]))
                let input = prepare(batch.images)
                let (loss, gradients) = valueWithGradient(at: model) { model in
                    crossEntropy(logits: model(input), labels: batch.labels)
                }
                optimizer.update(model, along: gradients)
                losses.append(loss.item)
            }
        }
        model.eval()
        return (losses, accuracy(logits: model(prepare(test.images)), labels: test.labels))
    }

    static func mlp() -> Sequential {
        Sequential {
            Flatten(lastAxes: 3)
            Linear(64, 64)
            ReLU()
            Linear(64, 10)
        }
    }

    static func cnn() -> Sequential {
        Sequential {
            Conv2d(1, 8, kernelSize: 3, padding: 1, bias: false)
            BatchNorm2d(8)
            ReLU()
            MaxPool2d(2)
            Conv2d(8, 16, kernelSize: 3, padding: 1)
            ReLU()
            MaxPool2d(2)
            Flatten(lastAxes: 3)
            Dropout(probability: 0.1)
            Linear(16 * 2 * 2, 10)
        }
    }

    @Test func splitIsFixedAndDisjoint() throws {
        let train = try Digits.load(.train), test = try Digits.load(.test)
        #expect(train.count == 1437)
        #expect(test.count == 360)
        #expect(train.images.shape == [1437, 1, 8, 8])
        // Every class appears in both splits.
        #expect(Set(train.labels) == Set(0..<10))
        #expect(Set(test.labels) == Set(0..<10))
        #expect(train.images.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test func mlpReaches95PercentReproducibly() throws {
        let first = try Self.train(GlobalRandom.withSeed(42) { Self.mlp() }, epochs: 15, learningRate: 0.01, seed: 1) {
            $0
        }
        let second = try Self.train(GlobalRandom.withSeed(42) { Self.mlp() }, epochs: 15, learningRate: 0.01, seed: 1) {
            $0
        }
        print("digits MLP: test accuracy \(first.accuracy), final loss \(first.losses.last ?? .nan)")
        #expect(first.accuracy >= 0.95, "MLP test accuracy \(first.accuracy)")
        #expect(first.losses == second.losses, "two runs with one seed must give bit-identical losses")
        #expect(first.accuracy == second.accuracy)
    }

    @Test func cnnReaches95PercentReproducibly() throws {
        let first = try Self.train(GlobalRandom.withSeed(7) { Self.cnn() }, epochs: 12, learningRate: 0.01, seed: 2) {
            $0
        }
        let second = try Self.train(GlobalRandom.withSeed(7) { Self.cnn() }, epochs: 12, learningRate: 0.01, seed: 2) {
            $0
        }
        print("digits CNN: test accuracy \(first.accuracy), final loss \(first.losses.last ?? .nan)")
        #expect(first.accuracy >= 0.95, "CNN test accuracy \(first.accuracy)")
        #expect(first.losses == second.losses, "two runs with one seed must give bit-identical losses")
    }
}
