import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A NOTIFY_SOCKET listener, the way systemd's manager receives sd_notify messages: a unix
 * datagram socket with SO_PASSCRED. Node cannot open one, so a few lines of Python do; they
 * close every passed fd (BARRIER=1 waits for that) and print each message as a JSON line.
 */
const LISTENER = `
import socket, os, sys, json, array, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print(json.dumps({"listening": True}), flush=True)
while True:
    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(64) + socket.CMSG_SPACE(12))
    fds = []; pid = None
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            a = array.array('i'); a.frombytes(data[:len(data) - (len(data) % a.itemsize)]); fds.extend(a)
        if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
            pid = int.from_bytes(data[0:4], 'little')
    for fd in fds: os.close(fd)
    print(json.dumps({"msg": msg.decode(), "pid": pid, "t": time.time() * 1000}), flush=True)
`;

export interface NotifyMessage {
  fields: Record<string, string>;
  pid: number | null;
  t: number;
}

export interface NotifyListener {
  socket: string;
  messages: NotifyMessage[];
  child: ChildProcess;
  waitFor(pred: (m: NotifyMessage) => boolean, timeoutMs?: number): Promise<NotifyMessage>;
  close(): void;
}

export async function startNotifyListener(dir: string): Promise<NotifyListener> {
  const script = join(dir, 'listener.py');
  const socket = join(dir, 'notify.sock');
  writeFileSync(script, LISTENER);
  const child = spawn('python3', [script, socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: NotifyMessage[] = [];
  let buf = '';
  let onListening: () => void = () => {};
  const listening = new Promise<void>((r) => (onListening = r));
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    buf += c;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = JSON.parse(buf.slice(0, nl)) as { listening?: boolean; msg?: string; pid?: number; t?: number };
      buf = buf.slice(nl + 1);
      if (line.listening) onListening();
      else if (line.msg !== undefined && line.msg !== 'BARRIER=1') {
        const fields = Object.fromEntries(
          line.msg
            .split('\n')
            .filter(Boolean)
            .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
        );
        messages.push({ fields, pid: line.pid ?? null, t: line.t ?? Date.now() });
      }
    }
  });
  await listening;
  return {
    socket,
    messages,
    child,
    waitFor(pred, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const start = Date.now();
        const check = () => {
          const m = messages.find(pred);
          if (m) return resolve(m);
          if (Date.now() - start > timeoutMs)
            return reject(new Error(`notify message not seen in ${timeoutMs} ms; got ${JSON.stringify(messages.map((x) => x.fields))}`));
          setTimeout(check, 50);
        };
        check();
      });
    },
    close: () => void child.kill('SIGTERM'),
  };
}
