/// Redis Cluster's hash slots: which of the 16,384 slots a key lives in.
public enum RedisHashSlot {
  /// How many slots a cluster has.
  public static let count = 16384

  /// The slot of `key`: CRC16 (XMODEM) of its hash tag (the part between the first `{`
  /// and the next `}`, when not empty) or else of the whole key, modulo 16,384.
  public static func of(_ key: some Collection<UInt8>) -> Int {
    let bytes = Array(key)
    var hashed = bytes[...]
    if let open = bytes.firstIndex(of: UInt8(ascii: "{")),
      let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1
    {
      hashed = bytes[(open + 1)..<close]
    }
    return Int(crc16(hashed) % UInt16(count))
  }

  /// The slot of `key`'s UTF-8 bytes.
  public static func of(_ key: String) -> Int { of(Array(key.utf8)) }

  /// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as Redis Cluster specifies.
  static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
    var crc: UInt16 = 0
    for byte in bytes {
      crc ^= UInt16(byte) << 8
      for _ in 0..<8 {
        crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
      }
    }
    return crc
  }
}
