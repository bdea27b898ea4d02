import ResumableMetrics
import Testing

/// `--metrics-address` parsing: TCP addresses, IPv6 in brackets, Unix sockets.
@Suite("Metrics endpoint address")
struct MetricsEndpointTests {
  @Test(arguments: [
    ("127.0.0.1:9464", MetricsEndpoint.Address.tcp(host: "127.0.0.1", port: 9464), "127.0.0.1:9464"),
    ("[::1]:9464", .tcp(host: "::1", port: 9464), "[::1]:9464"),
    ("localhost:0", .tcp(host: "localhost", port: 0), "localhost:0"),
    ("/run/resumable/metrics.sock", .unixDomainSocket(path: "/run/resumable/metrics.sock"), "unix:///run/resumable/metrics.sock"),
    ("unix:///tmp/m.sock", .unixDomainSocket(path: "/tmp/m.sock"), "unix:///tmp/m.sock"),
  ])
  func parses(text: String, expected: MetricsEndpoint.Address, description: String) throws {
    let address = try MetricsEndpoint.Address(parsing: text)
    #expect(address == expected)
    #expect(address.description == description)
  }

  @Test(arguments: ["9464", ":9464", "127.0.0.1:", "127.0.0.1:65536", "host:port", "relative/path.sock",
                    "unix://relative.sock", "/" + String(repeating: "d", count: 120)])
  func refuses(text: String) {
    #expect(throws: MetricsAddressError.self) { try MetricsEndpoint.Address(parsing: text) }
  }
}
