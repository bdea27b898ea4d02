import ResumableClient
import ResumableCore
import ResumableRedis
import ResumableServer
import Testing

@testable import ResumableCLI

/// Lower layers name a setting; the command line adds the flag that changes it.
@Suite("Error hints")
struct ErrorHintsTests {
  @Test func everySettingTheServerNamesHasItsServeFlag() {
    for setting in ServerSetting.all {
      #expect(ErrorHints.serveFlag(setting) != nil, "no flag for \(setting)")
    }
  }

  @Test func aLimitTheServerNamesGetsTheFlagThatRaisesIt() {
    let error = ResumableClientError(
      code: .resourceExhausted, message: "this server is executing 1 runs, its limit; retry when some have finished, or raise the limit",
      setting: .init("max_runs"))
    #expect(
      ErrorHints.message(of: error)
        == "this server is executing 1 runs, its limit; retry when some have finished, or raise the limit; "
        + "the server's operator can change this with `resumable serve --max-runs`")
  }

  @Test func theClientsOwnSettingsGetTheClientsFlags() {
    let untrusted = ResumableClientError(
      code: .unavailable, message: "the server on /s runs as uid 65534, not you (uid 0)",
      setting: .init("trusted_server_uid", value: "65534"))
    #expect(
      ErrorHints.message(of: untrusted)
        == "the server on /s runs as uid 65534, not you (uid 0); pass --trust-server-uid 65534 if you trust it")
    let missing = ResumableClientError(
      code: .unavailable, message: "no Resumable server at /s: the socket does not exist", setting: .init("socket", value: "/s"))
    #expect(
      ErrorHints.message(of: missing)
        == "no Resumable server at /s: the socket does not exist. Start the server with `resumable serve --socket /s`, "
        + "or point the client at a running one (--socket PATH or RESUMABLE_SOCKET).")
  }

  @Test func withoutASettingOrWithOneItDoesNotKnowTheMessageIsTheMessage() {
    let plain = ResumableClientError(code: .notFound, message: "no run with id 'x'")
    #expect(ErrorHints.message(of: plain) == "no run with id 'x'")
    let newer = ResumableClientError(code: .resourceExhausted, message: "a newer limit", setting: .init("max_widgets"))
    #expect(ErrorHints.message(of: newer) == "a newer limit")
  }

  @Test func serveStartUpFailuresGetTheFlag() {
    #expect(
      ErrorHints.message(of: ServerError("another server is listening on '/s'; stop it, or choose another socket path", setting: .socketPath))
        == "another server is listening on '/s'; stop it, or choose another socket path (--socket)")
    #expect(ErrorHints.message(of: ServerError("no group named 'x' on this host", setting: .socketGroup)) == "no group named 'x' on this host (--socket-group)")
    #expect(ErrorHints.message(of: ServerError("cannot serve metrics: in use")) == "cannot serve metrics: in use")
    let notInstalled = RedisServerError(code: .notInstalled, message: "redis-server was not found. Install it, or use a Redis that is already running.")
    #expect(
      ErrorHints.message(of: notInstalled)
        == "redis-server was not found. Install it, or use a Redis that is already running (--redis URL).")
  }
}
