import Logging

/// The shared limiters an attempt holds (its concurrency slots, its reserved
/// tokens), to give back when it ends.
struct HeldLimits: Sendable {
  var limiters: [Limiter] = []
  /// `workflow_id/step/attempt`: the attempt's name in concurrency slots.
  var holder = ""
  /// The tokens reserved on `tokens_per_minute` limiters.
  var reservedTokens: UInt64 = 0

  var isEmpty: Bool { limiters.isEmpty }
  var holdsSlots: Bool {
    limiters.contains { if case .concurrency = $0.limit.kind { true } else { false } }
  }
}

/// Shared limits (`limits:` in the definitions, `limits: [NAME]` on a step),
/// asked after the spend controls and before the circuit breaker: an attempt
/// held back waits WAITING, with the limit in its reason, spending no attempt
/// and none of its retries (the same wait as an open circuit).
extension WorkflowEngine {
  /// How often an attempt waiting for a concurrency slot asks again, at most
  /// (a slot is usually freed long before its lease ends).
  static let slotPoll = Duration.milliseconds(200)

  /// The limiters the step at the machine's cursor names, keyed for its run.
  func limiters(of step: StepDefinition, record: RunRecord) -> [Limiter] {
    step.limits.compactMap { name in
      record.definition.limits[name].map { Limiter(name: name, limit: $0, key: $0.limiterKey(input: record.input)) }
    }
  }

  /// Whether a limit the machine's step names reserves tokens (so its attempt needs an estimate).
  func needsTokenEstimate(_ machine: inout StepMachine) -> Bool {
    machine.step.limits.contains { name in
      if case .tokensPerMinute? = machine.record.definition.limits[name]?.kind { true } else { false }
    }
  }

  /// Asks every limiter the step names for its attempt, reserving `tokens` on
  /// token limits; nil when all grant it (what was granted is in `held`), else
  /// the wait (nothing is held).
  func acquireLimits(_ machine: inout StepMachine, tokens: UInt64, held: inout HeldLimits, logger: Logger) async -> StepMachine.Event? {
    let step = machine.step
    let record = machine.record
    let limiters = limiters(of: step, record: record)
    held = HeldLimits(
      limiters: [], holder: "\(record.workflowID)/\(step.name)/\(record.steps[machine.index].attempts)", reservedTokens: tokens)
    for limiter in limiters {
      let now = clock.epochMilliseconds
      let answer: LimitAnswer
      do {
        answer = try await store.acquireLimit(
          limiter, holder: held.holder, tokens: tokens, leaseMs: configuration.leaseDuration.wholeMilliseconds, nowMs: now)
      } catch {
        logger.warning("cannot ask limit '\(limiter.label)': \(error); the attempt waits")
        await releaseLimits(&held, used: nil, logger: logger)
        return .admission(
          .wait(until: clock.now + .seconds(1), reason: "limit '\(limiter.label)' cannot be read (\(error))"),
          remaining: .seconds(1))
      }
      switch answer {
      case .granted:
        held.limiters.append(limiter)
      case .wait(let untilMs, let why):
        await releaseLimits(&held, used: nil, logger: logger)
        EngineMetrics.limitWait(workflow: record.workflowName, limit: limiter.name, why: why.rawValue)
        var remaining = Duration.milliseconds(max(1, untilMs - now))
        if why == .full { remaining = min(remaining, Self.slotPoll) }
        return .admission(
          .wait(until: clock.now + remaining, reason: Self.reason(limiter, why: why, untilMs: untilMs)), remaining: remaining)
      }
    }
    return nil
  }

  /// Why an attempt waits for `limiter`.
  static func reason(_ limiter: Limiter, why: LimitWait, untilMs: Int64) -> String {
    let name = "limit '\(limiter.label)'"
    switch (why, limiter.limit.kind) {
    case (.held, _):
      return "\(name): the provider asked every user of it to wait (retry-after) until \(untilMs) (Unix ms)"
    case (.rate, .rate(let count, let perMs, let burst)):
      return "\(name): \(count) attempts per \(perMs) ms (burst \(burst)) are used up"
    case (.full, .concurrency(let slots)):
      return "\(name): all \(slots) of its slots are held"
    case (.tokens, .tokensPerMinute(let perMinute)):
      return "\(name): its \(perMinute) tokens a minute are reserved or spent"
    default:
      return "\(name): \(why.rawValue)"
    }
  }

  /// Gives back what `held` holds: slots freed, reserved tokens settled with
  /// `used` (nil: nothing reported, the reservation stands).
  func releaseLimits(_ held: inout HeldLimits, used: UInt64?, logger: Logger) async {
    let now = clock.epochMilliseconds
    for limiter in held.limiters {
      switch limiter.limit.kind {
      case .rate: continue
      case .tokensPerMinute where used == nil: continue
      default: break
      }
      do {
        try await store.releaseLimit(limiter, holder: held.holder, reserved: held.reservedTokens, used: used, nowMs: now)
      } catch {
        // A slot not freed frees itself when its lease ends.
        logger.warning("cannot give back limit '\(limiter.label)': \(error)")
      }
    }
    held.limiters = []
  }

  /// Keeps the attempt's concurrency slots while it runs past a lease: renews them
  /// every third of a lease until cancelled.
  func renewingSlots(_ held: HeldLimits) -> Task<Void, Never>? {
    guard held.holdsSlots else { return nil }
    let lease = configuration.leaseDuration
    return Task {
      while true {
        do { try await self.clock.sleep(for: lease / 3) } catch { return }
        for limiter in held.limiters {
          try? await self.store.renewLimit(
            limiter, holder: held.holder, leaseMs: lease.wholeMilliseconds, nowMs: self.clock.epochMilliseconds)
        }
      }
    }
  }

  /// A provider refused the attempt with a retry-after: every limiter the step
  /// names holds every attempt on it, on every server, until then.
  func holdLimits(of step: StepDefinition, record: RunRecord, retryAfter: Duration, logger: Logger) async {
    let until = clock.epochMilliseconds + retryAfter.wholeMilliseconds
    for limiter in limiters(of: step, record: record) {
      do {
        try await store.holdLimit(limiter, untilMs: until)
        logger.notice("limit '\(limiter.label)' held for \(retryAfter.wholeMilliseconds) ms: the provider rate-limited the attempt")
      } catch {
        logger.warning("cannot hold limit '\(limiter.label)': \(error)")
      }
    }
  }
}
