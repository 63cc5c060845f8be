// A Node client for noodl-sidecar's stdio msgpack-RPC protocol, spawning the sidecar the way
// the editor's Electron main process would: child_process.spawn with piped stdio, no shell.
// Used by the end-to-end tests, scripts/demo and scripts/bench.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Packr, UnpackrStream, isNativeAccelerationEnabled } from 'msgpackr';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// Production codec options (docs/protocol.md, "Codec"): plain maps, never msgpackr records;
// 64-bit integers as numbers where they fit, BigInt beyond 2^53.
const CODEC = { useRecords: false, int64AsType: 'auto', mapsAsObjects: true };
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const STDERR_RING = 200;
// Signals the sidecar dies by when it crashes (not the ones a caller sends to stop it). Python's
// faulthandler (enabled in sidecar/logs.py) writes every thread's stack to stderr before the process
// dies of one of them; the client prints that report, so a crash in CI shows where each thread was.
const CRASH_SIGNALS = new Set(['SIGSEGV', 'SIGBUS', 'SIGABRT', 'SIGFPE', 'SIGILL']);
const FAULT_REPORT_START = /^Fatal Python error: /;
const LINES_BEFORE_REPORT = 20; // the log lines just before the crash: what the sidecar was doing
const MOST_REPORT_LINES = 2000;
const CRASH_TAIL_LINES = 80; // printed when no faulthandler report came
const STDERR_DRAIN_MS = 2000; // the report may still be in the pipe when 'exit' fires

export class RpcError extends Error {
  constructor(error) {
    super(error.message);
    this.code = error.code;
    this.data = error.data;
  }
}

/** The command that starts the sidecar: $SIDECAR_COMMAND (a JSON array) or the repo's venv. */
export function sidecarCommand() {
  if (process.env.SIDECAR_COMMAND) return JSON.parse(process.env.SIDECAR_COMMAND);
  const venvScript = path.join(REPO_ROOT, '.venv', 'bin', 'noodl-sidecar');
  if (existsSync(venvScript)) return [venvScript, 'stdio'];
  return ['python3', '-m', 'sidecar', 'stdio'];
}

export class SidecarClient {
  /** Spawn a sidecar; `command` defaults to sidecarCommand(). */
  static spawn({ command = sidecarCommand(), env = {}, cwd = REPO_ROOT } = {}) {
    const child = spawn(command[0], command.slice(1), {
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
      cwd,
      env: {
        ...process.env,
        PYTHONUNBUFFERED: '1',
        PYTHONUTF8: '1',
        SIDECAR_PARENT_PID: String(process.pid),
        ...env,
      },
    });
    return new SidecarClient(child);
  }

