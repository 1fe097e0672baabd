extension Float {
    /// The value of the IEEE 754 half-precision number with bit pattern `bits` (done by hand:
    /// `Float16` is unavailable on Intel Macs). Exact: every half is a float. NaN payloads are kept.
    public init(halfPrecisionBits bits: UInt16) {
        let sign: Float = bits & 0x8000 != 0 ? -1 : 1
        let exponent = UInt32(bits >> 10) & 0x1F, mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0:  // zero or subnormal: mantissa × 2⁻²⁴
            self = sign * Float(mantissa) * 0x1p-24
        case 0x1F:  // infinity or NaN, keeping the payload
            self = Float(bitPattern: UInt32(bits & 0x8000) << 16 | 0x7F80_0000 | mantissa << 13)
        default:
            self = Float(bitPattern: UInt32(bits & 0x8000) << 16 | (exponent + 112) << 23 | mantissa << 13)
        }
    }
}
