import Foundation
import SNNTensor

extension SafeTensors {
    /// A file holding `tensors` (as F32) and `metadata`.
    public init(tensors: [String: Tensor], metadata: [String: String] = [:]) {
        var entries: [String: Entry] = [:]
        for (name, t) in tensors { entries[name] = Entry(shape: t.shape, values: t.scalars, dtype: .f32) }
        self.init(entries: entries, metadata: metadata)
    }

    /// The entries as tensors (every dtype converted to Float32).
    public var tensors: [String: Tensor] {
        entries.mapValues { Tensor(shape: $0.shape, scalars: $0.values) }
    }
}

extension Module {
    /// Writes parameters and buffers to a safetensors file keyed by parameter path, atomically.
    public func save(to path: String, metadata: [String: String] = [:]) throws(SNNError) {
        try SafeTensors(tensors: stateDictionary(), metadata: metadata).write(to: path)
    }

    /// Reads parameters and buffers from a safetensors file written by ``save(to:metadata:)`` (or by
    /// Python with the same keys). Shapes must match; with `strict`, so must the set of keys.
    /// Returns the file's metadata.
    @discardableResult
    public func load(from path: String, strict: Bool = true) throws(SNNError) -> [String: String] {
        let file = try SafeTensors.read(contentsOf: path)
        try load(stateDictionary: file.tensors, strict: strict, file: path)
        return file.metadata
    }
}