  constructor(child) {
    this.child = child;
    this.packr = new Packr(CODEC);
    this.nextId = 1;
    this.pending = new Map();
    this.notifications = [];
    this.notificationListeners = new Set();
    this.stderrLines = [];
    this.faultReport = null; // faulthandler's report (and the lines before it), once one starts
    this.framesReceived = 0;
    this.protocolError = null;
    const stderrEnded = new Promise((resolve) => child.stderr.once('close', resolve));
    this.exited = new Promise((resolve) => {
      child.on('exit', async (code, signal) => {
        this.exitInfo = { code, signal };
        let why = `sidecar exited (code ${code}, signal ${signal})`;
        if (CRASH_SIGNALS.has(signal)) {
          // Pending calls fail only after the report is printed: a caller whose rejection ends the
          // process (the demo) would otherwise exit before it.
          await Promise.race([stderrEnded, new Promise((done) => setTimeout(done, STDERR_DRAIN_MS).unref())]);
          this.printCrashReport(signal);
          why += '; the end of its stderr is printed above';
        }
        this.failPending(new Error(why));
        resolve(this.exitInfo);
      });
    });
    child.stdin.on('error', () => {}); // EPIPE after the child died is reported through 'exit'
    const unpackr = new UnpackrStream({ ...CODEC, maxIncompleteBufferSize: MAX_MESSAGE_BYTES + 1024 });
    unpackr.on('data', (message) => this.onMessage(message));
    unpackr.on('error', (error) => {
      this.protocolError = error;
      this.failPending(error);
    });
    child.stdout.pipe(unpackr);
    let partial = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop();
      for (const line of lines) this.onStderrLine(line);
    });
    child.stderr.on('end', () => {
      if (partial) this.onStderrLine(partial);
      partial = '';
    });
  }

  onStderrLine(line) {
    if (this.faultReport === null && FAULT_REPORT_START.test(line)) {
      this.faultReport = this.stderrLines.slice(-LINES_BEFORE_REPORT);
    }
    if (this.faultReport !== null && this.faultReport.length < MOST_REPORT_LINES) this.faultReport.push(line);
    this.stderrLines.push(line);
    if (this.stderrLines.length > STDERR_RING) this.stderrLines.shift();
  }

  /** The sidecar died of `signal`: faulthandler's report of every thread (or the end of stderr) to our stderr. */
  printCrashReport(signal) {
    const report = this.faultReport ?? this.stderrLines.slice(-CRASH_TAIL_LINES);
    const what = this.faultReport ? "faulthandler's report, after the last lines before it" : 'the last lines';
    process.stderr.write(
      `\nnoodl-sidecar (pid ${this.child.pid}) died of ${signal}; ${what} of its stderr:\n` +
        `${report.join('\n')}\n(end of the sidecar's stderr)\n`,
    );
  }

  get nativeAcceleration() {
    return isNativeAccelerationEnabled;
  }

  onMessage(message) {
    this.framesReceived += 1;
    if (!Array.isArray(message)) {
      this.protocolError = new Error(`non-envelope value on stdout: ${JSON.stringify(message)}`);
      return;
    }
    if (message[0] === 1) {
      const [, id, error, result] = message;
      const call = this.pending.get(id);
      if (!call) {
        this.protocolError = new Error(`response for unknown id ${id}`);
        return;
      }
      this.pending.delete(id);
      if (call.timer) clearTimeout(call.timer);
      if (error) call.reject(new RpcError(error));
      else call.resolve(result);
    } else if (message[0] === 2) {
      const note = { method: message[1], params: message[2] };
      this.notifications.push(note);
      for (const listener of this.notificationListeners) listener(note);
    } else {
      this.protocolError = new Error(`unexpected envelope type ${message[0]}`);
    }
  }

  failPending(error) {
    for (const call of this.pending.values()) {
      if (call.timer) clearTimeout(call.timer);
      call.reject(error);
    }
    this.pending.clear();
  }

  /** Send a request; resolves with the result, rejects with RpcError. Returns {id, promise} via requestWithId. */
  request(method, params = [], options = {}) {
    return this.requestWithId(method, params, options).promise;
  }

  requestWithId(method, params = [], { timeoutMs = 30000 } = {}) {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    const promise = new Promise((resolve, reject) => {
      const call = { resolve, reject, timer: null };
      if (timeoutMs) {
        call.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new Error(`${method} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.pending.set(id, call);
    });
    this.writeRaw(this.packr.pack([0, id, method, params]));
    return { id, promise };
  }

  /** Write raw bytes and resolve with {error} or {result} of the response that arrives for `id`. */
  sendRaw(bytes, id) {
    const answer = new Promise((resolve) => {
      this.pending.set(id, { resolve: (result) => resolve({ result }), reject: (error) => resolve({ error }), timer: null });
    });
    this.writeRaw(bytes);
    return answer;
  }

  notify(method, params = []) {
    this.writeRaw(this.packr.pack([2, method, params]));
  }

  writeRaw(bytes) {
    if (this.child.stdin.writable) this.child.stdin.write(bytes);
  }

  /** Resolve with the next notification named `method` that satisfies `predicate`. */
  waitForNotification(method, predicate = () => true, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.notificationListeners.delete(listener);
        reject(new Error(`no ${method} notification within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (note) => {
        if (note.method === method && predicate(note.params)) {
          clearTimeout(timer);
          this.notificationListeners.delete(listener);
          resolve(note.params);
        }
      };
      this.notificationListeners.add(listener);
    });
  }

  initialize(options = {}) {
    return this.request('initialize', [
      {
        protocolVersion: '1.0',
        parentPid: process.pid,
        logLevel: 'info',
        clientInfo: { name: 'noodl-sidecar-test-client', version: '0.0.0' },
        ...options,
      },
    ]);
  }

  /** The polite way out: shutdown, exit, then wait for the process. */
  async shutdownAndExit(timeoutMs = 5000) {
    await this.request('shutdown', []);
    this.notify('exit');
    return this.waitExit(timeoutMs);
  }

  closeStdin() {
    this.child.stdin.end();
  }

  /** Resolve with {code, signal, ms} once the process exits; reject after `timeoutMs`. */
  waitExit(timeoutMs = 5000) {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sidecar still running after ${timeoutMs} ms`)), timeoutMs);
      this.exited.then((info) => {
        clearTimeout(timer);
        resolve({ ...info, ms: Date.now() - started });
      });
    });
  }

  kill(signal = 'SIGKILL') {
    if (this.exitInfo === undefined) this.child.kill(signal);
  }

  /** Parsed JSON log lines from stderr (non-JSON lines are skipped). */
  logRecords() {
    return this.stderrLines.flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    });
  }
}
