/// SHA-1 (FIPS 180-4), only to name Lua scripts the way Redis does (`EVALSHA`).
///
/// Not for security: SHA-1 is broken for collision resistance. Redis chose it for script
/// ids; we compute it here so a script's id is known without a round trip.
struct SHA1 {
  private var state: (UInt32, UInt32, UInt32, UInt32, UInt32) =
    (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
  private var pending: [UInt8] = []
  private var length: UInt64 = 0

  /// The 20-byte digest of `bytes`.
  static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
    var sha = SHA1()
    sha.update(bytes)
    return sha.finalize()
  }

  /// The digest of `bytes` as 40 lowercase hex digits, as Redis prints script ids.
  static func hexDigest(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var hex: [UInt8] = []
    hex.reserveCapacity(40)
    for byte in hash(bytes) {
      hex.append(digits[Int(byte >> 4)])
      hex.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: hex, as: UTF8.self)
  }

  mutating func update(_ bytes: some Sequence<UInt8>) {
    for byte in bytes {
      pending.append(byte)
      length &+= 1
      if pending.count == 64 {
        compress(pending)
        pending.removeAll(keepingCapacity: true)
      }
    }
  }

  mutating func finalize() -> [UInt8] {
    let bitLength = length &* 8
    pending.append(0x80)
    if pending.count > 56 {
      pending += [UInt8](repeating: 0, count: 64 - pending.count)
      compress(pending)
      pending.removeAll(keepingCapacity: true)
    }
    pending += [UInt8](repeating: 0, count: 56 - pending.count)
    for shift in stride(from: 56, through: 0, by: -8) {
      pending.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
    }
    compress(pending)
    pending.removeAll()
    var digest: [UInt8] = []
    for word in [state.0, state.1, state.2, state.3, state.4] {
      for shift in stride(from: 24, through: 0, by: -8) {
        digest.append(UInt8(truncatingIfNeeded: word >> UInt32(shift)))
      }
    }
    return digest
  }

  private mutating func compress(_ block: [UInt8]) {
    var w = [UInt32](repeating: 0, count: 80)
    for i in 0..<16 {
      w[i] =
        UInt32(block[4 * i]) << 24 | UInt32(block[4 * i + 1]) << 16
        | UInt32(block[4 * i + 2]) << 8 | UInt32(block[4 * i + 3])
    }
    for i in 16..<80 {
      let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
      w[i] = x << 1 | x >> 31
    }
    var (a, b, c, d, e) = state
    for i in 0..<80 {
      let f: UInt32
      let k: UInt32
      switch i {
      case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A82_7999)
      case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9_EBA1)
      case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
      default: (f, k) = (b ^ c ^ d, 0xCA62_C1D6)
      }
      let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
      (e, d, c, b, a) = (d, c, b << 30 | b >> 2, a, temp)
    }
    state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d, state.4 &+ e)
  }
}
