// Parses a Chrome trace event file with Chrome DevTools' own trace engine
// (npm @paulirish/trace_engine, the model behind DevTools' performance
// panel) and prints, as one JSON line, what survived: its time range and,
// per thread, its name and the number of entries (spans and instants) the
// engine kept. Console errors of the engine (a B/E pair it could not match)
// are counted too. Usage: node trace_engine_check.mjs FILE[.gz]
import fs from 'node:fs';
import zlib from 'node:zlib';
import {analyzeEvents} from '@paulirish/trace_engine/analyze-trace.mjs';

const file = process.argv[2];
let bytes = fs.readFileSync(file);
if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = zlib.gunzipSync(bytes);
const events = JSON.parse(bytes.toString('utf8')).traceEvents;
const complaints = [];
const error = console.error;
console.error = (...args) => complaints.push(args.join(' '));
const {parsedTrace} = await analyzeEvents(events);
console.error = error;
const data = parsedTrace.data ?? parsedTrace;
const threads = [];
for (const [pid, process] of data.Renderer.processes) {
  for (const [tid, thread] of process.threads) {
    threads.push({pid, tid, name: thread.name ?? null, entries: thread.entries.length});
  }
}
const bounds = data.Meta.traceBounds;
console.log(JSON.stringify({min_us: bounds.min, max_us: bounds.max, threads,
                            complaints: complaints.length, first_complaint: complaints[0] ?? null}));
