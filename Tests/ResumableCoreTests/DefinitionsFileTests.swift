import Foundation
import ResumableCore
import Testing

@Suite("Definitions file")
struct DefinitionsFileTests {
  let registry = PluginRegistry.builtIn()

  func parse(_ text: String) throws(DefinitionError) -> [WorkflowDefinition] {
    try DefinitionsFile.parse(text, file: "defs.yaml", registry: registry)
  }

  @Test func parsesTheIssueExample() throws {
    let workflows = try parse(
      """
      workflows:
        - name: research
          steps:
            - name: search
              plugin: simulate
              inputs: [input]
              config: {latency_ms: 50, cost_usd: 0.10, input_tokens: 1200, output_tokens: 300}
              retry: {max_attempts: 3, initial_backoff_ms: 100, max_backoff_ms: 5000, multiplier: 2.0}
            - name: outline
              plugin: simulate
              inputs: [search]
              timeout_ms: 2000
      """)
    let research = try #require(workflows.first)
    #expect(research.name == "research")
    #expect(research.steps.map(\.name) == ["search", "outline"])
    #expect(research.steps[0].inputs == ["input"])
    #expect(research.steps[0].config["cost_usd"] == .number(0.10))
    #expect(research.steps[0].retry == RetryPolicy(maxAttempts: 3, initialBackoffMilliseconds: 100, maxBackoffMilliseconds: 5000, multiplier: 2))
    #expect(research.steps[1].retry == RetryPolicy())
    #expect(research.steps[1].timeoutMilliseconds == 2000)
  }

  @Test func acceptsJSON() throws {
    let workflows = try parse(
      #"{"workflows": [{"name": "w", "steps": [{"name": "a", "plugin": "echo", "inputs": ["input"]}]}]}"#)
    #expect(workflows.map(\.name) == ["w"])
  }

  @Test func loadsTheShippedExamples() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    let workflows = try DefinitionsFile.load(path: root.path + "/examples/workflows.yaml", registry: registry)
    let research = try #require(workflows.first { $0.name == "research" })
    #expect(research.steps.map(\.name) == ["search", "extract", "outline", "draft", "verify"])
    let definitions = try DefinitionsFile.loadDefinitions(path: root.path + "/examples/workflows.yaml", registry: registry)
    let chat = try #require(definitions.workflows.first { $0.name == "chat" })
    #expect(chat.steps.map(\.history) == [.none, .last(2), .all])
    #expect(chat.maxHistoryMessages == 200)
    #expect(definitions.circuitBreakers["simulate"]?.failureThreshold == 5)
  }

