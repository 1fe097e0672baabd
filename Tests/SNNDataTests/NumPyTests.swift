import Foundation
import SNN
import SNNTestSupport
import Testing

/// .npy / .npz against arrays written by numpy (Fixtures/numpy/make_numpy_fixtures.py).
@Suite struct NumPyTests {
    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(
        "numpy")
    nonisolated(unsafe) static let expected: [String: Any] = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("expected.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }()

    func check(_ t: Tensor, _ name: String) {
        let e = Self.expected[name] as! [String: Any]
        #expect(t.shape == (e["shape"] as! [Int]), "\(name)")
        let values = (e["values"] as! [NSNumber]).map { Float($0.doubleValue) }
        #expect(t.scalars == values, "\(name)")
    }

    @Test func npyFilesOfEveryDtypeAndOrder() throws {
        for name in Self.expected.keys {
            check(try NumPy.readNPY(Self.directory.appendingPathComponent("\(name).npy").path), name)
        }
    }

    @Test(arguments: ["stored.npz", "deflated.npz"])
    func npzArchives(_ file: String) throws {
        let arrays = try NumPy.readNPZ(Self.directory.appendingPathComponent(file).path)
        #expect(Set(arrays.keys) == Set(Self.expected.keys))
        for (name, t) in arrays { check(t, name) }
    }

    @Test func truncationsAndFlipsThrowWithFileAndOffset() throws {
        for file in ["f4.npy", "deflated.npz"] {
            let bytes = [UInt8](try Data(contentsOf: Self.directory.appendingPathComponent(file)))
            let decode: ([UInt8]) throws(SNNError) -> Void = { b throws(SNNError) in
                if file.hasSuffix(".npy") {
                    _ = try NumPy.decodeNPY(b, file: file)
                } else {
                    _ = try NumPy.decodeNPZ(b, file: file)
                }
            }
            for cut in 0..<(bytes.count - 1) {
                #expect(throws: SNNError.self, "cut at \(cut)") { try decode(Array(bytes.prefix(cut))) }
            }
            var rng = RandomGenerator(seed: 3)
            for _ in 0..<2000 {
                var b = bytes
                b[Int(rng.next() % UInt64(b.count))] ^= UInt8(1 << (rng.next() % 8))
                do { try decode(b) } catch { #expect(error.file?.hasPrefix(file) == true && error.offset != nil) }
            }
        }
    }
}
