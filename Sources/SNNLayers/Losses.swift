import Foundation
import SNNTensor

/// One-hot rows `[labels.count, classes]`.
public func oneHot(_ labels: [Int], classes: Int) -> Tensor {
    let t = Tensor(zeros: [labels.count, classes])
    var copy = t
    copy.withUnsafeMutableBufferPointer { p in
        for (i, label) in labels.enumerated() {
            precondition(label >= 0 && label < classes, "oneHot: label \(label) at index \(i) outside 0..<\(classes)")
            p[i * classes + label] = 1
        }
    }
    return copy
}

/// Mean cross-entropy of `logits` `[N, C]` against integer `labels`, with optional label
/// smoothing ε (targets (1 − ε)·onehot + ε/C, as in PyTorch).
public func crossEntropy(logits: Tensor, labels: [Int], labelSmoothing: Float = 0) -> Tensor {
    precondition(
        logits.rank == 2 && logits.shape[0] == labels.count,
        "crossEntropy: logits \(logits.shape) must be [N, C] with N = \(labels.count) labels")
    precondition(
        labelSmoothing >= 0 && labelSmoothing <= 1, "crossEntropy: label smoothing \(labelSmoothing) not in [0, 1]")
    let classes = logits.shape[1]
    var targets = oneHot(labels, classes: classes)
    if labelSmoothing > 0 { targets = targets * (1 - labelSmoothing) + labelSmoothing / Float(classes) }
    return softTargetCrossEntropy(logits: logits, targets: targets)
}

/// Mean over rows of −Σ targets · log softmax(logits) (targets are probability rows, e.g. mixup).
public func softTargetCrossEntropy(logits: Tensor, targets: Tensor) -> Tensor {
    precondition(
        logits.shape == targets.shape && logits.rank == 2,
        "softTargetCrossEntropy: logits \(logits.shape) and targets \(targets.shape) must be equal [N, C]")
    return -(targets * logits.logSoftmax(alongAxis: -1)).sum(alongAxis: -1).mean()
}

/// Mean squared error.
public func meanSquaredError(predictions: Tensor, targets: Tensor) -> Tensor {
    precondition(
        predictions.shape == targets.shape,
        "meanSquaredError: predictions \(predictions.shape) and targets \(targets.shape) differ")
    return (predictions - targets).squared().mean()
}

/// KL(target ‖ input) with `input` given as log-probabilities, summed over classes and averaged
/// over the batch (PyTorch's `kl_div(input, target, reduction="batchmean")`). Terms with target 0
/// contribute 0. The target is treated as a constant (no gradient flows to it).
public func klDivergence(logProbabilities input: Tensor, targetProbabilities target: Tensor) -> Tensor {
    precondition(
        input.shape == target.shape && input.rank >= 1,
        "klDivergence: input \(input.shape) and target \(target.shape) must be equal")
    let t = target.detached
    let logT = t.map { $0 > 0 ? Foundation.log($0) : 0 }
    return (t * (logT - input)).sum() / Float(input.shape[0])
}

/// Fraction of rows of `logits` `[N, C]` whose argmax equals the label.
public func accuracy(logits: Tensor, labels: [Int]) -> Float {
    precondition(
        logits.rank == 2 && logits.shape[0] == labels.count,
        "accuracy: logits \(logits.shape) vs \(labels.count) labels")
    let predicted = logits.argmax(alongAxis: 1)
    let correct = zip(predicted, labels).filter { $0 == $1 }.count
    return Float(correct) / Float(max(labels.count, 1))
}
