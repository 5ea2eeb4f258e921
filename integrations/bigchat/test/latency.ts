// Receiver for the latency benchmark (`cargo bench -p bigchat-voice-cli
// --bench latency`; not part of `npm test`): the companion's router and a
// Socket.IO server on HOOK_PORT, a socket.io client in the company's main
// channel. Prints `READY`, then one line per call event the client gets:
// `RECV <uniqueId> <action> <wall clock, ms with fractions>`.

import { connectClient, startHookServer } from "./helpers";

async function main(): Promise<void> {
  const port = Number(process.env["HOOK_PORT"]);
  const secret = process.env["WEBHOOK_SECRET"] ?? "";
  const company = process.env["COMPANY_ID"] ?? "1";
  if (!port || !secret) {
    process.stderr.write("latency: HOOK_PORT and WEBHOOK_SECRET are required\n");
    process.exit(2);
  }
  const server = await startHookServer({ secret, port });
  const client = await connectClient(server.url, [`company-${company}-mainchannel`]);
  const callEvent = `company-${company}-call`;
  const out: string[] = [];
  let pending = false;
  client.socket.onAny((event: string, payload: unknown) => {
    const at = performance.timeOrigin + performance.now();
    if (event !== callEvent) return;
    const p = payload as { action?: string; call?: { uniqueId?: string } };
    out.push(`RECV ${p.call?.uniqueId ?? "?"} ${p.action ?? "?"} ${at.toFixed(3)}`);
    if (!pending) {
      pending = true;
      setImmediate(() => {
        pending = false;
        process.stdout.write(out.splice(0).join("\n") + "\n");
      });
    }
  });
  process.stdout.write("READY\n");
  process.stdin.resume();
  process.stdin.on("end", () => {
    void server.close().then(() => process.exit(0));
  });
}

void main();
