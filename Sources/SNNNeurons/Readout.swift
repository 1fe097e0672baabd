import SNNTensor

/// Readouts from per-step outputs `[T, N, C]`.
public enum Readout {
    /// The mean over T (the papers' prediction).
    public static func mean(_ perStep: Tensor) -> Tensor {
        precondition(perStep.rank >= 2, "Readout.mean: per-step output must be [T, ...], got \(perStep.shape)")
        return perStep.mean(alongAxis: 0)
    }
}

extension Readout {
    /// The temporally weighted output of TWO (METHODS.md §6): (1/T)·Σ_t w_t·o_t. With fewer steps than
    /// weights (a model trained at T evaluated at T' < T) the first T' weights are used.
    public static func weighted(_ perStep: Tensor, weights: [Float]) -> Tensor {
        precondition(perStep.rank >= 2, "Readout.weighted: per-step output must be [T, ...], got \(perStep.shape)")
        let t = perStep.shape[0]
        precondition(weights.count >= t, "Readout.weighted: \(weights.count) weights for \(t) steps")
        let w = Tensor(shape: [t] + Array(repeating: 1, count: perStep.rank - 1), scalars: Array(weights.prefix(t)))
        return (perStep * w).mean(alongAxis: 0)
    }
}
