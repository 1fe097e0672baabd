import Foundation

/// A learning rate as a function of the epoch (0-based), set on the optimizer before each epoch.
public protocol LearningRateSchedule: Sendable {
    func learningRate(epoch: Int) -> Float
}

/// Linear warm-up followed by cosine decay, as timm's `CosineLRScheduler` (used by the papers'
/// scripts) with `warmup_prefix = False`: for e < W, lr = start + e·(base − start)/W; afterwards
/// lr = minimum + ½(base − minimum)(1 + cos(π·e/E)).
public struct CosineWithWarmup: LearningRateSchedule {
    public var baseLearningRate: Float, minimumLearningRate: Float, warmupEpochs: Int, warmupStartLearningRate: Float
    public var totalEpochs: Int

    public init(
        baseLearningRate: Float, totalEpochs: Int, warmupEpochs: Int = 5, warmupStartLearningRate: Float = 1e-6,
        minimumLearningRate: Float = 1e-5
    ) {
        precondition(
            totalEpochs >= 1 && warmupEpochs >= 0,
            "CosineWithWarmup: totalEpochs \(totalEpochs) ≥ 1, warmupEpochs \(warmupEpochs) ≥ 0")
        self.baseLearningRate = baseLearningRate
        self.totalEpochs = totalEpochs
        self.warmupEpochs = warmupEpochs
        self.warmupStartLearningRate = warmupStartLearningRate
        self.minimumLearningRate = minimumLearningRate
    }

    public func learningRate(epoch: Int) -> Float {
        if epoch < warmupEpochs {
            return warmupStartLearningRate + Float(epoch) * (baseLearningRate - warmupStartLearningRate)
                / Float(warmupEpochs)
        }
        let progress = Float(min(epoch, totalEpochs)) / Float(totalEpochs)
        return minimumLearningRate + 0.5 * (baseLearningRate - minimumLearningRate)
            * (1 + Foundation.cos(Float.pi * progress))
    }
}

/// lr = base · γ^⌊e / stepSize⌋.
public struct StepSchedule: LearningRateSchedule {
    public var baseLearningRate: Float, stepSize: Int, gamma: Float

    public init(baseLearningRate: Float, stepSize: Int, gamma: Float = 0.1) {
        precondition(stepSize >= 1, "StepSchedule: stepSize \(stepSize) must be ≥ 1")
        self.baseLearningRate = baseLearningRate
        self.stepSize = stepSize
        self.gamma = gamma
    }

    public func learningRate(epoch: Int) -> Float {
        baseLearningRate * Foundation.pow(gamma, Float(epoch / stepSize))
    }
}

/// A constant learning rate.
public struct ConstantSchedule: LearningRateSchedule {
    public var value: Float
    public init(_ value: Float) { self.value = value }
    public func learningRate(epoch: Int) -> Float { value }
}

/// The papers' "linear scaling" rule: lr = base · batchSize / 1024.
public func linearScaledLearningRate(base: Float, batchSize: Int) -> Float {
    precondition(batchSize >= 1, "linearScaledLearningRate: batch size \(batchSize) must be ≥ 1")
    return base * Float(batchSize) / 1024
}
