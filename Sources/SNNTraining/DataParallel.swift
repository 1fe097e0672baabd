import SNNData
import SNNLayers
import SNNTensor

/// Data-parallel training over the ranks of an MPI job: every rank holds the whole model, trains on
/// its own disjoint part of each global batch, and the ranks sum their gradients after every
/// backward pass, so that every rank takes the same optimizer step.
///
/// The step is exactly that of one process on the global batch: each rank weights its loss (a mean
/// over its n_r samples) by n_r / n, n the global batch's samples, so that the sum of the ranks'
/// gradients is the gradient of the mean loss over all n samples — also when the last global batch
/// splits unevenly. Batch norm layers use their local part's statistics unless
/// ``synchronizesBatchNorm`` (then the global batch's, as one process would); local running
/// statistics are averaged over the ranks at each epoch's end.
///
/// The gradients travel in one flat buffer, allreduced once after the backward pass. Overlapping
/// buckets with the backward pass would hide at most the allreduce's share of a step, which
/// docs/performance.md measures.
public final class DataParallel {
    public let communicator: Communicator
    /// Whether batch norm statistics are computed over the global batch.
    public let synchronizesBatchNorm: Bool

    public init(communicator: Communicator, synchronizesBatchNorm: Bool) {
        self.communicator = communicator
        self.synchronizesBatchNorm = synchronizesBatchNorm
    }

    /// This rank's part of every batch.
    public var shard: DataLoader.Shard { DataLoader.Shard(index: communicator.rank, count: communicator.size) }

    /// Makes `model` ready for data-parallel steps: connects its batch norm layers to the ranks when
    /// they synchronise, and gives every rank rank 0's parameters and buffers.
    public func attach(to model: Module) {
        for (_, module) in model.namedModules() {
            (module as? BatchNorm)?.synchronization = synchronizesBatchNorm ? communicator : nil
        }
        broadcastState(of: model)
    }

    /// The factor of this rank's loss in a step on `localSamples` of the global batch's
    /// `globalSamples`.
    public func lossWeight(localSamples: Int, globalSamples: Int) -> Float {
        Float(localSamples) / Float(globalSamples)
    }

    /// Sums `gradients` (by path: the same paths on every rank) and `statistics` over the ranks, in
    /// place.
    public func reduce(_ gradients: inout Gradients, statistics: inout [Double]) {
        let paths = gradients.byPath.keys.sorted()
        var flat: [Float] = []
        flat.reserveCapacity(paths.reduce(0) { $0 + (gradients.byPath[$1]?.count ?? 0) })
        for path in paths { flat += gradients.byPath[path]?.scalars ?? [] }
        communicator.allReduce(&flat)
        var offset = 0
        for path in paths {
            guard let g = gradients.byPath[path] else { continue }
            gradients.byPath[path] = Tensor(shape: g.shape, scalars: Array(flat[offset..<offset + g.count]))
            offset += g.count
        }
        if !statistics.isEmpty { communicator.allReduce(&statistics) }
    }

    /// Replaces every batch norm layer's running mean and variance by their mean over the ranks
    /// (they drift apart when each rank normalises with its own statistics).
    public func averageBatchNormStatistics(in model: Module) {
        let layers = model.namedModules().compactMap { $0.module as? BatchNorm }
        guard !layers.isEmpty, !synchronizesBatchNorm else { return }
        var flat = layers.flatMap { $0.runningMean.scalars + $0.runningVariance.scalars }
        communicator.allReduce(&flat)
        let scale = 1 / Float(communicator.size)
        var offset = 0
        func take(_ like: Tensor) -> Tensor {
            defer { offset += like.count }
            return Tensor(shape: like.shape, scalars: flat[offset..<offset + like.count].map { $0 * scale })
        }
        for layer in layers {
            layer.runningMean = take(layer.runningMean)
            layer.runningVariance = take(layer.runningVariance)
        }
    }

    /// Gives every rank rank 0's parameters and buffers (in path order).
    func broadcastState(of model: Module) {
        let state = model.stateDictionary()
        let paths = state.keys.sorted()
        var flat = paths.flatMap { state[$0]?.scalars ?? [] }
        communicator.broadcast(&flat, from: 0)
        var offset = 0
        var received: [String: Tensor] = [:]
        for path in paths {
            guard let t = state[path] else { continue }
            received[path] = Tensor(shape: t.shape, scalars: Array(flat[offset..<offset + t.count]))
            offset += t.count
        }
        do {
            try model.load(stateDictionary: received)
        } catch {
            preconditionFailure("the model's own paths and shapes did not load back: \(error)")
        }
    }
}
