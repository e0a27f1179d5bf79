// Reads simulations (one JSON object per line: {"id", "simulation"}) on stdin
// and writes {"id", "result"} or {"id", "error"} per line: the decision of
// @cloud-copilot/iam-simulate in Strict mode. Run by tests/conformance/run.sh.
import { runSimulation } from '@cloud-copilot/iam-simulate'
import { createInterface } from 'node:readline'

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (!line.trim()) continue
  const { id, simulation } = JSON.parse(line)
  let out
  try {
    const r = await runSimulation(simulation, { simulationMode: 'Strict' })
    if (r.resultType === 'error') {
      out = { id, error: JSON.stringify(r.errors) }
    } else {
      out = { id, result: r.overallResult }
    }
  } catch (e) {
    out = { id, error: String(e && e.stack || e) }
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}