  static let refusals: [(String, String)] = [
    ("workflows:\n  - name: w\n    steps:\n      - name: a\n        plugin: echo\n        colour: red\n",
     "defs.yaml: workflow 'w', step 'a': unknown key 'colour'"),
    ("workflows:\n  - name: w\n    steps:\n      - name: a\n        plugin: nope\n",
     "defs.yaml: workflow 'w', step 'a': unknown plugin 'nope'"),
    ("workflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo}\n      - {name: a, plugin: echo}\n",
     "defs.yaml: workflow 'w', step 'a': duplicate step name"),
    ("workflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo, inputs: [b]}\n      - {name: b, plugin: echo}\n",
     "defs.yaml: workflow 'w', step 'a': input 'b' names a later or unknown step"),
    ("workflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo, inputs: [a]}\n",
     "defs.yaml: workflow 'w', step 'a': input 'a' names the step itself"),
    ("workflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo, inputs: [ghost]}\n",
     "defs.yaml: workflow 'w', step 'a': input 'ghost' names a later or unknown step"),
    ("workflows:\n  - name: w\n    steps: []\n", "defs.yaml: workflow 'w': a workflow needs a non-empty 'steps' list"),
    ("workflows:\n  - name: w\n    parallel: true\n    steps:\n      - {name: a, plugin: echo, inputs: [c]}\n      - {name: b, plugin: echo, inputs: [a]}\n      - {name: c, plugin: echo, after: [b]}\n",
     "defs.yaml: workflow 'w', step 'a': the steps form a cycle: a → c → b → a"),
    ("workflows:\n  - name: w\n    parallel: true\n    steps:\n      - {name: a, plugin: echo, after: [ghost]}\n",
     "defs.yaml: workflow 'w', step 'a': 'after' names an unknown step 'ghost'"),
    ("workflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo}\n      - {name: b, plugin: echo, after: [a]}\n",
     "defs.yaml: workflow 'w', step 'b': 'after' orders steps of parallel workflows only"),
    ("workflows:\n  - name: w\n    max_parallel: 3\n    steps:\n      - {name: a, plugin: echo}\n",
     "defs.yaml: workflow 'w': 'max_parallel' applies to parallel workflows only"),
    ("workflows:\n  - name: w\n    parallel: true\n    on_failure: panic\n    steps:\n      - {name: a, plugin: echo}\n",
     "defs.yaml: workflow 'w': 'on_failure' must be finish or cancel"),
    ("workflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo, inputs: [input], map: {over: input}}\n",
     "defs.yaml: workflow 'w', step 'a': 'map' runs in parallel workflows only"),
    ("workflows:\n  - name: w\n    parallel: true\n    steps:\n      - {name: a, plugin: echo}\n      - {name: b, plugin: echo, map: {over: a.docs}}\n",
     "defs.yaml: workflow 'w', step 'b': 'map.over' names 'a', which is not a step this one waits for"),
    ("workflows:\n  - name: w\n    parallel: true\n    steps:\n      - {name: a, plugin: echo, map: {over: input, max_items: 0}}\n",
     "defs.yaml: workflow 'w', step 'a': 'max_items' must be"),
    ("workflows:\n  - name: w\n    parallel: true\n    steps:\n      - {name: a, plugin: echo, approval: before}\n",
     "defs.yaml: workflow 'w', step 'a': 'approval' is not supported in parallel workflows yet"),
    ("workflows:\n  - name: w\n    budget_usd: -1\n    steps:\n      - {name: a, plugin: echo}\n",
     "defs.yaml: workflow 'w': 'budget_usd' must be a finite number of US dollars ≥ 0, not -1.0"),
    ("workflows:\n  - name: w\n    budget_usd: .inf\n    steps:\n      - {name: a, plugin: echo}\n",
     "defs.yaml: workflow 'w': 'budget_usd' must be a finite number of US dollars ≥ 0"),
    ("workflows:\n  - name: w\n    on_budget: stop\n    steps:\n      - {name: a, plugin: echo}\n",
     "defs.yaml: workflow 'w': 'on_budget' must be pause or fail"),
    ("workflows:\n  - name: w\n    max_spend_per_hour_usd: 0\n    steps:\n      - {name: a, plugin: echo}\n",
     "defs.yaml: workflow 'w': 'max_spend_per_hour_usd' must be a finite number of US dollars above 0"),
    ("workflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo, estimated_cost_usd: '5'}\n",
     "defs.yaml: workflow 'w', step 'a': 'estimated_cost_usd' must be a finite number of US dollars ≥ 0, not a string"),
    ("limits:\n  api: {rate: 0, per_ms: 1000}\nworkflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo}\n",
     "defs.yaml: limit 'api': 'rate' must be a whole number ≥ 1"),
    ("limits:\n  pool: {concurrency: 0}\nworkflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo}\n",
     "defs.yaml: limit 'pool': 'concurrency' must be a whole number ≥ 1"),
    ("limits:\n  api: {rate: 5}\nworkflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo}\n",
     "defs.yaml: limit 'api': a rate needs per_ms"),
    ("limits:\n  api: {concurrency: 2, rate: 3, per_ms: 10}\nworkflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo}\n",
     "defs.yaml: limit 'api': it needs exactly one of"),
    ("limits:\n  api: {concurrency: 2, key: '{{tenant}}'}\nworkflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo}\n",
     "defs.yaml: limit 'api': 'key' must be text with {{input.FIELD}} parts"),
    ("limits:\n  api: {concurrency: 2}\nworkflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo, limits: [apu]}\n",
     "defs.yaml: workflow 'w', step 'a': 'limits' names unknown limit 'apu' (the file's limits: api)"),
    ("workflows:\n  - name: w\n    stepz: []\n", "defs.yaml: workflow 'w': unknown key 'stepz'"),
    ("workflows:\n  - {name: w, steps: [{name: a, plugin: echo}]}\n  - {name: w, steps: [{name: a, plugin: echo}]}\n",
     "defs.yaml: workflow 'w': duplicate workflow name"),
    ("workflows:\n  - name: w\n    steps:\n      - {name: a, plugin: simulate, config: {latency: 5}}\n",
     "defs.yaml: workflow 'w', step 'a': plugin 'simulate': unknown key 'latency'"),
    ("workflows:\n  - name: w\n    steps:\n      - {name: a, plugin: simulate, config: {latency_ms: -5}}\n",
     "defs.yaml: workflow 'w', step 'a': plugin 'simulate': 'latency_ms' must be a whole number ≥ 0"),
    ("workflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo, retry: {max_attempts: 0}}\n",
     "defs.yaml: workflow 'w', step 'a': 'max_attempts' must be a whole number ≥ 1"),
    ("workflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo, retry: {tries: 2}}\n",
     "defs.yaml: workflow 'w', step 'a': unknown key 'tries' in 'retry'"),
    ("workflows:\n  - name: w\n    steps:\n      - {name: input, plugin: echo}\n",
     "defs.yaml: workflow 'w', step 'input': 'input' is reserved"),
    ("workflows:\n  - name: 'bad name'\n    steps:\n      - {name: a, plugin: echo}\n",
     "defs.yaml: workflow 'bad name': workflow name 'bad name' may use only"),
    ("jobs: []\n", "defs.yaml: unknown key 'jobs' in the file"),
    ("workflows: [\n", "defs.yaml: not valid YAML or JSON"),
    ("{\"workflows\": [}", "defs.yaml: not valid YAML or JSON: invalid JSON"),
    // Found by `make fuzz` (FuzzDefinitions): a key that is not a scalar trapped inside Yams.
    ("workfl%ws:\n  name:me_ar?  048}\n&s:\n{naie: a, plugin: echo, }: w? %048}\nps:\n      - name:me_, plumaxcho, }\n",
     "defs.yaml: a mapping key is not a plain string"),
    ("jobs: 1\n? [a, b]\n: 2\n", "defs.yaml: a mapping key is not a plain string"),
    ("workflows:\n  - name: w\n    steps:\n      - {name: a, plugin: echo, {x: 1}: 2}\n",
     "defs.yaml: a mapping key under workflows[0].steps[0] is not a plain string"),
  ]

  @Test(arguments: refusals)
  func refusesWithFileWorkflowAndStep(_ text: String, _ expected: String) {
    do {
      _ = try parse(text)
      Issue.record("accepted: \(text)")
    } catch {
      #expect(error.description.hasPrefix(expected), "got: \(error.description)")
    }
  }

  @Test func missingFileIsNamed() {
    #expect(throws: DefinitionError.self) {
      _ = try DefinitionsFile.load(path: "/nonexistent/defs.yaml", registry: registry)
    }
  }
}
