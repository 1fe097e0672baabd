/// Loading and storing eight floats at a time, the vector width every SIMD kernel of the library
/// uses (`SIMD8<Float>`: one AVX2 register, half an AVX-512 one).

/// Lanes `p[0..<n]` as a vector (n ≤ 8); the lanes past `n` are zero. Unaligned.
@inlinable @inline(__always)
public func loadLanes(_ p: UnsafePointer<Float>, _ n: Int = 8) -> SIMD8<Float> {
    if n == 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    var v = SIMD8<Float>()
    for i in 0..<n { v[i] = p[i] }
    return v
}

/// Stores the first `n` lanes of `v` at `p` (n ≤ 8); memory past `p[n − 1]` is not touched. Unaligned.
@inlinable @inline(__always)
public func storeLanes(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ n: Int = 8) {
    if n == 8 {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
        return
    }
    for i in 0..<n { p[i] = v[i] }
}
